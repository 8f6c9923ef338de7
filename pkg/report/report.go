// Package report writes what a run found: results.json (every verdict with
// its evidence), one JUnit XML file, and a Markdown summary table of profile x
// check, plus the checklist printed at the end of a run.
package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

// Run describes the run the results belong to.
type Run struct {
	ID            string    `json:"id"`
	Started       time.Time `json:"started"`
	Finished      time.Time `json:"finished"`
	Provider      string    `json:"provider"`
	Kernel        string    `json:"kernel"`
	CiliumVersion string    `json:"ciliumVersion"`
	Chart         string    `json:"chart,omitempty"`
	Images        string    `json:"images,omitempty"`
	NodeImage     string    `json:"nodeImage,omitempty"`
	// HostChanges are host-wide settings the run changed (the agent writes
	// some sysctls from inside a node container).
	HostChanges []string `json:"hostChanges,omitempty"`
}

// Profile is one profile's part of the run.
type Profile struct {
	Name string `json:"name"`
	// Cluster is the cluster the profile ran on and whether it was reused.
	Cluster string `json:"cluster,omitempty"`
	Reused  bool   `json:"reused,omitempty"`
	// Steps are the pipeline's timings for this profile (provision, install,
	// wait, checks), in order.
	Steps []Step `json:"steps,omitempty"`
	// Error is set when the profile could not reach its checks (the cluster
	// or Cilium never became ready).
	Error string `json:"error,omitempty"`
}

// Step is one timed pipeline step.
type Step struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"duration"`
	Error    string        `json:"error,omitempty"`
}

// Results collects verdicts as checks finish; safe for concurrent use.
type Results struct {
	mu       sync.Mutex
	Run      Run               `json:"run"`
	Profiles []Profile         `json:"profiles"`
	Verdicts []verdict.Verdict `json:"results"`
}

// New starts a result set.
func New(run Run) *Results {
	if run.Started.IsZero() {
		run.Started = time.Now()
	}
	return &Results{Run: run, Profiles: []Profile{}, Verdicts: []verdict.Verdict{}}
}

// Add records a verdict.
func (r *Results) Add(v verdict.Verdict) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Verdicts = append(r.Verdicts, v)
}

// AddProfile records a profile's pipeline facts (or replaces them).
func (r *Results) AddProfile(p Profile) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.Profiles {
		if r.Profiles[i].Name == p.Name {
			r.Profiles[i] = p
			return
		}
	}
	r.Profiles = append(r.Profiles, p)
}

// Snapshot returns a copy safe to read while checks still add verdicts.
func (r *Results) Snapshot() (Run, []Profile, []verdict.Verdict) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.Run, append([]Profile(nil), r.Profiles...), append([]verdict.Verdict(nil), r.Verdicts...)
}

// Totals counts verdicts: passed, failed (unexpectedly), expected failures
// (negative controls), skipped.
type Totals struct {
	Pass, Fail, ExpectedFail, UnexpectedPass, Skip int
}

// OK reports a run with no unmet expectation.
func (t Totals) OK() bool { return t.Fail == 0 && t.UnexpectedPass == 0 }

// Count tallies verdicts.
func Count(vs []verdict.Verdict) Totals {
	var t Totals
	for _, v := range vs {
		switch {
		case v.Result == verdict.Skip:
			t.Skip++
		case v.Error != "":
			t.Fail++ // not measured: meets no expectation
		case v.Result == verdict.Pass && v.Expect == verdict.ExpectFail:
			t.UnexpectedPass++
		case v.Result == verdict.Pass:
			t.Pass++
		case v.Expect == verdict.ExpectFail:
			t.ExpectedFail++
		default:
			t.Fail++
		}
	}
	return t
}

// Write writes results.json, junit.xml and summary.md into dir.
func (r *Results) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create report directory %s: %w", dir, err)
	}
	run, profiles, vs := r.Snapshot()
	if run.Finished.IsZero() {
		run.Finished = time.Now()
	}
	sortVerdicts(vs)
	doc := struct {
		Run      Run               `json:"run"`
		Totals   Totals            `json:"totals"`
		Profiles []Profile         `json:"profiles"`
		Results  []verdict.Verdict `json:"results"`
	}{run, Count(vs), profiles, vs}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results.json: %w", err)
	}
	junit, err := JUnit(run, profiles, vs)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "junit.xml"), junit, 0o644); err != nil {
		return fmt.Errorf("write junit.xml: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.md"), []byte(Markdown(run, profiles, vs)), 0o644); err != nil {
		return fmt.Errorf("write summary.md: %w", err)
	}
	return nil
}

// Read loads a results.json.
func Read(path string) (Run, []Profile, []verdict.Verdict, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Run{}, nil, nil, err
	}
	var doc struct {
		Run      Run               `json:"run"`
		Profiles []Profile         `json:"profiles"`
		Results  []verdict.Verdict `json:"results"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return Run{}, nil, nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return doc.Run, doc.Profiles, doc.Results, nil
}

// sortVerdicts orders by profile (as first seen), then check kind order as
// recorded.
func sortVerdicts(vs []verdict.Verdict) {
	first := map[string]int{}
	for i, v := range vs {
		if _, ok := first[v.Profile]; !ok {
			first[v.Profile] = i
		}
	}
	sort.SliceStable(vs, func(i, j int) bool { return first[vs[i].Profile] < first[vs[j].Profile] })
}
