package run

// Upgrade validation (--upgrade-from): a profile is installed at the old
// Cilium version, checked, upgraded with `helm upgrade` to the version
// under test exactly as an operator would (same profile values, the new
// chart, upgradeCompatibility set to the old minor as Cilium's upgrade
// guide says), and checked again. Long-lived TCP connections opened before
// the upgrade must still work after it. The order, in one place:
//
//	plan (both versions) -> provision -> load images -> install OLD -> wait ready
//	-> open long-lived connections -> checks (before-upgrade)
//	-> helm upgrade to NEW -> wait ready -> checks (after-upgrade)
//	-> judge: tunings still active, agents healthy on NEW, connections kept

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tunedcilium/tunedcilium/pkg/chart"
	"github.com/tunedcilium/tunedcilium/pkg/heldconn"
	"github.com/tunedcilium/tunedcilium/pkg/images"
	"github.com/tunedcilium/tunedcilium/pkg/install"
	"github.com/tunedcilium/tunedcilium/pkg/plan"
	"github.com/tunedcilium/tunedcilium/pkg/podexec"
	"github.com/tunedcilium/tunedcilium/pkg/profile"
	"github.com/tunedcilium/tunedcilium/pkg/report"
	"github.com/tunedcilium/tunedcilium/pkg/traffic/hold"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

// Checks of the upgrade itself (phase "upgrade").
const (
	CheckUpgradeTunings     = "upgrade.tunings-still-active"
	CheckUpgradeAgents      = "upgrade.agents-healthy"
	CheckUpgradeConnections = "upgrade.long-lived-connections"
)

// UpgradeSource is --upgrade-from resolved: the old chart, its Cilium
// version, and (with --images=local) the old agent and operator images.
type UpgradeSource struct {
	Input     string
	Version   tuning.CiliumVersion
	ChartPath string
	Images    images.Source
}

// Upgrading reports whether the run validates an upgrade.
func (s *Suite) Upgrading() bool { return s.Opts.UpgradeFrom != "" }

// ResolveUpgrade finds the old chart and checks its images are there. It
// touches no cluster; bad input fails here with one line naming the fix.
func (s *Suite) ResolveUpgrade() (*UpgradeSource, error) {
	in := s.Opts.UpgradeFrom
	from := &UpgradeSource{Input: in}
	if st, err := os.Stat(in); err == nil && st.IsDir() {
		path, err := (install.Source{LocalDir: in}).Resolve("")
		if err != nil {
			return nil, fmt.Errorf("--upgrade-from: %w", err)
		}
		ch, err := chart.Load(path)
		if err != nil {
			return nil, fmt.Errorf("--upgrade-from %s: %w", in, err)
		}
		v := ch.Metadata.AppVersion
		if v == "" {
			v = ch.Metadata.Version
		}
		if from.Version, err = tuning.ParseCiliumVersion(v); err != nil {
			return nil, fmt.Errorf("--upgrade-from %s: chart version %q: %w", in, v, err)
		}
		from.ChartPath = path
	} else {
		v, err := tuning.ParseCiliumVersion(in)
		if err != nil {
			return nil, fmt.Errorf("--upgrade-from %q: %w; give a version such as 1.19.5 or a chart directory", in, err)
		}
		from.Version = v
		if !newer(s.Cilium, v) {
			return nil, fmt.Errorf("--upgrade-from %s: Cilium %s is not older than the version under test (%s): give an older version", in, v, s.Cilium)
		}
		src := install.Source{RepoVersion: v.String()}
		if s.Images.Local || s.Opts.CiliumChart == "module" {
			src = install.Source{Module: true, ModuleVersion: "v" + v.String()}
		}
		if from.ChartPath, err = src.Resolve(os.TempDir() + "/tunedcilium-charts"); err != nil {
			return nil, fmt.Errorf("--upgrade-from %s: %w", in, err)
		}
	}
	if !newer(s.Cilium, from.Version) {
		return nil, fmt.Errorf("--upgrade-from %s: Cilium %s is not older than the version under test (%s): give an older version", in, from.Version, s.Cilium)
	}
	if s.Images.Local {
		tag := "v" + from.Version.String()
		from.Images = images.Source{Local: true,
			CiliumImage:   strings.TrimSuffix(images.CiliumImage, images.CiliumVersion) + tag,
			OperatorImage: strings.TrimSuffix(images.OperatorImage, images.CiliumVersion) + tag}
		if err := imagesPresent(context.Background(), []string{from.Images.Agent(), from.Images.Operator()}); err != nil {
			return nil, fmt.Errorf("--upgrade-from %s with --images=local needs Cilium %s's agent and operator images: %w", in, from.Version, err)
		}
	}
	return from, nil
}

