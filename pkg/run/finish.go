package run

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tunedcilium/tunedcilium/pkg/report"
	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

// Record stores a verdict and collects the evidence of a failure at the
// moment it happens. (The feature prints the verdict as its test's log.)
func (s *Suite) Record(ctx context.Context, st *Stage, v verdict.Verdict) {
	s.Results.Add(v)
	if v.Met() {
		return
	}
	s.Failed()
	s.reproFailure(ctx, st, v) // repro bundle: REPORT_DIR/repro/<profile> (repro.go)
	if st == nil || st.Checker == nil {
		return
	}
	dir := filepath.Join(s.Opts.ReportDir, "failures", fmt.Sprintf("%s-kernel-%s", v.Profile, s.Kernel), v.Check)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if err := st.Checker.Collect(cctx, v, dir); err != nil {
		fmt.Fprintf(s.Out, "  collecting evidence for %s: %v\n", v.Check, err)
		return
	}
	fmt.Fprintf(s.Out, "  evidence for %s saved in %s\n", v.Check, dir)
}

// closeChecker removes what a stage's checks deployed (test pods, the
// external container).
func (s *Suite) closeChecker(ctx context.Context, st *Stage) error {
	if st.Checker == nil {
		return nil
	}
	err := st.Checker.Close(ctx)
	st.Checker = nil
	return err
}

// teardown removes a stage's cluster, unless the user asked to keep it.
func (s *Suite) teardown(ctx context.Context, st *Stage) error {
	if st == nil || st.Cluster == nil {
		return nil
	}
	cerr := s.closeChecker(ctx, st)
	s.releaseLease(ctx, st)
	s.mu.Lock()
	keep := s.Opts.Keep == KeepAlways || (s.Opts.Keep == KeepOnFailure && s.failed)
	s.mu.Unlock()
	if keep && st.Cluster.Provider() != "existing" {
		s.kept = append(s.kept, st.Cluster)
		fmt.Fprintf(s.Out, "  keeping cluster %s (--keep-cluster %s)\n", st.Cluster.Name(), s.Opts.Keep)
		return cerr
	}
	fmt.Fprintf(s.Out, "  deleting cluster %s\n", st.Cluster.Name())
	if err := st.Cluster.Delete(ctx); err != nil {
		return fmt.Errorf("delete cluster %s: %w", st.Cluster.Name(), err)
	}
	return cerr
}

// releaseLease lets go of the stage's cluster, so that `tunedcilium clean`
// may delete a kept cluster at once. A cluster whose API no longer answers
// costs at most 10s here: its lease expires by itself.
func (s *Suite) releaseLease(ctx context.Context, st *Stage) {
	if st.Lease == nil {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := st.Lease.Release(rctx); err != nil {
		fmt.Fprintf(s.Out, "  %v\n", err)
	}
	st.Lease = nil
}

// Finish tears down what is still up, writes the reports and prints the
// checklist. It runs on success, failure and interrupt; its context is not
// the run's (which an interrupt cancels).
func (s *Suite) Finish(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	var errs []string
	if err := s.teardown(ctx, s.stage); err != nil {
		errs = append(errs, err.Error())
	}
	s.stage = nil
	if s.Preflight != nil {
		s.Results.Run.HostChanges = s.Preflight.SysctlChanges()
	}
	s.Results.Run.Finished = time.Now()
	if err := s.Results.Write(s.Opts.ReportDir); err != nil {
		errs = append(errs, err.Error())
	}
	_, _, vs := s.Results.Snapshot()
	fmt.Fprintln(s.Out)
	_ = report.Checklist(s.Out, vs)
	t := report.Count(vs)
	fmt.Fprintf(s.Out, "\n%d PASS, %d FAIL, %d FAIL as expected, %d PASS where FAIL was expected, %d SKIP\n", t.Pass, t.Fail, t.ExpectedFail, t.UnexpectedPass, t.Skip)
	abs, _ := filepath.Abs(s.Opts.ReportDir)
	fmt.Fprintf(s.Out, "reports: %s/{results.json,junit.xml,summary.md}\n", abs)
	for _, c := range s.Results.Run.HostChanges {
		fmt.Fprintf(s.Out, "note: the run changed a host setting: %s\n", c)
	}
	for _, c := range s.kept {
		fmt.Fprintf(s.Out, "cluster %s kept; to use it:\n  export KUBECONFIG=%s\n", c.Name(), c.KubeconfigPath())
		if c.Provider() == "kind" || c.Provider() == "k3d" {
			fmt.Fprintf(s.Out, "  (remove it with: go run ./cmd/tunedcilium clean)\n")
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("finish: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Stage returns the stage in use.
func (s *Suite) Stage() *Stage { return s.stage }

// ensureDir creates a directory for evidence.
func ensureDir(dir string) error { return os.MkdirAll(dir, 0o755) }
