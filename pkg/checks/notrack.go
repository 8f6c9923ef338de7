package checks

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/probe"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// NotrackEvidence is one node's NOTRACK rules and whether they cover the
// cluster's pod CIDRs.
type NotrackEvidence struct {
	Node     string              `json:"node"`
	PodCIDRs []netip.Prefix      `json:"podCIDRs"`
	Rules    []probe.NotrackRule `json:"rules"`
	Covered  bool                `json:"covered"`
	Missing  []string            `json:"missing,omitempty"`
	Err      string              `json:"error,omitempty"`
}

// ciliumNotrack keeps Cilium's own NOTRACK rules for pod traffic: in its
// CILIUM_* raw chains (or with its "cilium: NOTRACK for pod traffic"
// comment) and matching an address. Cilium's other NOTRACK rules (proxy
// return and upstream traffic, matched by mark) say nothing about pods.
func ciliumNotrack(rules []probe.NotrackRule) []probe.NotrackRule {
	var out []probe.NotrackRule
	for _, r := range rules {
		if !r.CIDR.IsValid() {
			continue
		}
		if strings.HasPrefix(r.Chain, "CILIUM_") || strings.Contains(strings.ToLower(r.Comment), "cilium") {
			out = append(out, r)
		}
	}
	return out
}

// NotrackOn builds a node's evidence from its rules.
func NotrackOn(node string, rules []probe.NotrackRule, podCIDRs []netip.Prefix) NotrackEvidence {
	mine := ciliumNotrack(rules)
	ok, missing := notrackCovers(mine, podCIDRs)
	return NotrackEvidence{Node: node, PodCIDRs: podCIDRs, Rules: mine, Covered: ok, Missing: missing}
}

// DecideNotrack: PASS when Cilium's NOTRACK rules cover every pod CIDR, by
// source and destination, on every node.
func DecideNotrack(nodes []NotrackEvidence) Decision {
	if len(nodes) == 0 {
		return fail("no node measured")
	}
	var bad, good, unread []string
	for _, n := range nodes {
		switch {
		case n.Err != "":
			unread = append(unread, fmt.Sprintf("%s: %s", n.Node, firstLine(n.Err)))
		case len(n.PodCIDRs) == 0:
			bad = append(bad, fmt.Sprintf("%s: no pod CIDR known to check coverage of", n.Node))
		case len(n.Rules) == 0:
			bad = append(bad, fmt.Sprintf("%s: no Cilium NOTRACK rule in the raw table", n.Node))
		case !n.Covered:
			bad = append(bad, fmt.Sprintf("%s: %d NOTRACK rules but none for %s", n.Node, len(n.Rules), strings.Join(n.Missing, ", ")))
		default:
			var cidrs []string
			for _, r := range n.Rules {
				cidrs = append(cidrs, fmt.Sprintf("%s/%s %s %s", r.Table, r.Chain, sideFlag(r.Matches), r.CIDR))
			}
			good = append(good, fmt.Sprintf("%s: %s", n.Node, strings.Join(cidrs, ", ")))
		}
	}
	if len(unread) > 0 {
		return unmeasured("raw table unreadable", unread)
	}
	if len(bad) > 0 {
		return fail("%s", strings.Join(bad, "; "))
	}
	return pass("Cilium's NOTRACK rules cover the pod CIDRs on every node (%s)", strings.Join(good, "; "))
}

func notrackRules(ctx context.Context, env *Env, _ tuning.Check) outcome {
	cidrs := env.AllPodCIDRs()
	var nodes []NotrackEvidence
	for _, n := range env.Nodes {
		p, err := probeOf(n)
		if err != nil {
			return skipOutcome(nil, "%v", err)
		}
		t, err := p.IPTables(ctx)
		if err != nil {
			nodes = append(nodes, NotrackEvidence{Node: n.Name, PodCIDRs: cidrs, Err: err.Error()})
			continue
		}
		nodes = append(nodes, NotrackOn(n.Name, t.Notrack(), cidrs))
	}
	return outcome{Decision: DecideNotrack(nodes), Evidence: map[string]any{"notrack": nodes}}
}

func sideFlag(matches string) string {
	switch matches {
	case "source":
		return "-s"
	case "destination":
		return "-d"
	}
	return "(any)"
}
