package checks

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/probe"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
	"github.com/tunedcilium/tunedcilium/pkg/workload"
)

// kubeProxyChains are the nat chains kube-proxy's iptables mode fills.
var kubeProxyChains = []string{"KUBE-SERVICES", "KUBE-NODEPORTS"}

// KubeProxyRules is what one node's nat table holds of kube-proxy.
type KubeProxyRules struct {
	Node string `json:"node"`
	// Rules counts the rules in, or jumping to, each kube-proxy chain.
	Rules map[string]int `json:"rules"`
	// ForService are kube-proxy rules that name the service's ClusterIP.
	ForService []string `json:"forService,omitempty"`
	// CiliumLists: Cilium's service table (cilium-dbg bpf lb list) on the
	// node lists the ClusterIP frontend.
	CiliumLists bool   `json:"ciliumLists"`
	Err         string `json:"error,omitempty"`
}

// KPREvidence is what kpr.services-without-iptables measured.
type KPREvidence struct {
	ClusterIP     netip.AddrPort   `json:"clusterIP"`
	ClusterIPFrom string           `json:"clusterIPFrom"`
	ClusterIPSeen string           `json:"clusterIPSeen,omitempty"`
	ClusterIPErr  string           `json:"clusterIPError,omitempty"`
	NodePort      netip.AddrPort   `json:"nodePort"`
	NodePortFrom  string           `json:"nodePortFrom"`
	NodePortSeen  string           `json:"nodePortSeen,omitempty"`
	NodePortErr   string           `json:"nodePortError,omitempty"`
	Nodes         []KubeProxyRules `json:"nodes"`
}

// kubeProxyRulesOn counts kube-proxy's rules in a node's rules.
func kubeProxyRulesOn(node string, rules []probe.Rule, clusterIP netip.Addr) KubeProxyRules {
	k := KubeProxyRules{Node: node, Rules: map[string]int{}}
	for _, r := range rules {
		if r.Table != "nat" {
			continue
		}
		for _, c := range kubeProxyChains {
			if r.Chain == c || r.Target == c {
				k.Rules[c]++
			}
		}
		if strings.HasPrefix(r.Chain, "KUBE-") && r.Destination.IsValid() && r.Destination.Contains(clusterIP) && r.Destination.Bits() == clusterIP.BitLen() {
			k.ForService = append(k.ForService, r.Chain+" "+r.Spec)
		}
	}
	return k
}

// DecideKPR: PASS when the ClusterIP and the NodePort service answered,
// no node's nat table holds kube-proxy's chains, and Cilium's service table
// lists the ClusterIP on every node. With kube-proxy, its rules are the
// reason for FAIL.
func DecideKPR(ev KPREvidence) Decision {
	var kube, other, unread []string
	for _, n := range ev.Nodes {
		if n.Err != "" {
			unread = append(unread, fmt.Sprintf("%s: %s", n.Node, firstLine(n.Err)))
			continue
		}
		total := 0
		var parts []string
		for _, c := range kubeProxyChains {
			if n.Rules[c] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n.Rules[c], c))
				total += n.Rules[c]
			}
		}
		if total > 0 {
			s := fmt.Sprintf("%s nat table holds kube-proxy rules (%s", n.Node, strings.Join(parts, ", "))
			if len(n.ForService) > 0 {
				s += fmt.Sprintf("; %d for the service's ClusterIP %s", len(n.ForService), ev.ClusterIP.Addr())
			}
			kube = append(kube, s+")")
		}
		if !n.CiliumLists {
			other = append(other, fmt.Sprintf("%s: Cilium's service table does not list %s", n.Node, ev.ClusterIP))
		}
	}
	if ev.ClusterIPErr != "" {
		other = append(other, fmt.Sprintf("ClusterIP %s did not answer from %s: %s", ev.ClusterIP, ev.ClusterIPFrom, firstLine(ev.ClusterIPErr)))
	}
	if ev.NodePortErr != "" {
		other = append(other, fmt.Sprintf("NodePort %s did not answer from %s: %s", ev.NodePort, ev.NodePortFrom, firstLine(ev.NodePortErr)))
	}
	if len(ev.Nodes) == 0 {
		unread = append(unread, "no node's rules read")
	}
	if len(unread) > 0 {
		return unmeasured("nat rules unreadable", unread)
	}
	if len(kube) > 0 {
		return fail("kube-proxy serves the services: %s", strings.Join(append(kube, other...), "; "))
	}
	if len(other) > 0 {
		return fail("%s", strings.Join(other, "; "))
	}
	return pass("ClusterIP %s answered from %s and NodePort %s from %s with no KUBE-SERVICES/KUBE-NODEPORTS rule on any node; Cilium's service table lists the ClusterIP on all %d nodes",
		ev.ClusterIP, ev.ClusterIPFrom, ev.NodePort, ev.NodePortFrom, len(ev.Nodes))
}

