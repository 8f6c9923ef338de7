package checks

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/probe"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// ciliumMasqChain is where Cilium's iptables masquerading rules live.
const ciliumMasqChain = "CILIUM_POST_nat"

// MasqRule is one of Cilium's iptables source-NAT rules with its packet
// counter before and after the traffic.
type MasqRule struct {
	Backend probe.Backend `json:"backend"`
	Chain   string        `json:"chain"`
	Spec    string        `json:"spec"`
	Before  uint64        `json:"packetsBefore"`
	After   uint64        `json:"packetsAfter"`
}

// MasqueradeEvidence is what masquerade.bpf-snat measured.
type MasqueradeEvidence struct {
	Node        string         `json:"node"`
	NodeIP      netip.Addr     `json:"nodeIP"`
	Pod         string         `json:"pod"`
	PodIP       netip.Addr     `json:"podIP"`
	Destination netip.AddrPort `json:"destination"`
	// Local is the pod's own address of the connection, Seen what the
	// server outside the cluster saw.
	Local netip.AddrPort `json:"local"`
	Seen  netip.AddrPort `json:"seen"`
	// NATEntries are the lines of the node agent's BPF NAT table for the
	// connection (cilium-dbg bpf nat list).
	NATEntries []string `json:"bpfNATEntries"`
	NATErr     string   `json:"bpfNATError,omitempty"`
	// MasqRules are Cilium's iptables MASQUERADE/SNAT rules on the node
	// (CILIUM_POST_nat); with BPF masquerading Cilium installs none.
	MasqRules []MasqRule `json:"iptablesMasqueradeRules"`
	// OtherSourceNAT are the nat table's other MASQUERADE/SNAT rules
	// (kube-proxy's, ...), for the record: they count unrelated traffic too.
	OtherSourceNAT []MasqRule `json:"otherSourceNATRules,omitempty"`
}

// masqDelta is how many packets Cilium's iptables masquerading counted.
func (e MasqueradeEvidence) masqDelta() uint64 {
	var d uint64
	for _, r := range e.MasqRules {
		if r.After > r.Before {
			d += r.After - r.Before
		}
	}
	return d
}

// DecideBPFMasquerade: PASS when the server outside the cluster saw the
// node's IP, the connection is in the node's BPF NAT table and Cilium's
// iptables MASQUERADE rules did not count it. With iptables masquerading
// the source is the node IP too, but the counter grows and the BPF NAT
// table has no entry: FAIL with that.
func DecideBPFMasquerade(e MasqueradeEvidence) Decision {
	seen := e.Seen.Addr()
	flow := fmt.Sprintf("%s -> %s", e.Local, e.Destination)
	switch {
	case seen == e.PodIP:
		return fail("not masqueraded: the server outside the cluster saw the pod's own IP %s (%s)", seen, flow)
	case seen != e.NodeIP:
		return fail("the server outside the cluster saw %s, neither the pod IP %s nor node %s's IP %s (%s)", seen, e.PodIP, e.Node, e.NodeIP, flow)
	}
	if d := e.masqDelta(); d > 0 {
		var rules []string
		for _, r := range e.MasqRules {
			if r.After > r.Before {
				rules = append(rules, fmt.Sprintf("%s %s +%d", r.Backend, r.Spec, r.After-r.Before))
			}
		}
		return fail("masqueraded in iptables: Cilium's MASQUERADE rules counted %d packets (%s); node IP %s seen", d, strings.Join(rules, "; "), seen)
	}
	if len(e.NATEntries) == 0 && e.NATErr != "" {
		return unmeasured("BPF NAT table unreadable", []string{e.Node + ": " + firstLine(e.NATErr)})
	}
	if len(e.NATEntries) == 0 {
		why := ""
		if e.NATErr != "" {
			why = " (" + firstLine(e.NATErr) + ")"
		}
		return fail("source became node IP %s but the flow %s is not in %s's BPF NAT table%s", seen, flow, e.Node, why)
	}
	iptables := "Cilium installed no iptables MASQUERADE rule"
	if len(e.MasqRules) > 0 {
		iptables = fmt.Sprintf("Cilium's %d iptables MASQUERADE rules counted 0 packets", len(e.MasqRules))
	}
	return pass("the server outside the cluster saw node IP %s, the flow is in the BPF NAT table (%s) and %s",
		seen, firstLine(e.NATEntries[0]), iptables)
}

