package checks

import (
	"net/netip"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tunedcilium/tunedcilium/pkg/probe"
	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

func route(dst, gw, dev string) probe.Route {
	r := probe.Route{Family: "ipv4", Destination: netip.MustParsePrefix(dst), Device: dev, Type: "unicast"}
	if gw != "" {
		r.Gateway = netip.MustParseAddr(gw)
	}
	return r
}

// Native routing with autoDirectNodeRoutes: "10.244.1.0/24 via 172.18.0.3
// dev eth0"; tunnel mode: "10.244.1.0/24 via 10.244.0.185 dev cilium_host".
func TestNativeRoutes(t *testing.T) {
	def := route("0.0.0.0/0", "172.18.0.1", "eth0")
	native := []PeerRoute{
		{Node: nodeA, Peer: nodeB, PeerIP: nodeBIP, PeerPodCIDR: podCIDRB, Routes: []probe.Route{def, route("10.244.1.0/24", "172.18.0.3", "eth0")}},
		{Node: nodeB, Peer: nodeA, PeerIP: nodeAIP, PeerPodCIDR: podCIDRA, Routes: []probe.Route{def, route("10.244.0.0/24", "172.18.0.2", "eth0")}},
	}
	d := DecideNativeRoutes(native)
	require.Equal(t, verdict.Pass, d.Result, d.Reason)
	require.Contains(t, d.Reason, "10.244.1.0/24 via 172.18.0.3 dev eth0")

	tunnel := []PeerRoute{
		{Node: nodeA, Peer: nodeB, PeerIP: nodeBIP, PeerPodCIDR: podCIDRB, Routes: []probe.Route{def, route("10.244.1.0/24", "10.244.0.185", "cilium_host")}},
		{Node: nodeB, Peer: nodeA, PeerIP: nodeAIP, PeerPodCIDR: podCIDRA, Routes: []probe.Route{def, route("10.244.0.0/24", "10.244.1.7", "cilium_host")}},
	}
	d = DecideNativeRoutes(tunnel)
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, "via 10.244.0.185 dev cilium_host (tunnel)")

	// Only the default route covers the peer's CIDR: it goes to the Docker
	// gateway, not the peer.
	onlyDefault := []PeerRoute{{Node: nodeA, Peer: nodeB, PeerIP: nodeBIP, PeerPodCIDR: podCIDRB, Routes: []probe.Route{def}}}
	d = DecideNativeRoutes(onlyDefault)
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, "not via "+nodeB+"'s IP 172.18.0.3")
}

func TestNotrackCoverage(t *testing.T) {
	d := DecideNotrack([]NotrackEvidence{NotrackOn(nodeA, labNotrackRules(), labPodCIDRs), NotrackOn(nodeB, labNotrackRules(), labPodCIDRs)})
	require.Equal(t, verdict.Pass, d.Result, d.Reason)
	require.Contains(t, d.Reason, "raw/CILIUM_PRE_raw -s 10.244.0.0/16")

	// No rule: the negative control.
	d = DecideNotrack([]NotrackEvidence{NotrackOn(nodeA, nil, labPodCIDRs), NotrackOn(nodeB, nil, labPodCIDRs)})
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, "no Cilium NOTRACK rule")

	// Rules for a narrower CIDR than the pods use, and only by source.
	narrow := labNotrackRules()[:1]
	narrow[0].CIDR = netip.MustParsePrefix("10.244.0.0/24")
	d = DecideNotrack([]NotrackEvidence{NotrackOn(nodeA, narrow, labPodCIDRs)})
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, "source 10.244.1.0/24")
	require.Contains(t, d.Reason, "destination 10.244.0.0/24")

	// Cilium's proxy NOTRACK rules (by mark, no address) do not cover pods.
	proxy := probe.NotrackRule{Rule: probe.Rule{Table: "raw", Chain: "CILIUM_OUTPUT_raw", OutInterface: "cilium_host",
		Comment: "cilium: NOTRACK for proxy return traffic", Target: "CT", TargetArgs: []string{"--notrack"}}}
	ev := NotrackOn(nodeA, []probe.NotrackRule{proxy}, labPodCIDRs)
	require.Empty(t, ev.Rules)
	require.Equal(t, verdict.Fail, DecideNotrack([]NotrackEvidence{ev}).Result)
	require.Len(t, NotrackOn(nodeA, append(labNotrackRules(), proxy), labPodCIDRs).Rules, 4)

	// Someone else's NOTRACK rule does not count as Cilium's.
	other := labNotrackRules()
	for i := range other {
		other[i].Chain, other[i].Comment = "PREROUTING", ""
	}
	require.Equal(t, verdict.Fail, DecideNotrack([]NotrackEvidence{NotrackOn(nodeA, other, labPodCIDRs)}).Result)
}

