package run

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tunedcilium/tunedcilium/clusters"
	"github.com/tunedcilium/tunedcilium/pkg/plan"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// Reuse decides whether the next profile can run on the cluster the previous
// one used, switched in place (helm upgrade, agents restarted, test pods
// recreated), or needs a fresh cluster. Cilium's docs say some switches cannot
// be made in place (tunnel/native routing, veth/netkit), and some differences
// are in the cluster itself (kube-proxy present or not, node MTU).
func Reuse(prev, next *plan.Plan, prevSpec, nextSpec clusters.Spec, fresh bool) (bool, string) {
	if prev == nil {
		return false, "first profile"
	}
	if fresh {
		return false, "--fresh-clusters"
	}
	switch {
	case prevSpec.KubeProxy != nextSpec.KubeProxy:
		if nextSpec.KubeProxy {
			return false, "the next profile needs kube-proxy (no kube-proxy replacement)"
		}
		return false, "the next profile replaces kube-proxy: the cluster must run without it"
	case prevSpec.MTU != nextSpec.MTU:
		return false, fmt.Sprintf("node network MTU %d -> %d", prevSpec.MTU, nextSpec.MTU)
	case prevSpec.XDP != nextSpec.XDP:
		return false, "host-side XDP preparation differs"
	case prevSpec.Nodes != nextSpec.Nodes || prevSpec.NodeImage != nextSpec.NodeImage:
		return false, "node count or node image differs"
	}
	var needFresh []string
	for _, k := range changedOptions(prev, next) {
		o, _ := tuning.Lookup(k)
		if o.Restart == tuning.RestartCluster {
			needFresh = append(needFresh, string(k))
		}
	}
	if len(needFresh) > 0 {
		return false, "switching " + strings.Join(needFresh, ", ") + " cannot be done in place (Cilium docs)"
	}
	return true, "in place: helm upgrade, agents restarted, test pods recreated"
}

// changedOptions lists the options active in exactly one of the two plans.
func changedOptions(a, b *plan.Plan) []tuning.Key {
	in := func(p *plan.Plan) map[tuning.Key]bool {
		m := map[tuning.Key]bool{}
		for _, k := range tuning.Keys() {
			if p.Active(k) {
				m[k] = true
			}
		}
		return m
	}
	ia, ib := in(a), in(b)
	var out []tuning.Key
	for _, k := range tuning.Keys() {
		if ia[k] != ib[k] {
			out = append(out, k)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