func newer(a, b tuning.CiliumVersion) bool {
	if a.Major != b.Major {
		return a.Major > b.Major
	}
	if a.Minor != b.Minor {
		return a.Minor > b.Minor
	}
	return a.Patch > b.Patch
}

// Assess runs a stage's checks (the e2e features) in a phase; the checker
// it finds on the stage stamps every verdict with that phase.
type Assess func(ctx context.Context, st *Stage, phase string) error

// upgrader is what an upgrade run does, one method per step, so the order
// lives in runUpgrade alone and tests can record it.
type upgrader interface {
	Plan(ctx context.Context, st *Stage) error
	Provision(ctx context.Context, st *Stage) error
	LoadImages(ctx context.Context, st *Stage) error
	InstallOld(ctx context.Context, st *Stage) error
	WaitReady(ctx context.Context, st *Stage) error
	OpenConnections(ctx context.Context, st *Stage) error
	PrepareChecks(ctx context.Context, st *Stage, phase string) error
	Upgrade(ctx context.Context, st *Stage) error
	// Judge returns the upgrade's own verdicts: agents and connections.
	Judge(ctx context.Context, st *Stage) []verdict.Verdict
	CloseConnections(ctx context.Context, st *Stage) error
	OldVersion() string
	NewVersion() string
}

// RunUpgrade validates the upgrade for one profile; assess runs the
// profile's checks (twice). The e2e entry point calls it instead of Bring
// when Upgrading().
func (s *Suite) RunUpgrade(ctx context.Context, p profile.Profile, assess Assess) error {
	from, err := s.ResolveUpgrade()
	if err != nil {
		return err
	}
	u := &suiteUpgrade{s: s, from: from}
	st := &Stage{Profile: p}
	rp := report.Profile{Name: p.Name}
	defer func() {
		if st.Cluster != nil {
			rp.Cluster = st.Cluster.Name()
		}
		s.Results.AddProfile(rp)
	}()
	err = runUpgrade(ctx, s.Out, st, u, assess, &rp, func(v verdict.Verdict) { s.Record(ctx, st, v) }, func() []verdict.Verdict {
		_, _, vs := s.Results.Snapshot()
		return vs
	})
	if st.Cluster != nil {
		s.stage = st // torn down by the next profile or Finish
	}
	if err != nil {
		return fmt.Errorf("profile %s: upgrade %s -> %s: %w", p.Name, u.OldVersion(), u.NewVersion(), err)
	}
	return nil
}

