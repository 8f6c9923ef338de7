// Package images holds the air-gapped image set: the pinned versions every
// image is built from (this file is the ONE place they are written down), the
// names the images carry, the Helm values and node image list that point a
// cluster at them, and the builder that produces them in the local Docker
// engine from Go modules and Debian packages, with no container registry.
package images

// Pinned inputs. Changing one changes the inputs hash of every image built
// from it, so the next `tunedcilium images build` rebuilds exactly those.
const (
	// KubernetesVersion is the version of k8s.io/kubernetes the node's
	// kubelet/kubeadm/kubectl and the control-plane images are built from.
	KubernetesVersion = "v1.34.4"
	// KubernetesStagingVersion is the published twin of Kubernetes' staging
	// modules (k8s.io/api, k8s.io/client-go, ...) for KubernetesVersion.
	KubernetesStagingVersion = "v0.34.4"

	// CiliumVersion is the github.com/cilium/cilium module the agent and
	// operator images are built from.
	CiliumVersion = "v1.20.2"
	// CiliumVersionTime is the module's commit time (its .info in the module
	// proxy), stamped into the agent's version string, which Cilium parses as
	// "VERSION REVISION TIME".
	CiliumVersionTime = "2026-09-15T20:03:11Z"
	// CiliumGoBGPReplacement replaces Cilium's pinned gobgp pseudo-version,
	// which the module proxy does not serve.
	CiliumGoBGPReplacement = "github.com/osrg/gobgp/v4@v4.8.0"

	// EtcdModuleVersion is the go.etcd.io/etcd/server/v3 version built into
	// the image kubeadm knows as etcd:EtcdTag.
	EtcdModuleVersion = "v3.6.8"
	// EtcdTag is the tag kubeadm v1.34 asks for (constants.DefaultEtcdVersion).
	EtcdTag = "3.6.5-0"

	// CoreDNSModuleVersion is the github.com/coredns/coredns version built
	// into the image kubeadm knows as coredns:CoreDNSTag.
	CoreDNSModuleVersion = "v1.14.2"
	// CoreDNSTag is the tag kubeadm v1.34 asks for (constants.CoreDNSVersion).
	CoreDNSTag = "v1.12.1"

	// PauseTag is the sandbox image tag kubeadm v1.34 asks for
	// (constants.PauseVersion); the image holds a tiny Go program.
	PauseTag = "3.10.1"

	// KindVersion is the sigs.k8s.io/kind module whose images/base/files
	// layout (entrypoint, units) the node image copies.
	KindVersion = "v0.33.0"

	// WorkloadTag tags the suite's own workload image. Not "latest": kubelet
	// would then try to pull it.
	WorkloadTag = "v1"

	// DebianSuite is the Debian release every rootfs is bootstrapped from.
	DebianSuite = "bookworm"
)

// Debian package sets, one per rootfs. mmdebstrap's minbase variant adds
// only Essential packages and apt.
var (
	// nodePackages make a kind node: systemd, containerd, runc, the CNI
	// plugins and the tools kubelet, kubeadm, kind and Cilium call on a node.
	nodePackages = []string{
		"systemd", "systemd-sysv", "dbus",
		"containerd", "runc", "containernetworking-plugins",
		"conntrack", "iptables", "nftables", "ipset", "iproute2", "ethtool", "kmod",
		"util-linux", "mount", "libseccomp2", "pigz", "socat", "e2fsprogs",
		"bash", "ca-certificates", "curl", "jq", "procps", "bpftool",
	}

	// ciliumPackages are what the agent needs at run time: clang/llc to
	// compile the datapath, iproute2/iptables/ipset to program the node,
	// bpftool, and Debian's CNI plugins for the loopback plugin.
	ciliumPackages = []string{
		"clang-19", "llvm-19",
		"iproute2", "iptables", "ipset", "kmod", "ca-certificates", "bpftool",
		"containernetworking-plugins", "util-linux", "mount", "procps", "bash",
	}

	// netToolsPackages serve kube-proxy, the Cilium operator and the
	// workload image (echo server, iperf3, node tools).
	netToolsPackages = []string{
		"iptables", "ipset", "conntrack", "iproute2", "kmod", "ca-certificates",
		"iperf3", "bpftool", "ethtool", "procps", "iputils-ping", "netcat-openbsd",
		"util-linux", "mount",
	}
)
