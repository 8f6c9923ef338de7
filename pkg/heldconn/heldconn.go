// Package heldconn deploys long-lived TCP connections on a cluster and reads
// which of them broke: a hold server pod on one node, a ClusterIP service in
// front of it, and a client pod on another node that opens Count
// connections to the pod's address and Count to the service's once, never
// reconnects, pings each every second and keeps a status file
// (pkg/traffic/hold, `tunedcilium-echo hold`). The suite opens them before
// a Cilium upgrade and reads them after it.
package heldconn

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/tunedcilium/tunedcilium/clusters"
	"github.com/tunedcilium/tunedcilium/pkg/podexec"
	"github.com/tunedcilium/tunedcilium/pkg/traffic/hold"
	"github.com/tunedcilium/tunedcilium/pkg/waitfor"
)

// Port the hold server listens on.
const Port = 8081

const (
	serverName = "hold-server"
	clientName = "hold-client"
	roleLabel  = "tunedcilium.io/role"
	statusFile = "/tmp/hold-status.json"
)

// Options shape the held connections.
type Options struct {
	RunID string
	// Image carries tunedcilium-echo with its hold modes.
	Image string
	// Count connections go to the server pod's address and Count to the
	// service's.
	Count int
	// Timeout bounds the wait for the pods and the connections (3m when
	// zero).
	Timeout time.Duration
	Log     io.Writer
}

// Set is the deployed connections.
type Set struct {
	Namespace string
	// Server and Client are the nodes the pods run on.
	Server, Client string
	// Targets are the addresses the client holds connections to.
	Targets []string
	kube    kubernetes.Interface
	exec    *podexec.Executor
	opts    Options
}

// Namespace is the run's namespace for held connections.
func Namespace(runID string) string {
	ns := regexp.MustCompile(`[^a-z0-9-]+`).ReplaceAllString("tunedcilium-"+strings.ToLower(runID), "-")
	const suffix = "-held"
	if len(ns) > 63-len(suffix) {
		ns = strings.TrimRight(ns[:63-len(suffix)], "-")
	}
	return ns + suffix
}

// Open deploys the server and the client and waits until every connection
// is open and has echoed. On error, what it created is removed again.
func Open(ctx context.Context, kube kubernetes.Interface, exec *podexec.Executor, nodes []clusters.Node, opts Options) (s *Set, err error) {
	if opts.Count < 1 {
		return nil, fmt.Errorf("held connections: count %d: hold at least 1", opts.Count)
	}
	if opts.Image == "" || opts.RunID == "" {
		return nil, fmt.Errorf("held connections: need the workload image and the run id (got %q, %q)", opts.Image, opts.RunID)
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("held connections: the cluster has no nodes")
	}
	if opts.Timeout == 0 {
		opts.Timeout = 3 * time.Minute
	}
	client, server := nodes[0].Name, nodes[len(nodes)-1].Name
	s = &Set{Namespace: Namespace(opts.RunID), Server: server, Client: client, kube: kube, exec: exec, opts: opts}
	defer func() {
		if err != nil {
			if cerr := s.Close(context.WithoutCancel(ctx)); cerr != nil {
				err = fmt.Errorf("%w (and removing what was created: %v)", err, cerr)
			}
			s = nil
		}
	}()
	labels := map[string]string{clusters.LabelKey: opts.RunID}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: s.Namespace, Labels: labels}}, metav1.CreateOptions{}); err != nil {
		return s, fmt.Errorf("held connections: create namespace %s: %w", s.Namespace, err)
	}
	if _, err := kube.CoreV1().Pods(s.Namespace).Create(ctx, ServerPod(s.Namespace, opts.RunID, opts.Image, server), metav1.CreateOptions{}); err != nil {
		return s, fmt.Errorf("held connections: create pod %s on %s: %w", serverName, server, err)
	}
	svc, err := kube.CoreV1().Services(s.Namespace).Create(ctx, service(s.Namespace, opts.RunID), metav1.CreateOptions{})
	if err != nil {
		return s, fmt.Errorf("held connections: create service %s/%s: %w", s.Namespace, serverName, err)
	}
	podIP, err := s.waitRunning(ctx, serverName)
	if err != nil {
		return s, err
	}
	s.Targets = []string{net.JoinHostPort(podIP, strconv.Itoa(Port)), net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(Port))}
	if err := s.waitEndpoints(ctx); err != nil {
		return s, err
	}
	if _, err := kube.CoreV1().Pods(s.Namespace).Create(ctx, ClientPod(s.Namespace, opts.RunID, opts.Image, client, s.Targets, opts.Count), metav1.CreateOptions{}); err != nil {
		return s, fmt.Errorf("held connections: create pod %s on %s: %w", clientName, client, err)
	}
	if _, err := s.waitRunning(ctx, clientName); err != nil {
		return s, err
	}
	want := opts.Count * len(s.Targets)
	wait := waitfor.Wait{What: fmt.Sprintf("%d held connections (%s on %s -> %s)", want, clientName, client, strings.Join(s.Targets, ", ")), Timeout: opts.Timeout, Log: opts.Log}
	err = wait.Until(ctx, func(ctx context.Context) (bool, string, error) {
		st, err := s.Status(ctx)
		if err != nil {
			return false, err.Error(), nil
		}
		if st.Broken > 0 {
			return false, "", fmt.Errorf("%d of %d connections broke before the upgrade: %s", st.Broken, want, brokenText(st.BrokenConns()))
		}
		return st.Open == want && st.Round >= 2, fmt.Sprintf("%d open, round %d", st.Open, st.Round), nil
	})
	if err != nil {
		return s, fmt.Errorf("held connections: %w", err)
	}
	return s, nil
}

