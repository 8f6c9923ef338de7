// Package kind provides kind clusters through kind's Go library
// (sigs.k8s.io/kind/pkg/cluster): no kind binary, the default CNI off (Cilium
// is the CNI), kube-proxy off when Cilium replaces it, a Docker network of its
// own per cluster (its MTU is the node network's MTU, and removing it is part
// of deleting the cluster), and the host-side XDP preparation Cilium's native
// XDP needs on veth.
package kind

import (
	"fmt"
	"net/netip"
	"regexp"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"

	"github.com/tunedcilium/tunedcilium/clusters"
	"github.com/tunedcilium/tunedcilium/pkg/images"
)

// Defaults of a kind cluster.
const (
	DefaultPodCIDR     = "10.244.0.0/16"
	DefaultServiceCIDR = "10.96.0.0/16"
	// DefaultNodes is a control plane and one worker: cross-node checks need two.
	DefaultNodes = 2
	// APIServerPort is where kube-apiserver listens inside the control plane.
	APIServerPort = 6443
)

// DefaultNodeImage is the node image `tunedcilium images build` makes: no
// registry is needed to create a cluster from it.
var DefaultNodeImage = images.NodeImage

// kindName is what kind accepts as a cluster name (it becomes container and
// network names).
var kindName = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,48}[a-z0-9])?$`)

// Validate rejects a spec kind cannot make, naming the field and the fix.
func Validate(spec clusters.Spec) error {
	switch {
	case !kindName.MatchString(spec.Name):
		return fmt.Errorf("cluster name %q: kind needs 1-50 lowercase letters, digits, '.' or '-', starting and ending with a letter or digit", spec.Name)
	case spec.Nodes < 1:
		return fmt.Errorf("nodes=%d: a kind cluster needs at least 1 node (the control plane); use 2 for cross-node checks", spec.Nodes)
	case spec.Nodes > 10:
		return fmt.Errorf("nodes=%d: more than 10 kind nodes will not fit on this machine; use 2", spec.Nodes)
	case spec.MTU != 0 && (spec.MTU < 1280 || spec.MTU > 65535):
		return fmt.Errorf("mtu=%d: the node network MTU must be 0 (Docker's default) or 1280-65535, e.g. 9000 for jumbo frames", spec.MTU)
	}
	for field, cidr := range map[string]string{"pod CIDR": spec.PodCIDR, "service CIDR": spec.ServiceCIDR} {
		if cidr == "" {
			continue
		}
		p, err := netip.ParsePrefix(cidr)
		if err != nil || !p.Addr().Is4() {
			return fmt.Errorf("%s %q: give an IPv4 prefix such as %s", field, cidr, map[string]string{"pod CIDR": DefaultPodCIDR, "service CIDR": DefaultServiceCIDR}[field])
		}
	}
	return nil
}

// WithDefaults fills what the kind provider decides for a spec.
func WithDefaults(spec clusters.Spec) clusters.Spec {
	if spec.Name == "" && spec.RunID != "" {
		spec.Name = "tunedcilium-" + spec.RunID
	}
	if spec.Nodes == 0 {
		spec.Nodes = DefaultNodes
	}
	if spec.NodeImage == "" {
		spec.NodeImage = DefaultNodeImage
	}
	if spec.PodCIDR == "" {
		spec.PodCIDR = DefaultPodCIDR
	}
	if spec.ServiceCIDR == "" {
		spec.ServiceCIDR = DefaultServiceCIDR
	}
	return spec
}

// kubeletPatch sets what kind's kubeadm config leaves to the kubelet's
// defaults and this lab's machines need: a v1.34 kubelet refuses cgroup v1
// unless failCgroupV1 is false. (kind already sets the eviction thresholds
// to 0%.)
const kubeletPatch = `kind: KubeletConfiguration
apiVersion: kubelet.config.k8s.io/v1beta1
failCgroupV1: false
`

// Config is the kind cluster configuration for a (defaulted) spec.
func Config(spec clusters.Spec) (*v1alpha4.Cluster, error) {
	spec = WithDefaults(spec)
	if err := Validate(spec); err != nil {
		return nil, err
	}
	labels := map[string]string{}
	if spec.RunID != "" {
		labels[clusters.LabelKey] = spec.RunID
	}
	cfg := &v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Name:     spec.Name,
		Networking: v1alpha4.Networking{
			IPFamily:          v1alpha4.IPv4Family,
			PodSubnet:         spec.PodCIDR,
			ServiceSubnet:     spec.ServiceCIDR,
			DisableDefaultCNI: true,
			KubeProxyMode:     v1alpha4.IPTablesProxyMode,
		},
		KubeadmConfigPatches: []string{kubeletPatch},
	}
	if !spec.KubeProxy {
		cfg.Networking.KubeProxyMode = v1alpha4.ProxyMode("none")
	}
	for i := 0; i < spec.Nodes; i++ {
		role := v1alpha4.WorkerRole
		if i == 0 {
			role = v1alpha4.ControlPlaneRole
		}
		cfg.Nodes = append(cfg.Nodes, v1alpha4.Node{Role: role, Image: spec.NodeImage, Labels: labels})
	}
	v1alpha4.SetDefaultsCluster(cfg)
	return cfg, nil
}

// NetworkName is the Docker network of a kind cluster made by this provider.
func NetworkName(cluster string) string { return "tunedcilium-" + cluster }

// ControlPlaneContainer is the control-plane node's container name; nodes
// resolve it on the cluster's user-defined Docker network.
func ControlPlaneContainer(cluster string) string { return cluster + "-control-plane" }
