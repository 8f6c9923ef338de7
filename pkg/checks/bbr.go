package checks

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/vishvananda/netns"

	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// PodCongestion is the TCP congestion control in one pod's namespace.
type PodCongestion struct {
	Pod       string `json:"pod"`
	Node      string `json:"node"`
	Algorithm string `json:"algorithm"`
	Err       string `json:"error,omitempty"`
}

// InheritedCongestion is what a new network namespace starts with: the
// kernel copies net.ipv4.tcp_congestion_control from the initial namespace.
type InheritedCongestion struct {
	// From names that namespace: "this machine's initial namespace" for
	// nodes that are local containers, "the node's namespace" otherwise.
	From      string `json:"from"`
	Algorithm string `json:"algorithm"`
	// SetByCilium: the namespace is the node's own, where Cilium's
	// Bandwidth Manager writes the setting (so it is not a reference for
	// "without Cilium").
	SetByCilium bool `json:"setByCilium"`
}

// DecideBBR: PASS when the pods on every node use bbr. When the namespace
// pods inherit from runs bbr by itself (not set by Cilium: kind nodes
// inherit from this machine's initial namespace), pods use bbr with or
// without Cilium's BBR: SKIP, the evidence cannot tell them apart here.
func DecideBBR(pods []PodCongestion, inherited InheritedCongestion) Decision {
	if len(pods) == 0 {
		return fail("no pod measured")
	}
	var bad, good, unread []string
	for _, p := range pods {
		switch {
		case p.Err != "":
			unread = append(unread, fmt.Sprintf("%s on %s: %s", p.Pod, p.Node, firstLine(p.Err)))
		case p.Algorithm != "bbr":
			bad = append(bad, fmt.Sprintf("%s on %s uses %s", p.Pod, p.Node, orNone(p.Algorithm)))
		default:
			good = append(good, fmt.Sprintf("%s on %s", p.Pod, p.Node))
		}
	}
	if len(unread) > 0 {
		return unmeasured("congestion control unreadable", unread)
	}
	if len(bad) > 0 {
		return fail("net.ipv4.tcp_congestion_control is not bbr: %s", strings.Join(bad, "; "))
	}
	if inherited.Algorithm == "bbr" && !inherited.SetByCilium {
		return skip("pods use bbr, but new namespaces inherit bbr from %s (net.ipv4.tcp_congestion_control=bbr there, not set by Cilium): pods would use bbr without Cilium's BBR, so this machine cannot tell them apart", inherited.From)
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
	inh := inheritedCongestion(ctx, env)
	return outcome{Decision: DecideBBR(pods, inh), Evidence: map[string]any{"pods": pods, "inherited": inh}}
}

// inheritedCongestion reads what new pod namespaces start with. For nodes
// that are local containers, pods' namespaces are created on this machine's
// kernel, which copies the setting from its initial namespace: a fresh
// namespace made here shows exactly that. Otherwise the reference is the
// node's own namespace, which Cilium's Bandwidth Manager writes.
func inheritedCongestion(ctx context.Context, env *Env) InheritedCongestion {
	local := len(env.Nodes) > 0
	for _, n := range env.Nodes {
		local = local && n.Container != ""
	}
	if local {
		cc, err := freshNamespaceCongestion()
		if err != nil {
			return InheritedCongestion{From: "a new network namespace on this machine (unreadable: " + err.Error() + ")"}
		}
		return InheritedCongestion{From: "this machine's initial network namespace (read in a fresh namespace)", Algorithm: cc}
	}
	for _, n := range env.Nodes {
		if n.Probe == nil {
			continue
		}
		if cc, err := n.Probe.CongestionControl(ctx); err == nil {
			return InheritedCongestion{From: "node " + n.Name + "'s namespace", Algorithm: cc.Default, SetByCilium: true}
		}
	}
	return InheritedCongestion{From: "unknown"}
}

// freshNamespaceCongestion creates a network namespace on a locked thread,
// reads net.ipv4.tcp_congestion_control there (what every new namespace,
// pods' included, starts with) and switches back. If switching back fails
// the thread stays locked and Go discards it with the goroutine.
func freshNamespaceCongestion() (string, error) {
	type result struct {
		cc  string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("current namespace: %w", err)}
			return
		}
		defer orig.Close()
		fresh, err := netns.New()
		if err != nil {
			if netns.Set(orig) == nil {
				runtime.UnlockOSThread()
			}
			ch <- result{err: fmt.Errorf("new namespace: %w", err)}
			return
		}
		b, rerr := os.ReadFile("/proc/sys/net/ipv4/tcp_congestion_control")
		fresh.Close()
		if err := netns.Set(orig); err != nil {
			ch <- result{err: fmt.Errorf("switch back: %w", err)}
			return // the thread stays locked: Go discards it
		}
		runtime.UnlockOSThread()
		if rerr != nil {
			ch <- result{err: rerr}
			return
		}
		ch <- result{cc: strings.TrimSpace(string(b))}
	}()
	r := <-ch
	return r.cc, r.err
}
