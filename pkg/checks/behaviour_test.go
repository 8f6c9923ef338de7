package checks

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tunedcilium/tunedcilium/pkg/probe"
	"github.com/tunedcilium/tunedcilium/pkg/traffic"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

var (
	extIP   = netip.MustParseAddr("172.18.0.9")
	clientA = netip.MustParseAddr("10.244.0.57")
)

func masqEvidence(seen netip.Addr, before, after uint64, nat []string) MasqueradeEvidence {
	return MasqueradeEvidence{
		Node: nodeA, NodeIP: nodeAIP, Pod: "client-a", PodIP: clientA,
		Destination: netip.AddrPortFrom(extIP, 8080),
		Local:       netip.AddrPortFrom(clientA, 40312), Seen: netip.AddrPortFrom(seen, 40312),
		NATEntries: nat,
		MasqRules: []MasqRule{{Backend: probe.BackendNFT, Chain: "CILIUM_POST_nat",
			Spec:   `-A CILIUM_POST_nat -s 10.244.0.0/24 ! -d 10.244.0.0/16 ! -o cilium_+ -m comment --comment "cilium masquerade non-cluster" -j MASQUERADE`,
			Before: before, After: after}},
	}
}

const natLine = "TCP OUT 10.244.0.57:40312 -> 172.18.0.9:8080 XLATE_SRC 172.18.0.2:40312 Created=12sec ago NeedsCT=1"

func TestBPFMasquerade(t *testing.T) {
	d := DecideBPFMasquerade(masqEvidence(nodeAIP, 0, 0, []string{natLine}))
	require.Equal(t, verdict.Pass, d.Result, d.Reason)
	require.Contains(t, d.Reason, "MASQUERADE rules counted 0 packets")
	// As measured with BPF masquerading: Cilium installs no MASQUERADE rule.
	none := masqEvidence(nodeAIP, 0, 0, []string{natLine})
	none.MasqRules = nil
	d = DecideBPFMasquerade(none)
	require.Equal(t, verdict.Pass, d.Result, d.Reason)
	require.Contains(t, d.Reason, "no iptables MASQUERADE rule")

	// iptables masquerading: the node IP is seen too, but the rule counted
	// the connection and BPF has no entry.
	d = DecideBPFMasquerade(masqEvidence(nodeAIP, 4, 5, nil))
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, "masqueraded in iptables")
	require.Contains(t, d.Reason, "counted 1 packets")

	// BPF masquerading said on, but the flow is not in its table.
	d = DecideBPFMasquerade(masqEvidence(nodeAIP, 0, 0, nil))
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, "not in "+nodeA+"'s BPF NAT table")

	d = DecideBPFMasquerade(masqEvidence(clientA, 0, 0, nil))
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, "not masqueraded")
}

func TestNATEntriesFor(t *testing.T) {
	// As the agent lists them: the reverse entry may come first.
	inLine := "TCP IN 172.18.0.9:8080 -> 172.18.0.2:40312 XLATE_DST 10.244.0.57:40312 Created=12sec ago NeedsCT=1"
	list := inLine + "\n" + natLine + "\n" +
		"TCP OUT 10.244.0.99:5555 -> 172.18.0.9:8080 XLATE_SRC 172.18.0.2:5555 Created=1sec ago NeedsCT=1\n"
	got := natEntriesFor(list, netip.MustParseAddrPort("10.244.0.57:40312"), netip.MustParseAddrPort("172.18.0.9:8080"))
	// Both directions of the connection, not the other pod's.
	require.Equal(t, []string{natLine, inLine}, got)
}

func dsrEvidence(seen ...netip.Addr) DSREvidence {
	e := DSREvidence{Client: "ext", ClientIP: extIP, NodeA: nodeA, NodeAIP: nodeAIP,
		Target: netip.AddrPortFrom(nodeAIP, 31234), Backends: []string{nodeB},
		NodeAPodCIDRs: []netip.Prefix{podCIDRA}, ExternalTrafficPolicy: "Cluster"}
	for _, s := range seen {
		e.Seen = append(e.Seen, netip.AddrPortFrom(s, 51000))
	}
	return e
}

