package install

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tunedcilium/tunedcilium/pkg/waitfor"
)

// WaitOptions bound a readiness wait.
type WaitOptions struct {
	// Timeout for the whole wait (DaemonSet, operator, agents); 5m when zero.
	Timeout time.Duration
	// Operator says whether an operator Deployment is expected
	// (OperatorEnabled(values)).
	Operator bool
	// Interval between checks; 2s when zero.
	Interval time.Duration
	// Settle is how long the agents are watched once they are healthy:
	// their restart counts must not grow and every one must still be
	// healthy at its end, else the wait goes on (an agent that crash-loops
	// a few seconds after its first healthy status). DefaultSettle when
	// zero; negative skips it.
	Settle time.Duration
}

// DefaultSettle is how long healthy agents are watched before they count
// as ready.
const DefaultSettle = 10 * time.Second

// OperatorEnabled reports whether chart values deploy the operator (the
// chart's default is yes).
func OperatorEnabled(values map[string]any) bool {
	op, ok := values["operator"].(map[string]any)
	if !ok {
		return true
	}
	enabled, ok := op["enabled"].(bool)
	return !ok || enabled
}

// WaitReady waits until the agent DaemonSet is rolled out on every node, the
// operator Deployment is available (when expected) and every agent reports
// itself healthy, then watches the agents for opts.Settle: an agent that
// restarts or turns unhealthy in that time sends the wait back to the
// start. Each stage prints progress lines; a timeout names the stage and
// what in it was not ready, and the agents that did not stay up.
func (c *Cilium) WaitReady(ctx context.Context, opts WaitOptions) error {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	settle := opts.Settle
	if settle == 0 {
		settle = DefaultSettle
	}
	deadline := time.Now().Add(timeout)
	unsettled := "" // why the agents did not stay up, the last time they were watched
	for {
		if err := c.waitHealthy(ctx, opts, deadline); err != nil {
			if unsettled != "" {
				err = fmt.Errorf("%w; before that, agents did not stay up: %s", err, unsettled)
			}
			return err
		}
		if settle < 0 {
			return nil
		}
		settled, why, err := c.settle(ctx, settle)
		if err != nil {
			return err
		}
		if settled {
			return nil
		}
		unsettled = why
		if !time.Now().Before(deadline) {
			return fmt.Errorf("cilium on %s not ready: timed out after %s: agents did not stay up for %s: %s", c.config.Host, timeout, settle, why)
		}
		c.printf("cilium agents did not stay up for %s: %s; waiting again", settle, why)
	}
}

// waitHealthy is one pass of the readiness stages, bounded by deadline.
func (c *Cilium) waitHealthy(ctx context.Context, opts WaitOptions, deadline time.Time) error {
	stage := func(what string, check waitfor.Check) error {
		w := waitfor.Wait{What: what, Timeout: time.Until(deadline), Interval: opts.Interval, Log: c.Log}
		if err := w.Until(ctx, check); err != nil {
			return fmt.Errorf("cilium on %s not ready: %w", c.config.Host, err)
		}
		return nil
	}
	if err := stage("cilium DaemonSet", c.checkDaemonSet); err != nil {
		return err
	}
	if opts.Operator {
		if err := stage("cilium-operator Deployment", c.checkOperator); err != nil {
			return err
		}
	}
	return stage("cilium agents healthy", c.checkAgents)
}

// settle watches healthy agents for d and decides whether they stayed up
// (Settled). A failed API call counts as not settled, with its error.
func (c *Cilium) settle(ctx context.Context, d time.Duration) (bool, string, error) {
	before, err := c.agentRestarts(ctx)
	if err != nil {
		return false, err.Error(), nil
	}
	c.printf("cilium agents healthy; watching them for %s (restarts, health)", d)
	select {
	case <-ctx.Done():
		return false, "", fmt.Errorf("cilium on %s: watching the agents: %w", c.config.Host, ctx.Err())
	case <-time.After(d):
	}
	after, err := c.agentRestarts(ctx)
	if err != nil {
		return false, err.Error(), nil
	}
	health, err := c.agentHealth(ctx)
	if err != nil {
		return false, err.Error(), nil
	}
	settled, why := Settled(before, after, health)
	return settled, why, nil
}

