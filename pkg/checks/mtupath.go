package checks

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/podexec"
	"github.com/tunedcilium/tunedcilium/pkg/probe"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// icmpIPv4Overhead is the IPv4 + ICMP header size a ping payload adds.
const icmpIPv4Overhead = 28

// PingResult is a don't-fragment ping of a given packet size.
type PingResult struct {
	From        string `json:"from"`
	To          string `json:"to"`
	PacketSize  int    `json:"packetSize"`
	Transmitted int    `json:"transmitted"`
	Received    int    `json:"received"`
	// Refused is set when the sender's stack refused the size ("message
	// too long": the path MTU known locally is smaller).
	Refused bool   `json:"refused"`
	Output  string `json:"output"`
}

// NodeMTUs is one node's device MTUs.
type NodeMTUs struct {
	Node          string         `json:"node"`
	CiliumHostMTU int            `json:"ciliumHostMTU"`
	PodSide       map[string]int `json:"podSideMTUs"`
	Err           string         `json:"error,omitempty"`
}

// JumboPathEvidence is what mtu.jumbo-path measured.
type JumboPathEvidence struct {
	Target int `json:"target"`
	// TunnelOverhead is what encapsulation takes from the pods' packets
	// (50 bytes for VXLAN/Geneve in tunnel mode, 0 with native routing):
	// the packet sent is Target minus it.
	TunnelOverhead int          `json:"tunnelOverhead"`
	Nodes          []NodeMTUs   `json:"nodes"`
	Ping           []PingResult `json:"ping"`
}

var pingStats = regexp.MustCompile(`(\d+) packets transmitted, (\d+) (?:packets )?received`)

// parsePing reads iputils ping's summary.
func parsePing(out string) (tx, rx int, refused bool) {
	if m := pingStats.FindStringSubmatch(out); m != nil {
		tx, _ = strconv.Atoi(m[1])
		rx, _ = strconv.Atoi(m[2])
	}
	l := strings.ToLower(out)
	refused = strings.Contains(l, "message too long") || strings.Contains(l, "frag needed") || strings.Contains(l, "local error")
	return tx, rx, refused
}

// DecideJumboPath: PASS when cilium_host and every pod-side device of every
// node carry the target MTU and a don't-fragment packet of the target size
// (less the tunnel overhead) crossed from a pod on one node to a pod on the
// other (and back).
func DecideJumboPath(e JumboPathEvidence) Decision {
	var bad, unread []string
	for _, n := range e.Nodes {
		if n.Err != "" {
			unread = append(unread, fmt.Sprintf("%s: %s", n.Node, firstLine(n.Err)))
			continue
		}
		if n.CiliumHostMTU < e.Target {
			bad = append(bad, fmt.Sprintf("%s cilium_host MTU %d", n.Node, n.CiliumHostMTU))
		}
		var small []string
		for dev, mtu := range n.PodSide {
			if mtu < e.Target {
				small = append(small, fmt.Sprintf("%s %d", dev, mtu))
			}
		}
		if len(small) > 0 {
			bad = append(bad, fmt.Sprintf("%s pod devices below %d: %s", n.Node, e.Target, strings.Join(small, ", ")))
		}
		if len(n.PodSide) == 0 {
			bad = append(bad, n.Node+": no pod-side (lxc*) device")
		}
	}
	if len(e.Nodes) == 0 {
		bad = append(bad, "no node measured")
	}
	for _, p := range e.Ping {
		switch {
		case p.Refused:
			bad = append(bad, fmt.Sprintf("a %d-byte don't-fragment packet from %s to %s was refused (message too long)", p.PacketSize, p.From, p.To))
		case p.Received == 0:
			bad = append(bad, fmt.Sprintf("a %d-byte don't-fragment packet from %s to %s got no reply (%d sent): %s", p.PacketSize, p.From, p.To, p.Transmitted, firstLine(p.Output)))
		}
	}
	if len(e.Ping) == 0 {
		bad = append(bad, "no ping made")
	}
	if len(unread) > 0 {
		return unmeasured("devices unreadable", unread)
	}
	if len(bad) > 0 {
		return fail("jumbo path not open: %s", strings.Join(bad, "; "))
	}
	p := e.Ping[0]
	return pass("cilium_host and pod devices at MTU >= %d on every node, and %d-byte don't-fragment packets crossed from %s to %s (%d/%d replies)",
		e.Target, p.PacketSize, p.From, p.To, p.Received, p.Transmitted)
}

// jumboPath uses iputils ping from the workload image (`ping -M do`): the
// kernel refuses to send a don't-fragment packet larger than the route MTU
// it knows ("message too long"), and a hop with a smaller MTU drops it, so
// a reply proves the whole path carried the size.
func jumboPath(ctx context.Context, env *Env, _ tuning.Check) outcome {
	if why := needWorkload(env); why != "" {
		return skipOutcome(nil, "%s", why)
	}
	ev := JumboPathEvidence{Target: JumboMTU, TunnelOverhead: tunnelOverhead(env)}
	for _, n := range env.Nodes {
		p, err := probeOf(n)
		if err != nil {
			return skipOutcome(nil, "%v", err)
		}
		nm := NodeMTUs{Node: n.Name, PodSide: map[string]int{}}
		devs, err := p.Devices(ctx)
		if err != nil {
			nm.Err = err.Error()
		}
		for _, d := range devs {
			if d.Name == "cilium_host" {
				nm.CiliumHostMTU = d.MTU
			}
		}
		for _, d := range probe.DevicesWithPrefix(devs, "lxc") {
			nm.PodSide[d.Name] = d.MTU
		}
		ev.Nodes = append(ev.Nodes, nm)
	}
	client, server, err := crossNodePair(env)
	if err != nil {
		return errorOutcome(nil, err)
	}
	size := ev.Target - ev.TunnelOverhead
	payload := size - icmpIPv4Overhead
	res, err := env.Workload.Run(ctx, client, "ping", "-M", "do", "-s", strconv.Itoa(payload), "-c", "3", "-i", "0.2", "-W", "2", server.IP.String())
	var exitErr *podexec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return errorOutcome(map[string]any{"jumbo": ev}, err)
	}
	out := strings.TrimSpace(string(res.Stdout) + "\n" + string(res.Stderr))
	tx, rx, refused := parsePing(out)
	ev.Ping = append(ev.Ping, PingResult{From: client.Name + " " + client.IP.String(), To: server.Name + " " + server.IP.String(),
		PacketSize: size, Transmitted: tx, Received: rx, Refused: refused, Output: lastLines(out, 4)})
	return outcome{Decision: DecideJumboPath(ev), Evidence: map[string]any{"jumbo": ev}}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// tunnelOverhead is the encapsulation overhead of the nodes' routing mode:
// Cilium's VXLAN and Geneve (without options) both take 50 bytes of IPv4.
func tunnelOverhead(env *Env) int {
	for _, n := range env.Nodes {
		if n.Status != nil && n.Status.InterHostRouting() == "Tunnel" {
			return 50
		}
	}
	return 0
}
