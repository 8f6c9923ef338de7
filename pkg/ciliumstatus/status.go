// Package ciliumstatus reads what a Cilium agent says about itself: the
// document `cilium-dbg status -o json` prints, decoded into Cilium's own
// models.StatusResponse, with typed accessors for the fields the suite checks,
// and the fallback lines in agent logs.
//
// The accessors return what the agent reports, not what was configured:
// a tuning that fell back shows its fallback value here (host routing
// "Legacy", masquerading "iptables", acceleration "Disabled"). Two fields
// report the configured mode even when the datapath fell back: NodePort
// acceleration "Best-Effort" stays "Best-Effort" when XDP could not attach,
// and ConfiguredDatapathMode "auto" says nothing about netkit; for those the
// agent logs (ScanFallbacks) and the node's own state are the evidence.
package ciliumstatus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/cilium/cilium/api/v1/models"
)

// Status is one agent's decoded status document.
type Status struct {
	Response models.StatusResponse
}

// Decode decodes the output of `cilium-dbg status -o json`. It rejects
// anything that is not a status document, so that an error message printed
// by a dying agent is not read as an empty (all-disabled) status.
func Decode(data []byte) (*Status, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, fmt.Errorf("decode cilium status: empty output (is the agent running?)")
	}
	if data[0] != '{' {
		return nil, fmt.Errorf("decode cilium status: not a JSON document: %q", firstLine(data))
	}
	var s Status
	if err := json.Unmarshal(data, &s.Response); err != nil {
		return nil, fmt.Errorf("decode cilium status: %w", err)
	}
	if s.Response.Cilium == nil && s.Response.KubeProxyReplacement == nil && s.Response.Routing == nil {
		return nil, fmt.Errorf("decode cilium status: the document has none of the fields cilium, kube-proxy-replacement, routing: %q", firstLine(data))
	}
	return &s, nil
}

// KubeProxyReplacement is the "kube-proxy-replacement.mode" field: "True" or
// "False" ("" when the agent did not report it).
func (s *Status) KubeProxyReplacement() string {
	if kpr := s.Response.KubeProxyReplacement; kpr != nil {
		return kpr.Mode
	}
	return ""
}

// KubeProxyReplacementEnabled reports whether the agent replaces kube-proxy.
func (s *Status) KubeProxyReplacementEnabled() bool {
	return s.KubeProxyReplacement() == models.KubeProxyReplacementModeTrue
}

// NodePort is "kube-proxy-replacement.features.nodePort".
type NodePort struct {
	Enabled bool
	// Mode is "SNAT", "DSR" or "Hybrid".
	Mode string
	// DSRDispatch is how DSR carries the client address: "IP Option/Extension",
	// "IPIP" or "Geneve" (empty without DSR).
	DSRDispatch string
	// Acceleration is the XDP mode as the agent reports it: "Disabled",
	// "Native", "Best-Effort", "Generic" ("None" in the API enum is never
	// written by the v1.20 agent: off reads "Disabled").
	Acceleration string
	Algorithm    string
}

// NodePort returns the NodePort features; the zero value when KPR is off.
func (s *Status) NodePort() NodePort {
	kpr := s.Response.KubeProxyReplacement
	if kpr == nil || kpr.Features == nil || kpr.Features.NodePort == nil {
		return NodePort{}
	}
	np := kpr.Features.NodePort
	return NodePort{
		Enabled:      np.Enabled,
		Mode:         np.Mode,
		DSRDispatch:  np.DsrMode,
		Acceleration: np.Acceleration,
		Algorithm:    np.Algorithm,
	}
}

// DSR reports whether NodePort runs in DSR mode (pure DSR, not Hybrid).
func (np NodePort) DSR() bool { return np.Mode == models.KubeProxyReplacementFeaturesNodePortModeDSR }

// XDP reports whether an XDP acceleration mode is configured (any mode other
// than Disabled/None). Best-Effort counts: see the package doc.
func (np NodePort) XDP() bool {
	switch np.Acceleration {
	case "", "Disabled", models.KubeProxyReplacementFeaturesNodePortAccelerationNone:
		return false
	}
	return true
}

// HostRouting is "routing.intra-host-routing-mode": "BPF" or "Legacy".
func (s *Status) HostRouting() string {
	if r := s.Response.Routing; r != nil {
		return r.IntraHostRoutingMode
	}
	return ""
}

// BPFHostRouting reports whether host routing runs in BPF.
func (s *Status) BPFHostRouting() bool {
	return s.HostRouting() == models.RoutingIntraHostRoutingModeBPF
}

