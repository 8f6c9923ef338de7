package probe_test

import (
	"context"
	"testing"

	"github.com/tunedcilium/tunedcilium/pkg/probe"
	"github.com/tunedcilium/tunedcilium/pkg/probe/probetest"
)

// BenchmarkInspect is a full inspection (every probe) of a router namespace
// with XDP, tc/tcx programs, routes, NOTRACK/NAT rules in both backends and
// conntrack entries, entering the namespace (the path used for kind nodes
// and named namespaces).
func BenchmarkInspect(b *testing.B) {
	c := richRouter(b)
	node := c.Router.Open(b)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		r, err := node.Inspect(ctx, probe.InspectOptions{})
		if err != nil || len(r.Errors) > 0 {
			b.Fatalf("inspect: %v %v", err, r.Errors)
		}
	}
}

// BenchmarkInspectExec is the same inspection through `ip netns exec` and
// the node tools (the exec fallback's parsing, without docker exec's cost).
func BenchmarkInspectExec(b *testing.B) {
	c := richRouter(b)
	node := probe.Via("exec", probe.NetNSExec(c.Router.Name))
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := node.Inspect(ctx, probe.InspectOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInspectHost inspects this machine's own namespace.
func BenchmarkInspectHost(b *testing.B) {
	probetest.RequireRoot(b)
	host, err := probe.Host()
	if err != nil {
		b.Fatal(err)
	}
	defer host.Close()
	for b.Loop() {
		if _, err := host.Inspect(context.Background(), probe.InspectOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
