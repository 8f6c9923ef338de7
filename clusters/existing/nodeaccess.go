package existing

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tunedcilium/tunedcilium/clusters"
	"github.com/tunedcilium/tunedcilium/pkg/podexec"
	"github.com/tunedcilium/tunedcilium/pkg/probe"
	"github.com/tunedcilium/tunedcilium/pkg/waitfor"
)

const (
	nodeAccessName      = "tunedcilium-node-access"
	nodeAccessContainer = "node"
	nodeAccessAppLabel  = "app.kubernetes.io/name"
)

// NodeRunner runs commands on one node, in the node's network and PID
// namespaces, from the run's privileged pod on that node (tools from the
// node-access image). It is a probe.Runner: Run returns stdout; a command
// that ran and failed returns a *probe.CommandError, one the image lacks an
// error matching probe.ErrCommandNotFound.
type NodeRunner struct {
	Node   string
	exec   *podexec.Executor
	target podexec.Target
}

func (r *NodeRunner) String() string { return fmt.Sprintf("node %s via pod %s", r.Node, r.target) }

// Run runs argv on the node.
func (r *NodeRunner) Run(ctx context.Context, argv []string) ([]byte, error) {
	res, err := r.exec.Run(ctx, r.target, argv, nil)
	var exit *podexec.ExitError
	switch {
	case errors.As(err, &exit):
		out := string(res.Stdout) + string(res.Stderr)
		if (exit.Code == 126 || exit.Code == 127) &&
			(strings.Contains(out, "executable file not found") || strings.Contains(out, "no such file or directory")) {
			return nil, fmt.Errorf("%s on node %s (image %s): %w", argv[0], r.Node, r.target, probe.ErrCommandNotFound)
		}
		return res.Stdout, &probe.CommandError{Argv: argv, ExitCode: exit.Code, Stderr: string(res.Stderr)}
	case err != nil:
		if strings.Contains(err.Error(), "executable file not found") {
			return nil, fmt.Errorf("%s on node %s: %w", argv[0], r.Node, probe.ErrCommandNotFound)
		}
		return nil, fmt.Errorf("on node %s: %w", r.Node, err)
	}
	return res.Stdout, nil
}

// ProbeNode opens a node for pkg/probe: a node that is a local container is
// entered directly; any other is reached through its node-access pod.
func (c *Cluster) ProbeNode(ctx context.Context, node clusters.Node) (*probe.Node, error) {
	if node.Container != "" {
		return probe.OpenContainer(ctx, node.Container)
	}
	r, err := c.NodeRunner(ctx, node.Name)
	if err != nil {
		return nil, err
	}
	return probe.Via("node "+node.Name, r), nil
}

type nodeAccess struct {
	namespace string
	podByNode map[string]string
	exec      *podexec.Executor
}

// NodeRunner returns a runner for a node. The first call deploys the
// node-access DaemonSet (one privileged pod per node: host network, host
// PID, all taints tolerated) in the run's namespace and waits until a pod
// runs on every node; its removal is registered with Delete at once.
func (c *Cluster) NodeRunner(ctx context.Context, node string) (*NodeRunner, error) {
	access, err := c.nodeAccess(ctx)
	if err != nil {
		return nil, err
	}
	pod, ok := access.podByNode[node]
	if !ok {
		return nil, fmt.Errorf("cluster %s has no node-access pod on node %q (nodes: %s)", c.name, node, strings.Join(keys(access.podByNode), ", "))
	}
	return &NodeRunner{Node: node, exec: access.exec, target: podexec.Target{Namespace: access.namespace, Pod: pod, Container: nodeAccessContainer}}, nil
}

// RunNamespace is the namespace holding what the run adds to the cluster.
func RunNamespace(runID string) string {
	ns := "tunedcilium-" + strings.ToLower(runID)
	ns = regexp.MustCompile(`[^a-z0-9-]+`).ReplaceAllString(ns, "-")
	if len(ns) > 63 {
		ns = ns[:63]
	}
	return strings.TrimRight(ns, "-")
}

