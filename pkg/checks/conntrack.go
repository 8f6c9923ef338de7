package checks

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/probe"
	"github.com/tunedcilium/tunedcilium/pkg/traffic"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// ConntrackEvidence is what conntrack.flat-pod-to-pod measured.
type ConntrackEvidence struct {
	Client      string         `json:"client"`
	ClientIP    netip.Addr     `json:"clientIP"`
	Server      netip.AddrPort `json:"server"`
	Connections int            `json:"connections"`
	Bound       int            `json:"bound"`
	// Deltas are the conntrack entries naming the two pods' addresses, on
	// each node, before and after the burst.
	Deltas []traffic.ConntrackDelta `json:"deltas"`
	// Mechanism facts the reason mentions (the credit comes from the
	// nodes' active options, see Credit).
	HostRouting    []string `json:"hostRouting"`
	NotrackPresent bool     `json:"notrackPresent"`
	// InterHostRouting is each node's routing.inter-host-routing-mode.
	InterHostRouting []string `json:"interHostRouting"`
}

// tunnelMasks says why a measurement of pod traffic at netfilter proves
// nothing in tunnel mode, or "" when every node routes natively. Cilium's
// BPF program on the pod's device encapsulates traffic to a remote pod and
// redirects it to the tunnel device, so packets with pod addresses never
// reach the node's netfilter (only the outer VXLAN/Geneve packet with node
// addresses does), whatever host routing and the NOTRACK rules do. Measured
// here on the baseline profile: +0/+1 for 200 connections with legacy host
// routing and no NOTRACK rule.
func tunnelMasks(interHost []string) string {
	for _, m := range interHost {
		if m == "Tunnel" {
			return "tunnel routing (" + strings.Join(uniq(interHost), "/") + "): BPF encapsulates pod-to-pod packets before netfilter, so pod addresses never reach it whatever host routing and the NOTRACK rules do; the check needs native routing (profiles bypass-isolated / bypass-isolated-off)"
		}
	}
	return ""
}

// DecideConntrackFlat: PASS ("flat") when the burst left fewer than Bound
// entries on every node. FAIL with the deltas otherwise, saying which
// mechanism claimed to be active and did not keep the table flat. Which
// option a PASS credits is decided by Credit: BPF host routing when the
// status says BPF (the NOTRACK rules are then masked), else the bypass
// when the NOTRACK rules are present.
func DecideConntrackFlat(e ConntrackEvidence) Decision {
	if len(e.Deltas) == 0 {
		return fail("no node measured")
	}
	if e.Connections == 0 {
		return fail("no connection completed: nothing to measure")
	}
	if why := tunnelMasks(e.InterHostRouting); why != "" {
		return skip("cannot tell the mechanisms apart under %s", why)
	}
	var parts []string
	flat := true
	for _, d := range e.Deltas {
		parts = append(parts, fmt.Sprintf("%s %+d (%d -> %d)", d.Node, d.Delta, d.Before, d.After))
		if !d.Flat(e.Bound) {
			flat = false
		}
	}
	deltas := strings.Join(parts, ", ")
	if flat {
		return pass("nf_conntrack stayed flat for %d pod-to-pod connections across nodes: %s (bound %d)", e.Connections, deltas, e.Bound)
	}
	claim := ""
	switch {
	case allEqual(e.HostRouting, "BPF"):
		claim = "; the status says host routing BPF, yet pod traffic reached netfilter"
	case e.NotrackPresent:
		claim = "; NOTRACK rules are present, yet the traffic was tracked"
	default:
		claim = fmt.Sprintf("; host routing %s and no NOTRACK rule: tracked as expected without the tunings", strings.Join(uniq(e.HostRouting), "/"))
	}
	return fail("nf_conntrack grew for %d pod-to-pod connections: %s (bound %d)%s", e.Connections, deltas, e.Bound, claim)
}

func allEqual(values []string, want string) bool {
	if len(values) == 0 {
		return false
	}
	for _, v := range values {
		if v != want {
			return false
		}
	}
	return true
}

func uniq(values []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range values {
		if v == "" {
			v = "unknown"
		}
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// countBoth counts the entries matching f on every node.
func countBoth(ctx context.Context, env *Env, f probe.ConntrackFilter) (map[string]int, error) {
	out := map[string]int{}
	for _, n := range env.Nodes {
		p, err := probeOf(n)
		if err != nil {
			return nil, err
		}
		c, err := p.ConntrackCount(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("conntrack on node %s: %w", n.Name, err)
		}
		out[n.Name] = c
	}
	return out, nil
}

func conntrackFlat(ctx context.Context, env *Env, _ tuning.Check) outcome {
	if why := needWorkload(env); why != "" {
		return skipOutcome(nil, "%s", why)
	}
	for _, n := range env.Nodes {
		if _, err := probeOf(n); err != nil {
			return skipOutcome(nil, "%v", err)
		}
	}
	client, server, err := crossNodePair(env)
	if err != nil {
		return errorOutcome(nil, err)
	}
	ev := ConntrackEvidence{
		Client: client.Name + " on " + client.Node, ClientIP: client.IP,
		Server: netip.AddrPortFrom(server.IP, 8080), Bound: env.Settings.ConntrackBound,
	}
	ev.HostRouting, ev.InterHostRouting = routingModes(env)
	ev.NotrackPresent = env.Active(ctx).Active(tuning.BypassConntrack)
	// Only the two pods' addresses: every such entry is this burst's
	// (kubelet probes and cilium-health traffic name other pods).
	filter := probe.ConntrackFilter{
		CIDRs:    []netip.Prefix{netip.PrefixFrom(client.IP, 32), netip.PrefixFrom(server.IP, 32)},
		Protocol: "tcp",
	}
	before, err := countBoth(ctx, env, filter)
	if err != nil {
		return errorOutcome(nil, err)
	}
	env.logf("check conntrack.flat-pod-to-pod: %d connections from %s to %s", env.Settings.Connections, ev.Client, ev.Server)
	res, err := burstFromPod(ctx, env, client, ev.Server, env.Settings.Connections)
	if err != nil {
		return errorOutcome(map[string]any{"conntrack": ev}, err)
	}
	after, err := countBoth(ctx, env, filter)
	if err != nil {
		return errorOutcome(map[string]any{"conntrack": ev}, err)
	}
	ev.Connections = res.Connections
	for _, n := range env.Nodes {
		ev.Deltas = append(ev.Deltas, traffic.ConntrackDelta{Node: n.Name, Before: before[n.Name], After: after[n.Name],
			Delta: after[n.Name] - before[n.Name], Connections: res.Connections, Took: res.Took})
	}
	return outcome{Decision: DecideConntrackFlat(ev), Evidence: map[string]any{"conntrack": ev, "burst": res}}
}

// routingModes are every node's host and inter-host routing modes.
func routingModes(env *Env) (host, interHost []string) {
	for _, n := range env.Nodes {
		h, i := "unknown", "unknown"
		if n.Status != nil {
			h, i = n.Status.HostRouting(), n.Status.InterHostRouting()
		}
		host = append(host, h)
		interHost = append(interHost, i)
	}
	return host, interHost
}
