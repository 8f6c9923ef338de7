package checks

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/ciliumstatus"
	"github.com/tunedcilium/tunedcilium/pkg/probe"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// DefaultMapSizeRatio is the chart's default bpf.mapDynamicSizeRatio.
const DefaultMapSizeRatio = 0.0025

// JumboMTU is the MTU the jumbo-mtu option asks of the node network.
const JumboMTU = 9000

// NodeFacts is what one node shows about the options, for crediting.
type NodeFacts struct {
	Node   string
	Status *ciliumstatus.Status
	// NotrackCovers: the node's NOTRACK rules cover every pod CIDR of the
	// cluster, by source and by destination. Nil when the rules could not
	// be read.
	NotrackCovers *bool
	// CiliumHostMTU is cilium_host's MTU (0 when unknown).
	CiliumHostMTU int
	// DistributedLRU is the agent config's BPFDistributedLRU (nil: unknown).
	DistributedLRU *bool
}

// Active is the set of options the nodes show active at run time, derived
// from the agents' status and the nodes' own state, never from the plan.
// An option is active only when every node shows it.
type Active struct {
	on  map[tuning.Key]bool
	why map[tuning.Key]string
}

// Active reports whether k is active on every node.
func (a *Active) Active(k tuning.Key) bool { return a != nil && a.on[k] }

// Why says what showed k active or not, for evidence.
func (a *Active) Why(k tuning.Key) string {
	if a == nil {
		return ""
	}
	return a.why[k]
}

// Keys lists the active options, sorted.
func (a *Active) Keys() []string {
	var out []string
	for k, on := range a.on {
		if on {
			out = append(out, string(k))
		}
	}
	sort.Strings(out)
	return out
}

// DeriveActive decides which options are active from what the nodes show:
//   - status fields for the options the agent reports (routing modes, KPR,
//     masquerading, NodePort mode and acceleration, BIG TCP, Bandwidth
//     Manager and BBR, Hubble, map size ratio, device mode);
//   - the bypass (bypass-conntrack) from the NOTRACK rules on the nodes;
//     on the packet path it only matters where host routing is Legacy,
//     which the checks' precedence (bpf-host-routing first) expresses;
//   - jumbo MTU from cilium_host's MTU; distributed LRU from the agent config.
func DeriveActive(nodes []NodeFacts) *Active {
	a := &Active{on: map[tuning.Key]bool{}, why: map[tuning.Key]string{}}
	if len(nodes) == 0 {
		return a
	}
	type test struct {
		key   tuning.Key
		field string
		value func(n NodeFacts) (string, bool)
	}
	st := func(f func(s *ciliumstatus.Status) (string, bool)) func(n NodeFacts) (string, bool) {
		return func(n NodeFacts) (string, bool) {
			if n.Status == nil {
				return "status unreadable", false
			}
			return f(n.Status)
		}
	}
	tests := []test{
		{tuning.NativeRouting, "status routing.inter-host-routing-mode", st(func(s *ciliumstatus.Status) (string, bool) {
			return s.InterHostRouting(), s.NativeRouting()
		})},
		{tuning.KubeProxyReplacement, "status kube-proxy-replacement.mode", st(func(s *ciliumstatus.Status) (string, bool) {
			return s.KubeProxyReplacement(), s.KubeProxyReplacementEnabled()
		})},
		{tuning.BPFMasquerade, "status masquerading.mode", st(func(s *ciliumstatus.Status) (string, bool) {
			m := s.Masquerading()
			return fmt.Sprintf("%s (enabled %v)", m.Mode, m.Enabled), m.BPF()
		})},
		{tuning.DSR, "status kube-proxy-replacement.features.nodePort.mode", st(func(s *ciliumstatus.Status) (string, bool) {
			np := s.NodePort()
			// Hybrid runs DSR for TCP, which is what the check sends.
			return np.Mode, np.Enabled && (np.DSR() || np.Mode == "Hybrid")
		})},
		{tuning.BPFHostRouting, "status routing.intra-host-routing-mode", st(func(s *ciliumstatus.Status) (string, bool) {
			return s.HostRouting(), s.BPFHostRouting()
		})},
		{tuning.IPv6BIGTCP, "status ipv6-big-tcp.enabled", st(func(s *ciliumstatus.Status) (string, bool) {
			b := s.BigTCP().IPv6
			return fmt.Sprint(b.Enabled), b.Enabled
		})},
		{tuning.IPv4BIGTCP, "status ipv4-big-tcp.enabled", st(func(s *ciliumstatus.Status) (string, bool) {
			b := s.BigTCP().IPv4
			return fmt.Sprint(b.Enabled), b.Enabled
		})},
		{tuning.BandwidthManager, "status bandwidth-manager.enabled", st(func(s *ciliumstatus.Status) (string, bool) {
			b := s.BandwidthManager()
			return fmt.Sprint(b.Enabled), b.Enabled
		})},
		{tuning.BBR, "status bandwidth-manager.congestion-control", st(func(s *ciliumstatus.Status) (string, bool) {
			b := s.BandwidthManager()
			return b.CongestionControl, b.BBR()
		})},
		{tuning.XDPAcceleration, "status kube-proxy-replacement.features.nodePort.acceleration", st(func(s *ciliumstatus.Status) (string, bool) {
			np := s.NodePort()
			return np.Acceleration, np.XDP()
		})},
		{tuning.HubbleDisabled, "status hubble.state", st(func(s *ciliumstatus.Status) (string, bool) {
			h := hubbleState(s)
			return h, h == "Disabled"
		})},
		{tuning.BPFMapSize, "status bpf-maps.dynamic-size-ratio", st(func(s *ciliumstatus.Status) (string, bool) {
			r := mapSizeRatio(s)
			return fmt.Sprint(r), r > DefaultMapSizeRatio
		})},
		{tuning.Netkit, "status datapath-mode", st(func(s *ciliumstatus.Status) (string, bool) {
			return s.DatapathMode(), s.Netkit()
		})},
		{tuning.BypassConntrack, "NOTRACK rules covering the pod CIDRs", func(n NodeFacts) (string, bool) {
			if n.NotrackCovers == nil {
				return "unread", false
			}
			return map[bool]string{true: "present", false: "absent"}[*n.NotrackCovers], *n.NotrackCovers
		}},
		{tuning.JumboMTU, "cilium_host MTU", func(n NodeFacts) (string, bool) {
			if n.CiliumHostMTU == 0 {
				return "unknown", false
			}
			return fmt.Sprint(n.CiliumHostMTU), n.CiliumHostMTU >= JumboMTU
		}},
		{tuning.DistributedLRU, "agent config BPFDistributedLRU", func(n NodeFacts) (string, bool) {
			if n.DistributedLRU == nil {
				return "unknown", false
			}
			return fmt.Sprint(*n.DistributedLRU), *n.DistributedLRU
		}},
	}
	for _, t := range tests {
		all := true
		var parts []string
		for _, n := range nodes {
			v, ok := t.value(n)
			all = all && ok
			parts = append(parts, n.Node+"="+v)
		}
		a.on[t.key] = all
		a.why[t.key] = t.field + ": " + strings.Join(parts, ", ")
	}
	return a
}

