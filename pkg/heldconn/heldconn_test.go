package heldconn

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/tunedcilium/tunedcilium/clusters"
)

func TestPodsHoldConnectionsAcrossNodesAndNeverRestart(t *testing.T) {
	c := ClientPod("ns", "r1", "localhost/tunedcilium/workload:v1", "node-a", []string{"10.244.1.5:8081", "10.96.0.20:8081"}, 20)
	require.Equal(t, "node-a", c.Spec.NodeName)
	require.Equal(t, corev1.RestartPolicyNever, c.Spec.RestartPolicy, "a restarted client would open fresh connections and hide the broken ones")
	require.Equal(t, []string{"tunedcilium-echo", "hold", "10.244.1.5:8081", "10.96.0.20:8081", "--count", "20", "--interval", "1s", "--status", statusFile}, c.Spec.Containers[0].Command)
	require.Equal(t, "r1", c.Labels[clusters.LabelKey])

	s := ServerPod("ns", "r1", "img", "node-b")
	require.Equal(t, "node-b", s.Spec.NodeName)
	require.Equal(t, []string{"tunedcilium-echo", "hold-serve", "--listen", ":8081"}, s.Spec.Containers[0].Command)
	require.NotNil(t, s.Spec.Containers[0].ReadinessProbe.TCPSocket)

	require.Equal(t, "tunedcilium-r1-held", Namespace("R1"))
	require.LessOrEqual(t, len(Namespace("a-very-long-run-id-that-goes-on-and-on-and-on-and-on-and-on-and-on")), 63)
}

func TestOpenRejectsBadInputAndCleansUp(t *testing.T) {
	kube := fake.NewSimpleClientset()
	_, err := Open(context.Background(), kube, nil, []clusters.Node{{Name: "a"}}, Options{RunID: "r1", Image: "img", Count: 0})
	require.ErrorContains(t, err, "count 0")
	_, err = Open(context.Background(), kube, nil, nil, Options{RunID: "r1", Image: "img", Count: 1})
	require.ErrorContains(t, err, "no nodes")
	ns, err := kube.CoreV1().Namespaces().List(context.Background(), metav1ListAll)
	require.NoError(t, err)
	require.Empty(t, ns.Items, "nothing was created")
}

var metav1ListAll = metav1.ListOptions{}