// runUpgrade is the upgrade pipeline. record stores a verdict; results
// returns every verdict so far (the checks' before and after).
func runUpgrade(ctx context.Context, out io.Writer, st *Stage, u upgrader, assess Assess, rp *report.Profile,
	record func(verdict.Verdict), results func() []verdict.Verdict) (err error) {
	opened := false
	defer func() {
		if opened {
			if cerr := u.CloseConnections(context.WithoutCancel(ctx), st); cerr != nil && err == nil {
				err = cerr
			}
		}
	}()
	steps := []step{
		{"plan (" + u.OldVersion() + " and " + u.NewVersion() + ")", u.Plan},
		{"provision", u.Provision},
		{"load images", u.LoadImages},
		{"install cilium " + u.OldVersion(), u.InstallOld},
		{"wait ready", u.WaitReady},
		{"open long-lived connections", func(ctx context.Context, st *Stage) error {
			err := u.OpenConnections(ctx, st)
			opened = err == nil
			return err
		}},
		{"prepare checks", func(ctx context.Context, st *Stage) error { return u.PrepareChecks(ctx, st, report.PhaseBefore) }},
		{"checks " + report.PhaseBefore, func(ctx context.Context, st *Stage) error { return assess(ctx, st, report.PhaseBefore) }},
		{"helm upgrade to " + u.NewVersion(), u.Upgrade},
		{"wait ready on " + u.NewVersion(), u.WaitReady},
		{"prepare checks", func(ctx context.Context, st *Stage) error { return u.PrepareChecks(ctx, st, report.PhaseAfter) }},
		{"checks " + report.PhaseAfter, func(ctx context.Context, st *Stage) error { return assess(ctx, st, report.PhaseAfter) }},
		{"judge the upgrade", func(ctx context.Context, st *Stage) error {
			for _, v := range u.Judge(ctx, st) {
				record(v)
			}
			record(TuningsStillActive(st.Profile.Name, results()))
			return nil
		}},
	}
	for i, stp := range steps {
		start := time.Now()
		fmt.Fprintf(out, "[%s upgrade %d/%d] %s\n", st.Profile.Name, i+1, len(steps), stp.name)
		err := stp.run(ctx, st)
		rs := report.Step{Name: stp.name, Duration: time.Since(start)}
		if err != nil {
			if ctx.Err() != nil {
				err = fmt.Errorf("%w: %v", errInterrupted, err)
			}
			rs.Error = err.Error()
			rp.Steps = append(rp.Steps, rs)
			rp.Error = fmt.Sprintf("%s: %v", stp.name, err)
			return fmt.Errorf("%s: %w", stp.name, err)
		}
		rp.Steps = append(rp.Steps, rs)
		fmt.Fprintf(out, "[%s upgrade %d/%d] %s done (%s)\n", st.Profile.Name, i+1, len(steps), stp.name, since(start))
	}
	return nil
}

// TuningsStillActive judges the upgrade on the profile's own checks: every
// check that passed before the upgrade must pass after it.
func TuningsStillActive(profile string, vs []verdict.Verdict) verdict.Verdict {
	var mine []verdict.Verdict
	for _, v := range vs {
		if v.Profile == profile {
			mine = append(mine, v)
		}
	}
	pairs := report.UpgradePairs(mine)
	var kept, regressed []string
	ev := map[string]any{}
	for _, p := range pairs {
		if p.Before == nil || p.Before.Result != verdict.Pass || !p.Before.Met() {
			continue
		}
		if p.Regressed() {
			after := "not run after the upgrade"
			if p.After != nil {
				after = string(p.After.Result) + ": " + p.After.Reason
			}
			regressed = append(regressed, p.Check+" ("+after+")")
			ev[p.Check] = map[string]any{"before": p.Before.Result, "after": after}
		} else {
			kept = append(kept, p.Check)
		}
	}
	ev["kept"] = kept
	v := verdict.Verdict{Profile: profile, Check: CheckUpgradeTunings, Expect: verdict.ExpectPass, Phase: report.PhaseUpgrade, Evidence: ev}
	switch {
	case len(regressed) > 0:
		v.Result, v.Reason = verdict.Fail, fmt.Sprintf("%d of %d checks that passed before the upgrade do not after it: %s", len(regressed), len(regressed)+len(kept), strings.Join(regressed, "; "))
	case len(kept) == 0:
		v.Result, v.Reason = verdict.Skip, "no check passed before the upgrade: nothing to compare"
	default:
		v.Result, v.Reason = verdict.Pass, fmt.Sprintf("all %d checks that passed before the upgrade pass after it", len(kept))
		v.Mechanism = "upgrade"
	}
	return v
}

