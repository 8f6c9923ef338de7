package checks

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/tuning"
	"github.com/tunedcilium/tunedcilium/pkg/workload"
)

// DSREvidence is what dsr.client-ip-preserved measured.
type DSREvidence struct {
	// Client is the container outside the cluster and its own IP.
	Client   string     `json:"client"`
	ClientIP netip.Addr `json:"clientIP"`
	// Target is node A's IP and the NodePort; NodeA has no backend.
	NodeA    string         `json:"nodeA"`
	NodeAIP  netip.Addr     `json:"nodeAIP"`
	Target   netip.AddrPort `json:"target"`
	Backends []string       `json:"backendNodes"`
	// NodeAPodCIDRs: an address in them is node A's cilium_host (router) IP.
	NodeAPodCIDRs         []netip.Prefix `json:"nodeAPodCIDRs"`
	ExternalTrafficPolicy string         `json:"externalTrafficPolicy"`
	// Seen are the peer addresses the backend reported, one per connection.
	Seen []netip.AddrPort `json:"seen"`
}

// DecideDSR: PASS when the backend on node B saw the external client's own
// IP on every connection to node A's NodePort. FAIL "SNAT" when it saw node
// A's IP or its cilium_host IP. The design's preconditions (no backend on
// node A, externalTrafficPolicy Cluster, a client outside the cluster) are
// checked first: without them a preserved IP proves nothing (SKIP).
func DecideDSR(e DSREvidence) Decision {
	if slices.Contains(e.Backends, e.NodeA) {
		return skip("precondition broken: node %s, the node hit, has a backend (%s): a local backend sees the client in every mode", e.NodeA, strings.Join(e.Backends, ", "))
	}
	if len(e.Backends) == 0 {
		return skip("precondition broken: the NodePort service has no ready backend")
	}
	if e.ExternalTrafficPolicy != "" && e.ExternalTrafficPolicy != "Cluster" {
		return skip("precondition broken: externalTrafficPolicy %s keeps the client IP without DSR", e.ExternalTrafficPolicy)
	}
	if len(e.Seen) == 0 {
		return fail("no connection answered")
	}
	var bad []string
	for _, s := range e.Seen {
		a := s.Addr()
		switch {
		case a == e.ClientIP:
		case a == e.NodeAIP:
			bad = append(bad, fmt.Sprintf("SNAT: the backend on %s saw node %s's IP %s, not the client's %s", strings.Join(e.Backends, ","), e.NodeA, a, e.ClientIP))
		case inAny(a, e.NodeAPodCIDRs):
			bad = append(bad, fmt.Sprintf("SNAT: the backend on %s saw %s, node %s's cilium_host (router) IP, not the client's %s", strings.Join(e.Backends, ","), a, e.NodeA, e.ClientIP))
		default:
			bad = append(bad, fmt.Sprintf("the backend saw %s, not the client's %s", a, e.ClientIP))
		}
	}
	if len(bad) > 0 {
		return fail("%s", bad[0])
	}
	return pass("the backend on %s saw the external client's own IP %s on all %d connections to %s (node %s, no local backend)",
		strings.Join(e.Backends, ","), e.ClientIP, len(e.Seen), e.Target, e.NodeA)
}

func inAny(a netip.Addr, cidrs []netip.Prefix) bool {
	for _, c := range cidrs {
		if c.Contains(a) {
			return true
		}
	}
	return false
}

func dsrClientIP(ctx context.Context, env *Env, _ tuning.Check) outcome {
	if why := needWorkload(env); why != "" {
		return skipOutcome(nil, "%s", why)
	}
	w := env.Workload
	ext := w.External()
	if ext == nil {
		return skipOutcome(nil, "needs a client outside the cluster: %s", w.ExternalSkip)
	}
	np, err := w.Service(workload.NodePortServiceName)
	if err != nil {
		return errorOutcome(nil, err)
	}
	nodeA, err := env.Node(w.NodeA())
	if err != nil {
		return errorOutcome(nil, err)
	}
	ipA, err := nodeAddr(nodeA)
	if err != nil {
		return errorOutcome(nil, err)
	}
	ev := DSREvidence{
		Client: ext.Name, ClientIP: ext.IP, NodeA: nodeA.Name, NodeAIP: ipA,
		Target: netip.AddrPortFrom(ipA, uint16(np.NodePort)), Backends: np.BackendNodes,
		NodeAPodCIDRs: nodeA.PodCIDRs, ExternalTrafficPolicy: np.ExternalTrafficPolicy,
	}
	obs, err := askFromExternal(ctx, ext, ev.Target, 3)
	if err != nil {
		return errorOutcome(map[string]any{"dsr": ev}, err)
	}
	for _, o := range obs {
		ev.Seen = append(ev.Seen, o.Seen)
	}
	return outcome{Decision: DecideDSR(ev), Evidence: map[string]any{"dsr": ev}}
}