func (c *Cluster) nodeAccess(ctx context.Context) (*nodeAccess, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.access != nil {
		return c.access, nil
	}
	if c.opts.NodeAccessImage == "" {
		return nil, fmt.Errorf("cluster %s: no node-access image given: pass the workload image (iproute2, iptables, conntrack, bpftool) that the cluster can run", c.name)
	}
	if c.opts.RunID == "" {
		return nil, fmt.Errorf("cluster %s: node access needs a run id", c.name)
	}
	ns := RunNamespace(c.opts.RunID)
	_, err := c.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   ns,
		Labels: map[string]string{clusters.LabelKey: c.opts.RunID, "pod-security.kubernetes.io/enforce": "privileged"},
	}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("cluster %s: create namespace %s: %w", c.name, ns, err)
	}
	// Registered before anything else lives in it: deleting the namespace
	// removes the DaemonSet and its pods.
	c.cleanups = append(c.cleanups, func(ctx context.Context) error { return deleteNamespace(ctx, c, ns) })

	ds := NodeAccessDaemonSet(ns, c.opts.RunID, c.opts.NodeAccessImage)
	if _, err := c.client.AppsV1().DaemonSets(ns).Create(ctx, ds, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("cluster %s: create node-access DaemonSet %s/%s: %w", c.name, ns, ds.Name, err)
	}
	podByNode := map[string]string{}
	wait := waitfor.Wait{What: "node-access pods (" + ns + ")", Timeout: 3 * time.Minute, Log: c.opts.Log}
	err = wait.Until(ctx, func(ctx context.Context) (bool, string, error) {
		nodes, err := c.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, "", err
		}
		pods, err := c.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: nodeAccessAppLabel + "=" + nodeAccessName})
		if err != nil {
			return false, "", err
		}
		clear(podByNode)
		var missing []string
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
				podByNode[p.Spec.NodeName] = p.Name
			}
		}
		for _, n := range nodes.Items {
			if _, ok := podByNode[n.Name]; !ok {
				missing = append(missing, n.Name)
			}
		}
		return len(missing) == 0, fmt.Sprintf("%d/%d running; none yet on %s", len(nodes.Items)-len(missing), len(nodes.Items), strings.Join(missing, ", ")), nil
	})
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", c.name, err)
	}
	exec, err := c.executor()
	if err != nil {
		return nil, err
	}
	c.access = &nodeAccess{namespace: ns, podByNode: podByNode, exec: exec}
	return c.access, nil
}

// NodeAccessDaemonSet is the DaemonSet of privileged pods that reach each
// node: host network and host PID, privileged, every taint tolerated, the
// node's BPF filesystem mounted, doing nothing but wait.
func NodeAccessDaemonSet(namespace, runID, image string) *appsv1.DaemonSet {
	labels := map[string]string{nodeAccessAppLabel: nodeAccessName, clusters.LabelKey: runID}
	privileged := true
	grace := int64(0)
	hostPathDir := corev1.HostPathDirectoryOrCreate
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: nodeAccessName, Namespace: namespace, Labels: labels},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{nodeAccessAppLabel: nodeAccessName}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					HostNetwork:                   true,
					HostPID:                       true,
					DNSPolicy:                     corev1.DNSClusterFirstWithHostNet,
					TerminationGracePeriodSeconds: &grace,
					Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
					Containers: []corev1.Container{{
						Name:            nodeAccessContainer,
						Image:           image,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Command:         []string{"sleep", "infinity"},
						SecurityContext: &corev1.SecurityContext{Privileged: &privileged},
						VolumeMounts:    []corev1.VolumeMount{{Name: "bpffs", MountPath: "/sys/fs/bpf"}},
					}},
					Volumes: []corev1.Volume{{Name: "bpffs", VolumeSource: corev1.VolumeSource{
						HostPath: &corev1.HostPathVolumeSource{Path: "/sys/fs/bpf", Type: &hostPathDir},
					}}},
				},
			},
		},
	}
}

func deleteNamespace(ctx context.Context, c *Cluster, ns string) error {
	err := c.client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete namespace %s: %w", ns, err)
	}
	return nil
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

var _ probe.Runner = (*NodeRunner)(nil)
