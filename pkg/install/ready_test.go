package install

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tunedcilium/tunedcilium/pkg/waitfor"
)

func daemonSet(gen, observed int64, desired, updated, ready, available int32) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "cilium", Generation: gen},
		Status: appsv1.DaemonSetStatus{
			ObservedGeneration: observed, DesiredNumberScheduled: desired, UpdatedNumberScheduled: updated,
			NumberReady: ready, NumberAvailable: available, NumberUnavailable: desired - available,
		},
	}
}

func TestDaemonSetRollout(t *testing.T) {
	cases := []struct {
		name  string
		ds    *appsv1.DaemonSet
		nodes int
		done  bool
		want  string
	}{
		{"rolled out", daemonSet(2, 2, 2, 2, 2, 2), 2, true, "2/2 ready"},
		{"one not ready", daemonSet(1, 1, 2, 2, 1, 1), 2, false, "1/2 ready"},
		{"restart not yet observed", daemonSet(3, 2, 2, 2, 2, 2), 2, false, "generation 3 not yet observed"},
		{"old pods still running", daemonSet(3, 3, 2, 1, 2, 2), 2, false, "1/2 updated"},
		{"not on every node", daemonSet(1, 1, 1, 1, 1, 1), 2, false, "scheduled on 1 of 2 nodes"},
		{"no nodes", daemonSet(1, 1, 0, 0, 0, 0), 0, false, "0/0 ready"},
	}
	for _, c := range cases {
		done, progress := DaemonSetRollout(c.ds, c.nodes)
		if done != c.done || !strings.Contains(progress, c.want) {
			t.Errorf("%s: DaemonSetRollout = %v, %q; want %v with %q", c.name, done, progress, c.done, c.want)
		}
	}
}

func TestDeploymentRollout(t *testing.T) {
	two := int32(2)
	d := func(gen, observed int64, replicas, updated, available int32) *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Generation: gen},
			Spec:       appsv1.DeploymentSpec{Replicas: &two},
			Status:     appsv1.DeploymentStatus{ObservedGeneration: observed, Replicas: replicas, UpdatedReplicas: updated, AvailableReplicas: available},
		}
	}
	for _, c := range []struct {
		name string
		d    *appsv1.Deployment
		done bool
		want string
	}{
		{"available", d(1, 1, 2, 2, 2), true, "2/2 available"},
		{"one missing", d(1, 1, 2, 2, 1), false, "1/2 available"},
		{"old replica", d(2, 2, 3, 2, 2), false, "1 old replica(s) terminating"},
		{"not observed", d(2, 1, 2, 2, 2), false, "generation 2 not yet observed"},
	} {
		done, progress := DeploymentRollout(c.d)
		if done != c.done || !strings.Contains(progress, c.want) {
			t.Errorf("%s: DeploymentRollout = %v, %q; want %v with %q", c.name, done, progress, c.done, c.want)
		}
	}
}

