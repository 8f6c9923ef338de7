package probetest

import (
	"context"
	"testing"

	"github.com/tunedcilium/tunedcilium/pkg/probe"
	"github.com/tunedcilium/tunedcilium/pkg/traffic/echo"
)

// Open opens the namespace as a probe.Node, closed in t.Cleanup.
func (ns *NetNS) Open(t testing.TB) *probe.Node {
	t.Helper()
	n, err := probe.OpenNetNS(ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// ServeEcho runs the source-IP echo server inside node on :8080 until the
// test ends.
func ServeEcho(t testing.TB, node *probe.Node) {
	t.Helper()
	ln, err := node.Listen("tcp", ":8080")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- echo.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("echo server in %s: %v", node.Name(), err)
		}
	})
}

// Burst opens n short connections from client to the echo server at addr
// and fails the test unless every one completes.
func Burst(t testing.TB, client *probe.Node, addr string, n int) {
	t.Helper()
	res, err := echo.Burst(context.Background(), client.DialContext, addr, n)
	if err != nil || res.Failed > 0 {
		t.Fatalf("burst of %d from %s to %s: %+v, %v", n, client.Name(), addr, res, err)
	}
}
