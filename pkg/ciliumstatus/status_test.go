package ciliumstatus

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cilium/cilium/api/v1/models"
)

// labAgent is shaped like the status of the v1.20.2 agent measured on this
// lab's kernel (docs: /work/shared/LAB.md): KPR True, NodePort DSR with IP
// option dispatch, XDP Native, native routing, BPF host routing, BPF
// masquerading, TCX, veth. It is built with Cilium's own models types and
// marshalled, so the test reads the field names Cilium writes.
func labAgent() models.StatusResponse {
	return models.StatusResponse{
		Cilium:     &models.Status{State: models.StatusStateOk, Msg: "1.20.2 (v1.20.2-abcdef)"},
		Kubernetes: &models.K8sStatus{State: models.StatusStateOk, Msg: "1.34 (v1.34.4) [linux/amd64]"},
		KubeProxyReplacement: &models.KubeProxyReplacement{
			Mode:    models.KubeProxyReplacementModeTrue,
			Devices: []string{"eth0"},
			Features: &models.KubeProxyReplacementFeatures{
				NodePort: &models.KubeProxyReplacementFeaturesNodePort{
					Enabled:      true,
					Mode:         models.KubeProxyReplacementFeaturesNodePortModeDSR,
					DsrMode:      models.KubeProxyReplacementFeaturesNodePortDsrModeIPOptionSlashExtension,
					Acceleration: models.KubeProxyReplacementFeaturesNodePortAccelerationNative,
					Algorithm:    models.KubeProxyReplacementFeaturesNodePortAlgorithmRandom,
					PortMin:      30000,
					PortMax:      32767,
				},
			},
		},
		Routing: &models.Routing{
			IntraHostRoutingMode: models.RoutingIntraHostRoutingModeBPF,
			InterHostRoutingMode: models.RoutingInterHostRoutingModeNative,
			TunnelProtocol:       "vxlan",
		},
		Masquerading: &models.Masquerading{
			Enabled:          true,
			Mode:             models.MasqueradingModeBPF,
			EnabledProtocols: &models.MasqueradingEnabledProtocols{IPv4: true},
		},
		AttachMode:             models.AttachModeTcx,
		DatapathMode:           models.DatapathModeVeth,
		ConfiguredDatapathMode: models.ConfiguredDatapathModeVeth,
		BandwidthManager:       &models.BandwidthManager{Enabled: false},
		IPv4BigTCP:             &models.IPV4BigTCP{Enabled: false, MaxGSO: 65536, MaxGRO: 65536},
		IPv6BigTCP:             &models.IPV6BigTCP{},
		ClockSource:            &models.ClockSource{Mode: models.ClockSourceModeKtime},
		Cluster:                &models.ClusterStatus{CiliumHealth: &models.Status{State: models.StatusStateOk}},
		Controllers: models.ControllerStatuses{
			{Name: "sync-lb-maps-with-k8s-services", Status: &models.ControllerStatusStatus{SuccessCount: 12}},
			{Name: "endpoint-gc", Status: &models.ControllerStatusStatus{SuccessCount: 3, FailureCount: 1, LastFailureMsg: "recovered"}},
		},
	}
}

// roundTrip marshals a document the way the agent's API does and decodes it
// back through Decode.
func roundTrip(t *testing.T, r models.StatusResponse) *Status {
	t.Helper()
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Decode(data)
	if err != nil {
		t.Fatalf("Decode: %v\n%s", err, data)
	}
	return s
}

