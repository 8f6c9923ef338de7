package traffic_test

import (
	"context"
	"math"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tunedcilium/tunedcilium/pkg/probe/probetest"
	"github.com/tunedcilium/tunedcilium/pkg/traffic"
)

func TestIperf3BetweenNamespaces(t *testing.T) {
	if _, err := exec.LookPath("iperf3"); err != nil {
		t.Skip("iperf3 is not installed: run hack/deps.sh (apt-get install iperf3)")
	}
	c := probetest.NewChain(t)
	server, client := c.Server.Open(t), c.Client.Open(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	th, err := traffic.RunIperf3(ctx, server, client, c.ServerIP, traffic.Iperf3Options{Runs: 3, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("client -> router -> server over veth: %s", th)
	if len(th.Runs) != 3 || th.Min <= 0 || th.Median < th.Min || th.Max < th.Median || th.Spread < 0 {
		t.Fatalf("throughput %+v", th)
	}

	// Thresholds on a real measurement: an absolute floor below it passes,
	// one far above fails; relative to itself, 90% passes and 200% fails.
	check := func(thr traffic.ThroughputThreshold, baseline *traffic.Throughput, want bool) {
		t.Helper()
		v, err := thr.Check(th, baseline)
		if err != nil {
			t.Fatal(err)
		}
		if v.Pass != want {
			t.Errorf("%+v: pass=%v (%s), want %v", thr, v.Pass, v.Reason, want)
		}
	}
	check(traffic.ThroughputThreshold{MinGbps: th.Gbps() / 2}, nil, true)
	check(traffic.ThroughputThreshold{MinGbps: th.Gbps() * 10}, nil, false)
	check(traffic.ThroughputThreshold{MinPercentOfBaseline: 90}, &th, true)
	check(traffic.ThroughputThreshold{MinPercentOfBaseline: 200}, &th, false)

	// Negative control: no iperf3 server at that address.
	_, err = traffic.RunIperf3(ctx, server, client, netip.MustParseAddr("10.201.2.99"), traffic.Iperf3Options{Runs: 1, Duration: time.Second})
	if err == nil {
		t.Error("iperf3 to an address nobody has succeeded")
	}
	if pids, _ := probetest.PIDsInNetNS(netLink(t, c.Server)); len(pids) != 0 {
		t.Errorf("processes left in the server namespace: %v", pids)
	}
}

func netLink(t *testing.T, ns *probetest.NetNS) string {
	return "net:[" + strconv.FormatUint(ns.Inode(t), 10) + "]"
}

func TestParseIperf3(t *testing.T) {
	ok := `{"start":{},"intervals":[],"end":{"sum_sent":{"bits_per_second":2.5e10},"sum_received":{"bits_per_second":2.4e10}}}`
	bps, err := traffic.ParseIperf3([]byte(ok))
	if err != nil || bps != 2.4e10 {
		t.Errorf("ParseIperf3(ok) = %v, %v", bps, err)
	}
	failed := `{"start":{},"intervals":[],"end":{},"error":"unable to connect to server: Connection refused"}`
	if _, err := traffic.ParseIperf3([]byte(failed)); err == nil || !strings.Contains(err.Error(), "Connection refused") {
		t.Errorf("ParseIperf3(error) = %v", err)
	}
	for _, bad := range []string{`not json`, `{"end":{}}`} {
		if _, err := traffic.ParseIperf3([]byte(bad)); err == nil {
			t.Errorf("ParseIperf3(%q) accepted", bad)
		}
	}
}

func TestThroughputStatistics(t *testing.T) {
	th := traffic.NewThroughput([]float64{10e9, 8e9, 12e9, 9e9})
	if th.Min != 8e9 || th.Max != 12e9 || th.Median != 9.5e9 || math.Abs(th.Spread-4.0/9.5) > 1e-9 {
		t.Errorf("even count: %+v", th)
	}
	odd := traffic.NewThroughput([]float64{3e9, 1e9, 2e9})
	if odd.Median != 2e9 || odd.Spread != 1 {
		t.Errorf("odd count: %+v", odd)
	}
}

func TestThroughputThresholds(t *testing.T) {
	measured := traffic.NewThroughput([]float64{9e9, 10e9, 11e9})
	baseline := traffic.NewThroughput([]float64{8e9, 8e9, 8e9})
	for _, tc := range []struct {
		name string
		thr  traffic.ThroughputThreshold
		base *traffic.Throughput
		pass bool
	}{
		{"absolute met", traffic.ThroughputThreshold{MinGbps: 10}, nil, true},
		{"absolute missed", traffic.ThroughputThreshold{MinGbps: 10.5}, nil, false},
		{"relative met (125%)", traffic.ThroughputThreshold{MinPercentOfBaseline: 120}, &baseline, true},
		{"relative missed", traffic.ThroughputThreshold{MinPercentOfBaseline: 130}, &baseline, false},
		{"both met", traffic.ThroughputThreshold{MinGbps: 5, MinPercentOfBaseline: 110}, &baseline, true},
		{"absolute met, relative missed", traffic.ThroughputThreshold{MinGbps: 5, MinPercentOfBaseline: 150}, &baseline, false},
	} {
		v, err := tc.thr.Check(measured, tc.base)
		if err != nil || v.Pass != tc.pass || v.Reason == "" {
			t.Errorf("%s: %+v, %v; want pass=%v", tc.name, v, err, tc.pass)
		}
	}
	for _, bad := range []struct {
		thr  traffic.ThroughputThreshold
		m    traffic.Throughput
		base *traffic.Throughput
	}{
		{traffic.ThroughputThreshold{}, measured, nil},                                           // no floor at all
		{traffic.ThroughputThreshold{MinPercentOfBaseline: 90}, measured, nil},                   // relative without baseline
		{traffic.ThroughputThreshold{MinGbps: 1}, traffic.Throughput{}, nil},                     // nothing measured
		{traffic.ThroughputThreshold{MinPercentOfBaseline: 90}, measured, &traffic.Throughput{}}, // empty baseline
	} {
		if _, err := bad.thr.Check(bad.m, bad.base); err == nil {
			t.Errorf("threshold %+v on %+v (baseline %+v) gave no error", bad.thr, bad.m, bad.base)
		}
	}
}