func u32(v uint32) *uint32 { return &v }

func dev(name, kind string, mtu int, gso uint32) probe.Device {
	return probe.Device{Name: name, Kind: kind, MTU: mtu, GSOMaxSize: gso, GROMaxSize: gso, GSOIPv4MaxSize: u32(gso), GROIPv4MaxSize: u32(gso), Qdisc: "noqueue"}
}

func TestBigTCP(t *testing.T) {
	big := []NodeDevices{{Node: nodeA, Native: []probe.Device{dev("eth0", "veth", 1500, 196608)}, PodSide: []probe.Device{dev("lxc12ab", "veth", 1500, 196608)}}}
	require.Equal(t, verdict.Pass, DecideBigTCP(big, bigTCPv4).Result)
	require.Equal(t, verdict.Pass, DecideBigTCP(big, bigTCPv6).Result)

	def := []NodeDevices{{Node: nodeA, Native: []probe.Device{dev("eth0", "veth", 1500, 65536)}, PodSide: []probe.Device{dev("lxc12ab", "veth", 1500, 65536)}}}
	d := DecideBigTCP(def, bigTCPv4)
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, "eth0 gso_ipv4 65536/gro_ipv4 65536")

	// The pod devices kept the default while the node device has it.
	mixed := []NodeDevices{{Node: nodeA, Native: []probe.Device{dev("eth0", "veth", 1500, 196608)}, PodSide: []probe.Device{dev("lxc12ab", "veth", 1500, 65536)}}}
	require.Equal(t, verdict.Fail, DecideBigTCP(mixed, bigTCPv6).Result)

	// IPv4 sizes not reported (old iproute2 on the exec path): SKIP.
	unreported := def
	unreported[0].Native[0].GSOIPv4MaxSize = nil
	require.Equal(t, verdict.Skip, DecideBigTCP(unreported, bigTCPv4).Result)
}

func TestFQQdisc(t *testing.T) {
	eth := dev("eth0", "veth", 1500, 65536)
	eth.Qdisc, eth.FQ = "mq", true
	require.Equal(t, verdict.Pass, DecideFQ([]NodeDevices{{Node: nodeA, Native: []probe.Device{eth}}}).Result)
	d := DecideFQ([]NodeDevices{{Node: nodeA, Native: []probe.Device{dev("eth0", "veth", 1500, 65536)}}})
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, "root qdisc noqueue, no fq")
}

func TestNetkitDevices(t *testing.T) {
	nk := []NodeDevices{{Node: nodeA, PodSide: []probe.Device{dev("lxc1", "netkit", 1500, 65536), dev("lxc_health", "netkit", 1500, 65536)}}}
	require.Equal(t, verdict.Pass, DecideNetkit(nk).Result)
	veth := []NodeDevices{{Node: nodeA, PodSide: []probe.Device{dev("lxc1", "veth", 1500, 65536), dev("lxc_health", "veth", 1500, 65536)}}}
	d := DecideNetkit(veth)
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, "2 veth")
	require.Equal(t, verdict.Fail, DecideNetkit([]NodeDevices{{Node: nodeA}}).Result, "no pod device is no evidence")
}