// RestartAgents restarts the agent pods the way `kubectl rollout restart`
// does (a template annotation) and waits until they are back and healthy:
// an in-place profile switch applies new values and then restarts.
func (c *Cilium) RestartAgents(ctx context.Context, opts WaitOptions) error {
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":%q}}}}}`, time.Now().Format(time.RFC3339))
	_, err := c.client.AppsV1().DaemonSets(c.namespace()).Patch(ctx, agentDaemonSet, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("restart cilium agents on %s: %w", c.config.Host, err)
	}
	c.printf("restarting cilium agents (DaemonSet %s/%s)", c.namespace(), agentDaemonSet)
	return c.WaitReady(ctx, opts)
}

func (c *Cilium) checkDaemonSet(ctx context.Context) (bool, string, error) {
	ds, err := c.client.AppsV1().DaemonSets(c.namespace()).Get(ctx, agentDaemonSet, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, fmt.Sprintf("DaemonSet %s/%s does not exist (yet)", c.namespace(), agentDaemonSet), nil
	}
	if err != nil {
		return false, "", err
	}
	nodes, err := c.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, "", err
	}
	done, progress := DaemonSetRollout(ds, linuxNodes(nodes.Items))
	if done {
		return true, progress, nil
	}
	pods, err := c.client.CoreV1().Pods(c.namespace()).List(ctx, metav1.ListOptions{LabelSelector: agentSelector})
	if err != nil {
		return false, progress, nil
	}
	if notReady := NotReadyPods(pods.Items); len(notReady) > 0 {
		progress += "; not ready: " + strings.Join(notReady, ", ")
	}
	return false, progress, nil
}

func (c *Cilium) checkOperator(ctx context.Context) (bool, string, error) {
	d, err := c.client.AppsV1().Deployments(c.namespace()).Get(ctx, operatorDeployment, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, fmt.Sprintf("Deployment %s/%s does not exist (yet)", c.namespace(), operatorDeployment), nil
	}
	if err != nil {
		return false, "", err
	}
	done, progress := DeploymentRollout(d)
	if done {
		return true, progress, nil
	}
	pods, err := c.client.CoreV1().Pods(c.namespace()).List(ctx, metav1.ListOptions{LabelSelector: operatorSelector})
	if err == nil {
		if notReady := NotReadyPods(pods.Items); len(notReady) > 0 {
			progress += "; not ready: " + strings.Join(notReady, ", ")
		}
	}
	return false, progress, nil
}

func (c *Cilium) checkAgents(ctx context.Context) (bool, string, error) {
	health, err := c.agentHealth(ctx)
	if err != nil {
		return false, "", err
	}
	done, progress := AgentsHealthy(health)
	return done, progress, nil
}

// agentHealth reads every agent's status document.
func (c *Cilium) agentHealth(ctx context.Context) ([]AgentHealth, error) {
	agents, err := c.Agents(ctx)
	if err != nil {
		return nil, err
	}
	health := make([]AgentHealth, 0, len(agents))
	for _, a := range agents {
		h := AgentHealth{Agent: a}
		callCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		st, err := c.AgentStatus(callCtx, a)
		cancel()
		if err != nil {
			h.Reason = err.Error()
		} else {
			h.Healthy, h.Reason = st.Healthy()
		}
		health = append(health, h)
	}
	return health, nil
}

// agentRestarts reads the agent pods' restart counts.
func (c *Cilium) agentRestarts(ctx context.Context) ([]AgentRestarts, error) {
	pods, err := c.client.CoreV1().Pods(c.namespace()).List(ctx, metav1.ListOptions{LabelSelector: agentSelector})
	if err != nil {
		return nil, fmt.Errorf("list cilium agent pods on %s: %w", c.config.Host, err)
	}
	return RestartsOf(pods.Items), nil
}

// DaemonSetRollout decides whether the agent DaemonSet is rolled out on
// every one of nodes (the Linux nodes of the cluster): the controller saw
// the current generation, and every desired pod is updated, ready and
// available.
func DaemonSetRollout(ds *appsv1.DaemonSet, nodes int) (bool, string) {
	s := ds.Status
	progress := fmt.Sprintf("%d/%d ready", s.NumberReady, nodes)
	if s.ObservedGeneration < ds.Generation {
		return false, progress + fmt.Sprintf(", generation %d not yet observed by the controller", ds.Generation)
	}
	if s.DesiredNumberScheduled != int32(nodes) {
		progress += fmt.Sprintf(", scheduled on %d of %d nodes", s.DesiredNumberScheduled, nodes)
	}
	if s.UpdatedNumberScheduled < s.DesiredNumberScheduled {
		progress += fmt.Sprintf(", %d/%d updated", s.UpdatedNumberScheduled, s.DesiredNumberScheduled)
	}
	done := nodes > 0 &&
		s.DesiredNumberScheduled == int32(nodes) &&
		s.UpdatedNumberScheduled == s.DesiredNumberScheduled &&
		s.NumberReady == s.DesiredNumberScheduled &&
		s.NumberAvailable == s.DesiredNumberScheduled &&
		s.NumberUnavailable == 0
	return done, progress
}