func TestDSR(t *testing.T) {
	d := DecideDSR(dsrEvidence(extIP, extIP, extIP))
	require.Equal(t, verdict.Pass, d.Result, d.Reason)
	require.Contains(t, d.Reason, "172.18.0.9")

	// SNAT mode, as measured: the backend sees node A's IP.
	d = DecideDSR(dsrEvidence(nodeAIP, nodeAIP, nodeAIP))
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, "SNAT: the backend on "+nodeB+" saw node "+nodeA+"'s IP 172.18.0.2")

	d = DecideDSR(dsrEvidence(netip.MustParseAddr("10.244.0.185")))
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, "cilium_host")

	// Masked mechanisms: a local backend or eTP Local keep the client IP
	// without DSR: the check refuses to decide.
	local := dsrEvidence(extIP)
	local.Backends = []string{nodeA, nodeB}
	require.Equal(t, verdict.Skip, DecideDSR(local).Result)
	etp := dsrEvidence(extIP)
	etp.ExternalTrafficPolicy = "Local"
	require.Equal(t, verdict.Skip, DecideDSR(etp).Result)

	// A preserved IP while the agents run SNAT cannot be credited to DSR.
	c, _ := tuning.LookupCheck("dsr.client-ip-preserved")
	snat := seedStatus()
	snat.KubeProxyReplacement.Features.NodePort.Mode = "SNAT"
	cr := Credit(c, DeriveActive(facts(t, snat, true)), DecideDSR(dsrEvidence(extIP)))
	require.Equal(t, verdict.Fail, cr.Result)
	require.Contains(t, cr.Reason, "nothing to credit")
	cr = Credit(c, DeriveActive(facts(t, seedStatus(), true)), DecideDSR(dsrEvidence(extIP)))
	require.Equal(t, verdict.Pass, cr.Result)
	require.Equal(t, tuning.DSR, cr.Mechanism)
}

func TestKPR(t *testing.T) {
	ev := KPREvidence{
		ClusterIP: netip.MustParseAddrPort("10.96.12.34:8080"), ClusterIPFrom: "pod client-a",
		NodePort: netip.MustParseAddrPort("172.18.0.2:31234"), NodePortFrom: "external container ext",
		Nodes: []KubeProxyRules{{Node: nodeA, Rules: map[string]int{}, CiliumLists: true}, {Node: nodeB, Rules: map[string]int{}, CiliumLists: true}},
	}
	require.Equal(t, verdict.Pass, DecideKPR(ev).Result)

	rules := []probe.Rule{
		{Table: "nat", Chain: "PREROUTING", Target: "KUBE-SERVICES"},
		{Table: "nat", Chain: "KUBE-SERVICES", Destination: netip.MustParsePrefix("10.96.12.34/32"), Target: "KUBE-SVC-ABC", Spec: "-A KUBE-SERVICES -d 10.96.12.34/32 -p tcp -m tcp --dport 8080 -j KUBE-SVC-ABC"},
		{Table: "nat", Chain: "KUBE-SERVICES", Target: "KUBE-NODEPORTS"},
		{Table: "nat", Chain: "KUBE-NODEPORTS", Target: "KUBE-EXT-ABC"},
	}
	kp := ev
	kp.Nodes = []KubeProxyRules{kubeProxyRulesOn(nodeA, rules, netip.MustParseAddr("10.96.12.34"))}
	kp.Nodes[0].CiliumLists = true
	d := DecideKPR(kp)
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, "kube-proxy serves the services")
	require.Contains(t, d.Reason, "3 KUBE-SERVICES, 2 KUBE-NODEPORTS")
	require.Contains(t, d.Reason, "1 for the service's ClusterIP 10.96.12.34")

	noAnswer := ev
	noAnswer.NodePortErr = "dial tcp 172.18.0.2:31234: connection refused"
	require.Equal(t, verdict.Fail, DecideKPR(noAnswer).Result)
	notListed := ev
	notListed.Nodes = []KubeProxyRules{{Node: nodeA, Rules: map[string]int{}}}
	require.Contains(t, DecideKPR(notListed).Reason, "does not list")
}

