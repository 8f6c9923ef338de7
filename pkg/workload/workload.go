// Package workload deploys what the checks send traffic with, on a running
// cluster, and removes it: a namespace of the run; an echo server and a
// client pod on every node; a NodePort service whose only backend is the
// echo server on node B; ClusterIP services for the echo servers and for an
// iperf3 server on node B, with an iperf3 client on node A; and, when the
// nodes are local containers (kind, k3d), one container outside the cluster
// on the cluster's Docker network, running the echo server too.
package workload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/tunedcilium/tunedcilium/clusters"
	"github.com/tunedcilium/tunedcilium/pkg/images"
	"github.com/tunedcilium/tunedcilium/pkg/podexec"
)

// Options shape a deployment.
type Options struct {
	RunID string
	// Image is the workload image (default images.WorkloadImage).
	Image string
	// Namespace defaults to Namespace(RunID).
	Namespace string
	// External asks for the container outside the cluster. It needs the
	// nodes to be local Docker containers; when they are not, Deploy
	// records why in Workload.ExternalSkip and goes on without it.
	External bool
	// Timeout bounds the wait for readiness (3m when zero).
	Timeout time.Duration
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Pod is one deployed pod.
type Pod struct {
	Name string
	Node string
	IP   netip.Addr
	Role string
}

// Service is one deployed service.
type Service struct {
	Name      string
	ClusterIP netip.Addr
	Port      int
	// NodePort is set for the NodePort service.
	NodePort int
	// BackendNodes are the nodes of the ready endpoints of the service.
	BackendNodes []string
	// ExternalTrafficPolicy as the API server has it ("Cluster", "Local";
	// empty for ClusterIP services).
	ExternalTrafficPolicy string
}

// Workload is a deployed workload.
type Workload struct {
	Spec Spec
	kube kubernetes.Interface
	exec *podexec.Executor
	log  io.Writer

	pods     map[string]Pod // by pod name
	services map[string]Service

	// ownsNamespace is set once the namespace is known to be this run's:
	// Delete never removes a namespace it did not create.
	ownsNamespace bool

	external *External
	// ExternalSkip says why there is no external container ("" when there is).
	ExternalSkip string
}

// Deploy creates the workload on the cluster and waits until every pod is
// ready, every service has its endpoints and the external container serves.
// On error, everything it created is removed again.
func Deploy(ctx context.Context, kube kubernetes.Interface, exec *podexec.Executor, nodes []clusters.Node, opts Options) (w *Workload, err error) {
	if opts.Image == "" {
		opts.Image = images.WorkloadImage
	}
	if opts.Namespace == "" {
		opts.Namespace = Namespace(opts.RunID)
	}
	if opts.Timeout == 0 {
		opts.Timeout = 3 * time.Minute
	}
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	spec := Spec{RunID: opts.RunID, Namespace: opts.Namespace, Image: opts.Image, Nodes: nodes}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	w = &Workload{Spec: spec, kube: kube, exec: exec, log: log, pods: map[string]Pod{}, services: map[string]Service{}}
	defer func() {
		if err != nil {
			if derr := w.Delete(ctx); derr != nil {
				err = fmt.Errorf("%w (and removing what was created: %v)", err, derr)
			}
			w = nil
		}
	}()

	w.printf("workload: namespace %s, image %s, node A %s, node B %s", spec.Namespace, spec.Image, spec.NodeA(), spec.NodeB())
	if err := w.clearLeftoverNamespace(ctx); err != nil {
		return w, err
	}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, spec.NamespaceObject(), metav1.CreateOptions{}); err != nil {
		return w, fmt.Errorf("create namespace %s: %w", spec.Namespace, err)
	}
	w.ownsNamespace = true
	for _, p := range spec.Pods() {
		if _, err := kube.CoreV1().Pods(spec.Namespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return w, fmt.Errorf("create pod %s/%s on %s: %w", spec.Namespace, p.Name, p.Spec.NodeName, err)
		}
	}
	for _, s := range spec.Services() {
		if _, err := kube.CoreV1().Services(spec.Namespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			return w, fmt.Errorf("create service %s/%s: %w", spec.Namespace, s.Name, err)
		}
	}
	if opts.External {
		if err := w.startExternal(ctx, nodes); err != nil {
			if !errors.Is(err, errNoContainerNodes) {
				return w, err
			}
			w.ExternalSkip = "no container outside the cluster: " + err.Error()
			w.printf("workload: %s", w.ExternalSkip)
		}
	} else {
		w.ExternalSkip = "no container outside the cluster was asked for"
	}

	wctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	if err := w.waitReady(wctx); err != nil {
		return w, err
	}
	if w.external != nil {
		if err := w.external.waitServing(wctx, w.throttled()); err != nil {
			return w, err
		}
	}
	w.printf("workload: ready (%d pods, %d services%s)", len(w.pods), len(w.services), map[bool]string{true: ", external container " + w.externalDesc(), false: ""}[w.external != nil])
	return w, nil
}

func (w *Workload) externalDesc() string {
	if w.external == nil {
		return ""
	}
	return fmt.Sprintf("%s %s on %s", w.external.Name, w.external.IP, w.external.Network)
}