func servicesWithoutIPTables(ctx context.Context, env *Env, _ tuning.Check) outcome {
	if why := needWorkload(env); why != "" {
		return skipOutcome(nil, "%s", why)
	}
	w := env.Workload
	echo, err := w.Service(workload.EchoServiceName)
	if err != nil {
		return errorOutcome(nil, err)
	}
	np, err := w.Service(workload.NodePortServiceName)
	if err != nil {
		return errorOutcome(nil, err)
	}
	nodeA, err := env.Node(w.NodeA())
	if err != nil {
		return errorOutcome(nil, err)
	}
	ipA, err := nodeAddr(nodeA)
	if err != nil {
		return errorOutcome(nil, err)
	}
	client, err := w.Client(w.NodeA())
	if err != nil {
		return errorOutcome(nil, err)
	}
	ev := KPREvidence{
		ClusterIP:     netip.AddrPortFrom(echo.ClusterIP, uint16(echo.Port)),
		ClusterIPFrom: "pod " + client.Name + " on " + client.Node,
		NodePort:      netip.AddrPortFrom(ipA, uint16(np.NodePort)),
	}
	if obs, err := askFromPod(ctx, env, client, ev.ClusterIP, 1); err != nil {
		ev.ClusterIPErr = err.Error()
	} else {
		ev.ClusterIPSeen = obs[0].Seen.String()
	}
	var npObs error
	if ext := w.External(); ext != nil {
		ev.NodePortFrom = "external container " + ext.Name
		obs, err := askFromExternal(ctx, ext, ev.NodePort, 1)
		if err == nil {
			ev.NodePortSeen = obs[0].Seen.String()
		}
		npObs = err
	} else {
		ev.NodePortFrom = "pod " + client.Name + " (" + w.ExternalSkip + ")"
		obs, err := askFromPod(ctx, env, client, ev.NodePort, 1)
		if err == nil {
			ev.NodePortSeen = obs[0].Seen.String()
		}
		npObs = err
	}
	if npObs != nil {
		ev.NodePortErr = npObs.Error()
	}
	for _, n := range env.Nodes {
		p, err := probeOf(n)
		if err != nil {
			return skipOutcome(map[string]any{"kpr": ev}, "%v", err)
		}
		t, err := p.IPTables(ctx)
		if err != nil {
			ev.Nodes = append(ev.Nodes, KubeProxyRules{Node: n.Name, Err: err.Error()})
			continue
		}
		k := kubeProxyRulesOn(n.Name, t.Rules, echo.ClusterIP)
		out, err := env.agentExec(ctx, n, "cilium-dbg", "bpf", "lb", "list")
		if err != nil {
			k.Err = "cilium service table: " + err.Error()
		}
		k.CiliumLists = strings.Contains(string(out), ev.ClusterIP.String())
		ev.Nodes = append(ev.Nodes, k)
	}
	return outcome{Decision: DecideKPR(ev), Evidence: map[string]any{"kpr": ev}}
}