func TestForwardBypassed(t *testing.T) {
	src := netip.MustParsePrefix("10.244.0.0/23")
	native := []string{"Native", "Native"}
	zero := ForwardEvidence{Connections: 200, InterHostRouting: native, Counters: []ForwardCounter{{Node: nodeA, Source: src}, {Node: nodeB, Source: src}}}
	require.Equal(t, verdict.Pass, DecideForwardBypassed(zero).Result)
	grew := ForwardEvidence{Connections: 200, InterHostRouting: native, Counters: []ForwardCounter{{Node: nodeA, Source: src, Packets: 1003}, {Node: nodeB, Source: src, Packets: 998}}}
	d := DecideForwardBypassed(grew)
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, nodeA+" FORWARD counted 1003 packets")
	require.Equal(t, verdict.Fail, DecideForwardBypassed(ForwardEvidence{Counters: zero.Counters}).Result, "no traffic, no proof")

	// Tunnel routing, as measured on baseline: 0 packets with legacy host
	// routing, because BPF encapsulates before netfilter: masked, SKIP.
	tunnel := zero
	tunnel.InterHostRouting = []string{"Tunnel", "Tunnel"}
	d = DecideForwardBypassed(tunnel)
	require.Equal(t, verdict.Skip, d.Result)
	require.Contains(t, d.Reason, "proves nothing under tunnel routing")
	// Counters that grew are evidence in any routing mode.
	grewTunnel := grew
	grewTunnel.InterHostRouting = tunnel.InterHostRouting
	require.Equal(t, verdict.Fail, DecideForwardBypassed(grewTunnel).Result)
}

func TestCoveringPrefix(t *testing.T) {
	p, err := coveringPrefix(labPodCIDRs)
	require.NoError(t, err)
	require.Equal(t, "10.244.0.0/23", p.String())
	p, err = coveringPrefix([]netip.Prefix{netip.MustParsePrefix("10.42.0.0/24"), netip.MustParsePrefix("10.42.2.0/24")})
	require.NoError(t, err)
	require.Equal(t, "10.42.0.0/22", p.String())
	_, err = coveringPrefix(nil)
	require.Error(t, err)
}

func TestJumboPath(t *testing.T) {
	jumbo := JumboPathEvidence{Target: 9000,
		Nodes: []NodeMTUs{{Node: nodeA, CiliumHostMTU: 9000, PodSide: map[string]int{"lxc1": 9000}}, {Node: nodeB, CiliumHostMTU: 9000, PodSide: map[string]int{"lxc2": 9000}}},
		Ping:  []PingResult{{From: "client-a", To: "echo-b", PacketSize: 9000, Transmitted: 3, Received: 3}}}
	require.Equal(t, verdict.Pass, DecideJumboPath(jumbo).Result)

	// Baseline: 1500 devices (1450 in tunnel mode) and ping refused locally.
	out := "PING 10.244.1.20 (10.244.1.20) 8972(9000) bytes of data.\nping: local error: message too long, mtu=1450\n\n--- 10.244.1.20 ping statistics ---\n3 packets transmitted, 0 received, +3 errors, 100% packet loss, time 404ms"
	tx, rx, refused := parsePing(out)
	require.Equal(t, []any{3, 0, true}, []any{tx, rx, refused})
	small := JumboPathEvidence{Target: 9000,
		Nodes: []NodeMTUs{{Node: nodeA, CiliumHostMTU: 1450, PodSide: map[string]int{"lxc1": 1450}}},
		Ping:  []PingResult{{From: "client-a", To: "echo-b", PacketSize: 9000, Transmitted: tx, Received: rx, Refused: refused}}}
	d := DecideJumboPath(small)
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, "cilium_host MTU 1450")
	require.Contains(t, d.Reason, "refused (message too long)")

	// Devices at 9000 but a hop drops it (node network at 1500).
	lost := jumbo
	lost.Ping = []PingResult{{From: "client-a", To: "echo-b", PacketSize: 9000, Transmitted: 3, Received: 0}}
	require.Equal(t, verdict.Fail, DecideJumboPath(lost).Result)

	// Tunnel mode on a jumbo network: 8950-byte packets (9000 less VXLAN's
	// 50) cross; the devices still carry 9000.
	tunnelJumbo := jumbo
	tunnelJumbo.TunnelOverhead = 50
	tunnelJumbo.Ping = []PingResult{{From: "client-a", To: "echo-b", PacketSize: 8950, Transmitted: 3, Received: 3}}
	d = DecideJumboPath(tunnelJumbo)
	require.Equal(t, verdict.Pass, d.Result, d.Reason)
	require.Contains(t, d.Reason, "8950-byte")

	tx, rx, refused = parsePing("3 packets transmitted, 3 received, 0% packet loss, time 402ms")
	require.Equal(t, []any{3, 3, false}, []any{tx, rx, refused})
}

