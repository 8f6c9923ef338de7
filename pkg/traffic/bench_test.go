package traffic_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/tunedcilium/tunedcilium/pkg/probe"
	"github.com/tunedcilium/tunedcilium/pkg/probe/probetest"
	"github.com/tunedcilium/tunedcilium/pkg/traffic"
)

// BenchmarkConntrackDelta200 is one conntrack delta measurement: count the
// router's entries for the client CIDR, 200 short TCP connections from the
// client namespace through the router to the echo server, count again.
// Conntrack is on (no NOTRACK rules), so each iteration adds 200 entries.
func BenchmarkConntrackDelta200(b *testing.B) {
	c := probetest.NewChain(b)
	c.EnableConntrack(b, "nft")
	probetest.ServeEcho(b, c.Server.Open(b))
	router, client := c.Router.Open(b), c.Client.Open(b)
	filter := probe.ConntrackFilter{CIDRs: []netip.Prefix{c.ClientNet}, Protocol: "tcp"}
	gen := traffic.BurstFrom(client, c.ServerIP.String()+":8080", 200)
	b.ResetTimer()
	for b.Loop() {
		d, err := traffic.MeasureConntrackDelta(context.Background(), router, filter, gen)
		if err != nil {
			b.Fatal(err)
		}
		if !d.Grew(0.95) {
			b.Fatalf("conntrack did not grow: %s", d)
		}
	}
}
