package checks

import (
	"context"
	"sync"
	"time"

	"github.com/tunedcilium/tunedcilium/pkg/ciliumstatus"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// fallbackOptions maps a catalog key to the option names ciliumstatus gives
// fallback lines (it names some by the agent flag's topic: "xdp",
// "big-tcp", "install-no-conntrack-iptables-rules").
func fallbackOptions(k tuning.Key) []string {
	switch k {
	case tuning.XDPAcceleration:
		return []string{"xdp", string(k)}
	case tuning.IPv4BIGTCP, tuning.IPv6BIGTCP:
		return []string{"big-tcp", string(k)}
	case tuning.BypassConntrack:
		return []string{"install-no-conntrack-iptables-rules", string(k)}
	case tuning.BBR:
		return []string{"bandwidth-manager", string(k)}
	}
	return []string{string(k)}
}

// fallbackCache keeps the agents' fallback lines for a short while: they
// are written at agent start, and every check would read the logs again.
type fallbackCache struct {
	mu   sync.Mutex
	at   time.Time
	byNd map[string][]ciliumstatus.Fallback
}

const fallbackCacheTTL = 30 * time.Second

// fallbacks returns the fallback lines of every agent concerning an option,
// each prefixed with its node.
func (e *Env) fallbacks(ctx context.Context, k tuning.Key) []string {
	if k == "" {
		return nil
	}
	e.fb.mu.Lock()
	defer e.fb.mu.Unlock()
	if e.fb.byNd == nil || time.Since(e.fb.at) > fallbackCacheTTL {
		e.fb.byNd = map[string][]ciliumstatus.Fallback{}
		for _, n := range e.Nodes {
			if n.Agent.Pod == "" {
				continue
			}
			fb, err := e.Cilium.AgentFallbacks(ctx, n.Agent)
			if err != nil {
				e.fb.byNd[n.Name] = []ciliumstatus.Fallback{{Line: "could not read the agent log: " + err.Error()}}
				continue
			}
			e.fb.byNd[n.Name] = fb
		}
		e.fb.at = time.Now()
	}
	var out []string
	for _, n := range e.Nodes {
		for _, name := range fallbackOptions(k) {
			for _, f := range ciliumstatus.ForOption(e.fb.byNd[n.Name], name) {
				out = append(out, n.Name+": "+f.String())
			}
		}
	}
	return out
}
