package traffic

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Throughput is the result of repeated throughput runs, in bits per second.
type Throughput struct {
	Runs   []float64 `json:"bitsPerSecond"`
	Min    float64   `json:"min"`
	Median float64   `json:"median"`
	Max    float64   `json:"max"`
	// Spread is (Max-Min)/Median: how much the runs disagree (0.1 = 10%).
	Spread float64 `json:"spread"`
}

// NewThroughput summarises runs (bits per second each).
func NewThroughput(runs []float64) Throughput {
	t := Throughput{Runs: slices.Clone(runs)}
	if len(runs) == 0 {
		return t
	}
	sorted := slices.Clone(runs)
	slices.Sort(sorted)
	t.Min, t.Max = sorted[0], sorted[len(sorted)-1]
	mid := len(sorted) / 2
	t.Median = sorted[mid]
	if len(sorted)%2 == 0 {
		t.Median = (sorted[mid-1] + sorted[mid]) / 2
	}
	if t.Median > 0 {
		t.Spread = (t.Max - t.Min) / t.Median
	}
	return t
}

// Gbps is the median in Gbit/s.
func (t Throughput) Gbps() float64 { return t.Median / 1e9 }

func (t Throughput) String() string {
	return fmt.Sprintf("median %.2f Gbit/s (min %.2f, max %.2f, spread %.0f%%, %d runs)",
		t.Median/1e9, t.Min/1e9, t.Max/1e9, t.Spread*100, len(t.Runs))
}

// ThroughputThreshold is what a throughput check demands of the median of
// its runs: an absolute floor, a floor relative to a baseline measured in
// the same run (the same machine, the same minute), or both.
type ThroughputThreshold struct {
	// MinGbps: the median must reach this many Gbit/s (0: no floor).
	MinGbps float64
	// MinPercentOfBaseline: the median must reach this percentage of the
	// baseline's median (0: no relative floor; 110 = 10% better).
	MinPercentOfBaseline float64
}

// ThresholdVerdict is a threshold's answer, with the reason in one line.
type ThresholdVerdict struct {
	Pass   bool   `json:"pass"`
	Reason string `json:"reason"`
}

// Check compares measured (and baseline, for the relative floor) with the
// threshold. A relative floor without a baseline, or an empty measurement,
// is an error: there is nothing to compare.
func (th ThroughputThreshold) Check(measured Throughput, baseline *Throughput) (ThresholdVerdict, error) {
	if th.MinGbps <= 0 && th.MinPercentOfBaseline <= 0 {
		return ThresholdVerdict{}, errors.New("throughput threshold: set MinGbps and/or MinPercentOfBaseline")
	}
	if len(measured.Runs) == 0 {
		return ThresholdVerdict{}, errors.New("throughput threshold: no runs measured")
	}
	if th.MinPercentOfBaseline > 0 && (baseline == nil || len(baseline.Runs) == 0 || baseline.Median <= 0) {
		return ThresholdVerdict{}, errors.New("throughput threshold: a relative floor needs a baseline measured in the same run")
	}
	v := ThresholdVerdict{Pass: true}
	var reasons []string
	if th.MinGbps > 0 {
		ok := measured.Gbps() >= th.MinGbps
		v.Pass = v.Pass && ok
		reasons = append(reasons, fmt.Sprintf("median %.2f Gbit/s %s floor %.2f Gbit/s", measured.Gbps(), cmpWord(ok), th.MinGbps))
	}
	if th.MinPercentOfBaseline > 0 {
		pct := 100 * measured.Median / baseline.Median
		ok := pct >= th.MinPercentOfBaseline
		v.Pass = v.Pass && ok
		reasons = append(reasons, fmt.Sprintf("%.0f%% of baseline %.2f Gbit/s %s floor %.0f%%", pct, baseline.Gbps(), cmpWord(ok), th.MinPercentOfBaseline))
	}
	v.Reason = fmt.Sprintf("%s (spread %.0f%% over %d runs)", strings.Join(reasons, "; "), measured.Spread*100, len(measured.Runs))
	return v, nil
}

func cmpWord(ok bool) string {
	if ok {
		return "meets"
	}
	return "is below"
}
