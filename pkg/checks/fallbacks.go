package checks

import (
	"context"
	"sync"
	"time"

	"github.com/tunedcilium/tunedcilium/pkg/ciliumstatus"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// fallbackCache keeps the agents' fallback lines for a short while: they
// are written at agent start, and every check would read the logs again.
type fallbackCache struct {
	mu   sync.Mutex
	at   time.Time
	byNd map[string][]ciliumstatus.Fallback
}

const fallbackCacheTTL = 30 * time.Second

// fallbacks returns the fallback lines of every agent concerning any of
// the options, each once, prefixed with its node.
func (e *Env) fallbacks(ctx context.Context, keys []tuning.Key) []string {
	if len(keys) == 0 {
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
		for _, f := range ciliumstatus.ForOptions(e.fb.byNd[n.Name], keys...) {
			out = append(out, n.Name+": "+f.String())
		}
	}
	return out
}
