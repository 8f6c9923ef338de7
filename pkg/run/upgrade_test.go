package run

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tunedcilium/tunedcilium/pkg/plan"
	"github.com/tunedcilium/tunedcilium/pkg/profile"
	"github.com/tunedcilium/tunedcilium/pkg/report"
	"github.com/tunedcilium/tunedcilium/pkg/traffic/hold"
	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

// fakeUpgrade records the order of the steps; failAt makes one fail.
type fakeUpgrade struct {
	calls  []string
	failAt string
}

func (f *fakeUpgrade) do(name string) error {
	f.calls = append(f.calls, name)
	if name == f.failAt {
		return errors.New(name + " failed")
	}
	return nil
}

func (f *fakeUpgrade) Plan(context.Context, *Stage) error       { return f.do("plan") }
func (f *fakeUpgrade) Provision(context.Context, *Stage) error  { return f.do("provision") }
func (f *fakeUpgrade) LoadImages(context.Context, *Stage) error { return f.do("load") }
func (f *fakeUpgrade) InstallOld(context.Context, *Stage) error { return f.do("install-old") }
func (f *fakeUpgrade) WaitReady(context.Context, *Stage) error  { return f.do("wait") }
func (f *fakeUpgrade) Upgrade(context.Context, *Stage) error    { return f.do("helm-upgrade") }
func (f *fakeUpgrade) OpenConnections(context.Context, *Stage) error {
	return f.do("open-connections")
}
func (f *fakeUpgrade) PrepareChecks(_ context.Context, st *Stage, phase string) error {
	st.Checker = phased{Checker: fakeChecker{}, phase: phase}
	return f.do("prepare-" + phase)
}
func (f *fakeUpgrade) Judge(context.Context, *Stage) []verdict.Verdict {
	f.calls = append(f.calls, "judge")
	return []verdict.Verdict{{Profile: "seed-part8", Check: CheckUpgradeConnections, Result: verdict.Pass, Phase: report.PhaseUpgrade}}
}
func (f *fakeUpgrade) CloseConnections(context.Context, *Stage) error {
	f.calls = append(f.calls, "close-connections")
	return nil
}
func (f *fakeUpgrade) OldVersion() string { return "1.19.5" }
func (f *fakeUpgrade) NewVersion() string { return "1.20.2" }

// fakeChecker passes every check but DSR, which the "upgrade" breaks.
type fakeChecker struct{}

func (fakeChecker) Run(_ context.Context, pc plan.PlannedCheck) verdict.Verdict {
	return verdict.Verdict{Profile: "seed-part8", Check: pc.Check, Result: verdict.Pass, Expect: verdict.ExpectPass}
}
func (fakeChecker) Collect(context.Context, verdict.Verdict, string) error { return nil }
func (fakeChecker) Close(context.Context) error                            { return nil }

func TestUpgradeOrder(t *testing.T) {
	f := &fakeUpgrade{}
	var out bytes.Buffer
	var recorded []verdict.Verdict
	st := &Stage{Profile: profile.Profile{Name: "seed-part8"}}
	assess := func(ctx context.Context, st *Stage, phase string) error {
		f.calls = append(f.calls, "checks-"+phase)
		for _, c := range []string{"status.kpr", "dsr.client-ip-preserved"} {
			v := st.Checker.Run(ctx, plan.PlannedCheck{Check: c})
			if phase == report.PhaseAfter && c == "dsr.client-ip-preserved" {
				v.Result, v.Reason = verdict.Fail, "backend saw node A's address"
			}
			recorded = append(recorded, v)
		}
		return nil
	}
	var rp report.Profile
	err := runUpgrade(context.Background(), &out, st, f, assess, &rp,
		func(v verdict.Verdict) { recorded = append(recorded, v) },
		func() []verdict.Verdict { return recorded })
	require.NoError(t, err)
	require.Equal(t, []string{
		"plan", "provision", "load", "install-old", "wait",
		"open-connections", "prepare-before-upgrade", "checks-before-upgrade",
		"helm-upgrade", "wait", "prepare-after-upgrade", "checks-after-upgrade",
		"judge", "close-connections",
	}, f.calls)
	require.Len(t, rp.Steps, 13)
	require.Equal(t, "install cilium 1.19.5", rp.Steps[3].Name)
	require.Equal(t, "helm upgrade to 1.20.2", rp.Steps[8].Name)
	require.Contains(t, out.String(), "[seed-part8 upgrade 9/13] helm upgrade to 1.20.2")

	// Every check carries its phase; the upgrade's own verdicts come last.
	require.Equal(t, report.PhaseBefore, recorded[0].Phase)
	require.Equal(t, report.PhaseAfter, recorded[3].Phase)
	last := recorded[len(recorded)-1]
	require.Equal(t, CheckUpgradeTunings, last.Check)
	require.Equal(t, verdict.Fail, last.Result, "DSR passed before and not after")
	require.Contains(t, last.Reason, "1 of 2 checks that passed before the upgrade do not after it: dsr.client-ip-preserved (FAIL: backend saw node A's address)")
}

