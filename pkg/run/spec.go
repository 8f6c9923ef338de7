package run

import (
	"fmt"
	"strings"

	"github.com/tunedcilium/tunedcilium/clusters"
	"github.com/tunedcilium/tunedcilium/pkg/plan"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// SpecFor derives the cluster a plan needs: kube-proxy off under KPR, the
// node network MTU jumbo frames need, host-side XDP preparation.
func SpecFor(p *plan.Plan, o Options, name string) clusters.Spec {
	return clusters.Spec{
		Name:      name,
		RunID:     o.RunID,
		Nodes:     o.Nodes,
		NodeImage: o.NodeImage,
		KubeProxy: p.KubeProxy,
		MTU:       p.NodeMTU,
		XDP:       p.Active(tuning.XDPAcceleration),
	}
}

// ClusterName names a cluster from the run id and a sequence number: short
// enough for kind's container names and for Linux interface names derived
// from them.
func ClusterName(runID string, seq int) string {
	return fmt.Sprintf("tc-%s-%d", strings.ToLower(runID), seq)
}
