package install

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// AgentRestarts is one agent pod's restart count, as the settle check
// compares it before and after.
type AgentRestarts struct {
	Pod  string
	Node string
	// Restarts is the sum over the pod's containers (init containers too).
	Restarts int32
	// LastTermination says how a container of the pod last ended, when one
	// did: "cilium-agent: Error, exit code 1: <its last log line>".
	LastTermination string
}

// RestartsOf reads the restart counts of agent pods.
func RestartsOf(pods []corev1.Pod) []AgentRestarts {
	out := make([]AgentRestarts, 0, len(pods))
	for _, p := range pods {
		r := AgentRestarts{Pod: p.Name, Node: p.Spec.NodeName}
		for _, group := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
			for _, cs := range group {
				r.Restarts += cs.RestartCount
				if t := cs.LastTerminationState.Terminated; t != nil && r.LastTermination == "" {
					r.LastTermination = fmt.Sprintf("%s: %s, exit code %d", cs.Name, t.Reason, t.ExitCode)
					if line := lastLogLine(t.Message); line != "" {
						r.LastTermination += ": " + line
					}
				}
			}
		}
		out = append(out, r)
	}
	return out
}

// Settled decides whether the agents stayed up while they were watched:
// the same pods before and after, none restarted in between, every agent
// healthy at the end. Otherwise it names each agent that did not, with how
// its container last ended.
func Settled(before, after []AgentRestarts, health []AgentHealth) (bool, string) {
	was := map[string]AgentRestarts{}
	for _, b := range before {
		was[b.Pod] = b
	}
	var bad []string
	for _, a := range after {
		b, ok := was[a.Pod]
		delete(was, a.Pod)
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("%s on %s: a new pod", a.Pod, a.Node))
		case a.Restarts > b.Restarts:
			s := fmt.Sprintf("%s on %s: restarted %d time(s) (%d restarts in all)", a.Pod, a.Node, a.Restarts-b.Restarts, a.Restarts)
			if a.LastTermination != "" {
				s += "; last termination: " + a.LastTermination
			}
			bad = append(bad, s)
		}
	}
	for _, b := range was {
		bad = append(bad, fmt.Sprintf("%s on %s: gone", b.Pod, b.Node))
	}
	sort.Strings(bad)
	if healthy, progress := AgentsHealthy(health); !healthy {
		bad = append(bad, progress)
	}
	return len(bad) == 0, strings.Join(bad, "; ")
}

// timeAndSource are the fields of an agent log line that say nothing of
// why it stopped.
var timeAndSource = regexp.MustCompile(`\b(time|source)=\S+ ?`)

// lastLogLine is the last line of a termination message (the agent's last
// log lines, terminationMessagePolicy FallbackToLogsOnError), without its
// time and source, cut at 240 characters.
func lastLogLine(message string) string {
	lines := strings.Split(strings.TrimSpace(message), "\n")
	line := strings.TrimSpace(lines[len(lines)-1])
	line = timeAndSource.ReplaceAllString(line, "")
	if len(line) > 240 {
		line = line[:240] + "..."
	}
	return line
}
