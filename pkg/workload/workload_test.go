package workload

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/tunedcilium/tunedcilium/clusters"
)

func testSpec() Spec {
	return Spec{
		RunID: "R1", Namespace: Namespace("R1"), Image: "localhost/tunedcilium/workload:v1",
		Nodes: []clusters.Node{
			{Name: "tc-r1-1-control-plane", Role: "control-plane", InternalIP: "172.18.0.2", Container: "tc-r1-1-control-plane"},
			{Name: "tc-r1-1-worker", Role: "worker", InternalIP: "172.18.0.3", Container: "tc-r1-1-worker"},
		},
	}
}

func TestNamespaceIsTheRunsAndNotTheNodeAccessOne(t *testing.T) {
	require.Equal(t, "tunedcilium-r1-workload", Namespace("R1"))
	long := Namespace("a-very-long-run-id-that-goes-on-and-on-and-on-and-on-and-on-and-on")
	require.LessOrEqual(t, len(long), 63)
	require.Regexp(t, `^[a-z0-9-]+-workload$`, long)
}

func TestPodsArePinnedToEveryNodeAndTolerateTaints(t *testing.T) {
	s := testSpec()
	pods := s.Pods()
	byRole := map[string][]string{}
	for _, p := range pods {
		require.NotEmpty(t, p.Spec.NodeName, p.Name)
		require.Equal(t, s.Namespace, p.Namespace)
		require.Equal(t, "R1", p.Labels[clusters.LabelKey])
		require.Equal(t, corev1.PullIfNotPresent, p.Spec.Containers[0].ImagePullPolicy)
		require.Equal(t, s.Image, p.Spec.Containers[0].Image)
		// Tolerating every taint puts pods on a control plane as well.
		require.Equal(t, []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, p.Spec.Tolerations)
		byRole[p.Labels[RoleLabel]] = append(byRole[p.Labels[RoleLabel]], p.Spec.NodeName)
	}
	require.Equal(t, []string{"tc-r1-1-control-plane", "tc-r1-1-worker"}, byRole[RoleEcho])
	require.Equal(t, []string{"tc-r1-1-control-plane", "tc-r1-1-worker"}, byRole[RoleClient])
	require.Equal(t, []string{"tc-r1-1-worker"}, byRole[RoleIperf3Server], "iperf3 server on node B")
	require.Equal(t, []string{"tc-r1-1-control-plane"}, byRole[RoleIperf3Client], "iperf3 client on node A")

	echo := pods[0]
	require.Equal(t, []string{"tunedcilium-echo", "serve", "--listen", ":8080"}, echo.Spec.Containers[0].Command)
	require.NotNil(t, echo.Spec.Containers[0].ReadinessProbe, "ready means serving")
	require.Equal(t, int32(8080), echo.Spec.Containers[0].ReadinessProbe.TCPSocket.Port.IntVal)
}

func TestNodePortServiceSelectsOnlyNodeBsEchoPod(t *testing.T) {
	s := testSpec()
	var np *corev1.Service
	for _, svc := range s.Services() {
		if svc.Name == NodePortServiceName {
			np = svc
		}
	}
	require.NotNil(t, np)
	require.Equal(t, corev1.ServiceTypeNodePort, np.Spec.Type)
	require.Equal(t, corev1.ServiceExternalTrafficPolicyCluster, np.Spec.ExternalTrafficPolicy)
	var selected []string
	for _, p := range s.Pods() {
		if matches(p.Labels, np.Spec.Selector) {
			selected = append(selected, p.Name+"@"+p.Spec.NodeName)
		}
	}
	require.Equal(t, []string{"echo-tc-r1-1-worker@tc-r1-1-worker"}, selected)
	require.Equal(t, 1, selectedPods(s.Pods(), np.Spec.Selector))
}

func TestServicesSelectWhatTheirChecksNeed(t *testing.T) {
	s := testSpec()
	want := map[string]int{EchoServiceName: 2, NodePortServiceName: 1, Iperf3ServiceName: 1}
	for _, svc := range s.Services() {
		require.Equal(t, want[svc.Name], selectedPods(s.Pods(), svc.Spec.Selector), svc.Name)
	}
}

func TestValidateNeedsTwoNodes(t *testing.T) {
	s := testSpec()
	s.Nodes = s.Nodes[:1]
	require.ErrorContains(t, s.Validate(), "needs two nodes")
	require.NoError(t, testSpec().Validate())
}

func matches(labels, sel map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// readState reports what is not ready, then the addresses once it is.
func TestReadStateNamesWhatIsNotReady(t *testing.T) {
	ctx := context.Background()
	s := testSpec()
	kube := fake.NewClientset()
	w := &Workload{Spec: s, kube: kube, log: io.Discard}
	for _, p := range s.Pods() {
		_, err := kube.CoreV1().Pods(s.Namespace).Create(ctx, p, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	for _, svc := range s.Services() {
		_, err := kube.CoreV1().Services(s.Namespace).Create(ctx, svc, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	notReady, err := w.readState(ctx)
	require.NoError(t, err)
	require.Contains(t, notReady, "echo-tc-r1-1-worker on tc-r1-1-worker: ")
	require.Contains(t, notReady, "service echo-nodeport: 0/1 endpoints ready")

	ips := map[string]string{}
	for i, p := range s.Pods() {
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
		if p.Spec.NodeName == "tc-r1-1-worker" {
			p.Status.PodIP = fmt.Sprintf("10.244.1.%d", i+10)
		} else {
			p.Status.PodIP = fmt.Sprintf("10.244.0.%d", i+10)
		}
		ips[p.Name] = p.Status.PodIP
		_, err := kube.CoreV1().Pods(s.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		require.NoError(t, err)
	}
	ready := true
	node := func(n string) *string { return &n }
	slice := func(svc string, nodes ...string) {
		sl := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: svc + "-x", Namespace: s.Namespace, Labels: map[string]string{discoveryv1.LabelServiceName: svc}}}
		for _, n := range nodes {
			sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.244.9.9"}, NodeName: node(n), Conditions: discoveryv1.EndpointConditions{Ready: &ready}})
		}
		_, err := kube.DiscoveryV1().EndpointSlices(s.Namespace).Create(ctx, sl, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	slice(EchoServiceName, "tc-r1-1-control-plane", "tc-r1-1-worker")
	slice(NodePortServiceName, "tc-r1-1-worker")
	slice(Iperf3ServiceName, "tc-r1-1-worker")

	notReady, err = w.readState(ctx)
	require.NoError(t, err)
	require.Empty(t, notReady)
	echoB, err := w.Echo("tc-r1-1-worker")
	require.NoError(t, err)
	require.Equal(t, ips["echo-tc-r1-1-worker"], echoB.IP.String())
	np, err := w.Service(NodePortServiceName)
	require.NoError(t, err)
	require.Equal(t, []string{"tc-r1-1-worker"}, np.BackendNodes)
}
