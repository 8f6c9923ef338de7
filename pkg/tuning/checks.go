package tuning

import "fmt"

// CheckKind says where a check's evidence comes from.
type CheckKind string

const (
	// Status checks read what the agent reports (`cilium-dbg status -o json`,
	// `cilium-dbg config -a -o json`). Status can lie: a feature "enabled"
	// that fell back. So every option also has a behavioural check.
	Status CheckKind = "status"
	// Kernel checks read the node's datapath state from its network namespace
	// (XDP attachments, iptables rules, devices, BPF maps).
	Kernel CheckKind = "kernel"
	// Behaviour checks send traffic and measure what the kernel did with it.
	Behaviour CheckKind = "behaviour"
)

// Check is one named proof. Names are stable: the e2e features implement them
// and reports key on them.
type Check struct {
	Name  string    `json:"name"`
	Kind  CheckKind `json:"kind"`
	Title string    `json:"title"`
	// Evidence says what is measured, where.
	Evidence string `json:"evidence"`
	// Mechanisms are the options whose effect the check observes, in order of
	// precedence on the packet's path: the first one the node shows active is
	// credited, and every later one is masked (the check cannot tell it apart
	// while the earlier one is active). Empty for cluster-wide checks.
	Mechanisms []Key `json:"mechanisms,omitempty"`
	// Preconditions the check's design enforces so that a PASS proves the
	// credited option and nothing else.
	Preconditions []string `json:"preconditions,omitempty"`
	// NegativeControl says what the check shows when the option is off; a
	// profile without the option that runs the check expects FAIL.
	NegativeControl string `json:"negativeControl"`
}

// Checks returns the check table.
func Checks() []Check {
	out := make([]Check, len(checks))
	copy(out, checks)
	return out
}