func (w *Workload) startExternal(ctx context.Context, nodes []clusters.Node) error {
	for _, n := range nodes {
		if n.Container == "" {
			return fmt.Errorf("node %s is not a local container (%w)", n.Name, errNoContainerNodes)
		}
	}
	cli, err := dockerClient()
	if err != nil {
		return err
	}
	netName, err := NodeNetwork(ctx, cli, nodes[0])
	if err != nil {
		cli.Close()
		return err
	}
	w.printf("workload: starting external container %s on Docker network %s", ExternalName(w.Spec.RunID), netName)
	ext, err := startExternal(ctx, cli, w.Spec.RunID, w.Spec.Image, netName)
	if ext != nil {
		w.external = ext
	} else {
		cli.Close()
	}
	return err
}

func (w *Workload) printf(format string, args ...any) {
	fmt.Fprintf(w.log, format+"\n", args...)
}

// Delete removes the namespace (and waits until it is gone) and the external
// container. It runs to the end even when ctx is already done (an interrupt),
// on a context of its own bounded to two minutes, and returns every error.
func (w *Workload) Delete(ctx context.Context) error {
	if w == nil {
		return nil
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	var errs []error
	if w.external != nil {
		w.printf("workload: removing external container %s", w.external.Name)
		if err := w.external.remove(dctx); err != nil {
			errs = append(errs, err)
		}
		w.external.cli.Close()
		w.external = nil
	}
	if w.ownsNamespace {
		w.printf("workload: deleting namespace %s", w.Spec.Namespace)
		err := w.kube.CoreV1().Namespaces().Delete(dctx, w.Spec.Namespace, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete namespace %s: %w", w.Spec.Namespace, err))
		} else if err := w.waitNamespaceGone(dctx); err != nil {
			errs = append(errs, err)
		} else {
			w.ownsNamespace = false
		}
	}
	w.pods = map[string]Pod{}
	w.services = map[string]Service{}
	return errors.Join(errs...)
}

// clearLeftoverNamespace removes a namespace of this run left by an earlier
// deployment (an in-place profile switch, a killed attempt) and waits until it
// is gone. A namespace of that name that is not the run's is an error.
func (w *Workload) clearLeftoverNamespace(ctx context.Context) error {
	ns, err := w.kube.CoreV1().Namespaces().Get(ctx, w.Spec.Namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get namespace %s: %w", w.Spec.Namespace, err)
	}
	if ns.Labels[clusters.LabelKey] != labelValue(w.Spec.RunID) {
		return fmt.Errorf("namespace %s exists and is not this run's (label %s=%q): pick another run id or delete it", w.Spec.Namespace, clusters.LabelKey, ns.Labels[clusters.LabelKey])
	}
	if ns.DeletionTimestamp == nil {
		w.printf("workload: deleting leftover namespace %s of this run", w.Spec.Namespace)
		if err := w.kube.CoreV1().Namespaces().Delete(ctx, w.Spec.Namespace, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete leftover namespace %s: %w", w.Spec.Namespace, err)
		}
	}
	return w.waitNamespaceGone(ctx)
}

// NodeA is the node external clients hit (no NodePort backend on it);
// NodeB holds the NodePort service's only backend and the iperf3 server.
func (w *Workload) NodeA() string { return w.Spec.NodeA() }
func (w *Workload) NodeB() string { return w.Spec.NodeB() }

// Namespace is the workload's namespace.
func (w *Workload) Namespace() string { return w.Spec.Namespace }

func (w *Workload) pod(role, node string) (Pod, error) {
	p, ok := w.pods[podName(role, node)]
	if !ok {
		return Pod{}, fmt.Errorf("workload has no %s pod on node %s", role, node)
	}
	return p, nil
}

// Echo returns the echo server pod on a node.
func (w *Workload) Echo(node string) (Pod, error) { return w.pod(RoleEcho, node) }

// Client returns the client pod on a node.
func (w *Workload) Client(node string) (Pod, error) { return w.pod(RoleClient, node) }

// Iperf3Server is the iperf3 server pod (on node B).
func (w *Workload) Iperf3Server() (Pod, error) { return w.pod(RoleIperf3Server, w.NodeB()) }

// Iperf3Client is the iperf3 client pod (on node A).
func (w *Workload) Iperf3Client() (Pod, error) { return w.pod(RoleIperf3Client, w.NodeA()) }

// Pods lists every deployed pod.
func (w *Workload) Pods() []Pod {
	out := make([]Pod, 0, len(w.pods))
	for _, p := range w.pods {
		out = append(out, p)
	}
	return out
}

// Service returns a deployed service by name (EchoServiceName,
// NodePortServiceName, Iperf3ServiceName).
func (w *Workload) Service(name string) (Service, error) {
	s, ok := w.services[name]
	if !ok {
		return Service{}, fmt.Errorf("workload has no service %s", name)
	}
	return s, nil
}

// External returns the container outside the cluster, or nil (then
// ExternalSkip says why).
func (w *Workload) External() *External { return w.external }

// Exec runs argv in a workload pod and returns its stdout; a non-zero exit
// is a *podexec.ExitError carrying stderr.
func (w *Workload) Exec(ctx context.Context, p Pod, argv ...string) ([]byte, error) {
	return w.exec.Output(ctx, podexec.Target{Namespace: w.Spec.Namespace, Pod: p.Name}, argv...)
}

// Run is Exec with the whole result (stdout, stderr, exit code).
func (w *Workload) Run(ctx context.Context, p Pod, argv ...string) (podexec.Result, error) {
	return w.exec.Run(ctx, podexec.Target{Namespace: w.Spec.Namespace, Pod: p.Name}, argv, nil)
}

// Refresh re-reads the pods' addresses and the services (after an agent
// restart, pods keep their IPs; recreated pods do not).
func (w *Workload) Refresh(ctx context.Context) error {
	_, err := w.readState(ctx)
	return err
}
