// Package clusters gives the suite a Kubernetes cluster to install Cilium on:
// kind and k3d clusters created through their Go libraries, or an existing
// cluster from a kubeconfig. Every cluster a run creates carries the run's
// label so leftovers of a killed run can be found and removed.
package clusters

import (
	"context"
)

// LabelKey marks every container, network and cluster a tunedcilium run
// creates; its value is the run id.
const LabelKey = "io.tunedcilium.run"

// Spec is what the suite asks of a cluster. The planner derives it from the
// profile (KPR turns kube-proxy off, jumbo-mtu asks for MTU 9000, ...).
type Spec struct {
	// Name is the cluster name, made from the run id and the profile.
	Name string
	// RunID labels everything the run creates.
	RunID string
	// Nodes is the total node count: one control plane plus Nodes-1 workers.
	Nodes int
	// NodeImage overrides the provider's default node image.
	NodeImage string
	// KubeProxy is false when Cilium replaces kube-proxy.
	KubeProxy bool
	// PodCIDR and ServiceCIDR; empty means the provider's default
	// (kind 10.244.0.0/16 and 10.96.0.0/16, k3s 10.42.0.0/16 and 10.43.0.0/16).
	PodCIDR     string
	ServiceCIDR string
	// MTU of the node network; 0 keeps the provider default.
	MTU int
	// XDP prepares the host side of each node's eth0 for native XDP
	// (pass-through XDP program, checksum offload off), undone on Delete.
	XDP bool
}

// Node is one cluster node and how to reach it.
type Node struct {
	Name       string
	Role       string // "control-plane" or "worker"
	InternalIP string
	// Container is the Docker container holding the node (kind, k3d); empty
	// for nodes that are not local containers (an existing cluster).
	Container string
}

// Cluster is a running cluster.
type Cluster interface {
	Name() string
	// Provider is "kind", "k3d" or "existing".
	Provider() string
	// KubeconfigPath is a kubeconfig file for this cluster.
	KubeconfigPath() string
	// APIServer is the API server address as the nodes reach it, for Cilium's
	// k8sServiceHost/k8sServicePort under kube-proxy replacement.
	APIServer() (host string, port int)
	Nodes(ctx context.Context) ([]Node, error)
	// LoadImages copies images from the local Docker engine into every node.
	LoadImages(ctx context.Context, images ...string) error
	// Delete removes the cluster and everything the provider added to the
	// host for it. An existing cluster is never deleted: only what the run
	// added to it is removed.
	Delete(ctx context.Context) error
}

// Provider creates clusters.
type Provider interface {
	Name() string
	// Defaults fills what a provider decides for a spec (pod CIDR, image).
	Defaults(spec Spec) Spec
	Create(ctx context.Context, spec Spec) (Cluster, error)
	// Leftovers lists clusters that carry LabelKey (any run id).
	Leftovers(ctx context.Context) ([]string, error)
	// DeleteByName removes a leftover cluster by name.
	DeleteByName(ctx context.Context, name string) error
	// Kubeconfig reads the kubeconfig of a cluster by name from the
	// cluster itself (a leftover's kubeconfig file may be gone, or another
	// process's).
	Kubeconfig(ctx context.Context, name string) ([]byte, error)
}