func TestDecodeLabAgent(t *testing.T) {
	s := roundTrip(t, labAgent())

	if got := s.KubeProxyReplacement(); got != "True" || !s.KubeProxyReplacementEnabled() {
		t.Errorf("KPR = %q, want True", got)
	}
	np := s.NodePort()
	if !np.Enabled || !np.DSR() || np.Mode != "DSR" {
		t.Errorf("NodePort = %+v, want enabled DSR", np)
	}
	if np.DSRDispatch != "IP Option/Extension" {
		t.Errorf("DSR dispatch = %q", np.DSRDispatch)
	}
	if np.Acceleration != "Native" || !np.XDP() {
		t.Errorf("acceleration = %q, XDP() = %v; want Native, true", np.Acceleration, np.XDP())
	}
	if s.HostRouting() != "BPF" || !s.BPFHostRouting() {
		t.Errorf("host routing = %q, want BPF", s.HostRouting())
	}
	if s.InterHostRouting() != "Native" || !s.NativeRouting() {
		t.Errorf("inter-host routing = %q, want Native", s.InterHostRouting())
	}
	m := s.Masquerading()
	if !m.BPF() || !m.IPv4 || m.IPv6 {
		t.Errorf("masquerading = %+v, want BPF IPv4 only", m)
	}
	if s.AttachMode() != "tcx" {
		t.Errorf("attach mode = %q, want tcx", s.AttachMode())
	}
	if s.DatapathMode() != "veth" || s.Netkit() {
		t.Errorf("datapath mode = %q, want veth", s.DatapathMode())
	}
	if bw := s.BandwidthManager(); bw.Enabled || bw.BBR() {
		t.Errorf("bandwidth manager = %+v, want disabled", bw)
	}
	if bt := s.BigTCP(); bt.IPv4.Enabled || bt.IPv4.MaxGSO != 65536 {
		t.Errorf("big tcp = %+v", bt)
	}
	if mode, _ := s.ClockSource(); mode != "ktime" {
		t.Errorf("clock source = %q", mode)
	}
	if ok, why := s.Healthy(); !ok {
		t.Errorf("Healthy() = false (%s), want true: a controller that failed once and recovered does not count", why)
	}
	ev := s.Evidence()
	if ev["status.routing.intra-host-routing-mode"] != "BPF" || ev["status.kube-proxy-replacement.features.nodePort.mode"] != "DSR" {
		t.Errorf("evidence = %v", ev)
	}
}

// TestDecodeRawAgentJSON decodes a document written by hand with the field
// names `cilium-dbg status -o json` prints, to pin the JSON names (and not
// only the Go names) this package depends on.
func TestDecodeRawAgentJSON(t *testing.T) {
	doc := `{
  "cilium": {"state": "Ok", "msg": "1.20.2"},
  "kube-proxy-replacement": {"mode": "True", "features": {"nodePort": {"enabled": true, "mode": "DSR", "dsrMode": "IP Option/Extension", "acceleration": "Disabled"}}},
  "routing": {"intra-host-routing-mode": "Legacy", "inter-host-routing-mode": "Tunnel", "tunnel-protocol": "vxlan"},
  "masquerading": {"enabled": true, "mode": "iptables", "enabledProtocols": {"ipv4": true}},
  "attach-mode": "tc",
  "datapath-mode": "netkit",
  "configured-datapath-mode": "auto",
  "bandwidth-manager": {"enabled": true, "congestionControl": "bbr", "devices": ["eth0"]},
  "ipv4-big-tcp": {"enabled": true, "maxGSO": 196608, "maxGRO": 196608},
  "ipv6-big-tcp": {"enabled": false},
  "clock-source": {"mode": "jiffies", "hertz": 250}
}`
	s, err := Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	np := s.NodePort()
	if np.Mode != "DSR" || np.Acceleration != "Disabled" || np.XDP() {
		t.Errorf("nodePort = %+v, XDP() = %v", np, np.XDP())
	}
	if s.HostRouting() != "Legacy" || s.InterHostRouting() != "Tunnel" {
		t.Errorf("routing = %q/%q", s.HostRouting(), s.InterHostRouting())
	}
	if m := s.Masquerading(); m.Mode != "iptables" || m.BPF() {
		t.Errorf("masquerading = %+v", m)
	}
	if !s.Netkit() || s.ConfiguredDatapathMode() != "auto" || s.AttachMode() != "tc" {
		t.Errorf("datapath %q configured %q attach %q", s.DatapathMode(), s.ConfiguredDatapathMode(), s.AttachMode())
	}
	if bw := s.BandwidthManager(); !bw.BBR() || len(bw.Devices) != 1 {
		t.Errorf("bandwidth manager = %+v", bw)
	}
	if bt := s.BigTCP(); !bt.IPv4.Enabled || bt.IPv4.MaxGSO != 196608 || bt.IPv6.Enabled {
		t.Errorf("big tcp = %+v", bt)
	}
	if mode, hz := s.ClockSource(); mode != "jiffies" || hz != 250 {
		t.Errorf("clock = %s/%d", mode, hz)
	}
}

