package run

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/tunedcilium/tunedcilium/clusters/existing"
	"github.com/tunedcilium/tunedcilium/pkg/kernel"
	"github.com/tunedcilium/tunedcilium/pkg/plan"
)

// existingFacts reads what the planner needs from an existing cluster's
// nodes: the oldest kernel among them, the smallest prefix covering every
// node's podCIDR (unless --pod-cidr says), and the API server address.
func existingFacts(ctx context.Context, c *existing.Cluster, o *Options) (plan.Facts, kernel.Version, error) {
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		return plan.Facts{}, kernel.Version{}, err
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return plan.Facts{}, kernel.Version{}, fmt.Errorf("list nodes of %s: %w", c.Name(), err)
	}
	var oldest kernel.Version
	var cidrs []string
	for _, n := range nodes.Items {
		k, err := kernel.Parse(n.Status.NodeInfo.KernelVersion)
		if err != nil {
			return plan.Facts{}, kernel.Version{}, fmt.Errorf("node %s reports kernel %q: %w", n.Name, n.Status.NodeInfo.KernelVersion, err)
		}
		if oldest.IsZero() || !k.AtLeast(oldest) {
			oldest = k
		}
		cidrs = append(cidrs, n.Spec.PodCIDRs...)
		if len(n.Spec.PodCIDRs) == 0 && n.Spec.PodCIDR != "" {
			cidrs = append(cidrs, n.Spec.PodCIDR)
		}
	}
	facts, _ := plan.DefaultFacts(plan.Existing, c.Name())
	facts.APIServerHost, facts.APIServerPort = c.APIServer()
	facts.PodCIDR = o.PodCIDR
	if facts.PodCIDR == "" {
		facts.PodCIDR = coveringPrefix(cidrs)
	}
	facts.NIC = o.NIC
	return facts, oldest, nil
}

// coveringPrefix returns the longest IPv4 prefix containing every CIDR given
// ("" when there is none).
func coveringPrefix(cidrs []string) string {
	var ps []netip.Prefix
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(strings.TrimSpace(c)); err == nil && p.Addr().Is4() {
			ps = append(ps, p.Masked())
		}
	}
	if len(ps) == 0 {
		return ""
	}
	bits := ps[0].Bits()
	for _, p := range ps[1:] {
		if p.Bits() < bits {
			bits = p.Bits()
		}
	}
	for ; bits > 0; bits-- {
		base, _ := ps[0].Addr().Prefix(bits)
		all := true
		for _, p := range ps[1:] {
			if !base.Contains(p.Addr()) {
				all = false
				break
			}
		}
		if all {
			return base.String()
		}
	}
	return ""
}

func findingsText(fs []plan.Finding) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = f.Option + ": " + f.Reason
	}
	return strings.Join(s, "; ")
}
