package checks

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/probe"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// NodeDevices is what one node's devices show: its native (NodePort)
// devices and the host-side devices of its pods (lxc*).
type NodeDevices struct {
	Node    string         `json:"node"`
	Native  []probe.Device `json:"native"`
	PodSide []probe.Device `json:"podSide"`
	Err     string         `json:"error,omitempty"`
}

func gatherDevices(ctx context.Context, env *Env) ([]NodeDevices, error) {
	var out []NodeDevices
	for _, n := range env.Nodes {
		p, err := probeOf(n)
		if err != nil {
			return nil, err
		}
		nd := NodeDevices{Node: n.Name}
		names, err := nodeDeviceNames(ctx, env, n)
		if err != nil {
			nd.Err = err.Error()
			out = append(out, nd)
			continue
		}
		devs, err := p.Devices(ctx)
		if err != nil {
			nd.Err = err.Error()
			out = append(out, nd)
			continue
		}
		for _, d := range devs {
			for _, name := range names {
				if d.Name == name {
					nd.Native = append(nd.Native, d)
				}
			}
		}
		nd.PodSide = probe.DevicesWithPrefix(devs, "lxc")
		// cilium-health's endpoint device is lxc_health: a pod-side device too.
		out = append(out, nd)
	}
	return out, nil
}

// bigTCPFamily selects the sizes of one family.
type bigTCPFamily struct {
	name string
	has  func(d probe.Device) bool
	// reported is false when the node's tools did not report the sizes.
	reported func(d probe.Device) bool
	sizes    func(d probe.Device) string
}

var bigTCPv6 = bigTCPFamily{"IPv6",
	probe.Device.BigTCPIPv6,
	func(probe.Device) bool { return true },
	func(d probe.Device) string { return fmt.Sprintf("gso %d/gro %d", d.GSOMaxSize, d.GROMaxSize) },
}

var bigTCPv4 = bigTCPFamily{"IPv4",
	probe.Device.BigTCPIPv4,
	func(d probe.Device) bool { return d.GSOIPv4MaxSize != nil && d.GROIPv4MaxSize != nil },
	func(d probe.Device) string {
		if d.GSOIPv4MaxSize == nil || d.GROIPv4MaxSize == nil {
			return "not reported"
		}
		return fmt.Sprintf("gso_ipv4 %d/gro_ipv4 %d", *d.GSOIPv4MaxSize, *d.GROIPv4MaxSize)
	},
}

// DecideBigTCP: PASS when the native device and every pod-side device of
// every node carry GSO/GRO sizes above 64 KiB for the family; SKIP when the
// node's tools do not report the IPv4 sizes; FAIL names the devices at the
// default (65536).
func DecideBigTCP(nodes []NodeDevices, fam bigTCPFamily) Decision {
	if len(nodes) == 0 {
		return fail("no node measured")
	}
	var bad, good, unread []string
	for _, n := range nodes {
		if n.Err != "" {
			unread = append(unread, fmt.Sprintf("%s: %s", n.Node, firstLine(n.Err)))
			continue
		}
		if len(n.Native) == 0 {
			bad = append(bad, n.Node+": native device not found")
		}
		if len(n.PodSide) == 0 {
			bad = append(bad, n.Node+": no pod-side (lxc*) device")
		}
		for _, d := range append(append([]probe.Device{}, n.Native...), n.PodSide...) {
			if !fam.reported(d) {
				return skip("%s BIG TCP sizes not reported for %s on %s (node tools too old: iproute2 < 6.3 on the exec path)", fam.name, d.Name, n.Node)
			}
			if !fam.has(d) {
				bad = append(bad, fmt.Sprintf("%s %s %s", n.Node, d.Name, fam.sizes(d)))
			} else {
				good = append(good, fmt.Sprintf("%s %s %s", n.Node, d.Name, fam.sizes(d)))
			}
		}
	}
	if len(unread) > 0 {
		return unmeasured("devices unreadable", unread)
	}
	if len(bad) > 0 {
		return fail("%s GSO/GRO not above 65536: %s", fam.name, strings.Join(bad, "; "))
	}
	return pass("%s GSO/GRO above 65536 on every native and pod device (%s)", fam.name, strings.Join(good, "; "))
}

