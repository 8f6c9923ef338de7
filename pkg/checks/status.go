package checks

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/ciliumstatus"
	"github.com/tunedcilium/tunedcilium/pkg/plan"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// NodeValue is what one node reports for a field, and whether it is the
// value the check wants. Err is set when the node could not be read.
type NodeValue struct {
	Node  string `json:"node"`
	Value string `json:"value"`
	OK    bool   `json:"ok"`
	Err   string `json:"error,omitempty"`
}

// decideEveryNode: PASS only when every node reports the wanted value.
func decideEveryNode(field, want string, values []NodeValue) Decision {
	if len(values) == 0 {
		return fail("no node reported %s", field)
	}
	var bad, seen, unread []string
	for _, v := range values {
		switch {
		case v.Err != "":
			unread = append(unread, fmt.Sprintf("%s: %s", v.Node, firstLine(v.Err)))
		case !v.OK:
			bad = append(bad, fmt.Sprintf("%s reports %s=%q", v.Node, field, v.Value))
		default:
			seen = append(seen, v.Node+"="+v.Value)
		}
	}
	if len(unread) > 0 {
		return unmeasured(field+" unreadable", unread)
	}
	if len(bad) > 0 {
		return fail("want %s %s on every node: %s", field, want, strings.Join(bad, "; "))
	}
	return pass("%s %s on all %d nodes (%s)", field, want, len(values), strings.Join(seen, ", "))
}

// statusField is one status check: the field it reads and what PASS needs.
type statusField struct {
	field string
	want  string
	read  func(env *Env, s *ciliumstatus.Status) (value string, ok bool)
}

var statusFields = map[string]statusField{
	"status.routing-native": {"routing.inter-host-routing-mode", "= Native", func(_ *Env, s *ciliumstatus.Status) (string, bool) {
		return s.InterHostRouting(), s.NativeRouting()
	}},
	"status.kube-proxy-replacement": {"kube-proxy-replacement.mode", "= True", func(_ *Env, s *ciliumstatus.Status) (string, bool) {
		return s.KubeProxyReplacement(), s.KubeProxyReplacementEnabled()
	}},
	"status.masquerading-bpf": {"masquerading.mode", "= BPF (enabled)", func(_ *Env, s *ciliumstatus.Status) (string, bool) {
		m := s.Masquerading()
		v := m.Mode
		if !m.Enabled {
			v = "disabled"
		}
		return v, m.BPF()
	}},
	"status.nodeport-dsr": {"kube-proxy-replacement.features.nodePort.mode", "= DSR", func(_ *Env, s *ciliumstatus.Status) (string, bool) {
		np := s.NodePort()
		v := np.Mode
		if np.DSRDispatch != "" {
			v += " (" + np.DSRDispatch + ")"
		}
		if !np.Enabled {
			v = "NodePort disabled"
		}
		return v, np.Enabled && np.DSR()
	}},
	"status.host-routing-bpf": {"routing.intra-host-routing-mode", "= BPF", func(_ *Env, s *ciliumstatus.Status) (string, bool) {
		return s.HostRouting(), s.BPFHostRouting()
	}},
	"status.ipv6-big-tcp": {"ipv6-big-tcp", "enabled with max GSO/GRO > 65536", func(_ *Env, s *ciliumstatus.Status) (string, bool) {
		return bigTCPValue(s.BigTCP().IPv6)
	}},
	"status.ipv4-big-tcp": {"ipv4-big-tcp", "enabled with max GSO/GRO > 65536", func(_ *Env, s *ciliumstatus.Status) (string, bool) {
		return bigTCPValue(s.BigTCP().IPv4)
	}},
	"status.bandwidth-manager": {"bandwidth-manager.enabled", "= true", func(_ *Env, s *ciliumstatus.Status) (string, bool) {
		b := s.BandwidthManager()
		return fmt.Sprint(b.Enabled), b.Enabled
	}},
	"status.bbr": {"bandwidth-manager.congestion-control", "= bbr", func(_ *Env, s *ciliumstatus.Status) (string, bool) {
		b := s.BandwidthManager()
		v := b.CongestionControl
		if !b.Enabled {
			v = "bandwidth manager disabled"
		}
		return v, b.BBR()
	}},
	"status.xdp-native": {"kube-proxy-replacement.features.nodePort.acceleration", "= Native", func(_ *Env, s *ciliumstatus.Status) (string, bool) {
		a := s.NodePort().Acceleration
		return a, a == "Native"
	}},
	"status.hubble-disabled": {"hubble.state", "= Disabled", func(_ *Env, s *ciliumstatus.Status) (string, bool) {
		h := hubbleState(s)
		if h == "" {
			return "not reported", false
		}
		return h, h == "Disabled"
	}},
	"status.bpf-map-sizes": {"bpf-maps.dynamic-size-ratio", "= the configured ratio", func(env *Env, s *ciliumstatus.Status) (string, bool) {
		want := wantMapSizeRatio(env.Plan)
		r := mapSizeRatio(s)
		v := fmt.Sprintf("%g (configured %g; %s)", r, want, mapSizesOf(s))
		return v, ratioIs(r, want) && r > DefaultMapSizeRatio
	}},
	"status.device-mode-netkit": {"datapath-mode", "= netkit or netkit-l2", func(_ *Env, s *ciliumstatus.Status) (string, bool) {
		v := s.DatapathMode()
		if c := s.ConfiguredDatapathMode(); c != "" && c != v {
			v += " (configured " + c + ")"
		}
		return v, s.Netkit()
	}},
}

func bigTCPValue(b ciliumstatus.BigTCPFamily) (string, bool) {
	v := fmt.Sprintf("enabled=%v maxGSO=%d maxGRO=%d", b.Enabled, b.MaxGSO, b.MaxGRO)
	return v, b.Enabled && b.MaxGSO > 65536 && b.MaxGRO > 65536
}

func ratioIs(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// wantMapSizeRatio is the ratio the plan sets, else the catalog option's.
func wantMapSizeRatio(p *plan.Plan) float64 {
	if p != nil {
		if bpf, ok := p.Values["bpf"].(map[string]any); ok {
			if r, ok := toFloat(bpf["mapDynamicSizeRatio"]); ok {
				return r
			}
		}
	}
	o, _ := tuning.Lookup(tuning.BPFMapSize)
	r, _ := toFloat(o.Values["bpf.mapDynamicSizeRatio"])
	return r
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}

func mapSizesOf(s *ciliumstatus.Status) string {
	m := s.Response.BpfMaps
	if m == nil || len(m.Maps) == 0 {
		return "no map sizes reported"
	}
	var parts []string
	for _, mp := range m.Maps {
		if mp == nil {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s=%d", mp.Name, mp.Size))
	}
	return strings.Join(parts, " ")
}

// statusValues reads a field on every node.
func statusValues(env *Env, f statusField) []NodeValue {
	var out []NodeValue
	for _, n := range env.Nodes {
		if err := statusErr(n); err != nil {
			out = append(out, NodeValue{Node: n.Name, Err: err.Error()})
			continue
		}
		v, ok := f.read(env, n.Status)
		out = append(out, NodeValue{Node: n.Name, Value: v, OK: ok})
	}
	return out
}

func statusCheck(name string) checkFunc {
	f := statusFields[name]
	return func(_ context.Context, env *Env, _ tuning.Check) outcome {
		values := statusValues(env, f)
		ev := map[string]any{"status." + f.field: values}
		return outcome{Decision: decideEveryNode(f.field, f.want, values), Evidence: ev}
	}
}
