package checks

import "github.com/tunedcilium/tunedcilium/pkg/tuning"

// registry maps every catalog check to its implementation.
var registry = map[string]checkFunc{
	"status.routing-native":         statusCheck("status.routing-native"),
	"status.kube-proxy-replacement": statusCheck("status.kube-proxy-replacement"),
	"status.masquerading-bpf":       statusCheck("status.masquerading-bpf"),
	"status.nodeport-dsr":           statusCheck("status.nodeport-dsr"),
	"status.host-routing-bpf":       statusCheck("status.host-routing-bpf"),
	"status.ipv6-big-tcp":           statusCheck("status.ipv6-big-tcp"),
	"status.ipv4-big-tcp":           statusCheck("status.ipv4-big-tcp"),
	"status.bandwidth-manager":      statusCheck("status.bandwidth-manager"),
	"status.bbr":                    statusCheck("status.bbr"),
	"status.xdp-native":             statusCheck("status.xdp-native"),
	"status.hubble-disabled":        statusCheck("status.hubble-disabled"),
	"status.bpf-map-sizes":          statusCheck("status.bpf-map-sizes"),
	"status.device-mode-netkit":     statusCheck("status.device-mode-netkit"),

	"config.no-conntrack-iptables-rules": configBoolCheck("InstallNoConntrackIptRules"),
	"config.distributed-lru":             configBoolCheck("BPFDistributedLRU"),
	"config.device-mtu":                  deviceMTU,

	"routes.native-pod-cidr":        nativeRoutes,
	"kpr.services-without-iptables": servicesWithoutIPTables,
	"masquerade.bpf-snat":           bpfMasquerade,
	"dsr.client-ip-preserved":       dsrClientIP,
	"notrack.rules-present":         notrackRules,
	"conntrack.flat-pod-to-pod":     conntrackFlat,
	"host-routing.forward-bypassed": forwardBypassed,
	"big-tcp.ipv6-gso":              bigTCPCheck(bigTCPv6),
	"big-tcp.ipv4-gso":              bigTCPCheck(bigTCPv4),
	"bandwidth.fq-qdisc":            fqQdisc,
	"bbr.pod-congestion-control":    podCongestion,
	"xdp.native-attached":           xdpNative,
	"mtu.jumbo-path":                jumboPath,
	"hubble.no-observer":            hubbleNoObserver,
	"bpf-maps.sized":                mapsSized,
	"bpf-maps.distributed-lru":      mapsDistributedLRU,
	"netkit.pod-devices":            netkitDevices,

	tuning.CheckConnectivity:        connectivity,
	tuning.CheckThroughputPodToPod:  throughputCheck(false),
	tuning.CheckThroughputToService: throughputCheck(true),
}