// ConnectionsVerdict judges the held connections: every one opened before
// the upgrade must have echoed again after it (later, taken a few pings
// after afterUpgrade, the status read once the upgrade was done).
func ConnectionsVerdict(profile string, before, afterUpgrade, later hold.Status) verdict.Verdict {
	alive, broken := hold.Compare(afterUpgrade, later)
	// A connection missing from afterUpgrade broke before it was read.
	seen := map[int]bool{}
	for _, c := range afterUpgrade.Conns {
		seen[c.ID] = true
	}
	for _, c := range before.Conns {
		if !seen[c.ID] {
			c.Broken, c.Error = true, "gone after the upgrade"
			broken = append(broken, c)
		}
	}
	sort.Slice(broken, func(i, j int) bool { return broken[i].ID < broken[j].ID })
	total := len(before.Conns)
	var lines []string
	for _, c := range broken {
		lines = append(lines, fmt.Sprintf("#%d %s -> %s: %s", c.ID, c.Local, c.Target, c.Error))
	}
	var maxRTT time.Duration
	for _, c := range later.Conns {
		if c.MaxRTT > maxRTT {
			maxRTT = c.MaxRTT
		}
	}
	ev := map[string]any{"opened": total, "alive": len(alive), "broken": len(broken), "brokenConnections": lines, "slowestEcho": maxRTT.String()}
	v := verdict.Verdict{Profile: profile, Check: CheckUpgradeConnections, Expect: verdict.ExpectPass, Phase: report.PhaseUpgrade, Evidence: ev}
	switch {
	case total == 0:
		v.Result, v.Reason = verdict.Skip, "no connection was open before the upgrade"
	case len(broken) > 0:
		v.Result, v.Reason = verdict.Fail, fmt.Sprintf("%d of %d long-lived connections broke across the upgrade: %s", len(broken), total, strings.Join(lines, "; "))
	default:
		v.Result, v.Reason = verdict.Pass, fmt.Sprintf("all %d long-lived connections opened before the upgrade still echo after it (slowest echo %s)", total, maxRTT.Round(time.Millisecond))
		v.Mechanism = "upgrade"
	}
	return v
}

// phased stamps every verdict of a checker with a phase.
type phased struct {
	Checker
	phase string
}

func (p phased) Run(ctx context.Context, pc plan.PlannedCheck) verdict.Verdict {
	v := p.Checker.Run(ctx, pc)
	v.Phase = p.phase
	return v
}

// suiteUpgrade does the steps on a real cluster with the suite's parts.
type suiteUpgrade struct {
	s       *Suite
	from    *UpgradeSource
	oldPlan *plan.Plan
	conns   *heldconn.Set
	kube    kubernetes.Interface
	// before is the connections' status just before `helm upgrade`;
	// afterUpgrade once the new agents were ready.
	before, afterUpgrade hold.Status
	upgraded             bool
	// agentsBefore is each node's agent image before `helm upgrade`.
	agentsBefore map[string]string
}

// agentImages maps each node to the image its cilium-agent container runs.
func (u *suiteUpgrade) agentImages(ctx context.Context) (map[string]string, error) {
	pods, err := u.kube.CoreV1().Pods(install.DefaultNamespace).List(ctx, metav1.ListOptions{LabelSelector: "k8s-app=cilium"})
	if err != nil {
		return nil, fmt.Errorf("list agent pods: %w", err)
	}
	out := map[string]string{}
	for _, p := range pods.Items {
		for _, c := range p.Status.ContainerStatuses {
			if c.Name == "cilium-agent" {
				out[p.Spec.NodeName] = c.Image
			}
		}
	}
	return out, nil
}

func (u *suiteUpgrade) OldVersion() string { return u.from.Version.String() }
func (u *suiteUpgrade) NewVersion() string { return u.s.Cilium.String() }

func (u *suiteUpgrade) Plan(ctx context.Context, st *Stage) error {
	s := u.s
	if s.stage != nil {
		// An upgrade starts from a fresh install of the old version.
		if err := s.teardown(ctx, s.stage); err != nil {
			return err
		}
		s.stage = nil
	}
	s.seq++
	name := ClusterName(s.Opts.RunID, s.seq)
	pl, err := s.plan(st.Profile, name)
	if err != nil {
		return err
	}
	facts, err := plan.DefaultFacts(s.Opts.Provider, name)
	if err != nil {
		return err
	}
	old := plan.New(st.Profile.Request(plan.Request{Kernel: s.Kernel, KernelConfig: s.Config, CiliumVersion: u.from.Version, Facts: facts}))
	for _, p := range []*plan.Plan{pl, old} {
		if len(p.Errors) > 0 {
			return fmt.Errorf("profile %s cannot run on Cilium %s: %s", st.Profile.Name, p.CiliumVersion, findingsText(p.Errors))
		}
	}
	for _, f := range old.Skips {
		if pl.Skipped(tuning.Key(f.Option)) == "" {
			fmt.Fprintf(s.Out, "  %s SKIPs before the upgrade only: %s\n", f.Option, f.Reason)
		}
	}
	st.Plan, u.oldPlan = pl, old
	st.Spec = SpecFor(pl, *s.Opts, name)
	st.Spec.NodeImage = s.nodeImage()
	return nil
}

