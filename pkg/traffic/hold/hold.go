// Package hold keeps TCP connections open across a disruption (a Cilium
// upgrade restarting every agent) and says which of them broke: a server
// that echoes every line back for as long as a connection lives, and a
// client that opens connections once, never reconnects, and pings each one
// every interval. A connection is broken when a ping fails or no echo comes
// back within the timeout. Standard library only, like pkg/traffic/echo, so
// the static tunedcilium-echo binary that carries it into pods stays small.
package hold

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Serve echoes every line each accepted connection sends, until the client
// closes it. It returns when ctx is done (closing ln and every connection)
// or ln fails.
func Serve(ctx context.Context, ln net.Listener) error {
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	defer stop()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("hold server on %s: accept: %w", ln.Addr(), err)
		}
		mu.Lock()
		conns[conn] = true
		mu.Unlock()
		go func() {
			defer func() {
				mu.Lock()
				delete(conns, conn)
				mu.Unlock()
				conn.Close()
			}()
			r := bufio.NewReader(conn)
			for {
				line, err := r.ReadBytes('\n')
				if err != nil {
					return
				}
				if _, err := conn.Write(line); err != nil {
					return
				}
			}
		}()
	}
}

// DialFunc opens a connection.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Conn is one held connection as the client sees it.
type Conn struct {
	ID     int    `json:"id"`
	Target string `json:"target"`
	Local  string `json:"local"`
	// Pings counts echoes received; LastOK is the time of the last one.
	Pings  int       `json:"pings"`
	LastOK time.Time `json:"lastOK"`
	// MaxRTT is the slowest echo so far.
	MaxRTT   time.Duration `json:"maxRTTNanoseconds"`
	Broken   bool          `json:"broken"`
	Error    string        `json:"error,omitempty"`
	BrokenAt time.Time     `json:"brokenAt,omitzero"`
}

// Status is the client's view of every held connection.
type Status struct {
	Started  time.Time     `json:"started"`
	Updated  time.Time     `json:"updated"`
	Interval time.Duration `json:"intervalNanoseconds"`
	Round    int           `json:"round"`
	Open     int           `json:"open"`
	Broken   int           `json:"broken"`
	Conns    []Conn        `json:"conns"`
}

// BrokenConns lists the broken connections.
func (s Status) BrokenConns() []Conn {
	var out []Conn
	for _, c := range s.Conns {
		if c.Broken {
			out = append(out, c)
		}
	}
	return out
}

// Options shape a client.
type Options struct {
	// Targets are HOST:PORT addresses of hold servers; Count connections
	// are opened to each.
	Targets []string
	Count   int
	// Interval between pings of one connection (1s when zero); Timeout
	// for an echo to come back (15s when zero).
	Interval, Timeout time.Duration
}

// Hold opens every connection (failing if one cannot be opened: there is
// nothing to hold then), then pings each one every interval until ctx is
// done, calling report with a copy of the status after every round. A broken
// connection stays broken: it is never reopened.
func Hold(ctx context.Context, dial DialFunc, opts Options, report func(Status)) error {
	if len(opts.Targets) == 0 || opts.Count < 1 {
		return fmt.Errorf("hold: give at least one target and a count of at least 1 (got %d targets, count %d)", len(opts.Targets), opts.Count)
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 15 * time.Second
	}
	st := Status{Started: time.Now(), Interval: opts.Interval}
	var open []net.Conn
	defer func() {
		for _, c := range open {
			if c != nil {
				c.Close()
			}
		}
	}()
	var readers []*bufio.Reader
	for _, target := range opts.Targets {
		for range opts.Count {
			dctx, cancel := context.WithTimeout(ctx, opts.Timeout)
			c, err := dial(dctx, "tcp", target)
			cancel()
			if err != nil {
				return fmt.Errorf("hold: open connection %d to %s: %w", len(open)+1, target, err)
			}
			open = append(open, c)
			readers = append(readers, bufio.NewReader(c))
			st.Conns = append(st.Conns, Conn{ID: len(open), Target: target, Local: c.LocalAddr().String()})
		}
	}
	tick := time.NewTicker(opts.Interval)
	defer tick.Stop()
	for {
		st.Round++
		var wg sync.WaitGroup
		for i := range st.Conns {
			if st.Conns[i].Broken {
				continue
			}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				ping(open[i], readers[i], &st.Conns[i], st.Round, opts.Timeout)
			}(i)
		}
		wg.Wait()
		st.Updated = time.Now()
		st.Open, st.Broken = 0, 0
		for _, c := range st.Conns {
			if c.Broken {
				st.Broken++
			} else {
				st.Open++
			}
		}
		snap := st
		snap.Conns = append([]Conn(nil), st.Conns...)
		report(snap)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func ping(conn net.Conn, r *bufio.Reader, c *Conn, round int, timeout time.Duration) {
	msg := "ping " + strconv.Itoa(c.ID) + " " + strconv.Itoa(round) + "\n"
	start := time.Now()
	_ = conn.SetDeadline(start.Add(timeout))
	fail := func(err error) {
		c.Broken, c.BrokenAt, c.Error = true, time.Now(), err.Error()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.Error = fmt.Sprintf("no echo within %s (%v)", timeout, err)
		}
	}
	if _, err := conn.Write([]byte(msg)); err != nil {
		fail(fmt.Errorf("send: %w", err))
		return
	}
	line, err := r.ReadString('\n')
	if err != nil {
		fail(fmt.Errorf("read echo: %w", err))
		return
	}
	if line != msg {
		fail(fmt.Errorf("echo %q is not %q", strings.TrimSpace(line), strings.TrimSpace(msg)))
		return
	}
	rtt := time.Since(start)
	c.Pings++
	c.LastOK = time.Now()
	if rtt > c.MaxRTT {
		c.MaxRTT = rtt
	}
}

// Compare tells, for a status taken after a disruption (later) against one
// taken before it (earlier), which connections are alive: not broken and
// echoed at least once more since earlier. Connections missing from later
// count as broken.
func Compare(earlier, later Status) (alive, broken []Conn) {
	byID := map[int]Conn{}
	for _, c := range later.Conns {
		byID[c.ID] = c
	}
	for _, e := range earlier.Conns {
		l, ok := byID[e.ID]
		switch {
		case !ok:
			e.Broken, e.Error = true, "missing from the later status"
			broken = append(broken, e)
		case l.Broken:
			broken = append(broken, l)
		case l.Pings <= e.Pings:
			l.Broken, l.Error = true, fmt.Sprintf("no echo since the earlier status (%d pings then, %d now)", e.Pings, l.Pings)
			broken = append(broken, l)
		default:
			alive = append(alive, l)
		}
	}
	return alive, broken
}