// Status reads the client's status file. A client pod that is gone or was
// restarted is an error: its connections are not the ones opened.
func (s *Set) Status(ctx context.Context) (hold.Status, error) {
	pod, err := s.kube.CoreV1().Pods(s.Namespace).Get(ctx, clientName, metav1.GetOptions{})
	if err != nil {
		return hold.Status{}, fmt.Errorf("held connections: client pod: %w", err)
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.RestartCount > 0 || cs.State.Terminated != nil {
			return hold.Status{}, fmt.Errorf("held connections: client pod %s/%s stopped or restarted (restarts %d): its connections are gone", s.Namespace, clientName, cs.RestartCount)
		}
	}
	out, err := s.exec.Output(ctx, podexec.Target{Namespace: s.Namespace, Pod: clientName, Container: clientName}, "cat", statusFile)
	if err != nil {
		return hold.Status{}, fmt.Errorf("held connections: read %s in %s/%s: %w", statusFile, s.Namespace, clientName, err)
	}
	var st hold.Status
	if err := json.Unmarshal(out, &st); err != nil {
		return hold.Status{}, fmt.Errorf("held connections: decode %s: %w", statusFile, err)
	}
	return st, nil
}

// Close removes the namespace and everything in it.
func (s *Set) Close(ctx context.Context) error {
	err := s.kube.CoreV1().Namespaces().Delete(ctx, s.Namespace, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("held connections: delete namespace %s: %w", s.Namespace, err)
	}
	return nil
}

func (s *Set) waitRunning(ctx context.Context, name string) (string, error) {
	var ip string
	wait := waitfor.Wait{What: "pod " + s.Namespace + "/" + name, Timeout: s.opts.Timeout, Log: s.opts.Log}
	err := wait.Until(ctx, func(ctx context.Context) (bool, string, error) {
		p, err := s.kube.CoreV1().Pods(s.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
			return false, "", fmt.Errorf("pod %s/%s ended: %s", s.Namespace, name, p.Status.Phase)
		}
		ready := false
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		ip = p.Status.PodIP
		return ready && ip != "", fmt.Sprintf("phase %s, ip %q", p.Status.Phase, ip), nil
	})
	if err != nil {
		return "", fmt.Errorf("held connections: %w", err)
	}
	return ip, nil
}

func (s *Set) waitEndpoints(ctx context.Context) error {
	wait := waitfor.Wait{What: "service " + s.Namespace + "/" + serverName + " endpoints", Timeout: s.opts.Timeout, Log: s.opts.Log}
	return wait.Until(ctx, func(ctx context.Context) (bool, string, error) {
		eps, err := s.kube.CoreV1().Endpoints(s.Namespace).Get(ctx, serverName, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		for _, sub := range eps.Subsets {
			if len(sub.Addresses) > 0 {
				return true, "ready", nil
			}
		}
		return false, "no ready address yet", nil
	})
}

func brokenText(cs []hold.Conn) string {
	var s []string
	for _, c := range cs {
		s = append(s, fmt.Sprintf("#%d %s->%s: %s", c.ID, c.Local, c.Target, c.Error))
	}
	return strings.Join(s, "; ")
}

// ServerPod is the hold server on node.
func ServerPod(ns, runID, image, node string) *corev1.Pod {
	p := pod(ns, runID, image, node, serverName, []string{"tunedcilium-echo", "hold-serve", "--listen", fmt.Sprintf(":%d", Port)})
	p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "hold", ContainerPort: Port}}
	p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(Port)}}, PeriodSeconds: 1}
	return p
}

// ClientPod holds count connections to each target from node. It never
// restarts: a restarted client would open fresh connections and hide
// the ones that broke.
func ClientPod(ns, runID, image, node string, targets []string, count int) *corev1.Pod {
	cmd := append([]string{"tunedcilium-echo", "hold"}, targets...)
	cmd = append(cmd, "--count", strconv.Itoa(count), "--interval", "1s", "--status", statusFile)
	p := pod(ns, runID, image, node, clientName, cmd)
	p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"cat", statusFile}}}, PeriodSeconds: 1}
	return p
}

func pod(ns, runID, image, node, name string, cmd []string) *corev1.Pod {
	grace := int64(0)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{clusters.LabelKey: runID, roleLabel: name}},
		Spec: corev1.PodSpec{
			NodeName:                      node,
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: &grace,
			Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
			Containers: []corev1.Container{{
				Name: name, Image: image, ImagePullPolicy: corev1.PullIfNotPresent, Command: cmd,
			}},
		},
	}
}

func service(ns, runID string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: serverName, Namespace: ns, Labels: map[string]string{clusters.LabelKey: runID}},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{roleLabel: serverName},
			Ports:    []corev1.ServicePort{{Name: "hold", Port: Port, TargetPort: intstr.FromInt32(Port)}},
		},
	}
}
