package workload

import (
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/tunedcilium/tunedcilium/clusters"
)

// Ports the workload serves on.
const (
	EchoPort   = 8080
	Iperf3Port = 5201
)

// Label keys on every object the workload creates. clusters.LabelKey carries
// the run id, as on every container and network a run makes.
const (
	RoleLabel = "tunedcilium.io/role"
	NodeLabel = "tunedcilium.io/node"
)

// Roles of the workload's pods.
const (
	RoleEcho         = "echo"
	RoleClient       = "client"
	RoleIperf3Server = "iperf3-server"
	RoleIperf3Client = "iperf3-client"
)

// Object names.
const (
	EchoServiceName     = "echo"
	NodePortServiceName = "echo-nodeport"
	Iperf3ServiceName   = "iperf3"
)

// Namespace names the run's workload namespace: tunedcilium-<runid>-workload.
// It is not tunedcilium-<runid>: clusters/existing puts its node-access pods
// there, and deleting the workload must not take them with it.
func Namespace(runID string) string {
	ns := "tunedcilium-" + strings.ToLower(runID)
	ns = regexp.MustCompile(`[^a-z0-9-]+`).ReplaceAllString(ns, "-")
	const suffix = "-workload"
	if len(ns) > 63-len(suffix) {
		ns = strings.TrimRight(ns[:63-len(suffix)], "-")
	}
	return ns + suffix
}

// labelValue makes s a valid label value (node names are already, mostly).
func labelValue(s string) string {
	s = regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString(s, "-")
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(s, "-_.")
}

func podName(role, node string) string {
	name := role + "-" + strings.ToLower(labelValue(node))
	name = regexp.MustCompile(`[^a-z0-9-]+`).ReplaceAllString(name, "-")
	if len(name) > 63 {
		name = name[:63]
	}
	return strings.Trim(name, "-")
}

func labels(runID, role, node string) map[string]string {
	l := map[string]string{
		clusters.LabelKey:        labelValue(runID),
		"app.kubernetes.io/name": "tunedcilium-workload",
		RoleLabel:                role,
	}
	if node != "" {
		l[NodeLabel] = labelValue(node)
	}
	return l
}

// Spec is what the objects are built from.
type Spec struct {
	RunID     string
	Namespace string
	Image     string
	// Nodes are the cluster's nodes, control plane first: node A is
	// Nodes[0] (the node external clients hit), node B is Nodes[1] (the
	// node with the NodePort service's only backend).
	Nodes []clusters.Node
}

// NodeA and NodeB name the two nodes cross-node checks use.
func (s Spec) NodeA() string { return s.Nodes[0].Name }
func (s Spec) NodeB() string { return s.Nodes[1].Name }

// NamespaceObject is the run's namespace.
func (s Spec) NamespaceObject() *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: s.Namespace, Labels: labels(s.RunID, "namespace", "")}}
}

// Pods are the workload's pods: an echo server and a client on every node,
// an iperf3 server on node B and an iperf3 client on node A.
func (s Spec) Pods() []*corev1.Pod {
	var out []*corev1.Pod
	for _, n := range s.Nodes {
		out = append(out, s.pod(RoleEcho, n.Name, []string{"tunedcilium-echo", "serve", "--listen", fmt.Sprintf(":%d", EchoPort)}, EchoPort))
	}
	for _, n := range s.Nodes {
		out = append(out, s.pod(RoleClient, n.Name, []string{"sleep", "infinity"}, 0))
	}
	out = append(out,
		s.pod(RoleIperf3Server, s.NodeB(), []string{"iperf3", "--server", "--port", fmt.Sprint(Iperf3Port)}, Iperf3Port),
		s.pod(RoleIperf3Client, s.NodeA(), []string{"sleep", "infinity"}, 0),
	)
	return out
}

func (s Spec) pod(role, node string, command []string, port int32) *corev1.Pod {
	grace := int64(1)
	c := corev1.Container{
		Name:            role,
		Image:           s.Image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         command,
	}
	if port != 0 {
		c.Ports = []corev1.ContainerPort{{Name: "serve", ContainerPort: port, Protocol: corev1.ProtocolTCP}}
		// Ready means serving: the checks send traffic as soon as pods are.
		c.ReadinessProbe = &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(port)}},
			PeriodSeconds:    1,
			FailureThreshold: 3,
		}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: podName(role, node), Namespace: s.Namespace, Labels: labels(s.RunID, role, node)},
		Spec: corev1.PodSpec{
			// nodeName pins the pod without the scheduler; the tolerations
			// let it run on a tainted control plane (kubelet still checks
			// NoExecute taints).
			NodeName:                      node,
			Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			TerminationGracePeriodSeconds: &grace,
			RestartPolicy:                 corev1.RestartPolicyAlways,
			AutomountServiceAccountToken:  new(bool),
			Containers:                    []corev1.Container{c},
		},
	}
}

// Services are the ClusterIP service over every echo server, the NodePort
// service whose only backend is the echo server on node B (externalTraffic
// Policy Cluster: a NodePort hit on node A must cross to node B), and the
// ClusterIP service over the iperf3 server on node B.
func (s Spec) Services() []*corev1.Service {
	echoSel := map[string]string{clusters.LabelKey: labelValue(s.RunID), RoleLabel: RoleEcho}
	nodeBSel := map[string]string{clusters.LabelKey: labelValue(s.RunID), RoleLabel: RoleEcho, NodeLabel: labelValue(s.NodeB())}
	iperfSel := map[string]string{clusters.LabelKey: labelValue(s.RunID), RoleLabel: RoleIperf3Server}
	port := func(p int32) []corev1.ServicePort {
		return []corev1.ServicePort{{Name: "serve", Port: p, TargetPort: intstr.FromInt32(p), Protocol: corev1.ProtocolTCP}}
	}
	return []*corev1.Service{
		{
			ObjectMeta: metav1.ObjectMeta{Name: EchoServiceName, Namespace: s.Namespace, Labels: labels(s.RunID, "service", "")},
			Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Selector: echoSel, Ports: port(EchoPort)},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: NodePortServiceName, Namespace: s.Namespace, Labels: labels(s.RunID, "service", "")},
			Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeNodePort, Selector: nodeBSel, Ports: port(EchoPort),
				ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster,
			},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: Iperf3ServiceName, Namespace: s.Namespace, Labels: labels(s.RunID, "service", "")},
			Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Selector: iperfSel, Ports: port(Iperf3Port)},
		},
	}
}

// Validate rejects a spec the workload cannot be built from.
func (s Spec) Validate() error {
	if s.RunID == "" {
		return fmt.Errorf("workload: empty run id")
	}
	if s.Image == "" {
		return fmt.Errorf("workload: empty image")
	}
	if len(s.Nodes) < 2 {
		return fmt.Errorf("workload: needs two nodes for cross-node traffic, the cluster has %d", len(s.Nodes))
	}
	if s.NodeA() == s.NodeB() {
		return fmt.Errorf("workload: nodes A and B are both %s", s.NodeA())
	}
	return nil
}
