package workload

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const pollInterval = time.Second

// throttled returns a progress printer that prints at most every 5 s.
func (w *Workload) throttled() func(string) {
	var last time.Time
	return func(msg string) {
		if time.Since(last) < 5*time.Second {
			return
		}
		last = time.Now()
		w.printf("%s", msg)
	}
}

// waitReady polls until every pod is ready with an IP and every service has
// a ready endpoint per selected pod; the timeout error names what was not.
func (w *Workload) waitReady(ctx context.Context) error {
	progress := w.throttled()
	start := time.Now()
	for {
		notReady, err := w.readState(ctx)
		if err == nil && len(notReady) == 0 {
			return nil
		}
		what := strings.Join(notReady, "; ")
		if err != nil {
			what = err.Error()
		}
		progress(fmt.Sprintf("workload: waiting for pods and service endpoints in %s (%s): %s", w.Spec.Namespace, time.Since(start).Round(time.Second), what))
		select {
		case <-ctx.Done():
			return fmt.Errorf("workload in %s not ready after %s: %s%s", w.Spec.Namespace, time.Since(start).Round(time.Second), what, w.warnings())
		case <-time.After(pollInterval):
		}
	}
}

// warnings returns the latest warning event of each object in the
// namespace ("; events: pod/x: FailedCreatePodSandBox: ..."), for a timeout
// that must say why pods did not start.
func (w *Workload) warnings() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	evs, err := w.kube.CoreV1().Events(w.Spec.Namespace).List(ctx, metav1.ListOptions{FieldSelector: "type=Warning"})
	if err != nil || len(evs.Items) == 0 {
		return ""
	}
	latest := map[string]corev1.Event{}
	for _, e := range evs.Items {
		key := strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name
		if prev, ok := latest[key]; !ok || e.LastTimestamp.After(prev.LastTimestamp.Time) {
			latest[key] = e
		}
	}
	var parts []string
	for key, e := range latest {
		msg := strings.TrimSpace(e.Message)
		if len(msg) > 300 {
			msg = msg[:300] + "..."
		}
		parts = append(parts, fmt.Sprintf("%s: %s: %s", key, e.Reason, msg))
	}
	sort.Strings(parts)
	return "; events: " + strings.Join(parts, "; ")
}

// readState reads pods and services into the workload and describes what is
// not ready yet.
func (w *Workload) readState(ctx context.Context) ([]string, error) {
	ns := w.Spec.Namespace
	pods, err := w.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list pods in %s: %w", ns, err)
	}
	var notReady []string
	got := map[string]Pod{}
	for _, p := range pods.Items {
		if !podReady(&p) || p.Status.PodIP == "" {
			notReady = append(notReady, describePod(&p))
			continue
		}
		ip, err := netip.ParseAddr(p.Status.PodIP)
		if err != nil {
			return nil, fmt.Errorf("pod %s/%s IP %q: %w", ns, p.Name, p.Status.PodIP, err)
		}
		got[p.Name] = Pod{Name: p.Name, Node: p.Spec.NodeName, IP: ip, Role: p.Labels[RoleLabel]}
	}
	for _, want := range w.Spec.Pods() {
		if _, ok := got[want.Name]; !ok && !hasPod(pods.Items, want.Name) {
			notReady = append(notReady, want.Name+" on "+want.Spec.NodeName+": not created")
		}
	}
	w.pods = got

	svcs := map[string]Service{}
	for _, want := range w.Spec.Services() {
		s, err := w.kube.CoreV1().Services(ns).Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("get service %s/%s: %w", ns, want.Name, err)
		}
		svc := Service{Name: s.Name, Port: int(s.Spec.Ports[0].Port), ExternalTrafficPolicy: string(s.Spec.ExternalTrafficPolicy)}
		if ip, err := netip.ParseAddr(s.Spec.ClusterIP); err == nil {
			svc.ClusterIP = ip
		}
		if s.Spec.Type == corev1.ServiceTypeNodePort {
			svc.NodePort = int(s.Spec.Ports[0].NodePort)
		}
		wantEndpoints := selectedPods(w.Spec.Pods(), want.Spec.Selector)
		ready, nodes, err := w.readyEndpoints(ctx, s.Name)
		if err != nil {
			return nil, err
		}
		svc.BackendNodes = nodes
		if ready < wantEndpoints {
			notReady = append(notReady, fmt.Sprintf("service %s: %d/%d endpoints ready", s.Name, ready, wantEndpoints))
		}
		svcs[s.Name] = svc
	}
	w.services = svcs
	sort.Strings(notReady)
	return notReady, nil
}

func (w *Workload) readyEndpoints(ctx context.Context, service string) (int, []string, error) {
	slices, err := w.kube.DiscoveryV1().EndpointSlices(w.Spec.Namespace).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + service})
	if err != nil {
		return 0, nil, fmt.Errorf("list endpoint slices of service %s/%s: %w", w.Spec.Namespace, service, err)
	}
	n := 0
	seen := map[string]bool{}
	var nodes []string
	for _, sl := range slices.Items {
		for _, ep := range sl.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			n++
			if ep.NodeName != nil && !seen[*ep.NodeName] {
				seen[*ep.NodeName] = true
				nodes = append(nodes, *ep.NodeName)
			}
		}
	}
	sort.Strings(nodes)
	return n, nodes, nil
}

func selectedPods(pods []*corev1.Pod, selector map[string]string) int {
	n := 0
	for _, p := range pods {
		match := true
		for k, v := range selector {
			if p.Labels[k] != v {
				match = false
				break
			}
		}
		if match {
			n++
		}
	}
	return n
}

func hasPod(pods []corev1.Pod, name string) bool {
	for _, p := range pods {
		if p.Name == name {
			return true
		}
	}
	return false
}

func podReady(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// describePod says in a phrase why a pod is not ready.
func describePod(p *corev1.Pod) string {
	s := fmt.Sprintf("%s on %s: %s", p.Name, p.Spec.NodeName, p.Status.Phase)
	for _, cs := range p.Status.ContainerStatuses {
		switch {
		case cs.State.Waiting != nil:
			s += " (" + cs.State.Waiting.Reason
			if m := strings.TrimSpace(cs.State.Waiting.Message); m != "" {
				if len(m) > 120 {
					m = m[:120] + "..."
				}
				s += ": " + m
			}
			s += ")"
		case cs.State.Terminated != nil:
			s += fmt.Sprintf(" (terminated: %s, exit %d)", cs.State.Terminated.Reason, cs.State.Terminated.ExitCode)
		case !cs.Ready:
			s += " (running, not ready)"
		}
	}
	return s
}

// waitNamespaceGone waits until the namespace no longer exists (a previous
// workload of the same run may still be terminating).
func (w *Workload) waitNamespaceGone(ctx context.Context) error {
	progress := w.throttled()
	start := time.Now()
	for {
		ns, err := w.kube.CoreV1().Namespaces().Get(ctx, w.Spec.Namespace, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("get namespace %s: %w", w.Spec.Namespace, err)
		}
		progress(fmt.Sprintf("workload: waiting for namespace %s to be gone (%s, phase %s)", w.Spec.Namespace, time.Since(start).Round(time.Second), ns.Status.Phase))
		select {
		case <-ctx.Done():
			return fmt.Errorf("namespace %s still there after %s (phase %s): %w", w.Spec.Namespace, time.Since(start).Round(time.Second), ns.Status.Phase, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}
