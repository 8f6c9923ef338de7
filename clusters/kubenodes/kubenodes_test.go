package kubenodes

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestFromNode(t *testing.T) {
	addrs := []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "n1"}, {Type: corev1.NodeInternalIP, Address: "172.18.0.2"}}
	cp := FromNode(corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{"node-role.kubernetes.io/control-plane": ""}}, Status: corev1.NodeStatus{Addresses: addrs}})
	if cp.Role != RoleControlPlane || cp.InternalIP != "172.18.0.2" || cp.Name != "n1" {
		t.Errorf("control plane = %+v", cp)
	}
	k3sServer := FromNode(corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "s", Labels: map[string]string{"node-role.kubernetes.io/master": "true"}}})
	if k3sServer.Role != RoleControlPlane || k3sServer.InternalIP != "" {
		t.Errorf("k3s server = %+v", k3sServer)
	}
	if w := FromNode(corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "w"}}); w.Role != RoleWorker {
		t.Errorf("worker = %+v", w)
	}
}