func bigTCPCheck(fam bigTCPFamily) checkFunc {
	return func(ctx context.Context, env *Env, _ tuning.Check) outcome {
		nodes, err := gatherDevices(ctx, env)
		if err != nil {
			return skipOutcome(nil, "%v", err)
		}
		return outcome{Decision: DecideBigTCP(nodes, fam), Evidence: map[string]any{"devices": nodes}}
	}
}

// DecideFQ: PASS when every native device of every node has an fq qdisc
// (at the root, or under mq: the Bandwidth Manager's layout).
func DecideFQ(nodes []NodeDevices) Decision {
	if len(nodes) == 0 {
		return fail("no node measured")
	}
	var bad, good, unread []string
	for _, n := range nodes {
		if n.Err != "" {
			unread = append(unread, fmt.Sprintf("%s: %s", n.Node, firstLine(n.Err)))
			continue
		}
		if len(n.Native) == 0 {
			bad = append(bad, n.Node+": native device not found")
		}
		for _, d := range n.Native {
			desc := fmt.Sprintf("%s %s root qdisc %s", n.Node, d.Name, orNone(d.Qdisc))
			if d.FQ {
				good = append(good, desc+" with fq")
			} else {
				bad = append(bad, desc+", no fq")
			}
		}
	}
	if len(unread) > 0 {
		return unmeasured("devices unreadable", unread)
	}
	if len(bad) > 0 {
		return fail("%s", strings.Join(bad, "; "))
	}
	return pass("fq on every native device (%s)", strings.Join(good, "; "))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func fqQdisc(ctx context.Context, env *Env, _ tuning.Check) outcome {
	nodes, err := gatherDevices(ctx, env)
	if err != nil {
		return skipOutcome(nil, "%v", err)
	}
	return outcome{Decision: DecideFQ(nodes), Evidence: map[string]any{"devices": nodes}}
}

// DecideNetkit: PASS when every pod-side device of every node is netkit.
func DecideNetkit(nodes []NodeDevices) Decision {
	if len(nodes) == 0 {
		return fail("no node measured")
	}
	var bad, unread []string
	kinds := map[string]int{}
	total := 0
	for _, n := range nodes {
		if n.Err != "" {
			unread = append(unread, fmt.Sprintf("%s: %s", n.Node, firstLine(n.Err)))
			continue
		}
		if len(n.PodSide) == 0 {
			bad = append(bad, n.Node+": no pod-side (lxc*) device")
		}
		for _, d := range n.PodSide {
			kinds[d.Kind]++
			total++
			if d.Kind != "netkit" {
				bad = append(bad, fmt.Sprintf("%s %s is %s", n.Node, d.Name, d.Kind))
			}
		}
	}
	if len(unread) > 0 {
		return unmeasured("devices unreadable", unread)
	}
	if len(bad) > 0 {
		if len(bad) > 6 {
			bad = append(bad[:6], fmt.Sprintf("... %d more", len(bad)-6))
		}
		return fail("pod devices are not netkit (%s): %s", kindCounts(kinds), strings.Join(bad, "; "))
	}
	return pass("all %d pod-side devices are netkit", total)
}

func kindCounts(kinds map[string]int) string {
	var parts []string
	for k, n := range kinds {
		parts = append(parts, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func netkitDevices(ctx context.Context, env *Env, _ tuning.Check) outcome {
	nodes, err := gatherDevices(ctx, env)
	if err != nil {
		return skipOutcome(nil, "%v", err)
	}
	return outcome{Decision: DecideNetkit(nodes), Evidence: map[string]any{"devices": nodes}}
}
