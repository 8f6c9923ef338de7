package checks

import (
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/cilium/cilium/api/v1/models"
	"github.com/stretchr/testify/require"

	"github.com/tunedcilium/tunedcilium/pkg/ciliumstatus"
	"github.com/tunedcilium/tunedcilium/pkg/probe"
)

// Shapes measured on this lab (LAB.md): a 2-node kind cluster, pod CIDR
// 10.244.0.0/16 split per node, node IPs on the kind network.
var (
	nodeA       = "tc-x-1-control-plane"
	nodeB       = "tc-x-1-worker"
	nodeAIP     = netip.MustParseAddr("172.18.0.2")
	nodeBIP     = netip.MustParseAddr("172.18.0.3")
	podCIDRA    = netip.MustParsePrefix("10.244.0.0/24")
	podCIDRB    = netip.MustParsePrefix("10.244.1.0/24")
	labPodCIDRs = []netip.Prefix{podCIDRA, podCIDRB}
	nativeCID   = netip.MustParsePrefix("10.244.0.0/16")
)

// seedStatus is the status measured with seed-part8 on kernel 6.18: KPR
// True, Routing Native / Host BPF, Masquerading BPF, NodePort DSR (IP
// Option/Extension), TCX, veth, Hubble off.
func seedStatus() models.StatusResponse {
	return models.StatusResponse{
		Cilium: &models.Status{State: "Ok"},
		KubeProxyReplacement: &models.KubeProxyReplacement{
			Mode: "True", Devices: []string{"eth0"},
			Features: &models.KubeProxyReplacementFeatures{NodePort: &models.KubeProxyReplacementFeaturesNodePort{
				Enabled: true, Mode: "DSR", DsrMode: "IP Option/Extension", Acceleration: "Disabled"}},
		},
		Routing:                &models.Routing{IntraHostRoutingMode: "BPF", InterHostRoutingMode: "Native", TunnelProtocol: "vxlan"},
		Masquerading:           &models.Masquerading{Enabled: true, Mode: "BPF"},
		AttachMode:             "tcx",
		DatapathMode:           "veth",
		ConfiguredDatapathMode: "veth",
		BandwidthManager:       &models.BandwidthManager{Enabled: false},
		IPv4BigTCP:             &models.IPV4BigTCP{Enabled: false, MaxGSO: 65536, MaxGRO: 65536},
		IPv6BigTCP:             &models.IPV6BigTCP{},
		Hubble:                 &models.HubbleStatus{State: "Disabled"},
		BpfMaps:                &models.BPFMapStatus{DynamicSizeRatio: 0.0025},
	}
}

// baselineStatus is Cilium's defaults: tunnel (vxlan), kube-proxy kept,
// iptables masquerading, legacy host routing, Hubble on.
func baselineStatus() models.StatusResponse {
	return models.StatusResponse{
		Cilium:                 &models.Status{State: "Ok"},
		KubeProxyReplacement:   &models.KubeProxyReplacement{Mode: "False"},
		Routing:                &models.Routing{IntraHostRoutingMode: "Legacy", InterHostRoutingMode: "Tunnel", TunnelProtocol: "vxlan"},
		Masquerading:           &models.Masquerading{Enabled: true, Mode: "iptables"},
		AttachMode:             "tcx",
		DatapathMode:           "veth",
		ConfiguredDatapathMode: "veth",
		BandwidthManager:       &models.BandwidthManager{Enabled: false},
		IPv4BigTCP:             &models.IPV4BigTCP{Enabled: false, MaxGSO: 65536, MaxGRO: 65536},
		Hubble:                 &models.HubbleStatus{State: "Ok"},
		BpfMaps:                &models.BPFMapStatus{DynamicSizeRatio: 0.0025},
	}
}

// legacyRoutingStatus is bypass-isolated(-off): seed-part8 with
// bpf.hostLegacyRouting=true.
func legacyRoutingStatus() models.StatusResponse {
	s := seedStatus()
	s.Routing.IntraHostRoutingMode = "Legacy"
	return s
}

func decode(t *testing.T, r models.StatusResponse) *ciliumstatus.Status {
	t.Helper()
	data, err := json.Marshal(r)
	require.NoError(t, err)
	s, err := ciliumstatus.Decode(data)
	require.NoError(t, err)
	return s
}

// notrackRules are the four rules Cilium installs in the raw table (nft
// backend here), as iptables-save prints them:
//
//	-A CILIUM_PRE_raw -s 10.244.0.0/16 -m comment --comment "cilium: NOTRACK for pod traffic" -j CT --notrack
func labNotrackRules() []probe.NotrackRule {
	var out []probe.NotrackRule
	for _, chain := range []string{"CILIUM_PRE_raw", "CILIUM_OUTPUT_raw"} {
		for _, side := range []string{"source", "destination"} {
			flag := "-s"
			if side == "destination" {
				flag = "-d"
			}
			out = append(out, probe.NotrackRule{CIDR: nativeCID, Matches: side, Rule: probe.Rule{
				Backend: probe.BackendNFT, Family: "ipv4", Table: "raw", Chain: chain,
				Comment: "cilium: NOTRACK for pod traffic", Target: "CT", TargetArgs: []string{"--notrack"},
				Spec: "-A " + chain + " " + flag + " 10.244.0.0/16 -m comment --comment \"cilium: NOTRACK for pod traffic\" -j CT --notrack",
			}})
		}
	}
	return out
}

func facts(t *testing.T, st models.StatusResponse, notrack bool) []NodeFacts {
	var out []NodeFacts
	for _, n := range []string{nodeA, nodeB} {
		nt := notrack
		out = append(out, NodeFacts{Node: n, Status: decode(t, st), NotrackCovers: &nt, CiliumHostMTU: 1500})
	}
	return out
}