// TestDecodeFallbackShapes: the shapes a silently fallen-back agent reports.
func TestDecodeFallbackShapes(t *testing.T) {
	r := labAgent()
	r.Routing.IntraHostRoutingMode = models.RoutingIntraHostRoutingModeLegacy
	r.Masquerading.Mode = models.MasqueradingModeIptables
	r.KubeProxyReplacement.Features.NodePort.Acceleration = "Disabled" // what the agent writes, not the enum's "None"
	s := roundTrip(t, r)

	if s.BPFHostRouting() || s.HostRouting() != "Legacy" {
		t.Errorf("host routing = %q, want Legacy", s.HostRouting())
	}
	if m := s.Masquerading(); m.BPF() || m.Mode != "iptables" || !m.Enabled {
		t.Errorf("masquerading = %+v, want enabled iptables", m)
	}
	if np := s.NodePort(); np.XDP() || np.Acceleration != "Disabled" {
		t.Errorf("acceleration = %q XDP() = %v, want Disabled/false", np.Acceleration, np.XDP())
	}

	r = labAgent()
	r.KubeProxyReplacement = &models.KubeProxyReplacement{Mode: models.KubeProxyReplacementModeFalse, Features: &models.KubeProxyReplacementFeatures{NodePort: &models.KubeProxyReplacementFeaturesNodePort{}}}
	r.Masquerading = &models.Masquerading{Enabled: false}
	s = roundTrip(t, r)
	if s.KubeProxyReplacementEnabled() || s.KubeProxyReplacement() != "False" {
		t.Errorf("KPR = %q, want False", s.KubeProxyReplacement())
	}
	if np := s.NodePort(); np.Enabled || np.DSR() || np.XDP() {
		t.Errorf("NodePort with KPR off = %+v", np)
	}
	if m := s.Masquerading(); m.Enabled || m.BPF() {
		t.Errorf("masquerading off = %+v", m)
	}
}

func TestHealthy(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*models.StatusResponse)
		want   string // "" means healthy; else a substring of the reason
	}{
		{"ok", func(*models.StatusResponse) {}, ""},
		{"warning", func(r *models.StatusResponse) {
			r.Cilium = &models.Status{State: models.StatusStateWarning, Msg: "Not all probes executed at least once"}
		}, "state Warning: Not all probes executed at least once"},
		{"no overall state", func(r *models.StatusResponse) { r.Cilium = nil }, "no overall state"},
		{"kubernetes down", func(r *models.StatusResponse) {
			r.Kubernetes = &models.K8sStatus{State: models.StatusStateFailure, Msg: "dial tcp 10.96.0.1:443: i/o timeout"}
		}, "kubernetes Failure: dial tcp"},
		{"controller failing", func(r *models.StatusResponse) {
			r.Controllers = append(r.Controllers, &models.ControllerStatus{Name: "ipcache-inject-labels", Status: &models.ControllerStatusStatus{ConsecutiveFailureCount: 4, FailureCount: 4, LastFailureMsg: "k8s cache not synced"}})
		}, "1 controller(s) failing: ipcache-inject-labels (k8s cache not synced)"},
		{"health failure", func(r *models.StatusResponse) {
			r.Cluster.CiliumHealth = &models.Status{State: models.StatusStateFailure, Msg: "no response"}
		}, "cilium-health Failure"},
		{"health warning is fine", func(r *models.StatusResponse) {
			r.Cluster.CiliumHealth = &models.Status{State: models.StatusStateWarning, Msg: "probing"}
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := labAgent()
			c.mutate(&r)
			ok, why := roundTrip(t, r).Healthy()
			if c.want == "" {
				if !ok {
					t.Fatalf("Healthy() = false (%s), want true", why)
				}
				return
			}
			if ok || !strings.Contains(why, c.want) {
				t.Fatalf("Healthy() = %v, %q; want false with %q", ok, why, c.want)
			}
		})
	}
}

func TestDecodeRejectsNonStatus(t *testing.T) {
	for _, in := range []string{
		"",
		"Error: Get \"http:///var/run/cilium/cilium.sock/v1/healthz\": dial unix: connect: no such file or directory",
		`{"foo": 1}`,
		`{"cilium": `,
	} {
		if _, err := Decode([]byte(in)); err == nil {
			t.Errorf("Decode(%q) succeeded, want an error", in)
		}
	}
}
