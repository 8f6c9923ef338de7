package traffic_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/tunedcilium/tunedcilium/pkg/probe"
	"github.com/tunedcilium/tunedcilium/pkg/probe/probetest"
	"github.com/tunedcilium/tunedcilium/pkg/traffic"
	"github.com/tunedcilium/tunedcilium/pkg/traffic/echo"
)

// TestEchoSeesClientOrRouter is the source-IP check and its negative
// control: routed, the server sees the client's own address; behind an
// iptables MASQUERADE on the router, it sees the router's.
func TestEchoSeesClientOrRouter(t *testing.T) {
	for _, masquerade := range []bool{false, true} {
		name := "routed"
		if masquerade {
			name = "masqueraded"
		}
		t.Run(name, func(t *testing.T) {
			c := probetest.NewChain(t)
			if masquerade {
				c.Router.Iptables(t, "nft", "-t", "nat", "-A", "POSTROUTING", "-o", "r-s", "-j", "MASQUERADE")
			}
			probetest.ServeEcho(t, c.Server.Open(t))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			obs, err := echo.Ask(ctx, c.Client.Open(t).DialContext, c.ServerIP.String()+":8080")
			if err != nil {
				t.Fatal(err)
			}
			if obs.Local.Addr() != c.ClientIP {
				t.Errorf("client's own address %s, want %s", obs.Local, c.ClientIP)
			}
			want, preserved := c.ClientIP, true
			if masquerade {
				want, preserved = c.RouterServerSide, false
			}
			if obs.Seen.Addr() != want || obs.Preserved != preserved {
				t.Errorf("server saw %s (preserved %v), want %s (preserved %v)", obs.Seen, obs.Preserved, want, preserved)
			}
		})
	}
}

// TestConntrackDelta is the conntrack check and its negative control: with
// Cilium-style NOTRACK rules for the client's CIDR in the router's raw
// table, 200 connections leave the router's conntrack table flat; without
// them every connection adds an entry. Both iptables backends.
func TestConntrackDelta(t *testing.T) {
	const connections, flatBound = 200, 5
	for _, backend := range []string{"nft", "legacy"} {
		for _, notrack := range []bool{true, false} {
			name := backend + "/tracked"
			if notrack {
				name = backend + "/notrack"
			}
			t.Run(name, func(t *testing.T) {
				c := probetest.NewChain(t)
				c.EnableConntrack(t, backend)
				if notrack {
					target := []string{"-j", "CT", "--notrack"}
					if backend == "legacy" {
						target = []string{"-j", "NOTRACK"}
					}
					for _, side := range []string{"-s", "-d"} {
						c.Router.Iptables(t, backend, append([]string{"-t", "raw", "-A", "PREROUTING", side, c.ClientNet.String(),
							"-m", "comment", "--comment", "cilium: NOTRACK for pod traffic"}, target...)...)
					}
				}
				probetest.ServeEcho(t, c.Server.Open(t))
				router, client := c.Router.Open(t), c.Client.Open(t)
				filter := probe.ConntrackFilter{CIDRs: []netip.Prefix{c.ClientNet}, Protocol: "tcp"}

				d, err := traffic.MeasureConntrackDelta(context.Background(), router, filter,
					traffic.BurstFrom(client, c.ServerIP.String()+":8080", connections))
				if err != nil {
					t.Fatal(err)
				}
				t.Log(d)
				if d.Connections != connections {
					t.Fatalf("%d connections made, want %d", d.Connections, connections)
				}
				if notrack && !d.Flat(flatBound) {
					t.Errorf("with NOTRACK rules: %s, want flat (delta < %d)", d, flatBound)
				}
				if !notrack && !d.Grew(0.95) {
					t.Errorf("without NOTRACK rules: %s, want about +%d", d, connections)
				}
				if d.Took > 5*time.Second {
					t.Errorf("conntrack delta over %d connections took %s, want < 5s", connections, d.Took)
				}
			})
		}
	}
}

func TestConntrackDeltaVerdicts(t *testing.T) {
	flat := traffic.ConntrackDelta{Before: 10, After: 11, Delta: 1, Connections: 200}
	grown := traffic.ConntrackDelta{Before: 10, After: 210, Delta: 200, Connections: 200}
	if !flat.Flat(5) || flat.Grew(0.95) || grown.Flat(5) || !grown.Grew(0.95) {
		t.Errorf("flat %+v / grown %+v misjudged", flat, grown)
	}
	if (traffic.ConntrackDelta{Delta: 5}).Flat(5) {
		t.Error("a delta equal to the bound is not under it")
	}
	if (traffic.ConntrackDelta{Delta: 0, Connections: 0}).Grew(0.5) {
		t.Error("no connections cannot have grown the table")
	}
}