// LookupCheck finds a check by name.
func LookupCheck(name string) (Check, bool) {
	for _, c := range checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// ParseCheck validates a user-supplied check name.
func ParseCheck(name string) (Check, error) {
	if c, ok := LookupCheck(name); ok {
		return c, nil
	}
	names := make([]string, len(checks))
	for i, c := range checks {
		names[i] = c.Name
	}
	if best := closest(name, names); best != "" {
		return Check{}, fmt.Errorf("unknown check %q: did you mean %q? (`tunedcilium options -o json` lists the checks)", name, best)
	}
	return Check{}, fmt.Errorf("unknown check %q (`tunedcilium options -o json` lists the checks)", name)
}

// Credit decides which option a check's evidence proves, given the options
// the node shows active: the first active mechanism in precedence order. The
// active mechanisms after it are masked: the evidence cannot tell them apart.
// ok is false when no mechanism of the check is active.
func (c Check) Credit(active func(Key) bool) (credited Key, masked []Key, ok bool) {
	for _, m := range c.Mechanisms {
		if !active(m) {
			continue
		}
		if !ok {
			credited, ok = m, true
			continue
		}
		masked = append(masked, m)
	}
	return credited, masked, ok
}

// Cluster-wide checks, not tied to one option.
const (
	CheckConnectivity        = "connectivity"
	CheckThroughputPodToPod  = "throughput.pod-to-pod"
	CheckThroughputToService = "throughput.pod-to-service"
)

var checks = []Check{
	// native-routing
	{Name: "status.routing-native", Kind: Status, Title: "the agent routes between nodes natively",
		Evidence:        "cilium-dbg status: routing.inter-host-routing-mode = Native",
		Mechanisms:      []Key{NativeRouting},
		NegativeControl: "tunnel mode reports Tunnel"},
	{Name: "routes.native-pod-cidr", Kind: Kernel, Title: "remote pod CIDRs are routed via node IPs, not a tunnel",
		Evidence:        "node routing table: route to every other node's pod CIDR via that node's IP on the node device; no cilium_vxlan/cilium_geneve device carries them",
		Mechanisms:      []Key{NativeRouting},
		NegativeControl: "tunnel mode routes remote pod CIDRs through cilium_host/cilium_vxlan"},

	// kube-proxy-replacement
	{Name: "status.kube-proxy-replacement", Kind: Status, Title: "the agent replaces kube-proxy",
		Evidence:        "cilium-dbg status: kube-proxy-replacement.mode = True",
		Mechanisms:      []Key{KubeProxyReplacement},
		NegativeControl: "without KPR the mode is False"},
	{Name: "kpr.services-without-iptables", Kind: Behaviour, Title: "services answer with no kube-proxy rules on the node",
		Evidence:        "a ClusterIP and a NodePort service answer from a pod and from outside, while the node's nat table holds no KUBE-SERVICES/KUBE-NODEPORTS chain and Cilium's service table lists the ClusterIP",
		Mechanisms:      []Key{KubeProxyReplacement},
		Preconditions:   []string{"the cluster runs no kube-proxy (kind kubeProxyMode none, k3s --disable-kube-proxy)"},
		NegativeControl: "with kube-proxy the nat table holds KUBE-SERVICES rules for the service"},

	// bpf-masquerade
	{Name: "status.masquerading-bpf", Kind: Status, Title: "the agent masquerades in BPF",
		Evidence:        "cilium-dbg status: masquerading.mode = BPF",
		Mechanisms:      []Key{BPFMasquerade},
		NegativeControl: "iptables masquerading reports iptables (the silent fallback of cilium#12026/#21237)"},
	{Name: "masquerade.bpf-snat", Kind: Behaviour, Title: "pod traffic leaving the cluster is masqueraded in BPF, not iptables",
		Evidence:        "a server outside the cluster sees the node IP as source, the flow is in Cilium's BPF NAT table (cilium-dbg bpf nat list), and Cilium's iptables MASQUERADE rules did not count it",
		Mechanisms:      []Key{BPFMasquerade},
		Preconditions:   []string{"the destination is outside ipv4NativeRoutingCIDR and outside the cluster (a container the run created on the node network)"},
		NegativeControl: "with iptables masquerading the source is still the node IP but the CILIUM_POST_nat MASQUERADE counter grows and the BPF NAT table has no entry"},

	// dsr
	{Name: "status.nodeport-dsr", Kind: Status, Title: "the agent serves NodePort in DSR mode",
		Evidence:        "cilium-dbg status: kube-proxy-replacement.features.nodePort.mode = DSR",
		Mechanisms:      []Key{DSR},
		NegativeControl: "SNAT mode reports SNAT"},
	{Name: "dsr.client-ip-preserved", Kind: Behaviour, Title: "a NodePort backend on another node sees the client's own IP",
		Evidence:   "a client outside the cluster calls a NodePort service on node A whose only backend is on node B; the echo backend reports the peer address it saw",
		Mechanisms: []Key{DSR},
		Preconditions: []string{
			"no backend on the node that is hit (a local backend sees the client in every mode)",
			"externalTrafficPolicy: Cluster (Local keeps the client IP without DSR)",
			"the client is outside the cluster, not a pod (pod sources are not SNATed)",
		},
		NegativeControl: "SNAT mode: the backend sees node A's IP (or cilium_host's)"},

	// bypass-conntrack
	{Name: "config.no-conntrack-iptables-rules", Kind: Status, Title: "the agent kept installNoConntrackIptablesRules on",
		Evidence:        "cilium-dbg config -a: InstallNoConntrackIptRules = true (the agent switches it off with only an info log in tunnel mode or without KPR, cilium#15264)",
		Mechanisms:      []Key{BypassConntrack},
		NegativeControl: "off when not asked for, or switched off by the agent"},
	{Name: "notrack.rules-present", Kind: Kernel, Title: "Cilium's NOTRACK rules cover the pod CIDR",
		Evidence:        "raw table chains CILIUM_PRE_raw/CILIUM_OUTPUT_raw hold '-s/-d <ipv4NativeRoutingCIDR> ... cilium: NOTRACK for pod traffic -j CT --notrack' (legacy or nf_tables backend)",
		Mechanisms:      []Key{BypassConntrack},
		Preconditions:   []string{"ipv4NativeRoutingCIDR is set: without it Cilium installs no NOTRACK rule"},
		NegativeControl: "no NOTRACK rule in the raw table"},
	{Name: "conntrack.flat-pod-to-pod", Kind: Behaviour, Title: "nf_conntrack stays flat for pod-to-pod traffic across nodes",
		Evidence:        "nf_conntrack entries with pod-CIDR addresses counted on both nodes before and after N short TCP connections from a pod on one node to a pod on the other; flat means the delta stays under the stated bound",
		Mechanisms:      []Key{BPFHostRouting, BypassConntrack},
		Preconditions:   []string{"pods on two different nodes", "with BPF host routing active, pod traffic never reaches netfilter: the bypass is proven only where host routing is Legacy (profiles bypass-isolated / bypass-isolated-off)"},
		NegativeControl: "legacy host routing without the NOTRACK rules: the count grows by about N on each node"},

	// bpf-host-routing
	{Name: "status.host-routing-bpf", Kind: Status, Title: "the agent routes in the host with BPF",
		Evidence:        "cilium-dbg status: routing.intra-host-routing-mode = BPF",
		Mechanisms:      []Key{BPFHostRouting},
		NegativeControl: "Legacy (the silent fallback of cilium#18120, #38910, #44041)"},
	{Name: "host-routing.forward-bypassed", Kind: Behaviour, Title: "pod traffic does not hit the node's netfilter FORWARD hook",
		Evidence:        "a counting rule for the pod CIDR in the node's filter FORWARD chain stays at zero packets while pods on two nodes exchange traffic",
		Mechanisms:      []Key{BPFHostRouting},
		NegativeControl: "legacy host routing: the FORWARD counter grows with the traffic"},

	// BIG TCP
	{Name: "status.ipv6-big-tcp", Kind: Status, Title: "the agent enabled IPv6 BIG TCP",
		Evidence:        "cilium-dbg status: ipv6-big-tcp.enabled = true, max GSO/GRO > 65536",
		Mechanisms:      []Key{IPv6BIGTCP},
		NegativeControl: "disabled"},
	{Name: "big-tcp.ipv6-gso", Kind: Kernel, Title: "devices carry IPv6 GSO/GRO sizes above 64k",
		Evidence:        "gso_max_size/gro_max_size of the node device and pod devices > 65536",
		Mechanisms:      []Key{IPv6BIGTCP},
		NegativeControl: "65536"},
	{Name: "status.ipv4-big-tcp", Kind: Status, Title: "the agent enabled IPv4 BIG TCP",
		Evidence:        "cilium-dbg status: ipv4-big-tcp.enabled = true, max GSO/GRO > 65536",
		Mechanisms:      []Key{IPv4BIGTCP},
		NegativeControl: "disabled"},
	{Name: "big-tcp.ipv4-gso", Kind: Kernel, Title: "devices carry IPv4 GSO/GRO sizes above 64k",
		Evidence:        "gso_ipv4_max_size/gro_ipv4_max_size of the node device and pod devices > 65536",
		Mechanisms:      []Key{IPv4BIGTCP},
		NegativeControl: "65536"},

	// bandwidth manager, BBR
	{Name: "status.bandwidth-manager", Kind: Status, Title: "the agent runs the Bandwidth Manager",
		Evidence:        "cilium-dbg status: bandwidth-manager.enabled = true (EDT with BPF)",
		Mechanisms:      []Key{BandwidthManager},
		NegativeControl: "disabled"},
	{Name: "bandwidth.fq-qdisc", Kind: Kernel, Title: "the node's external devices run the fq qdisc",
		Evidence:        "qdisc of each native device is mq with fq children, or fq",
		Mechanisms:      []Key{BandwidthManager},
		NegativeControl: "the distribution default qdisc (noqueue/pfifo_fast/fq_codel)"},
	{Name: "status.bbr", Kind: Status, Title: "the agent set BBR for pods",
		Evidence:        "cilium-dbg status: bandwidth-manager.congestion-control = BBR",
		Mechanisms:      []Key{BBR},
		NegativeControl: "cubic"},
	{Name: "bbr.pod-congestion-control", Kind: Kernel, Title: "pods use BBR congestion control",
		Evidence:        "net.ipv4.tcp_congestion_control in a pod's network namespace = bbr",
		Mechanisms:      []Key{BBR},
		NegativeControl: "cubic"},

	// XDP
	{Name: "status.xdp-native", Kind: Status, Title: "the agent accelerates NodePort with native XDP",
		Evidence:        "cilium-dbg status: kube-proxy-replacement.features.nodePort.acceleration = Native",
		Mechanisms:      []Key{XDPAcceleration},
		NegativeControl: "Disabled (cilium#32699: best-effort fails with only a log line)"},
	{Name: "xdp.native-attached", Kind: Kernel, Title: "Cilium's XDP program is attached in native mode on every node",
		Evidence:        "the NodePort device of every node has an XDP program in driver (native) mode whose name is Cilium's (cil_xdp_entry)",
		Mechanisms:      []Key{XDPAcceleration},
		NegativeControl: "no XDP program, or generic (skb) mode"},

	// jumbo MTU
	{Name: "config.device-mtu", Kind: Status, Title: "the agent detected the jumbo MTU",
		Evidence:        "cilium-dbg config -a: MTU / device MTU = the node network's MTU (cilium#14339: auto-detection picked a smaller device)",
		Mechanisms:      []Key{JumboMTU},
		NegativeControl: "1500"},
	{Name: "mtu.jumbo-path", Kind: Behaviour, Title: "pods send jumbo frames across nodes",
		Evidence:        "MTU of cilium_host and lxc* devices = node MTU, and a don't-fragment packet of the target size crosses from a pod on one node to a pod on the other",
		Mechanisms:      []Key{JumboMTU},
		Preconditions:   []string{"the node network itself runs MTU 9000 (provider network MTU)"},
		NegativeControl: "a 9000-byte don't-fragment packet is refused (message too long)"},

	// hubble
	{Name: "status.hubble-disabled", Kind: Status, Title: "Hubble is off in the agent",
		Evidence:        "cilium-dbg status: hubble.state = Disabled",
		Mechanisms:      []Key{HubbleDisabled},
		NegativeControl: "Ok"},
	{Name: "hubble.no-observer", Kind: Kernel, Title: "no Hubble observer runs on the node",
		Evidence:        "the agent's config has enable-hubble=false and no Hubble socket (/var/run/cilium/hubble.sock) or listener exists on the node",
		Mechanisms:      []Key{HubbleDisabled},
		NegativeControl: "the Hubble socket exists"},

	// BPF map sizing, distributed LRU
	{Name: "status.bpf-map-sizes", Kind: Status, Title: "the agent sized its BPF maps from the configured ratio",
		Evidence:        "cilium-dbg status --verbose: bpf-maps.dynamic-size-ratio = the configured ratio, and the CT/NAT map sizes derived from it",
		Mechanisms:      []Key{BPFMapSize},
		NegativeControl: "the default ratio (0.0025)"},
	{Name: "bpf-maps.sized", Kind: Kernel, Title: "the kernel's CT and NAT maps have the larger sizes",
		Evidence:        "max_entries of cilium_ct4_global / cilium_snat_v4_external read from the kernel (BPF map info) exceed the sizes the default ratio gives",
		Mechanisms:      []Key{BPFMapSize},
		NegativeControl: "default-sized maps"},
	{Name: "config.distributed-lru", Kind: Status, Title: "the agent uses distributed LRU maps",
		Evidence:        "cilium-dbg config -a: BPFDistributedLRU = true",
		Mechanisms:      []Key{DistributedLRU},
		NegativeControl: "false"},
	{Name: "bpf-maps.distributed-lru", Kind: Kernel, Title: "CT and NAT maps are per-CPU LRU in the kernel",
		Evidence:        "map flags of cilium_ct4_global / cilium_snat_v4_external include BPF_F_NO_COMMON_LRU",
		Mechanisms:      []Key{DistributedLRU},
		NegativeControl: "the flag is absent (one global LRU)"},

	// netkit
	{Name: "status.device-mode-netkit", Kind: Status, Title: "the agent runs pods on netkit devices",
		Evidence:        "cilium-dbg status: datapath-mode = netkit (or netkit-l2); with auto, the configured mode differs (cilium#43062: auto falls back to veth)",
		Mechanisms:      []Key{Netkit},
		NegativeControl: "veth"},
	{Name: "netkit.pod-devices", Kind: Kernel, Title: "pod devices are netkit, not veth",
		Evidence:        "the host-side devices of pods (lxc*) are of kind netkit",
		Mechanisms:      []Key{Netkit},
		NegativeControl: "veth"},

	// cluster-wide
	{Name: CheckConnectivity, Kind: Behaviour, Title: "cilium connectivity test passes",
		Evidence:        "`cilium connectivity test` (cilium CLI) with its JUnit file kept",
		NegativeControl: "its own failing tests"},
	{Name: CheckThroughputPodToPod, Kind: Behaviour, Title: "pod-to-pod throughput across nodes meets the threshold",
		Evidence:        "iperf3 from a pod on one node to a pod on the other: absolute Gbit/s floor and, when baseline ran in the same run, not slower than baseline by more than the allowed percentage",
		NegativeControl: "a threshold above what the path gives"},
	{Name: CheckThroughputToService, Kind: Behaviour, Title: "pod-to-service throughput meets the threshold",
		Evidence:        "iperf3 from a pod to a ClusterIP service whose backend is on the other node",
		NegativeControl: "a threshold above what the path gives"},
}
