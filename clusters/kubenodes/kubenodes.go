// Package kubenodes lists a cluster's nodes as the Kubernetes API reports
// them (name, role, InternalIP), for providers to fill clusters.Node.
package kubenodes

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/tunedcilium/tunedcilium/clusters"
)

// Roles of clusters.Node.
const (
	RoleControlPlane = "control-plane"
	RoleWorker       = "worker"
)

// List returns the cluster's nodes, control planes first, then by name.
// Container is left empty: the provider knows which nodes are containers.
func List(ctx context.Context, client kubernetes.Interface) ([]clusters.Node, error) {
	list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	out := make([]clusters.Node, 0, len(list.Items))
	for _, n := range list.Items {
		out = append(out, FromNode(n))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Role != out[j].Role {
			return out[i].Role == RoleControlPlane
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// FromNode maps one Node object: role from the node-role labels (kubeadm's
// control-plane, k3s' control-plane/master), InternalIP from its addresses.
func FromNode(n corev1.Node) clusters.Node {
	role := RoleWorker
	for _, l := range []string{"node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"} {
		if _, ok := n.Labels[l]; ok {
			role = RoleControlPlane
		}
	}
	return clusters.Node{Name: n.Name, Role: role, InternalIP: InternalIP(n)}
}

// InternalIP is the node's first InternalIP address ("" if none).
func InternalIP(n corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	return ""
}