func TestNotReadyPods(t *testing.T) {
	ready := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "cilium-aaaaa"},
		Spec:       corev1.PodSpec{NodeName: "kind-control-plane"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue},
		}},
	}
	crashing := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "cilium-bbbbb"},
		Spec:       corev1.PodSpec{NodeName: "kind-worker"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "cilium-agent", RestartCount: 3,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 40s restarting failed container\nmore"}},
		}}},
	}
	initStuck := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "cilium-ccccc"},
		Spec:       corev1.PodSpec{NodeName: "kind-worker2"},
		Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{{
			Name:  "mount-bpf-fs",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 32}},
		}}},
	}
	unscheduled := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "cilium-operator-x"},
		Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/2 nodes are available: 2 node(s) had untolerated taint"},
		}},
	}
	probing := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "cilium-ddddd"},
		Spec:       corev1.PodSpec{NodeName: "kind-worker3"},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	got := NotReadyPods([]corev1.Pod{ready, crashing, initStuck, unscheduled, probing})
	want := []string{
		"cilium-bbbbb on kind-worker: CrashLoopBackOff (cilium-agent, 3 restarts: back-off 40s restarting failed container)",
		"cilium-ccccc on kind-worker2: Error (mount-bpf-fs exited 32)",
		"cilium-ddddd on kind-worker3: running, readiness probe not passing",
		"cilium-operator-x on no node: unschedulable: 0/2 nodes are available: 2 node(s) had untolerated taint",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("NotReadyPods =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAgentsHealthy(t *testing.T) {
	a := AgentHealth{Agent: Agent{Pod: "cilium-aaaaa", Node: "n1"}, Healthy: true, Reason: "Ok"}
	b := AgentHealth{Agent: Agent{Pod: "cilium-bbbbb", Node: "n2"}, Reason: "state Warning: Not all probes executed at least once"}
	if done, p := AgentsHealthy([]AgentHealth{a}); !done || p != "1/1 healthy" {
		t.Errorf("one healthy: %v %q", done, p)
	}
	done, p := AgentsHealthy([]AgentHealth{a, b})
	if done || p != "1/2 healthy; not healthy: cilium-bbbbb on n2: state Warning: Not all probes executed at least once" {
		t.Errorf("one unhealthy: %v %q", done, p)
	}
	if done, p := AgentsHealthy(nil); done || p != "no agent pods" {
		t.Errorf("none: %v %q", done, p)
	}
}

// TestReadinessTimeoutMessage runs the readiness decision through the wait
// the installer uses, as WaitReady does, and checks what an operator reads
// when the agents never become healthy: the stage, the count, and each agent
// that was not healthy with its reason.
func TestReadinessTimeoutMessage(t *testing.T) {
	agents := []AgentHealth{
		{Agent: Agent{Pod: "cilium-aaaaa", Node: "kind-control-plane"}, Healthy: true, Reason: "Ok"},
		{Agent: Agent{Pod: "cilium-bbbbb", Node: "kind-worker"}, Reason: `status of agent cilium-bbbbb on kind-worker: exec "cilium-dbg status -o json" in pod kube-system/cilium-bbbbb (container cilium-agent): exit code 1: cilium: daemon unreachable`},
	}
	var log bytes.Buffer
	err := waitfor.Wait{What: "cilium agents healthy", Timeout: 20 * time.Millisecond, Interval: 5 * time.Millisecond, Log: &log}.Until(context.Background(),
		func(context.Context) (bool, string, error) {
			done, progress := AgentsHealthy(agents)
			return done, progress, nil
		})
	var te *waitfor.TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	for _, want := range []string{"waiting for cilium agents healthy: 1/2 healthy", "not healthy: cilium-bbbbb on kind-worker", "daemon unreachable"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("timeout error %q lacks %q", err, want)
		}
	}
	if !strings.HasPrefix(log.String(), "waiting for cilium agents healthy: 1/2 healthy; not healthy: cilium-bbbbb on kind-worker:") {
		t.Errorf("progress line = %q", log.String())
	}
}

func TestOperatorEnabled(t *testing.T) {
	if !OperatorEnabled(map[string]any{}) || !OperatorEnabled(map[string]any{"operator": map[string]any{"replicas": 1}}) {
		t.Error("operator is on by default")
	}
	if OperatorEnabled(map[string]any{"operator": map[string]any{"enabled": false}}) {
		t.Error("operator.enabled=false")
	}
}

func TestNotReadyPodInitializing(t *testing.T) {
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "cilium-eeeee"},
		Spec:       corev1.PodSpec{NodeName: "n1"},
		Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
			{Name: "config", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}},
			{Name: "mount-cgroup", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
		}},
	}
	if got := NotReadyPods([]corev1.Pod{p}); len(got) != 1 || got[0] != "cilium-eeeee on n1: init container mount-cgroup running" {
		t.Fatalf("NotReadyPods = %q", got)
	}
}
