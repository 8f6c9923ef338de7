package checks

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/tunedcilium/tunedcilium/pkg/podexec"
	"github.com/tunedcilium/tunedcilium/pkg/traffic"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
	"github.com/tunedcilium/tunedcilium/pkg/workload"
)

// ThroughputEvidence is what a throughput check measured.
type ThroughputEvidence struct {
	From     string             `json:"from"`
	To       netip.AddrPort     `json:"to"`
	Via      string             `json:"via"`
	Measured traffic.Throughput `json:"measured"`
	// Baseline is the baseline profile's figure from earlier in the run.
	Baseline  *traffic.Throughput         `json:"baseline,omitempty"`
	Threshold traffic.ThroughputThreshold `json:"threshold"`
}

// ThroughputThreshold is the floor a profile's throughput must meet: the
// absolute floor, and, when the baseline profile ran earlier in this run
// (and this is not it), the baseline's median minus the allowed slowdown.
func ThroughputThreshold(s Settings, profile string, baseline *traffic.Throughput) traffic.ThroughputThreshold {
	th := traffic.ThroughputThreshold{MinGbps: s.MinGbps}
	if baseline != nil && profile != s.BaselineProfile && s.MaxSlowdownPct > 0 {
		th.MinPercentOfBaseline = 100 - s.MaxSlowdownPct
	}
	return th
}

// DecideThroughput applies pkg/traffic's threshold logic.
func DecideThroughput(e ThroughputEvidence) Decision {
	if e.Threshold.MinGbps <= 0 && e.Threshold.MinPercentOfBaseline <= 0 {
		return skip("no throughput threshold set (floor 0, no baseline earlier in this run)")
	}
	v, err := e.Threshold.Check(e.Measured, e.Baseline)
	if err != nil {
		return fail("%v", err)
	}
	if !v.Pass {
		return fail("%s via %s: %s", e.Measured, e.Via, v.Reason)
	}
	return pass("%s via %s: %s", e.Measured, e.Via, v.Reason)
}

// noisyBelowBaseline: the relative floor fails on the median while the best
// run clears it, so more runs can settle it.
func noisyBelowBaseline(ev ThroughputEvidence) bool {
	if ev.Baseline == nil || ev.Threshold.MinPercentOfBaseline <= 0 || ev.Baseline.Median <= 0 {
		return false
	}
	floor := ev.Baseline.Median * ev.Threshold.MinPercentOfBaseline / 100
	return ev.Measured.Median < floor && ev.Measured.Max >= floor
}

// iperf3Runs runs the iperf3 client in a pod, runs times, against addr.
func iperf3Runs(ctx context.Context, env *Env, client workload.Pod, addr netip.AddrPort) (traffic.Throughput, error) {
	secs := int(math.Ceil(env.Settings.Iperf3Duration.Seconds()))
	if secs < 1 {
		secs = 1
	}
	var runs []float64
	for i := 0; i < env.Settings.Iperf3Runs; i++ {
		argv := []string{"iperf3", "-c", addr.Addr().String(), "-p", strconv.Itoa(int(addr.Port())), "-t", strconv.Itoa(secs), "-J"}
		var bps float64
		var err error
		for attempt := 0; attempt < 3; attempt++ {
			var res podexec.Result
			res, err = env.Workload.Run(ctx, client, argv...)
			var exitErr *podexec.ExitError
			if err != nil && !errors.As(err, &exitErr) {
				return traffic.Throughput{}, err
			}
			bps, err = traffic.ParseIperf3(res.Stdout)
			// The server takes one test at a time; a test still closing
			// answers "busy": wait and retry.
			if err != nil && strings.Contains(err.Error(), "busy") {
				time.Sleep(time.Second)
				continue
			}
			break
		}
		if err != nil {
			return traffic.Throughput{}, fmt.Errorf("iperf3 run %d from %s to %s: %w", i+1, client.Name, addr, err)
		}
		runs = append(runs, bps)
	}
	return traffic.NewThroughput(runs), nil
}

func throughputCheck(viaService bool) checkFunc {
	return func(ctx context.Context, env *Env, c tuning.Check) outcome {
		if why := needWorkload(env); why != "" {
			return skipOutcome(nil, "%s", why)
		}
		w := env.Workload
		client, err := w.Iperf3Client()
		if err != nil {
			return errorOutcome(nil, err)
		}
		server, err := w.Iperf3Server()
		if err != nil {
			return errorOutcome(nil, err)
		}
		ev := ThroughputEvidence{From: client.Name + " on " + client.Node}
		if viaService {
			svc, err := w.Service(workload.Iperf3ServiceName)
			if err != nil {
				return errorOutcome(nil, err)
			}
			ev.To = netip.AddrPortFrom(svc.ClusterIP, uint16(svc.Port))
			ev.Via = fmt.Sprintf("ClusterIP service %s (backend %s on %s)", svc.Name, server.Name, server.Node)
		} else {
			ev.To = netip.AddrPortFrom(server.IP, workload.Iperf3Port)
			ev.Via = fmt.Sprintf("pod IP of %s on %s", server.Name, server.Node)
		}
		env.logf("check %s: iperf3 %d x %s from %s to %s", c.Name, env.Settings.Iperf3Runs, env.Settings.Iperf3Duration, ev.From, ev.To)
		t, err := iperf3Runs(ctx, env, client, ev.To)
		if err != nil {
			return errorOutcome(map[string]any{"throughput": ev}, err)
		}
		ev.Measured = t
		if env.Profile == env.Settings.BaselineProfile {
			env.Baselines.Record(c.Name, t)
		} else if b, ok := env.Baselines.Get(c.Name); ok {
			ev.Baseline = &b
		}
		ev.Threshold = ThroughputThreshold(env.Settings, env.Profile, ev.Baseline)
		// A noisy measurement (its median below the relative floor while its
		// best run clears it) is measured again, up to twice, and judged on
		// all runs: a 2-core machine shared with other work is noisy, and a
		// verdict should not hang on one unlucky batch.
		for extra := 0; extra < 2 && noisyBelowBaseline(ev); extra++ {
			env.logf("check %s: median below the baseline floor but best run above it (spread %.0f%%): measuring again", c.Name, ev.Measured.Spread*100)
			more, err := iperf3Runs(ctx, env, client, ev.To)
			if err != nil {
				return errorOutcome(map[string]any{"throughput": ev}, err)
			}
			ev.Measured = traffic.NewThroughput(append(ev.Measured.Runs, more.Runs...))
		}
		return outcome{Decision: DecideThroughput(ev), Evidence: map[string]any{"throughput": ev}}
	}
}
