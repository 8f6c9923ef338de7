package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tunedcilium/tunedcilium/pkg/traffic/echo"
)

func runEcho(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestServeAskBurst(t *testing.T) {
	// A free port on loopback for serve.
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.Addr().String()
	probe.Close()

	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan int, 1)
	go func() { code, _, _ := runEcho(t, ctx, "serve", "--listen", addr); served <- code }()
	defer func() {
		cancel()
		if code := <-served; code != 0 {
			t.Errorf("serve exited %d after cancel", code)
		}
	}()
	for deadline := time.Now().Add(3 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("serve never listened")
		}
		time.Sleep(20 * time.Millisecond)
	}

	code, out, errOut := runEcho(t, context.Background(), "ask", addr, "--count", "2")
	if code != 0 {
		t.Fatalf("ask: %d %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("ask --count 2 printed %d lines: %q", len(lines), out)
	}
	for _, l := range lines {
		var obs echo.Observation
		if err := json.Unmarshal([]byte(l), &obs); err != nil || !obs.Preserved || obs.Local != obs.Seen {
			t.Errorf("ask line %q: %+v %v", l, obs, err)
		}
	}

	code, out, errOut = runEcho(t, context.Background(), "burst", addr, "--count", "20")
	var res echo.BurstResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res.Connections != 20 || res.Failed != 0 {
		t.Errorf("burst: %d %q %s", code, out, errOut)
	}
}

func TestBadInputAndFailures(t *testing.T) {
	ctx := context.Background()
	for _, args := range [][]string{
		{"ask"}, {"ask", "no-port"}, {"ask", "127.0.0.1:1", "--count", "0"},
		{"burst", "127.0.0.1:1", "--count", "-1"}, {"serve", "--listen", "999.0.0.1:x"}, {"nope"},
		{"ask", "127.0.0.1:1", "--no-such-flag"},
	} {
		if code, _, errOut := runEcho(t, ctx, args...); code != 2 || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line", args, code, errOut)
		}
	}
	// Negative control: nothing listens, so ask and burst fail with 1.
	if code, _, _ := runEcho(t, ctx, "ask", "127.0.0.1:1"); code != 1 {
		t.Errorf("ask to a closed port exited %d, want 1", code)
	}
	if code, out, _ := runEcho(t, ctx, "burst", "127.0.0.1:1", "--count", "2"); code != 1 || !strings.Contains(out, `"failed":2`) {
		t.Errorf("burst to a closed port: %d %q, want 1 and a summary", code, out)
	}
}
