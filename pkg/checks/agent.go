package checks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/podexec"
)

// agentContainer is the agent's container in Cilium's DaemonSet.
const agentContainer = "cilium-agent"

// agentExec runs argv in the node's agent container and returns stdout.
func (e *Env) agentExec(ctx context.Context, n *Node, argv ...string) ([]byte, error) {
	if n.Agent.Pod == "" {
		return nil, fmt.Errorf("node %s: %w", n.Name, n.StatusErr)
	}
	t := podexec.Target{Namespace: n.Agent.Namespace, Pod: n.Agent.Pod, Container: agentContainer}
	out, err := e.Exec.Output(ctx, t, argv...)
	if err != nil {
		return out, fmt.Errorf("agent %s on %s: %w", n.Agent.Pod, n.Name, err)
	}
	return out, nil
}

// AgentConfig is what `cilium-dbg config -a -o json` prints: the agent's
// DaemonConfig (Go field names) merged with its realized mutable options.
type AgentConfig map[string]any

// decodeAgentConfig decodes `cilium-dbg config -a -o json`.
func decodeAgentConfig(data []byte) (AgentConfig, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		line, _, _ := bytes.Cut(data, []byte("\n"))
		return nil, fmt.Errorf("decode agent config: not a JSON object: %q", string(line))
	}
	var c AgentConfig
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("decode agent config: %w", err)
	}
	return c, nil
}

// Bool reads a boolean field; ok is false when absent or not a boolean.
func (c AgentConfig) Bool(key string) (value, ok bool) {
	switch v := c[key].(type) {
	case bool:
		return v, true
	case string:
		b, err := strconv.ParseBool(v)
		return b, err == nil
	}
	return false, false
}

// Number reads a numeric field.
func (c AgentConfig) Number(key string) (float64, bool) {
	switch v := c[key].(type) {
	case float64:
		return v, true
	case string:
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil
	}
	return 0, false
}

// agentConfig reads one agent's config.
func (e *Env) agentConfig(ctx context.Context, n *Node) (AgentConfig, error) {
	out, err := e.agentExec(ctx, n, "cilium-dbg", "config", "-a", "-o", "json")
	if err != nil {
		return nil, err
	}
	c, err := decodeAgentConfig(out)
	if err != nil {
		return nil, fmt.Errorf("agent %s on %s: %w", n.Agent.Pod, n.Name, err)
	}
	return c, nil
}

// errNoAgent is returned for a node whose agent status could not be read.
var errNoAgent = errors.New("agent status unreadable")

// statusOf returns the node's decoded status or why it has none.
func statusErr(n *Node) error {
	if n.Status != nil {
		return nil
	}
	if n.StatusErr != nil {
		return fmt.Errorf("node %s: %w", n.Name, n.StatusErr)
	}
	return fmt.Errorf("node %s: %w", n.Name, errNoAgent)
}

// firstLine trims s to its first line, for reasons.
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	line, _, _ := strings.Cut(s, "\n")
	if len(line) > 200 {
		line = line[:200] + "..."
	}
	return line
}
