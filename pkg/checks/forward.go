package checks

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/tunedcilium/tunedcilium/pkg/probe"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// ForwardCounter is one node's counting rule in filter FORWARD.
type ForwardCounter struct {
	Node    string        `json:"node"`
	Backend probe.Backend `json:"backend"`
	Comment string        `json:"comment"`
	Source  netip.Prefix  `json:"source"`
	Packets uint64        `json:"packets"`
	Err     string        `json:"error,omitempty"`
}

// ForwardEvidence is what host-routing.forward-bypassed measured.
type ForwardEvidence struct {
	Connections int              `json:"connections"`
	Counters    []ForwardCounter `json:"counters"`
	// InterHostRouting is each node's routing.inter-host-routing-mode.
	InterHostRouting []string `json:"interHostRouting"`
}

// DecideForwardBypassed: PASS when the counting rule for the pod CIDR in
// every node's FORWARD chain stayed at zero packets while pods on two
// nodes exchanged traffic. Legacy host routing forwards pod traffic through
// netfilter: the counters grow (FAIL).
func DecideForwardBypassed(e ForwardEvidence) Decision {
	if len(e.Counters) == 0 {
		return fail("no counting rule installed")
	}
	if e.Connections == 0 {
		return fail("no connection completed: nothing crossed the nodes")
	}
	var bad, zero, unread []string
	masked := tunnelMasks(e.InterHostRouting)
	for _, c := range e.Counters {
		switch {
		case c.Err != "":
			unread = append(unread, fmt.Sprintf("%s: %s", c.Node, firstLine(c.Err)))
		case c.Packets > 0:
			bad = append(bad, fmt.Sprintf("%s FORWARD counted %d packets from %s", c.Node, c.Packets, c.Source))
		default:
			zero = append(zero, c.Node)
		}
	}
	if len(unread) > 0 {
		return unmeasured("FORWARD counters unreadable", unread)
	}
	if len(bad) > 0 {
		return fail("pod traffic went through netfilter FORWARD during %d connections: %s", e.Connections, strings.Join(bad, "; "))
	}
	if masked != "" {
		return skip("FORWARD stayed at 0 packets, which proves nothing under %s", masked)
	}
	return pass("FORWARD counting rules for pod sources stayed at 0 packets on %s during %d pod-to-pod connections across nodes", strings.Join(zero, ", "), e.Connections)
}

// coveringPrefix is the smallest prefix that holds every prefix given.
func coveringPrefix(ps []netip.Prefix) (netip.Prefix, error) {
	if len(ps) == 0 {
		return netip.Prefix{}, errors.New("no pod CIDR known")
	}
	for bits := ps[0].Bits(); bits >= 0; bits-- {
		c, err := ps[0].Addr().Prefix(bits)
		if err != nil {
			return netip.Prefix{}, err
		}
		all := true
		for _, p := range ps {
			if p.Addr().BitLen() != c.Addr().BitLen() || p.Bits() < bits || !c.Contains(p.Addr()) {
				all = false
				break
			}
		}
		if all {
			return c, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("no prefix covers %v", ps)
}

func forwardBypassed(ctx context.Context, env *Env, _ tuning.Check) outcome {
	if why := needWorkload(env); why != "" {
		return skipOutcome(nil, "%s", why)
	}
	for _, n := range env.Nodes {
		if _, err := probeOf(n); err != nil {
			return skipOutcome(nil, "%v", err)
		}
	}
	src, err := coveringPrefix(env.AllPodCIDRs())
	if err != nil {
		return errorOutcome(nil, err)
	}
	client, server, err := crossNodePair(env)
	if err != nil {
		return errorOutcome(nil, err)
	}
	var rules []*probe.CountingRule
	var ev ForwardEvidence
	// Removed whatever happens: on success, failure and interrupt (a fresh
	// context, since ctx may be the one that was cancelled).
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		for _, r := range rules {
			if err := r.Remove(rctx); err != nil {
				env.logf("check host-routing.forward-bypassed: could not remove counting rule %s: %v", r.Comment, err)
			}
		}
	}()
	nodeOf := map[*probe.CountingRule]string{}
	for _, n := range env.Nodes {
		r, err := n.Probe.InstallCountingRule(ctx, probe.CountingRuleSpec{Table: "filter", Chain: "FORWARD", Source: src})
		if err != nil {
			return errorOutcome(nil, fmt.Errorf("install counting rule in node %s's FORWARD chain: %w", n.Name, err))
		}
		rules = append(rules, r)
		nodeOf[r] = n.Name
	}
	server4 := netip.AddrPortFrom(server.IP, 8080)
	res, err := burstFromPod(ctx, env, client, server4, env.Settings.Connections)
	if err != nil {
		return errorOutcome(nil, err)
	}
	ev.Connections = res.Connections
	_, ev.InterHostRouting = routingModes(env)
	for _, r := range rules {
		c := ForwardCounter{Node: nodeOf[r], Backend: r.Backend, Comment: r.Comment, Source: src}
		c.Packets, err = r.Packets(ctx)
		if err != nil {
			c.Err = err.Error()
		}
		ev.Counters = append(ev.Counters, c)
	}
	return outcome{Decision: DecideForwardBypassed(ev), Evidence: map[string]any{"forward": ev, "burst": res}}
}
