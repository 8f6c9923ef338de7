package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/probe"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// CiliumXDPProgram is the name of Cilium's XDP entry program (the kernel
// keeps 15 characters of a program's name).
const CiliumXDPProgram = "cil_xdp_entry"

// XDPEvidence is the XDP state of one node's NodePort device.
type XDPEvidence struct {
	Node        string                `json:"node"`
	Device      string                `json:"device"`
	Attachments []probe.XDPAttachment `json:"attachments"`
	Err         string                `json:"error,omitempty"`
}

// DecideXDPNative: PASS when the NodePort device of every node has Cilium's
// XDP program attached in native (driver) mode. FAIL: no program, generic
// (skb) mode, or a program that is not Cilium's.
func DecideXDPNative(nodes []XDPEvidence) Decision {
	if len(nodes) == 0 {
		return fail("no node measured")
	}
	var bad, good, unread []string
	for _, n := range nodes {
		if n.Err != "" {
			unread = append(unread, fmt.Sprintf("%s %s: %s", n.Node, n.Device, firstLine(n.Err)))
			continue
		}
		native := false
		var seen []string
		for _, a := range n.Attachments {
			if !a.Attached {
				continue
			}
			seen = append(seen, fmt.Sprintf("%s %s (id %d)", a.Mode, orNone(a.ProgramName), a.ProgramID))
			if a.Mode == probe.XDPNative && strings.HasPrefix(a.ProgramName, CiliumXDPProgram) {
				native = true
			}
		}
		switch {
		case native:
			good = append(good, fmt.Sprintf("%s %s: %s", n.Node, n.Device, strings.Join(seen, ", ")))
		case len(seen) == 0:
			bad = append(bad, fmt.Sprintf("%s %s: no XDP program", n.Node, n.Device))
		default:
			bad = append(bad, fmt.Sprintf("%s %s: %s, not %s in native mode", n.Node, n.Device, strings.Join(seen, ", "), CiliumXDPProgram))
		}
	}
	if len(unread) > 0 {
		return unmeasured("XDP attachments unreadable", unread)
	}
	if len(bad) > 0 {
		return fail("%s", strings.Join(bad, "; "))
	}
	return pass("Cilium's XDP program in native mode on every NodePort device (%s)", strings.Join(good, "; "))
}

func xdpNative(ctx context.Context, env *Env, _ tuning.Check) outcome {
	var nodes []XDPEvidence
	for _, n := range env.Nodes {
		p, err := probeOf(n)
		if err != nil {
			return skipOutcome(nil, "%v", err)
		}
		names, err := nodeDeviceNames(ctx, env, n)
		if err != nil {
			nodes = append(nodes, XDPEvidence{Node: n.Name, Err: err.Error()})
			continue
		}
		for _, dev := range names {
			ev := XDPEvidence{Node: n.Name, Device: dev}
			ev.Attachments, err = p.XDPOn(ctx, dev)
			if err != nil {
				ev.Err = err.Error()
			}
			nodes = append(nodes, ev)
		}
	}
	return outcome{Decision: DecideXDPNative(nodes), Evidence: map[string]any{"xdp": nodes}}
}