func TestUpgradeStopsAtTheFailingStepAndClosesConnections(t *testing.T) {
	f := &fakeUpgrade{failAt: "helm-upgrade"}
	st := &Stage{Profile: profile.Profile{Name: "seed-part8"}}
	var rp report.Profile
	err := runUpgrade(context.Background(), &bytes.Buffer{}, st, f,
		func(context.Context, *Stage, string) error { f.calls = append(f.calls, "checks"); return nil }, &rp,
		func(verdict.Verdict) {}, func() []verdict.Verdict { return nil })
	require.EqualError(t, err, "helm upgrade to 1.20.2: helm-upgrade failed")
	require.Equal(t, "helm-upgrade", f.calls[len(f.calls)-2])
	require.Equal(t, "close-connections", f.calls[len(f.calls)-1], "connections opened are removed on failure too")
	require.Equal(t, "helm upgrade to 1.20.2: helm-upgrade failed", rp.Error)

	f = &fakeUpgrade{failAt: "install-old"}
	err = runUpgrade(context.Background(), &bytes.Buffer{}, st, f, nil, &rp, func(verdict.Verdict) {}, func() []verdict.Verdict { return nil })
	require.Error(t, err)
	require.NotContains(t, f.calls, "close-connections", "nothing was opened")
}

func TestConnectionsVerdict(t *testing.T) {
	conns := func(pings int, broken ...int) hold.Status {
		var st hold.Status
		for id := 1; id <= 4; id++ {
			c := hold.Conn{ID: id, Target: "10.244.1.5:8081", Local: "10.244.0.7:4000" + string(rune('0'+id)), Pings: pings, MaxRTT: time.Millisecond}
			for _, b := range broken {
				if b == id {
					c.Broken, c.Error = true, "read echo: connection reset by peer"
				}
			}
			st.Conns = append(st.Conns, c)
		}
		return st
	}
	v := ConnectionsVerdict("seed-part8", conns(10), conns(40), conns(43))
	require.Equal(t, verdict.Pass, v.Result, v.Reason)
	require.Equal(t, report.PhaseUpgrade, v.Phase)
	require.Contains(t, v.Reason, "all 4 long-lived connections")

	v = ConnectionsVerdict("seed-part8", conns(10), conns(40, 3), conns(43, 3))
	require.Equal(t, verdict.Fail, v.Result)
	require.Equal(t, 1, v.Evidence["broken"])
	require.Contains(t, v.Reason, "1 of 4 long-lived connections broke across the upgrade: #3 10.244.0.7:40003 -> 10.244.1.5:8081: read echo: connection reset by peer")

	// Not broken, but silent since the upgrade: not working either.
	stalled := conns(43)
	stalled.Conns[0].Pings = 40
	v = ConnectionsVerdict("seed-part8", conns(10), conns(40), stalled)
	require.Equal(t, verdict.Fail, v.Result)
	require.Contains(t, v.Reason, "no echo since the earlier status")
}

func TestTuningsStillActiveNeedsSomethingToCompare(t *testing.T) {
	v := TuningsStillActive("p", []verdict.Verdict{{Profile: "p", Check: "c", Result: verdict.Skip, Phase: report.PhaseBefore}})
	require.Equal(t, verdict.Skip, v.Result)
	v = TuningsStillActive("p", []verdict.Verdict{
		{Profile: "p", Check: "c", Result: verdict.Pass, Phase: report.PhaseBefore},
		{Profile: "p", Check: "c", Result: verdict.Pass, Phase: report.PhaseAfter},
		{Profile: "other", Check: "c", Result: verdict.Fail, Phase: report.PhaseAfter},
	})
	require.Equal(t, verdict.Pass, v.Result)
	require.True(t, strings.HasPrefix(v.Reason, "all 1 checks"))
}

func TestUpgradeFromRejectsANewerVersion(t *testing.T) {
	s := &Suite{Opts: &Options{UpgradeFrom: "1.21.0"}}
	s.Cilium.Major, s.Cilium.Minor, s.Cilium.Patch = 1, 20, 2
	_, err := s.ResolveUpgrade()
	require.EqualError(t, err, "--upgrade-from 1.21.0: Cilium 1.21.0 is not older than the version under test (1.20.2): give an older version")
	s.Opts.UpgradeFrom = "1.20.2"
	_, err = s.ResolveUpgrade()
	require.ErrorContains(t, err, "is not older")

	// A chart directory: its Chart.yaml says the version.
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Chart.yaml"), []byte("apiVersion: v2\nname: cilium\nversion: 1.19.5\nappVersion: 1.19.5\n"), 0o644))
	s.Opts.UpgradeFrom = dir
	from, err := s.ResolveUpgrade()
	require.NoError(t, err)
	require.Equal(t, "1.19.5", from.Version.String())
	require.Equal(t, dir, from.ChartPath)
	require.Empty(t, from.Images.Agent(), "registry mode: the old chart's own images")
}