func (u *suiteUpgrade) Provision(ctx context.Context, st *Stage) error { return u.s.provision(ctx, st) }

func (u *suiteUpgrade) LoadImages(ctx context.Context, st *Stage) error {
	if err := u.s.loadImages(ctx, st); err != nil {
		return err
	}
	if refs := dedupe([]string{u.from.Images.Agent(), u.from.Images.Operator()}); len(refs) > 0 && u.s.Opts.Provider != plan.Existing {
		fmt.Fprintf(u.s.Out, "  loading Cilium %s images: %s\n", u.from.Version, strings.Join(refs, ", "))
		return st.Cluster.LoadImages(ctx, refs...)
	}
	return nil
}

func (u *suiteUpgrade) values(st *Stage, planned map[string]any, imgs images.Source) (map[string]any, error) {
	host, port := st.Cluster.APIServer()
	in := install.ValuesInput{Planned: planned, APIServerHost: host, APIServerPort: port}
	if imgs.Local || imgs.CiliumImage != "" {
		in.Images = imgs.HelmValues()
	}
	return install.Values(in)
}

func (u *suiteUpgrade) InstallOld(ctx context.Context, st *Stage) error {
	values, err := u.values(st, u.oldPlan.Values, u.from.Images)
	if err != nil {
		return err
	}
	st.Values = values
	_, err = st.Cilium.Install(ctx, u.from.ChartPath, values)
	return err
}

func (u *suiteUpgrade) WaitReady(ctx context.Context, st *Stage) error {
	if err := u.s.waitReady(ctx, st); err != nil {
		return err
	}
	if u.upgraded && u.conns != nil {
		st, err := u.conns.Status(ctx)
		if err != nil {
			return err
		}
		u.afterUpgrade = st
	}
	return nil
}