// hubbleState is "hubble.state" of the status ("" when absent).
func hubbleState(s *ciliumstatus.Status) string {
	if h := s.Response.Hubble; h != nil {
		return h.State
	}
	return ""
}

// mapSizeRatio is "bpf-maps.dynamic-size-ratio" of the status.
func mapSizeRatio(s *ciliumstatus.Status) float64 {
	if m := s.Response.BpfMaps; m != nil {
		return m.DynamicSizeRatio
	}
	return 0
}

// notrackCovers reports whether NOTRACK rules cover every CIDR in podCIDRs
// both as source and as destination (Cilium installs -s and -d rules in
// CILIUM_PRE_raw and CILIUM_OUTPUT_raw), and lists what is missing.
func notrackCovers(rules []probe.NotrackRule, podCIDRs []netip.Prefix) (bool, []string) {
	var missing []string
	for _, p := range podCIDRs {
		for _, side := range []string{"source", "destination"} {
			found := false
			for _, r := range rules {
				if r.Matches == side && r.CIDR.IsValid() && r.CIDR.Bits() <= p.Bits() && r.CIDR.Contains(p.Addr()) {
					found = true
					break
				}
			}
			if !found {
				missing = append(missing, side+" "+p.String())
			}
		}
	}
	return len(podCIDRs) > 0 && len(missing) == 0, missing
}

// Active derives (once per Env) the options the nodes show active.
func (e *Env) Active(ctx context.Context) *Active {
	e.mu.Lock()
	if e.active != nil {
		defer e.mu.Unlock()
		return e.active
	}
	e.mu.Unlock()
	cidrs := e.AllPodCIDRs()
	var facts []NodeFacts
	for _, n := range e.Nodes {
		f := NodeFacts{Node: n.Name, Status: n.Status}
		if n.Probe != nil {
			if t, err := n.Probe.IPTables(ctx); err == nil {
				ok, _ := notrackCovers(t.Notrack(), cidrs)
				f.NotrackCovers = &ok
			}
			if d, err := n.Probe.Device(ctx, "cilium_host"); err == nil {
				f.CiliumHostMTU = d.MTU
			}
		}
		if c, err := e.agentConfig(ctx, n); err == nil {
			if v, ok := c.Bool("BPFDistributedLRU"); ok {
				f.DistributedLRU = &v
			}
		}
		facts = append(facts, f)
	}
	a := DeriveActive(facts)
	e.mu.Lock()
	e.active = a
	e.mu.Unlock()
	return a
}