// InterHostRouting is "routing.inter-host-routing-mode": "Native" or "Tunnel".
func (s *Status) InterHostRouting() string {
	if r := s.Response.Routing; r != nil {
		return r.InterHostRoutingMode
	}
	return ""
}

// NativeRouting reports whether traffic between nodes is routed natively.
func (s *Status) NativeRouting() bool {
	return s.InterHostRouting() == models.RoutingInterHostRoutingModeNative
}

// TunnelProtocol is "routing.tunnel-protocol" ("vxlan", "geneve"); the agent
// fills it even in native routing mode.
func (s *Status) TunnelProtocol() string {
	if r := s.Response.Routing; r != nil {
		return r.TunnelProtocol
	}
	return ""
}

// Masquerading is the "masquerading" section.
type Masquerading struct {
	Enabled bool
	// Mode is "BPF" or "iptables" (empty when masquerading is off).
	Mode string
	IPv4 bool
	IPv6 bool
	// IPMasqAgent is true when the BPF ip-masq-agent is on.
	IPMasqAgent bool
}

// Masquerading returns the masquerading section.
func (s *Status) Masquerading() Masquerading {
	m := s.Response.Masquerading
	if m == nil {
		return Masquerading{}
	}
	out := Masquerading{Enabled: m.Enabled, Mode: m.Mode, IPMasqAgent: m.IPMasqAgent}
	if m.EnabledProtocols != nil {
		out.IPv4 = m.EnabledProtocols.IPv4
		out.IPv6 = m.EnabledProtocols.IPv6
	}
	return out
}

// BPF reports whether masquerading is on and done in BPF.
func (m Masquerading) BPF() bool { return m.Enabled && m.Mode == models.MasqueradingModeBPF }

// DatapathMode is the device mode in use: "veth", "netkit" or "netkit-l2".
func (s *Status) DatapathMode() string { return string(s.Response.DatapathMode) }

// ConfiguredDatapathMode is the device mode asked for: "auto", "veth",
// "netkit" or "netkit-l2". With "auto", DatapathMode says what was chosen.
func (s *Status) ConfiguredDatapathMode() string { return string(s.Response.ConfiguredDatapathMode) }

// Netkit reports whether pods are attached with netkit devices (L3 or L2).
func (s *Status) Netkit() bool {
	switch s.Response.DatapathMode {
	case models.DatapathModeNetkit, models.DatapathModeNetkitDashL2:
		return true
	}
	return false
}

// AttachMode is how BPF programs are attached to devices: "tcx" or "tc".
func (s *Status) AttachMode() string { return string(s.Response.AttachMode) }

// BandwidthManager is the "bandwidth-manager" section.
type BandwidthManager struct {
	Enabled bool
	// CongestionControl is "cubic" or "bbr" (empty when disabled).
	CongestionControl string
	Devices           []string
}

// BBR reports whether the Bandwidth Manager runs with BBR for pods.
func (b BandwidthManager) BBR() bool {
	return b.Enabled && b.CongestionControl == models.BandwidthManagerCongestionControlBbr
}

// BandwidthManager returns the bandwidth manager section.
func (s *Status) BandwidthManager() BandwidthManager {
	b := s.Response.BandwidthManager
	if b == nil {
		return BandwidthManager{}
	}
	return BandwidthManager{Enabled: b.Enabled, CongestionControl: b.CongestionControl, Devices: append([]string(nil), b.Devices...)}
}

// BigTCPFamily is BIG TCP for one address family.
type BigTCPFamily struct {
	Enabled bool
	MaxGSO  int64
	MaxGRO  int64
}

// BigTCP is the "ipv4-big-tcp" and "ipv6-big-tcp" sections.
type BigTCP struct {
	IPv4 BigTCPFamily
	IPv6 BigTCPFamily
}

// BigTCP returns BIG TCP for both families.
func (s *Status) BigTCP() BigTCP {
	var b BigTCP
	if v4 := s.Response.IPv4BigTCP; v4 != nil {
		b.IPv4 = BigTCPFamily{Enabled: v4.Enabled, MaxGSO: v4.MaxGSO, MaxGRO: v4.MaxGRO}
	}
	if v6 := s.Response.IPv6BigTCP; v6 != nil {
		b.IPv6 = BigTCPFamily{Enabled: v6.Enabled, MaxGSO: v6.MaxGSO, MaxGRO: v6.MaxGRO}
	}
	return b
}