func (u *suiteUpgrade) OpenConnections(ctx context.Context, st *Stage) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", st.Cluster.KubeconfigPath())
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", st.Cluster.KubeconfigPath(), err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	exec, err := podexec.New(cfg)
	if err != nil {
		return err
	}
	nodes, err := st.Cluster.Nodes(ctx)
	if err != nil {
		return err
	}
	u.kube = kube
	u.conns, err = heldconn.Open(ctx, kube, exec, nodes, heldconn.Options{
		RunID: u.s.Opts.RunID, Image: u.s.workloadImage(), Count: u.s.Opts.UpgradeConnections, Log: u.s.Out,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(u.s.Out, "  holding %d connections from %s to %s (%s)\n", u.s.Opts.UpgradeConnections*len(u.conns.Targets), u.conns.Client, u.conns.Server, strings.Join(u.conns.Targets, ", "))
	return nil
}

func (u *suiteUpgrade) PrepareChecks(ctx context.Context, st *Stage, phase string) error {
	if err := u.s.closeChecker(ctx, st); err != nil {
		return err
	}
	if err := u.s.prepareChecks(ctx, st); err != nil {
		return err
	}
	st.Checker = phased{Checker: st.Checker, phase: phase}
	return nil
}

func (u *suiteUpgrade) Upgrade(ctx context.Context, st *Stage) error {
	before, err := u.conns.Status(ctx)
	if err != nil {
		return err
	}
	u.before = before
	if u.agentsBefore, err = u.agentImages(ctx); err != nil {
		return err
	}
	if before.Broken > 0 {
		return fmt.Errorf("%d held connections broke before the upgrade started", before.Broken)
	}
	values, err := u.values(st, st.Plan.Values, u.s.Images)
	if err != nil {
		return err
	}
	// Cilium's upgrade guide: tell the new chart which version it upgrades
	// from, so defaults that changed since do not change under a running
	// cluster.
	values["upgradeCompatibility"] = fmt.Sprintf("%d.%d", u.from.Version.Major, u.from.Version.Minor)
	if err := u.s.closeChecker(ctx, st); err != nil {
		return err
	}
	st.Values = values
	if _, err := st.Cilium.Upgrade(ctx, u.s.ChartPath, values); err != nil {
		return err
	}
	u.upgraded = true
	return nil
}

func (u *suiteUpgrade) Judge(ctx context.Context, st *Stage) []verdict.Verdict {
	p := st.Profile.Name
	out := []verdict.Verdict{u.agentsVerdict(ctx, st)}
	// A few more pings, so every live connection echoes after the status
	// read once the agents were back.
	time.Sleep(3 * u.before.Interval)
	later, err := u.conns.Status(ctx)
	if err != nil {
		out = append(out, verdict.Verdict{Profile: p, Check: CheckUpgradeConnections, Expect: verdict.ExpectPass, Phase: report.PhaseUpgrade,
			Result: verdict.Fail, Reason: err.Error(), Evidence: map[string]any{"opened": len(u.before.Conns)}})
		return out
	}
	return append(out, ConnectionsVerdict(p, u.before, u.afterUpgrade, later))
}

// agentsVerdict: every agent pod is ready, runs the new version's image and
// reported itself healthy (the wait after the upgrade asked each one).
func (u *suiteUpgrade) agentsVerdict(ctx context.Context, st *Stage) verdict.Verdict {
	v := verdict.Verdict{Profile: st.Profile.Name, Check: CheckUpgradeAgents, Expect: verdict.ExpectPass, Phase: report.PhaseUpgrade}
	pods, err := u.kube.CoreV1().Pods(install.DefaultNamespace).List(ctx, metav1.ListOptions{LabelSelector: "k8s-app=cilium"})
	if err != nil {
		v.Result, v.Reason = verdict.Fail, "list agent pods: "+err.Error()
		return v
	}
	want := "v" + u.s.Cilium.String()
	if a := u.s.Images.Agent(); a != "" {
		want = a
	}
	agents := map[string]any{}
	var bad []string
	for _, p := range pods.Items {
		for _, c := range p.Status.ContainerStatuses {
			if c.Name != "cilium-agent" {
				continue
			}
			agents[p.Spec.NodeName] = map[string]any{"pod": p.Name, "image": c.Image, "imageID": c.ImageID, "ready": c.Ready, "restarts": c.RestartCount}
			if !c.Ready || !strings.Contains(c.Image, want) {
				bad = append(bad, fmt.Sprintf("%s on %s: image %s, ready %v", p.Name, p.Spec.NodeName, c.Image, c.Ready))
			}
		}
	}
	v.Evidence = map[string]any{"agents": agents, "want": want, "beforeUpgrade": u.agentsBefore}
	old := "v" + u.from.Version.String()
	if a := u.from.Images.Agent(); a != "" {
		old = a
	}
	for node, image := range u.agentsBefore {
		if !strings.Contains(image, old) {
			bad = append(bad, fmt.Sprintf("before the upgrade the agent on %s ran %s, not %s: this was no upgrade from it", node, image, old))
		}
	}
	switch {
	case len(agents) == 0:
		v.Result, v.Reason = verdict.Fail, "no cilium-agent pod after the upgrade"
	case len(bad) > 0:
		v.Result, v.Reason = verdict.Fail, "agents not upgraded from "+old+" to "+want+" or not ready: "+strings.Join(bad, "; ")
	default:
		v.Result, v.Reason = verdict.Pass, fmt.Sprintf("%d agents ran %s before the upgrade and are ready on %s after it, healthy by their own status", len(agents), old, want)
		v.Mechanism = "upgrade"
	}
	return v
}

func (u *suiteUpgrade) CloseConnections(ctx context.Context, st *Stage) error {
	if u.conns == nil {
		return nil
	}
	return u.conns.Close(ctx)
}
