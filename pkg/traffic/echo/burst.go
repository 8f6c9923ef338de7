package echo

import (
	"context"
	"fmt"
	"time"
)

// BurstResult is what a burst of short connections did.
type BurstResult struct {
	Connections int           `json:"connections"` // completed exchanges
	Failed      int           `json:"failed"`
	FirstError  string        `json:"firstError,omitempty"`
	Took        time.Duration `json:"tookNanoseconds"`
}

// Burst opens count short TCP connections to the echo server at addr, one
// after another: connect, half-close, read the reply, close. Each one is a
// new 5-tuple, so each leaves one conntrack entry on every hop that tracks
// connections. It stops early only when ctx is done.
func Burst(ctx context.Context, dial DialFunc, addr string, count int) (BurstResult, error) {
	if count <= 0 {
		return BurstResult{}, fmt.Errorf("burst to %s: count %d: give at least 1 connection", addr, count)
	}
	start := time.Now()
	var res BurstResult
	for range count {
		if err := ctx.Err(); err != nil {
			res.Took = time.Since(start)
			return res, fmt.Errorf("burst to %s: stopped after %d connections: %w", addr, res.Connections+res.Failed, err)
		}
		if err := oneExchange(ctx, dial, addr); err != nil {
			res.Failed++
			if res.FirstError == "" {
				res.FirstError = err.Error()
			}
			continue
		}
		res.Connections++
	}
	res.Took = time.Since(start)
	return res, nil
}

func oneExchange(ctx context.Context, dial DialFunc, addr string) error {
	connCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := dial(connCtx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline, _ := connCtx.Deadline()
	_ = conn.SetDeadline(deadline)
	_, err = readReply(conn)
	return err
}
