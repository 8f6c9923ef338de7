package traffic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/tunedcilium/tunedcilium/pkg/probe"
)

// Iperf3Options shapes a throughput measurement.
type Iperf3Options struct {
	// Runs is how many back-to-back tests to run (default 3).
	Runs int
	// Duration of each test (iperf3 -t, default 2s).
	Duration time.Duration
	// Port the server listens on (default 5201).
	Port int
	// Streams is the number of parallel streams (iperf3 -P, default 1).
	Streams int
}

func (o Iperf3Options) withDefaults() Iperf3Options {
	if o.Runs <= 0 {
		o.Runs = 3
	}
	if o.Duration <= 0 {
		o.Duration = 2 * time.Second
	}
	if o.Port <= 0 {
		o.Port = 5201
	}
	if o.Streams <= 0 {
		o.Streams = 1
	}
	return o
}

// iperf3Result is the part of `iperf3 -c ... -J` output we read.
type iperf3Result struct {
	End struct {
		SumSent struct {
			BitsPerSecond float64 `json:"bits_per_second"`
		} `json:"sum_sent"`
		SumReceived struct {
			BitsPerSecond float64 `json:"bits_per_second"`
		} `json:"sum_received"`
	} `json:"end"`
	Error string `json:"error"`
}

// ParseIperf3 reads the receiver-side throughput (end.sum_received) from
// iperf3's JSON output, in bits per second.
func ParseIperf3(out []byte) (float64, error) {
	var r iperf3Result
	if err := json.Unmarshal(out, &r); err != nil {
		return 0, fmt.Errorf("decode iperf3 JSON: %w", err)
	}
	if r.Error != "" {
		return 0, fmt.Errorf("iperf3: %s", r.Error)
	}
	if r.End.SumReceived.BitsPerSecond <= 0 {
		return 0, errors.New("iperf3 JSON has no end.sum_received.bits_per_second")
	}
	return r.End.SumReceived.BitsPerSecond, nil
}

// RunIperf3 measures TCP throughput from client to server (at serverIP)
// Runs times. Each run starts `iperf3 -s -1 -J` inside the server's
// namespace and `iperf3 -c` inside the client's, both forked from a thread
// entered into the node's namespace (so it works for a netns, a PID or the
// host alike; the nodes must be enterable and have iperf3 on this
// machine). Every process is waited for, or killed when ctx ends.
func RunIperf3(ctx context.Context, server, client *probe.Node, serverIP netip.Addr, opts Iperf3Options) (Throughput, error) {
	opts = opts.withDefaults()
	runs := make([]float64, 0, opts.Runs)
	for i := range opts.Runs {
		bps, err := iperf3Once(ctx, server, client, serverIP, opts)
		if err != nil {
			return Throughput{}, fmt.Errorf("iperf3 run %d of %d, %s -> %s: %w", i+1, opts.Runs, client.Name(), server.Name(), err)
		}
		runs = append(runs, bps)
	}
	return NewThroughput(runs), nil
}

func iperf3Once(ctx context.Context, server, client *probe.Node, serverIP netip.Addr, opts Iperf3Options) (float64, error) {
	runCtx, cancel := context.WithTimeout(ctx, opts.Duration+30*time.Second)
	defer cancel()
	port := strconv.Itoa(opts.Port)
	srv := server.Command(runCtx, "iperf3", "-s", "-1", "-J", "-p", port)
	if err := server.StartCommand(srv); err != nil {
		return 0, err
	}
	defer func() {
		_ = srv.Process.Kill() // no-op once it has exited
		_ = srv.Wait()
	}()

	argv := []string{"iperf3", "-c", serverIP.String(), "-p", port, "-J",
		"-t", strconv.FormatFloat(opts.Duration.Seconds(), 'f', -1, 64), "-P", strconv.Itoa(opts.Streams)}
	// The server needs a moment to listen: retry while the port refuses.
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := runIn(runCtx, client, argv)
		var bps float64
		if err == nil {
			bps, err = ParseIperf3(out) // iperf3 -J may exit 0 with an "error" in its JSON
		}
		if err == nil || !strings.Contains(err.Error(), "Connection refused") || time.Now().After(deadline) {
			return bps, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runIn runs argv inside node and returns its stdout; iperf3 prints its
// errors in the JSON, so a failed run's error carries that message.
func runIn(ctx context.Context, node *probe.Node, argv []string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := node.Command(ctx, argv...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := node.StartCommand(cmd); err != nil {
		return nil, err
	}
	if err := cmd.Wait(); err != nil {
		if _, perr := ParseIperf3(stdout.Bytes()); perr != nil {
			return nil, fmt.Errorf("%s: %w: %v %s", argv[0], err, perr, strings.TrimSpace(stderr.String()))
		}
		return nil, fmt.Errorf("%s: %w: %s", argv[0], err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}
