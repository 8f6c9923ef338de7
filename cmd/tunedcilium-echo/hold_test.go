package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tunedcilium/tunedcilium/pkg/traffic/hold"
)

func TestHoldCommandsWriteStatus(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var serveErr bytes.Buffer
	served := make(chan int, 1)
	go func() { served <- run(ctx, []string{"hold-serve", "--listen", addr}, &bytes.Buffer{}, &serveErr) }()
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 5*time.Second, 20*time.Millisecond)

	status := filepath.Join(t.TempDir(), "status.json")
	hctx, hcancel := context.WithTimeout(ctx, 400*time.Millisecond)
	defer hcancel()
	code := run(hctx, []string{"hold", addr, "--count", "3", "--interval", "50ms", "--status", status}, &bytes.Buffer{}, &bytes.Buffer{})
	require.Equal(t, 0, code)
	data, err := os.ReadFile(status)
	require.NoError(t, err)
	var st hold.Status
	require.NoError(t, json.Unmarshal(data, &st))
	require.Equal(t, 3, st.Open)
	require.Zero(t, st.Broken)
	require.Greater(t, st.Round, 2)

	cancel()
	require.Equal(t, 0, <-served, serveErr.String())
}

func TestHoldCommandBadInput(t *testing.T) {
	var stderr bytes.Buffer
	require.Equal(t, 2, run(context.Background(), []string{"hold"}, &bytes.Buffer{}, &stderr))
	require.Contains(t, stderr.String(), "give at least one address")
	require.Equal(t, 2, run(context.Background(), []string{"hold", "nohostport"}, &bytes.Buffer{}, &bytes.Buffer{}))
	require.Equal(t, 2, run(context.Background(), []string{"hold", "127.0.0.1:1", "--count", "0"}, &bytes.Buffer{}, &bytes.Buffer{}))
}