func TestXDPNative(t *testing.T) {
	native := []XDPEvidence{
		{Node: nodeA, Device: "eth0", Attachments: []probe.XDPAttachment{{Device: "eth0", Attached: true, Mode: probe.XDPNative, ProgramID: 812, ProgramName: "cil_xdp_entry"}}},
		{Node: nodeB, Device: "eth0", Attachments: []probe.XDPAttachment{{Device: "eth0", Attached: true, Mode: probe.XDPNative, ProgramID: 930, ProgramName: "cil_xdp_entry"}}},
	}
	require.Equal(t, verdict.Pass, DecideXDPNative(native).Result)

	none := []XDPEvidence{{Node: nodeA, Device: "eth0", Attachments: []probe.XDPAttachment{{Device: "eth0", Mode: probe.XDPNone}}}}
	d := DecideXDPNative(none)
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, "no XDP program")

	generic := []XDPEvidence{{Node: nodeA, Device: "eth0", Attachments: []probe.XDPAttachment{{Device: "eth0", Attached: true, Mode: probe.XDPGeneric, ProgramID: 5, ProgramName: "cil_xdp_entry"}}}}
	d = DecideXDPNative(generic)
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, "generic cil_xdp_entry")

	// A pass-through program in native mode is not Cilium's.
	other := []XDPEvidence{{Node: nodeA, Device: "eth0", Attachments: []probe.XDPAttachment{{Device: "eth0", Attached: true, Mode: probe.XDPNative, ProgramID: 7, ProgramName: "xdp_pass"}}}}
	require.Equal(t, verdict.Fail, DecideXDPNative(other).Result)
}

func TestHubbleOff(t *testing.T) {
	off := []HubbleEvidence{{Node: nodeA, ListenPort: 4244}, {Node: nodeB, ListenPort: 4244}}
	d := DecideHubbleOff("false", off)
	require.Equal(t, verdict.Pass, d.Result, d.Reason)
	require.Equal(t, verdict.Pass, DecideHubbleOff("", off).Result)

	on := []HubbleEvidence{{Node: nodeA, Socket: true, Listening: true, ListenPort: 4244}, {Node: nodeB, Socket: true, ListenPort: 4244}}
	d = DecideHubbleOff("true", on)
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, "enable-hubble=true")
	require.Contains(t, d.Reason, "/var/run/cilium/hubble.sock exists")

	// Config says off, but a socket is there (an agent not restarted).
	require.Equal(t, verdict.Fail, DecideHubbleOff("false", on).Result)
}

func TestTCPListening(t *testing.T) {
	proc := []byte(`  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1094 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 123 1 0000000000000000 100 0 0 10 0
   1: 0100007F:2710 0100007F:B2F4 01 00000000:00000000 00:00000000 00000000     0        0 456 1 0000000000000000 20 4 30 10 -1
`)
	require.True(t, tcpListening(proc, 4244))
	require.False(t, tcpListening(proc, 10000), "established, not listening")
	require.False(t, tcpListening(proc, 9962))
}

func TestBBR(t *testing.T) {
	bbr := []PodCongestion{{Pod: "client-a", Node: nodeA, Algorithm: "bbr"}, {Pod: "client-b", Node: nodeB, Algorithm: "bbr"}}
	cubicHost := InheritedCongestion{From: "this machine's initial network namespace", Algorithm: "cubic"}
	require.Equal(t, verdict.Pass, DecideBBR(bbr, cubicHost).Result)
	d := DecideBBR([]PodCongestion{{Pod: "client-a", Node: nodeA, Algorithm: "cubic"}}, cubicHost)
	require.Equal(t, verdict.Fail, d.Result)
	require.Contains(t, d.Reason, "uses cubic")

	// Masked, as measured in this lab: the VM's own default is bbr, kind
	// pods inherit it whatever Cilium does.
	bbrHost := InheritedCongestion{From: "this machine's initial network namespace", Algorithm: "bbr"}
	d = DecideBBR(bbr, bbrHost)
	require.Equal(t, verdict.Skip, d.Result)
	require.Contains(t, d.Reason, "cannot tell them apart")

	// On a real node, the namespace pods inherit from is the node's own,
	// which Cilium's Bandwidth Manager sets: not a masking default.
	require.Equal(t, verdict.Pass, DecideBBR(bbr, InheritedCongestion{From: "node a's namespace", Algorithm: "bbr", SetByCilium: true}).Result)
}

// A fresh namespace starts with the initial namespace's congestion control
// (this lab's VM: bbr). Needs root.
func TestFreshNamespaceCongestion(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	cc, err := freshNamespaceCongestion()
	require.NoError(t, err)
	require.NotEmpty(t, cc)
	t.Logf("a new network namespace starts with %s", cc)
}