// DeploymentRollout decides whether a Deployment is rolled out: current
// generation observed, every replica updated and available, no old replica
// left.
func DeploymentRollout(d *appsv1.Deployment) (bool, string) {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	progress := fmt.Sprintf("%d/%d available", s.AvailableReplicas, want)
	if s.ObservedGeneration < d.Generation {
		return false, progress + fmt.Sprintf(", generation %d not yet observed by the controller", d.Generation)
	}
	if s.UpdatedReplicas < want {
		progress += fmt.Sprintf(", %d/%d updated", s.UpdatedReplicas, want)
	}
	if old := s.Replicas - s.UpdatedReplicas; old > 0 {
		progress += fmt.Sprintf(", %d old replica(s) terminating", old)
	}
	done := s.UpdatedReplicas == want && s.AvailableReplicas == want && s.Replicas == want
	return done, progress
}

// AgentHealth is one agent's health as its status document says.
type AgentHealth struct {
	Agent   Agent
	Healthy bool
	// Reason is "Ok", the agent's own reason, or why its status could not
	// be read.
	Reason string
}

// AgentsHealthy decides whether every agent is healthy, and names the ones
// that are not.
func AgentsHealthy(agents []AgentHealth) (bool, string) {
	if len(agents) == 0 {
		return false, "no agent pods"
	}
	healthy := 0
	var bad []string
	for _, a := range agents {
		if a.Healthy {
			healthy++
			continue
		}
		bad = append(bad, fmt.Sprintf("%s on %s: %s", a.Agent.Pod, a.Agent.Node, a.Reason))
	}
	progress := fmt.Sprintf("%d/%d healthy", healthy, len(agents))
	if len(bad) > 0 {
		sort.Strings(bad)
		progress += "; not healthy: " + strings.Join(bad, "; ")
	}
	return len(bad) == 0, progress
}

// NotReadyPods describes the pods that are not ready, one phrase each:
// "cilium-x on node-b: CrashLoopBackOff (cilium-agent, 3 restarts)".
func NotReadyPods(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		if podReady(p) {
			continue
		}
		node := p.Spec.NodeName
		if node == "" {
			node = "no node"
		}
		out = append(out, fmt.Sprintf("%s on %s: %s", p.Name, node, podState(p)))
	}
	sort.Strings(out)
	return out
}

func podReady(p corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podState says in a few words why a pod is not ready.
func podState(p corev1.Pod) string {
	if p.DeletionTimestamp != nil {
		return "terminating"
	}
	for _, cs := range p.Status.InitContainerStatuses {
		if cs.State.Running != nil {
			return fmt.Sprintf("init container %s running", cs.Name)
		}
	}
	for _, group := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, cs := range group {
			switch {
			case cs.State.Waiting != nil && cs.State.Waiting.Reason != "" && cs.State.Waiting.Reason != "PodInitializing":
				s := fmt.Sprintf("%s (%s", cs.State.Waiting.Reason, cs.Name)
				if cs.RestartCount > 0 {
					s += fmt.Sprintf(", %d restarts", cs.RestartCount)
				}
				if msg := firstLine(cs.State.Waiting.Message); msg != "" {
					s += ": " + msg
				}
				return s + ")"
			case cs.State.Terminated != nil && cs.State.Terminated.ExitCode != 0:
				return fmt.Sprintf("%s (%s exited %d)", cs.State.Terminated.Reason, cs.Name, cs.State.Terminated.ExitCode)
			}
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Reason != "" {
			if c.Type == corev1.PodScheduled {
				return "unschedulable: " + firstLine(c.Message)
			}
			if c.Type == corev1.ContainersReady || c.Type == corev1.PodReady {
				return fmt.Sprintf("%s, %s", p.Status.Phase, c.Reason)
			}
		}
	}
	if p.Status.Phase == corev1.PodRunning {
		return "running, readiness probe not passing"
	}
	return string(p.Status.Phase)
}

func linuxNodes(nodes []corev1.Node) int {
	n := 0
	for _, node := range nodes {
		if os, ok := node.Labels[corev1.LabelOSStable]; ok && os != "linux" {
			continue
		}
		n++
	}
	return n
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}
