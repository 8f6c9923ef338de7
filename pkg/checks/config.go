package checks

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// configBoolCheck reads a boolean of `cilium-dbg config -a -o json` on
// every agent; PASS only when every agent has it true.
func configBoolCheck(key string) checkFunc {
	return func(ctx context.Context, env *Env, _ tuning.Check) outcome {
		var values []NodeValue
		for _, n := range env.Nodes {
			c, err := env.agentConfig(ctx, n)
			if err != nil {
				values = append(values, NodeValue{Node: n.Name, Err: err.Error()})
				continue
			}
			v, ok := c.Bool(key)
			if !ok {
				values = append(values, NodeValue{Node: n.Name, Value: "absent", OK: false})
				continue
			}
			values = append(values, NodeValue{Node: n.Name, Value: fmt.Sprint(v), OK: v})
		}
		return outcome{Decision: decideEveryNode("config "+key, "= true", values), Evidence: map[string]any{"config." + key: values}}
	}
}

// MTUEvidence is one node's MTU as the agent detected it and as the node's
// network device carries it.
type MTUEvidence struct {
	Node string `json:"node"`
	// AgentDeviceMTU is the agent's detected device MTU (StateDB table
	// "mtu", the 0.0.0.0/0 row); AgentRouteMTU the MTU of its pod routes.
	AgentDeviceMTU int `json:"agentDeviceMTU"`
	AgentRouteMTU  int `json:"agentRouteMTU"`
	// NodeDevice and NodeDeviceMTU: the device carrying the node's IP.
	NodeDevice    string `json:"nodeDevice"`
	NodeDeviceMTU int    `json:"nodeDeviceMTU"`
	Err           string `json:"error,omitempty"`
}

// DecideDeviceMTU: PASS when every agent detected the jumbo MTU of its
// node's network. FAIL when it detected less (1500: not jumbo, or the
// auto-detection picked a smaller device, cilium#14339).
func DecideDeviceMTU(nodes []MTUEvidence, target int) Decision {
	if len(nodes) == 0 {
		return fail("no node measured")
	}
	var bad, good, unread []string
	for _, n := range nodes {
		switch {
		case n.Err != "":
			unread = append(unread, fmt.Sprintf("%s: %s", n.Node, firstLine(n.Err)))
		case n.AgentDeviceMTU < target:
			bad = append(bad, fmt.Sprintf("%s: the agent's device MTU is %d, not the jumbo %d (node device %s MTU %d)", n.Node, n.AgentDeviceMTU, target, n.NodeDevice, n.NodeDeviceMTU))
		case n.NodeDeviceMTU != 0 && n.AgentDeviceMTU != n.NodeDeviceMTU:
			bad = append(bad, fmt.Sprintf("%s: the agent's device MTU %d differs from node device %s MTU %d", n.Node, n.AgentDeviceMTU, n.NodeDevice, n.NodeDeviceMTU))
		default:
			good = append(good, fmt.Sprintf("%s=%d", n.Node, n.AgentDeviceMTU))
		}
	}
	if len(unread) > 0 {
		return unmeasured("device MTU unreadable", unread)
	}
	if len(bad) > 0 {
		return fail("%s", strings.Join(bad, "; "))
	}
	return pass("every agent detected device MTU >= %d, equal to its node's network device (%s)", target, strings.Join(good, ", "))
}

// routeMTURow is one row of the agent's StateDB "mtu" table.
type routeMTURow struct {
	Prefix    string
	DeviceMTU int
	RouteMTU  int
}

// parseMTUTable reads the "mtu" table out of `cilium-dbg statedb` (a dump
// of every StateDB table as one JSON object keyed by table name) and
// returns the default route's row (0.0.0.0/0), else the largest device MTU.
func parseMTUTable(dump []byte) (routeMTURow, error) {
	var tables map[string]json.RawMessage
	if err := json.Unmarshal(dump, &tables); err != nil {
		return routeMTURow{}, fmt.Errorf("decode statedb dump: %w", err)
	}
	raw, ok := tables["mtu"]
	if !ok {
		return routeMTURow{}, fmt.Errorf("statedb dump has no mtu table")
	}
	var rows []routeMTURow
	if err := json.Unmarshal(raw, &rows); err != nil {
		return routeMTURow{}, fmt.Errorf("decode statedb mtu table: %w", err)
	}
	if len(rows) == 0 {
		return routeMTURow{}, fmt.Errorf("statedb mtu table is empty")
	}
	best := rows[0]
	for _, r := range rows {
		if r.Prefix == "0.0.0.0/0" {
			return r, nil
		}
		if r.DeviceMTU > best.DeviceMTU {
			best = r
		}
	}
	return best, nil
}

// deviceMTU: `cilium-dbg config -a -o json` does not carry the detected MTU
// (the API's deviceMTU is outside the map it prints), so it is read from
// the agent's StateDB "mtu" table, the MTU the agent programs.
func deviceMTU(ctx context.Context, env *Env, _ tuning.Check) outcome {
	var nodes []MTUEvidence
	for _, n := range env.Nodes {
		ev := MTUEvidence{Node: n.Name}
		out, err := env.agentExec(ctx, n, "cilium-dbg", "statedb")
		if err == nil {
			var row routeMTURow
			row, err = parseMTUTable(out)
			ev.AgentDeviceMTU, ev.AgentRouteMTU = row.DeviceMTU, row.RouteMTU
		}
		if err != nil {
			ev.Err = err.Error()
		}
		if n.Probe != nil {
			if dev, derr := nodeDevice(ctx, env, n); derr == nil {
				ev.NodeDevice, ev.NodeDeviceMTU = dev.Name, dev.MTU
			}
		}
		nodes = append(nodes, ev)
	}
	return outcome{Decision: DecideDeviceMTU(nodes, JumboMTU), Evidence: map[string]any{"mtu": nodes, "target": JumboMTU}}
}

// nodeAddr parses a node's internal IP.
func nodeAddr(n *Node) (netip.Addr, error) {
	a, err := netip.ParseAddr(n.InternalIP)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("node %s internal IP %q: %w", n.Name, n.InternalIP, err)
	}
	return a, nil
}
