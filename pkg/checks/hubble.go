package checks

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tunedcilium/tunedcilium/pkg/install"
	"github.com/tunedcilium/tunedcilium/pkg/podexec"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// HubbleSocket is where the agent serves Hubble's observer locally.
const HubbleSocket = "/var/run/cilium/hubble.sock"

// HubbleEvidence is what one node shows of Hubble.
type HubbleEvidence struct {
	Node string `json:"node"`
	// Socket: the Hubble socket exists in the agent's run directory.
	Socket bool `json:"socket"`
	// ListenPort and Listening: a TCP listener on Hubble's port in the
	// node's namespace (the agent runs in the host network).
	ListenPort int    `json:"listenPort"`
	Listening  bool   `json:"listening"`
	Err        string `json:"error,omitempty"`
}

// DecideHubbleOff: PASS when the agent config has Hubble off and no node has
// the Hubble socket or a listener on its port.
func DecideHubbleOff(enableHubble string, nodes []HubbleEvidence) Decision {
	if len(nodes) == 0 {
		return fail("no node measured")
	}
	var bad, unread []string
	if v, err := strconv.ParseBool(enableHubble); err == nil && v {
		bad = append(bad, "cilium-config has enable-hubble=true")
	}
	for _, n := range nodes {
		switch {
		case n.Err != "":
			unread = append(unread, fmt.Sprintf("%s: %s", n.Node, firstLine(n.Err)))
		case n.Socket && n.Listening:
			bad = append(bad, fmt.Sprintf("%s: %s exists and port %d listens", n.Node, HubbleSocket, n.ListenPort))
		case n.Socket:
			bad = append(bad, fmt.Sprintf("%s: %s exists", n.Node, HubbleSocket))
		case n.Listening:
			bad = append(bad, fmt.Sprintf("%s: port %d listens", n.Node, n.ListenPort))
		}
	}
	if len(unread) > 0 {
		return unmeasured("node state unreadable", unread)
	}
	if len(bad) > 0 {
		return fail("Hubble observer present: %s", strings.Join(bad, "; "))
	}
	cfg := "enable-hubble=" + enableHubble
	if enableHubble == "" {
		cfg = "enable-hubble unset (off by default)"
	}
	return pass("%s, and no node has %s or a listener on port %d", cfg, HubbleSocket, nodes[0].ListenPort)
}

// tcpListening reports whether /proc/net/tcp{,6} content shows a listener
// on port (state 0A is TCP_LISTEN).
func tcpListening(procNetTCP []byte, port int) bool {
	want := fmt.Sprintf(":%04X", port)
	sc := bufio.NewScanner(bytes.NewReader(procNetTCP))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[0] == "sl" {
			continue
		}
		if strings.HasSuffix(f[1], want) && f[3] == "0A" {
			return true
		}
	}
	return false
}

func hubbleNoObserver(ctx context.Context, env *Env, _ tuning.Check) outcome {
	ns := env.Cilium.Namespace
	if ns == "" {
		ns = install.DefaultNamespace
	}
	cm, err := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "cilium-config", metav1.GetOptions{})
	if err != nil {
		return errorOutcome(nil, fmt.Errorf("read %s/cilium-config: %w", ns, err))
	}
	enable := cm.Data["enable-hubble"]
	port := 4244
	if addr := cm.Data["hubble-listen-address"]; addr != "" {
		if _, p, err := net.SplitHostPort(addr); err == nil {
			if n, err := strconv.Atoi(p); err == nil {
				port = n
			}
		}
	}
	var nodes []HubbleEvidence
	for _, n := range env.Nodes {
		ev := HubbleEvidence{Node: n.Name, ListenPort: port}
		_, err := env.agentExec(ctx, n, "test", "-S", HubbleSocket)
		var exitErr *podexec.ExitError
		switch {
		case err == nil:
			ev.Socket = true
		case errors.As(err, &exitErr) && exitErr.Code == 1:
			ev.Socket = false
		default:
			ev.Err = err.Error()
		}
		p, perr := probeOf(n)
		if perr != nil {
			return skipOutcome(nil, "%v", perr)
		}
		out, err := p.Runner().Run(ctx, []string{"cat", "/proc/net/tcp"})
		if err != nil {
			ev.Err = strings.TrimSpace(ev.Err + " read listeners: " + err.Error())
		} else {
			// tcp6 is absent when IPv6 is off in the node.
			if out6, err := p.Runner().Run(ctx, []string{"cat", "/proc/net/tcp6"}); err == nil {
				out = append(out, out6...)
			}
			ev.Listening = tcpListening(out, port)
		}
		nodes = append(nodes, ev)
	}
	return outcome{Decision: DecideHubbleOff(enable, nodes), Evidence: map[string]any{
		"cilium-config.enable-hubble": enable, "hubble": nodes}}
}
