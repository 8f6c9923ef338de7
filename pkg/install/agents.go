package install

import (
	"bytes"
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tunedcilium/tunedcilium/pkg/ciliumstatus"
	"github.com/tunedcilium/tunedcilium/pkg/podexec"
)

// Agent is one cilium-agent pod.
type Agent struct {
	Namespace string
	Pod       string
	Node      string
}

func (a Agent) target() podexec.Target {
	return podexec.Target{Namespace: a.Namespace, Pod: a.Pod, Container: agentContainer}
}

// Agents lists the agent pods (running or not), sorted by node.
func (c *Cilium) Agents(ctx context.Context) ([]Agent, error) {
	pods, err := c.client.CoreV1().Pods(c.namespace()).List(ctx, metav1.ListOptions{LabelSelector: agentSelector})
	if err != nil {
		return nil, fmt.Errorf("list cilium agent pods on %s: %w", c.config.Host, err)
	}
	out := make([]Agent, 0, len(pods.Items))
	for _, p := range pods.Items {
		out = append(out, Agent{Namespace: p.Namespace, Pod: p.Name, Node: p.Spec.NodeName})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node+"/"+out[i].Pod < out[j].Node+"/"+out[j].Pod })
	return out, nil
}

// AgentOn returns the agent pod on a node.
func (c *Cilium) AgentOn(ctx context.Context, node string) (Agent, error) {
	agents, err := c.Agents(ctx)
	if err != nil {
		return Agent{}, err
	}
	for _, a := range agents {
		if a.Node == node {
			return a, nil
		}
	}
	return Agent{}, fmt.Errorf("no cilium agent pod on node %s (%d agents on %s)", node, len(agents), c.config.Host)
}

// AgentStatus runs `cilium-dbg status -o json` in the agent and decodes it.
func (c *Cilium) AgentStatus(ctx context.Context, a Agent) (*ciliumstatus.Status, error) {
	res, err := c.exec.Run(ctx, a.target(), []string{"cilium-dbg", "status", "-o", "json"}, nil)
	if err != nil {
		return nil, fmt.Errorf("status of agent %s on %s: %w", a.Pod, a.Node, err)
	}
	st, err := ciliumstatus.Decode(res.Stdout)
	if err != nil {
		return nil, fmt.Errorf("status of agent %s on %s: %w (stderr: %s)", a.Pod, a.Node, err, firstLine(string(res.Stderr)))
	}
	return st, nil
}

// AgentLog returns the agent container's log since it started.
func (c *Cilium) AgentLog(ctx context.Context, a Agent) ([]byte, error) {
	data, err := c.client.CoreV1().Pods(a.Namespace).GetLogs(a.Pod, &corev1.PodLogOptions{Container: agentContainer}).DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("log of agent %s on %s: %w", a.Pod, a.Node, err)
	}
	return data, nil
}

// AgentFallbacks returns the fallback lines of the agent's log.
func (c *Cilium) AgentFallbacks(ctx context.Context, a Agent) ([]ciliumstatus.Fallback, error) {
	data, err := c.AgentLog(ctx, a)
	if err != nil {
		return nil, err
	}
	return ciliumstatus.ScanFallbacks(bytes.NewReader(data))
}

// Statuses reads every agent's decoded status, keyed by node.
func (c *Cilium) Statuses(ctx context.Context) (map[string]*ciliumstatus.Status, error) {
	agents, err := c.Agents(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*ciliumstatus.Status, len(agents))
	for _, a := range agents {
		st, err := c.AgentStatus(ctx, a)
		if err != nil {
			return nil, err
		}
		out[a.Node] = st
	}
	return out, nil
}

// Fallbacks reads every agent's fallback log lines, keyed by node.
func (c *Cilium) Fallbacks(ctx context.Context) (map[string][]ciliumstatus.Fallback, error) {
	agents, err := c.Agents(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]ciliumstatus.Fallback, len(agents))
	for _, a := range agents {
		f, err := c.AgentFallbacks(ctx, a)
		if err != nil {
			return nil, err
		}
		out[a.Node] = f
	}
	return out, nil
}