// natEntriesFor picks the BPF NAT table lines of one connection, the
// source translation (OUT ... XLATE_SRC) first.
func natEntriesFor(natList string, local, dest netip.AddrPort) []string {
	var out, in []string
	for _, line := range strings.Split(natList, "\n") {
		if !strings.Contains(line, local.String()) || !strings.Contains(line, dest.String()) {
			continue
		}
		if strings.Contains(line, "XLATE_SRC") {
			out = append(out, strings.TrimSpace(line))
		} else {
			in = append(in, strings.TrimSpace(line))
		}
	}
	return append(out, in...)
}

// ciliumMasqRules are Cilium's source-NAT rules in CILIUM_POST_nat.
func ciliumMasqRules(t probe.IPTables) []probe.Rule {
	var out []probe.Rule
	for _, r := range t.SourceNAT() {
		if r.Chain == ciliumMasqChain {
			out = append(out, r)
		}
	}
	return out
}

func bpfMasquerade(ctx context.Context, env *Env, _ tuning.Check) outcome {
	if why := needWorkload(env); why != "" {
		return skipOutcome(nil, "%s", why)
	}
	w := env.Workload
	ext := w.External()
	if ext == nil {
		return skipOutcome(nil, "needs a destination outside the cluster: %s", w.ExternalSkip)
	}
	node, err := env.Node(w.NodeA())
	if err != nil {
		return errorOutcome(nil, err)
	}
	p, err := probeOf(node)
	if err != nil {
		return skipOutcome(nil, "%v", err)
	}
	nodeIP, err := nodeAddr(node)
	if err != nil {
		return errorOutcome(nil, err)
	}
	client, err := w.Client(node.Name)
	if err != nil {
		return errorOutcome(nil, err)
	}
	ev := MasqueradeEvidence{Node: node.Name, NodeIP: nodeIP, Pod: client.Name, PodIP: client.IP, Destination: ext.EchoAddr()}
	before, err := p.IPTables(ctx)
	if err != nil {
		return errorOutcome(nil, fmt.Errorf("read node %s's iptables before: %w", node.Name, err))
	}
	obs, err := askFromPod(ctx, env, client, ev.Destination, 1)
	if err != nil {
		return errorOutcome(map[string]any{"masquerade": ev}, err)
	}
	ev.Local, ev.Seen = obs[0].Local, obs[0].Seen
	after, err := p.IPTables(ctx)
	if err != nil {
		return errorOutcome(map[string]any{"masquerade": ev}, fmt.Errorf("read node %s's iptables after: %w", node.Name, err))
	}
	ev.MasqRules = pairRules(ciliumMasqRules(before), ciliumMasqRules(after))
	ev.OtherSourceNAT = pairRules(otherSourceNAT(before), otherSourceNAT(after))
	out, err := env.agentExec(ctx, node, "cilium-dbg", "bpf", "nat", "list")
	if err != nil {
		ev.NATErr = err.Error()
	}
	ev.NATEntries = natEntriesFor(string(out), ev.Local, ev.Destination)
	return outcome{Decision: DecideBPFMasquerade(ev), Evidence: map[string]any{"masquerade": ev}}
}

// otherSourceNAT are the nat table's source-NAT rules outside Cilium's chain.
func otherSourceNAT(t probe.IPTables) []probe.Rule {
	var out []probe.Rule
	for _, r := range t.SourceNAT() {
		if r.Chain != ciliumMasqChain {
			out = append(out, r)
		}
	}
	return out
}

// pairRules matches rules read before and after by backend and spec.
func pairRules(before, after []probe.Rule) []MasqRule {
	key := func(r probe.Rule) string { return string(r.Backend) + "|" + r.Family + "|" + r.Chain + "|" + r.Spec }
	prev := map[string]uint64{}
	for _, r := range before {
		prev[key(r)] = r.Packets
	}
	var out []MasqRule
	for _, r := range after {
		out = append(out, MasqRule{Backend: r.Backend, Chain: r.Chain, Spec: r.Spec, Before: prev[key(r)], After: r.Packets})
	}
	return out
}
