package install

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// agentPod is an agent pod whose cilium-agent container restarted restarts
// times, the last time with the termination message given ("" for none).
func agentPod(name, node string, restarts int32, message string) corev1.Pod {
	cs := corev1.ContainerStatus{Name: "cilium-agent", RestartCount: restarts,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	if restarts > 0 {
		cs.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 255, Message: message}
	}
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{
			InitContainerStatuses: []corev1.ContainerStatus{{Name: "mount-cgroup", RestartCount: 0}},
			ContainerStatuses:     []corev1.ContainerStatus{cs},
		},
	}
}

// fatal is the agent's last log line when it gives up (logging.Fatal in
// daemon/cmd/root.go, exit code 255), as the kubelet keeps it under
// terminationMessagePolicy FallbackToLogsOnError.
const fatal = `time=2026-11-24T10:00:08Z level=info source=/go/src/github.com/cilium/cilium/pkg/hive/hive.go:1 msg="Stopping"
time=2026-11-24T10:00:09Z level=fatal source=/go/src/github.com/cilium/cilium/daemon/cmd/root.go:51 msg="unable to run agent: BIG TCP is not supported with legacy host routing" subsys=daemon
`

func TestRestartsOf(t *testing.T) {
	got := RestartsOf([]corev1.Pod{agentPod("cilium-aaaaa", "n1", 0, ""), agentPod("cilium-bbbbb", "n2", 3, fatal)})
	if len(got) != 2 || got[0].Restarts != 0 || got[0].LastTermination != "" || got[1].Restarts != 3 {
		t.Fatalf("RestartsOf = %+v", got)
	}
	want := `cilium-agent: Error, exit code 255: level=fatal msg="unable to run agent: BIG TCP is not supported with legacy host routing" subsys=daemon`
	if got[1].LastTermination != want {
		t.Errorf("last termination = %q\nwant %q", got[1].LastTermination, want)
	}
}

func TestSettled(t *testing.T) {
	healthy := []AgentHealth{
		{Agent: Agent{Pod: "cilium-aaaaa", Node: "n1"}, Healthy: true, Reason: "Ok"},
		{Agent: Agent{Pod: "cilium-bbbbb", Node: "n2"}, Healthy: true, Reason: "Ok"},
	}
	// An agent that restarted once on its first start (before it was
	// healthy) and then stayed up is settled: only growth counts.
	before := RestartsOf([]corev1.Pod{agentPod("cilium-aaaaa", "n1", 0, ""), agentPod("cilium-bbbbb", "n2", 1, fatal)})
	cases := []struct {
		name   string
		after  []corev1.Pod
		health []AgentHealth
		ok     bool
		why    []string
	}{
		{"stayed up", []corev1.Pod{agentPod("cilium-aaaaa", "n1", 0, ""), agentPod("cilium-bbbbb", "n2", 1, fatal)}, healthy, true, nil},
		{"crash loop, healthy again by the end", []corev1.Pod{agentPod("cilium-aaaaa", "n1", 0, ""), agentPod("cilium-bbbbb", "n2", 3, fatal)}, healthy, false,
			[]string{"cilium-bbbbb on n2: restarted 2 time(s) (3 restarts in all); last termination: cilium-agent: Error, exit code 255: level=fatal msg=\"unable to run agent: BIG TCP"}},
		{"unhealthy at the end", []corev1.Pod{agentPod("cilium-aaaaa", "n1", 0, ""), agentPod("cilium-bbbbb", "n2", 1, fatal)},
			[]AgentHealth{healthy[0], {Agent: healthy[1].Agent, Reason: "cilium: daemon unreachable"}}, false,
			[]string{"1/2 healthy; not healthy: cilium-bbbbb on n2: cilium: daemon unreachable"}},
		{"pod replaced", []corev1.Pod{agentPod("cilium-aaaaa", "n1", 0, ""), agentPod("cilium-ccccc", "n2", 0, "")}, healthy, false,
			[]string{"cilium-bbbbb on n2: gone", "cilium-ccccc on n2: a new pod"}},
	}
	for _, c := range cases {
		ok, why := Settled(before, RestartsOf(c.after), c.health)
		if ok != c.ok {
			t.Errorf("%s: settled = %v (%s), want %v", c.name, ok, why, c.ok)
		}
		for _, w := range c.why {
			if !strings.Contains(why, w) {
				t.Errorf("%s: reason %q lacks %q", c.name, why, w)
			}
		}
		if c.ok && why != "" {
			t.Errorf("%s: settled with a reason %q", c.name, why)
		}
	}
}

func TestLastLogLine(t *testing.T) {
	long := "level=fatal msg=\"" + strings.Repeat("x", 300) + "\""
	for in, want := range map[string]string{
		"":                                   "",
		"plain last words\n\n":               "plain last words",
		long:                                 long[:240] + "...",
		"a\ntime=T level=warn msg=\"m\" k=v": `level=warn msg="m" k=v`,
	} {
		if got := lastLogLine(in); got != want {
			t.Errorf("lastLogLine(%q) = %q, want %q", in, got, want)
		}
	}
}
