package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// PodCongestion is the TCP congestion control in one pod's namespace.
type PodCongestion struct {
	Pod       string `json:"pod"`
	Node      string `json:"node"`
	Algorithm string `json:"algorithm"`
	Err       string `json:"error,omitempty"`
}

// DecideBBR: PASS when the pods on every node use bbr.
func DecideBBR(pods []PodCongestion) Decision {
	if len(pods) == 0 {
		return fail("no pod measured")
	}
	var bad, good []string
	for _, p := range pods {
		switch {
		case p.Err != "":
			bad = append(bad, fmt.Sprintf("%s on %s: %s", p.Pod, p.Node, firstLine(p.Err)))
		case p.Algorithm != "bbr":
			bad = append(bad, fmt.Sprintf("%s on %s uses %s", p.Pod, p.Node, orNone(p.Algorithm)))
		default:
			good = append(good, fmt.Sprintf("%s on %s", p.Pod, p.Node))
		}
	}
	if len(bad) > 0 {
		return fail("net.ipv4.tcp_congestion_control is not bbr: %s", strings.Join(bad, "; "))
	}
	return pass("net.ipv4.tcp_congestion_control = bbr in %s", strings.Join(good, ", "))
}

// podCongestion reads net.ipv4.tcp_congestion_control inside the client pod
// of every node (the pod's own network namespace, by exec).
func podCongestion(ctx context.Context, env *Env, _ tuning.Check) outcome {
	if env.Workload == nil {
		return skipOutcome(nil, "no workload deployed: nothing runs in a pod namespace to read")
	}
	var pods []PodCongestion
	for _, n := range env.Nodes {
		pod, err := env.Workload.Client(n.Name)
		if err != nil {
			return errorOutcome(nil, err)
		}
		pc := PodCongestion{Pod: pod.Name, Node: n.Name}
		out, err := env.Workload.Exec(ctx, pod, "cat", "/proc/sys/net/ipv4/tcp_congestion_control")
		if err != nil {
			pc.Err = err.Error()
		}
		pc.Algorithm = strings.TrimSpace(string(out))
		pods = append(pods, pc)
	}
	return outcome{Decision: DecideBBR(pods), Evidence: map[string]any{"pods": pods}}
}
