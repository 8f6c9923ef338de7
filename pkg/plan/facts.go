package plan

import "fmt"

// Facts are what the planner needs to know about the cluster a plan is for.
// Providers know most of them before a cluster exists.
type Facts struct {
	Provider string `json:"provider"`
	// PodCIDR is the cluster's pod CIDR, used for ipv4NativeRoutingCIDR
	// (without it Cilium installs no NOTRACK rule at all).
	PodCIDR string `json:"podCIDR"`
	// PodCIDRv6 is the IPv6 pod CIDR of a dual-stack cluster.
	PodCIDRv6 string `json:"podCIDRv6,omitempty"`
	// APIServerHost/Port is how nodes reach the API server, for KPR.
	APIServerHost string `json:"apiServerHost"`
	APIServerPort int    `json:"apiServerPort"`
	// NIC is the driver of the nodes' network device (`ethtool -i`).
	NIC string `json:"nic,omitempty"`
	// NodeMTU is the node network's MTU when known (0: unknown).
	NodeMTU int `json:"nodeMTU,omitempty"`
	// MTUConfigurable says the provider creates the node network and can give
	// it the MTU a profile needs (kind, k3d).
	MTUConfigurable bool `json:"mtuConfigurable,omitempty"`
	// IPv6 says the cluster has IPv6 pod addressing.
	IPv6 bool `json:"ipv6,omitempty"`
	// BaseValues are Helm values every profile on this provider needs (IPAM).
	BaseValues map[string]any `json:"baseValues,omitempty"`
}

// Provider names.
const (
	Kind     = "kind"
	K3d      = "k3d"
	Existing = "existing"
)

// Default pod CIDRs of the providers.
const (
	KindPodCIDR = "10.244.0.0/16"
	// KindPodCIDRv6 is kind's IPv6 pod subnet in dual-stack clusters.
	KindPodCIDRv6 = "fd00:10:244::/56"
	K3sPodCIDR    = "10.42.0.0/16"
)

// DefaultFacts returns what a provider decides before a cluster exists, for a
// cluster of that name. For an existing cluster the pod CIDR and API server
// must come from the cluster itself.
func DefaultFacts(provider, cluster string) (Facts, error) {
	switch provider {
	case Kind:
		if cluster == "" {
			cluster = "kind"
		}
		return Facts{
			Provider: Kind, PodCIDR: KindPodCIDR, PodCIDRv6: KindPodCIDRv6,
			APIServerHost: cluster + "-control-plane", APIServerPort: 6443,
			NIC: "veth", MTUConfigurable: true,
			// kubeadm allocates node pod CIDRs from the cluster CIDR.
			BaseValues: map[string]any{"ipam.mode": "kubernetes"},
		}, nil
	case K3d:
		if cluster == "" {
			cluster = "k3s-default"
		}
		return Facts{
			Provider: K3d, PodCIDR: K3sPodCIDR,
			APIServerHost: "k3d-" + cluster + "-server-0", APIServerPort: 6443,
			NIC: "veth", MTUConfigurable: true,
			// Cilium's cluster-pool must match k3s' cluster CIDR.
			BaseValues: map[string]any{
				"ipam.mode": "cluster-pool",
				"ipam.operator.clusterPoolIPv4PodCIDRList": []any{K3sPodCIDR},
			},
		}, nil
	case Existing:
		return Facts{Provider: Existing}, nil
	}
	return Facts{}, fmt.Errorf("unknown provider %q: want kind, k3d or existing", provider)
}