func TestDeviceMTU(t *testing.T) {
	row, err := parseMTUTable([]byte(`{
  "devices": [{"Name":"eth0","MTU":9000}],
  "mtu": [
{"Prefix":"0.0.0.0/0","DeviceMTU":9000,"RouteMTU":9000,"RoutePostEncryptMTU":9000},
{"Prefix":"::/0","DeviceMTU":9000,"RouteMTU":9000,"RoutePostEncryptMTU":9000}
  ]
}`))
	require.NoError(t, err)
	require.Equal(t, 9000, row.DeviceMTU)
	ok := []MTUEvidence{{Node: nodeA, AgentDeviceMTU: 9000, AgentRouteMTU: 9000, NodeDevice: "eth0", NodeDeviceMTU: 9000}}
	require.Equal(t, verdict.Pass, DecideDeviceMTU(ok, 9000).Result)
	base := []MTUEvidence{{Node: nodeA, AgentDeviceMTU: 1500, AgentRouteMTU: 1450, NodeDevice: "eth0", NodeDeviceMTU: 1500}}
	d := DecideDeviceMTU(base, 9000)
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, "device MTU is 1500, not the jumbo 9000")
	// The node network runs 9000 but the agent picked a smaller device.
	wrong := []MTUEvidence{{Node: nodeA, AgentDeviceMTU: 9000, NodeDevice: "eth0", NodeDeviceMTU: 9001}}
	require.Equal(t, verdict.Fail, DecideDeviceMTU(wrong, 9000).Result)
	_, err = parseMTUTable([]byte(`{"devices": []}`))
	require.ErrorContains(t, err, "no mtu table")
}

