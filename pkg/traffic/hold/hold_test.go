package hold

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// recordingListener remembers the server side of every accepted
// connection, so a test can cut some of them.
type recordingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *recordingListener) cut(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns[:n] {
		c.(*net.TCPConn).SetLinger(0) // RST, like a datapath that lost the flow
		c.Close()
	}
}

func TestHoldDetectsBrokenConnections(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	rl := &recordingListener{Listener: ln}
	go func() { _ = Serve(ctx, rl) }()

	statuses := make(chan Status, 100)
	done := make(chan error, 1)
	go func() {
		done <- Hold(ctx, (&net.Dialer{}).DialContext, Options{Targets: []string{ln.Addr().String()}, Count: 5, Interval: 50 * time.Millisecond, Timeout: time.Second},
			func(s Status) {
				select {
				case statuses <- s:
				default:
				}
			})
	}()
	first := <-statuses
	require.Equal(t, 5, first.Open)
	require.Equal(t, 0, first.Broken)
	for _, c := range first.Conns {
		require.Equal(t, 1, c.Pings)
		require.NotEmpty(t, c.Local)
	}

	// "The upgrade": two connections lose their server side.
	require.Eventually(t, func() bool { rl.mu.Lock(); defer rl.mu.Unlock(); return len(rl.conns) == 5 }, time.Second, 10*time.Millisecond)
	rl.cut(2)
	var later Status
	require.Eventually(t, func() bool {
		for {
			select {
			case later = <-statuses:
				if later.Broken == 2 && later.Round > first.Round+1 {
					return true
				}
			default:
				return false
			}
		}
	}, 5*time.Second, 20*time.Millisecond)
	alive, broken := Compare(first, later)
	require.Len(t, alive, 3)
	require.Len(t, broken, 2)
	for _, b := range broken {
		require.True(t, b.Broken)
		require.NotEmpty(t, b.Error)
		require.False(t, b.BrokenAt.IsZero())
	}
	require.Len(t, later.BrokenConns(), 2)
	cancel()
	require.NoError(t, <-done)
}

func TestHoldFailsWhenNothingCanBeOpened(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close() // nobody listens there any more
	err = Hold(context.Background(), (&net.Dialer{}).DialContext, Options{Targets: []string{addr}, Count: 1, Timeout: time.Second}, func(Status) {})
	require.ErrorContains(t, err, "open connection 1 to "+addr)
	require.Error(t, Hold(context.Background(), nil, Options{}, nil))
}

func TestCompareNeedsAnEchoAfterTheEarlierStatus(t *testing.T) {
	earlier := Status{Conns: []Conn{{ID: 1, Pings: 10}, {ID: 2, Pings: 10}, {ID: 3, Pings: 10}}}
	later := Status{Conns: []Conn{{ID: 1, Pings: 12}, {ID: 2, Pings: 10}}}
	alive, broken := Compare(earlier, later)
	require.Equal(t, []Conn{{ID: 1, Pings: 12}}, alive)
	require.Len(t, broken, 2)
	require.Contains(t, broken[0].Error, "no echo since the earlier status")
	require.Equal(t, "missing from the later status", broken[1].Error)
}
