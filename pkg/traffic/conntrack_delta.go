// Package traffic holds the behaviour measurements the e2e checks use:
// conntrack deltas over bursts of short connections, iperf3 throughput
// between two nodes with absolute and baseline-relative thresholds and the
// spread of repeated runs. The source-IP echo server and client are in
// the echo subpackage, which the static pod binary uses alone.
package traffic

import (
	"context"
	"fmt"
	"time"

	"github.com/tunedcilium/tunedcilium/pkg/probe"
	"github.com/tunedcilium/tunedcilium/pkg/traffic/echo"
)

// ConntrackDelta is how many conntrack entries a traffic pattern left in a
// node's table: entries matching the filter after it, minus before.
type ConntrackDelta struct {
	Node   string `json:"node"`
	Before int    `json:"before"`
	After  int    `json:"after"`
	Delta  int    `json:"delta"`
	// Connections is how many connections the traffic made.
	Connections int           `json:"connections"`
	Took        time.Duration `json:"tookNanoseconds"`
}

// Flat reports whether the table stayed flat: the delta is under bound.
// Entries of earlier traffic may expire meanwhile, so a negative delta is
// flat too.
func (d ConntrackDelta) Flat(bound int) bool { return d.Delta < bound }

// Grew reports whether at least fraction (0..1] of the connections left an
// entry: the negative control of Flat, when tracking is on.
func (d ConntrackDelta) Grew(fraction float64) bool {
	return d.Connections > 0 && float64(d.Delta) >= fraction*float64(d.Connections)
}

func (d ConntrackDelta) String() string {
	return fmt.Sprintf("conntrack in %s: %d -> %d (%+d) for %d connections", d.Node, d.Before, d.After, d.Delta, d.Connections)
}

// MeasureConntrackDelta counts node's conntrack entries matching filter,
// runs traffic (which returns how many connections it made), and counts
// again.
func MeasureConntrackDelta(ctx context.Context, node *probe.Node, filter probe.ConntrackFilter,
	traffic func(ctx context.Context) (connections int, err error)) (ConntrackDelta, error) {
	start := time.Now()
	d := ConntrackDelta{Node: node.Name()}
	var err error
	if d.Before, err = node.ConntrackCount(ctx, filter); err != nil {
		return d, fmt.Errorf("conntrack delta: before: %w", err)
	}
	if d.Connections, err = traffic(ctx); err != nil {
		return d, fmt.Errorf("conntrack delta: traffic: %w", err)
	}
	if d.After, err = node.ConntrackCount(ctx, filter); err != nil {
		return d, fmt.Errorf("conntrack delta: after: %w", err)
	}
	d.Delta = d.After - d.Before
	d.Took = time.Since(start)
	return d, nil
}

// BurstFrom returns traffic for MeasureConntrackDelta: an echo.Burst of count
// connections from inside client to the echo server at addr. A burst in
// which any connection failed is an error: the delta would not be about
// count connections.
func BurstFrom(client *probe.Node, addr string, count int) func(ctx context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		res, err := echo.Burst(ctx, client.DialContext, addr, count)
		if err != nil {
			return res.Connections, err
		}
		if res.Failed > 0 {
			return res.Connections, fmt.Errorf("%d of %d connections from %s to %s failed, first: %s",
				res.Failed, count, client.Name(), addr, res.FirstError)
		}
		return res.Connections, nil
	}
}