func TestMapSizing(t *testing.T) {
	// 16 GiB at the default ratio: CT TCP 150700 entries, above its 128Ki
	// floor; at 4 GiB the floor applies.
	require.Equal(t, 131072, dynamicMapEntries(ctTCPDefault, ctTCPMin, 4<<30, DefaultMapSizeRatio))
	def16 := dynamicMapEntries(ctTCPDefault, ctTCPMin, 16<<30, DefaultMapSizeRatio)
	require.Equal(t, 150700, def16)
	tuned16 := dynamicMapEntries(ctTCPDefault, ctTCPMin, 16<<30, 0.08)
	require.Greater(t, tuned16, 30*def16)
	require.Equal(t, limitTableMax, dynamicMapEntries(ctTCPDefault, ctTCPMin, 1<<40, 0.08))

	sized := []MapInfo{{Node: nodeA, Name: "cilium_ct4_global", MaxEntries: tuned16, DefaultSize: def16}}
	require.Equal(t, verdict.Pass, DecideMapsSized(sized).Result)
	deflt := []MapInfo{{Node: nodeA, Name: "cilium_ct4_global", MaxEntries: def16, DefaultSize: def16}}
	d := DecideMapsSized(deflt)
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, "the default ratio's size is 150700")

	m, err := parseBpftoolMap([]byte(`{"id":417,"type":"lru_hash","name":"cilium_ct4_glob","flags":2,"bytes_key":14,"bytes_value":56,"max_entries":4823808,"bytes_memlock":0,"frozen":0,"pinned":["/sys/fs/bpf/tc/globals/cilium_ct4_global"]}`))
	require.NoError(t, err)
	require.Equal(t, uint32(2), m.Flags)
	require.Equal(t, 4823808, m.MaxEntries)
	lru := []MapInfo{{Node: nodeA, Name: "cilium_ct4_global", Type: "lru_hash", Flags: m.Flags}}
	require.Equal(t, verdict.Pass, DecideDistributedLRU(lru).Result)
	common := []MapInfo{{Node: nodeA, Name: "cilium_ct4_global", Type: "lru_hash", Flags: 0}}
	d = DecideDistributedLRU(common)
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, "no BPF_F_NO_COMMON_LRU")

	// Measured on baseline: no SNAT map with iptables masquerading.
	_, err = parseBpftoolMap([]byte(`{"error":"bpf obj get (/sys/fs/bpf/tc/globals): No such file or directory"}`))
	require.ErrorIs(t, err, errMapNotPinned)
	withAbsent := append(deflt, MapInfo{Node: nodeA, Name: "cilium_snat_v4_external", Absent: true})
	d = DecideMapsSized(withAbsent)
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, "not created here: "+nodeA+" cilium_snat_v4_external")
	require.Equal(t, verdict.Pass, DecideMapsSized(append(sized, withAbsent[1])).Result)
	require.Equal(t, verdict.Fail, DecideMapsSized(withAbsent[1:]).Result, "no map at all is no evidence")

	total, err := memTotal([]byte("MemTotal:       24595000 kB\nMemFree:        12000000 kB\n"))
	require.NoError(t, err)
	require.Equal(t, uint64(24595000*1024), total)
}

func TestThroughput(t *testing.T) {
	s := DefaultSettings()
	measured := traffic.NewThroughput([]float64{9.1e9, 9.4e9, 9.2e9})
	th := ThroughputThreshold(s, "seed-part8", nil)
	require.Zero(t, th.MinPercentOfBaseline, "no baseline ran: absolute floor only")
	d := DecideThroughput(ThroughputEvidence{Measured: measured, Via: "pod IP", Threshold: th})
	require.Equal(t, verdict.Pass, d.Result, d.Reason)

	baseline := traffic.NewThroughput([]float64{12e9, 12.2e9, 12.1e9})
	th = ThroughputThreshold(s, "seed-part8", &baseline)
	require.Equal(t, 90.0, th.MinPercentOfBaseline)
	d = DecideThroughput(ThroughputEvidence{Measured: measured, Baseline: &baseline, Via: "pod IP", Threshold: th})
	require.Equal(t, verdict.Fail, d.Result, d.Reason)

	// The baseline profile itself is held to the floor only.
	require.Zero(t, ThroughputThreshold(s, "baseline", &baseline).MinPercentOfBaseline)

	// A threshold above what the path gives: the negative control.
	high := traffic.ThroughputThreshold{MinGbps: 1000}
	require.Equal(t, verdict.Fail, DecideThroughput(ThroughputEvidence{Measured: measured, Threshold: high}).Result)
}

func TestConnectivity(t *testing.T) {
	require.Equal(t, verdict.Pass, DecideConnectivity(ConnectivityEvidence{ExitCode: 0, Summary: "✅ [cilium-test] All 61 tests (432 actions) successful"}).Result)
	d := DecideConnectivity(ConnectivityEvidence{ExitCode: 1, Summary: "📋 Test Report [cilium-test]\n❌ 2/61 tests failed (5/432 actions), 0 tests skipped"})
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, "2/61 tests failed")
	_, err := ciliumCLI("/nonexistent/cilium")
	require.ErrorContains(t, err, "not there")
}

func TestParseAsk(t *testing.T) {
	obs, err := parseAsk([]byte(`{"local":"172.18.0.9:51000","seen":"172.18.0.9:51000","preserved":true}` + "\n"))
	require.NoError(t, err)
	require.Equal(t, extIP, obs[0].Seen.Addr())
	_, err = parseAsk([]byte("dial tcp: i/o timeout\n"))
	require.Error(t, err)
}