// ClockSource is the BPF clock source: Mode "ktime" or "jiffies" (Hertz set
// for jiffies).
func (s *Status) ClockSource() (mode string, hertz int64) {
	if c := s.Response.ClockSource; c != nil {
		return c.Mode, c.Hertz
	}
	return "", 0
}

// ClusterHealth is the state of cilium-health as the agent sees it
// ("cluster.ciliumHealth"): state "Ok", "Warning", "Failure" or "Disabled".
func (s *Status) ClusterHealth() (state, msg string) {
	if c := s.Response.Cluster; c != nil && c.CiliumHealth != nil {
		return c.CiliumHealth.State, c.CiliumHealth.Msg
	}
	return "", ""
}

// FailingController is a controller whose last run failed.
type FailingController struct {
	Name                string
	ConsecutiveFailures int64
	LastFailure         string
}

// FailingControllers lists controllers that are failing now (consecutive
// failures > 0), sorted by name. Past failures that recovered do not count.
func (s *Status) FailingControllers() []FailingController {
	var out []FailingController
	for _, c := range s.Response.Controllers {
		if c == nil || c.Status == nil || c.Status.ConsecutiveFailureCount == 0 {
			continue
		}
		out = append(out, FailingController{
			Name:                c.Name,
			ConsecutiveFailures: c.Status.ConsecutiveFailureCount,
			LastFailure:         c.Status.LastFailureMsg,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Healthy reports whether the agent is up and healthy, and if not, why, in
// one line: the overall state must be Ok, Kubernetes connectivity Ok, no
// controller failing. cilium-health being in Warning (probes not yet done)
// does not make an agent unhealthy; a Failure does.
func (s *Status) Healthy() (bool, string) {
	r := s.Response
	var why []string
	switch {
	case r.Cilium == nil:
		why = append(why, "no overall state reported")
	case r.Cilium.State != models.StatusStateOk:
		why = append(why, fmt.Sprintf("state %s: %s", r.Cilium.State, strings.TrimSpace(r.Cilium.Msg)))
	}
	if k := r.Kubernetes; k != nil && k.State != models.StatusStateOk && k.State != models.StatusStateDisabled {
		why = append(why, fmt.Sprintf("kubernetes %s: %s", k.State, k.Msg))
	}
	if state, msg := s.ClusterHealth(); state == models.StatusStateFailure {
		why = append(why, fmt.Sprintf("cilium-health %s: %s", state, msg))
	}
	if failing := s.FailingControllers(); len(failing) > 0 {
		names := make([]string, 0, len(failing))
		for _, c := range failing {
			names = append(names, c.Name)
		}
		why = append(why, fmt.Sprintf("%d controller(s) failing: %s (%s)", len(failing), strings.Join(names, ", "), failing[0].LastFailure))
	}
	if len(why) == 0 {
		return true, "Ok"
	}
	return false, strings.Join(why, "; ")
}

// Evidence returns the fields the suite checks, keyed by their place in the
// status document ("status.routing.intra-host-routing-mode"), for verdicts.
func (s *Status) Evidence() map[string]any {
	np := s.NodePort()
	m := s.Masquerading()
	bw := s.BandwidthManager()
	bt := s.BigTCP()
	clock, _ := s.ClockSource()
	return map[string]any{
		"status.kube-proxy-replacement.mode":                           s.KubeProxyReplacement(),
		"status.kube-proxy-replacement.features.nodePort.mode":         np.Mode,
		"status.kube-proxy-replacement.features.nodePort.dsrMode":      np.DSRDispatch,
		"status.kube-proxy-replacement.features.nodePort.acceleration": np.Acceleration,
		"status.routing.intra-host-routing-mode":                       s.HostRouting(),
		"status.routing.inter-host-routing-mode":                       s.InterHostRouting(),
		"status.masquerading.enabled":                                  m.Enabled,
		"status.masquerading.mode":                                     m.Mode,
		"status.datapath-mode":                                         s.DatapathMode(),
		"status.configured-datapath-mode":                              s.ConfiguredDatapathMode(),
		"status.attach-mode":                                           s.AttachMode(),
		"status.bandwidth-manager.enabled":                             bw.Enabled,
		"status.bandwidth-manager.congestionControl":                   bw.CongestionControl,
		"status.ipv4-big-tcp.enabled":                                  bt.IPv4.Enabled,
		"status.ipv6-big-tcp.enabled":                                  bt.IPv6.Enabled,
		"status.clock-source.mode":                                     clock,
	}
}

func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	if len(line) > 200 {
		line = line[:200]
	}
	return string(line)
}
