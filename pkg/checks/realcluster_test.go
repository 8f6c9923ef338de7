package checks

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tunedcilium/tunedcilium/clusters"
	"github.com/tunedcilium/tunedcilium/clusters/existing"
	"github.com/tunedcilium/tunedcilium/clusters/kind"
	"github.com/tunedcilium/tunedcilium/pkg/chart"
	"github.com/tunedcilium/tunedcilium/pkg/images"
	"github.com/tunedcilium/tunedcilium/pkg/install"
	"github.com/tunedcilium/tunedcilium/pkg/kernel"
	"github.com/tunedcilium/tunedcilium/pkg/plan"
	"github.com/tunedcilium/tunedcilium/pkg/profile"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
	"github.com/tunedcilium/tunedcilium/pkg/verdict"
	"github.com/tunedcilium/tunedcilium/pkg/workload"
)

// TestChecksOnRealCluster runs every planned check of a profile on a real
// cluster and reports the verdicts with their evidence.
//
//	TUNEDCILIUM_CHECKS_E2E=kind       a fresh 2-node kind cluster per profile from
//	                                  the local images (make images), Cilium from
//	                                  the module's chart; deleted afterwards, also
//	                                  on failure and on SIGINT/SIGTERM
//	TUNEDCILIUM_CHECKS_E2E=existing   TUNEDCILIUM_E2E_KUBECONFIG: a cluster with
//	                                  Cilium installed for the (single) profile
//	TUNEDCILIUM_CHECKS_PROFILES       profiles in order (default seed-part8);
//	                                  baseline first gives later ones a reference
//	TUNEDCILIUM_CHECKS_OUT            directory for verdicts-<profile>.json
//	TUNEDCILIUM_CHECKS_ALL=1          also every catalog check the plan does not
//	                                  list, expecting PASS where one of its
//	                                  mechanisms is planned active and FAIL
//	                                  elsewhere (a negative control)
//
// It fails when a verdict misses its expectation (a negative control that
// PASSes, a tuning check that FAILs) or a check could not measure.
func TestChecksOnRealCluster(t *testing.T) {
	mode := os.Getenv("TUNEDCILIUM_CHECKS_E2E")
	if mode == "" {
		t.Skip("set TUNEDCILIUM_CHECKS_E2E=kind (or existing with TUNEDCILIUM_E2E_KUBECONFIG) to run the checks on a real cluster")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Minute)
	defer cancel()

	names := strings.Split(envOr("TUNEDCILIUM_CHECKS_PROFILES", "seed-part8"), ",")
	out := envOr("TUNEDCILIUM_CHECKS_OUT", filepath.Join(os.TempDir(), "tunedcilium-checks"))
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	baselines := NewBaselines()
	runID := fmt.Sprintf("c%d", time.Now().Unix()%1000000)
	for i, name := range names {
		if ctx.Err() != nil {
			t.Fatalf("interrupted before profile %s", name)
		}
		label := strings.TrimSuffix(filepath.Base(name), ".yaml")
		t.Run(label, func(t *testing.T) {
			var verdicts []verdict.Verdict
			switch mode {
			case "kind":
				verdicts = runProfileOnKind(ctx, t, name, fmt.Sprintf("%s-%d", runID, i+1), baselines, out)
			case "existing":
				verdicts = runProfileOnExisting(ctx, t, name, runID, baselines, out)
			default:
				t.Fatalf("TUNEDCILIUM_CHECKS_E2E=%q: want kind or existing", mode)
			}
			data, _ := json.MarshalIndent(verdicts, "", "  ")
			file := filepath.Join(out, "verdicts-"+label+".json")
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Error(err)
			}
			t.Logf("verdicts written to %s", file)
			for _, v := range verdicts {
				t.Logf("%s", v.String())
				if !v.Met() {
					t.Errorf("expectation missed: %s", v.String())
				}
				if _, bad := v.Evidence["error"]; bad {
					t.Errorf("not measured: %s", v.String())
				}
			}
		})
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// planFor plans a profile for this machine's kernel and a kind cluster.
func planFor(t *testing.T, name, cluster string, facts plan.Facts) *plan.Plan {
	p, err := profile.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := kernel.Running()
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := kernel.ReadConfig()
	if err != nil {
		t.Logf("kernel config unknown (%v): kernel options assumed built", err)
		cfg = nil
	}
	cv, err := tuning.ParseCiliumVersion(images.CiliumVersion)
	if err != nil {
		t.Fatal(err)
	}
	pl := plan.New(p.Request(plan.Request{Kernel: kv, KernelConfig: cfg, CiliumVersion: cv, Facts: facts}))
	if len(pl.Errors) > 0 {
		t.Fatalf("plan %s: %+v", name, pl.Errors)
	}
	for _, s := range pl.Skips {
		t.Logf("plan %s: option %s skipped here: %s", name, s.Option, s.Reason)
	}
	return pl
}

// plannedChecks are the plan's checks plus the cluster-wide ones, and with
// all, every other catalog check with the expectation the plan implies.
func plannedChecks(pl *plan.Plan, all bool) []plan.PlannedCheck {
	out := append([]plan.PlannedCheck{}, pl.CheckPlan...)
	seen := map[string]bool{}
	for _, pc := range out {
		seen[pc.Check] = true
	}
	for _, c := range tuning.Checks() {
		if seen[c.Name] {
			continue
		}
		if len(c.Mechanisms) == 0 {
			out = append(out, plan.PlannedCheck{Check: c.Name, Kind: c.Kind, Expect: verdict.ExpectPass})
			continue
		}
		if !all {
			continue
		}
		pc := plan.PlannedCheck{Check: c.Name, Kind: c.Kind, Option: string(c.Mechanisms[0]), Expect: verdict.ExpectFail}
		if credited, _, ok := c.Credit(pl.Active); ok {
			pc.Expect, pc.Option, pc.Credits = verdict.ExpectPass, string(credited), string(credited)
		}
		out = append(out, pc)
	}
	return out
}

func runProfileOnKind(ctx context.Context, t *testing.T, name, runID string, baselines *Baselines, out string) []verdict.Verdict {
	if os.Geteuid() != 0 {
		t.Skip("needs root (Docker, node namespaces)")
	}
	src := images.Source{Local: true}
	clusterName := "tc-" + runID
	facts, err := plan.DefaultFacts(plan.Kind, clusterName)
	if err != nil {
		t.Fatal(err)
	}
	pl := planFor(t, name, clusterName, facts)
	spec := clusters.Spec{Name: clusterName, RunID: runID, Nodes: 2, KubeProxy: pl.KubeProxy, MTU: pl.NodeMTU, XDP: pl.Active(tuning.XDPAcceleration)}
	log := testLog{t}
	start := time.Now()
	c, err := kind.New(log).Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := c.Delete(dctx); err != nil {
			t.Errorf("delete cluster %s: %v", clusterName, err)
		}
		_ = workload.RemoveExternalByRun(dctx, runID)
	}()
	t.Logf("cluster %s created in %s", clusterName, time.Since(start).Round(time.Second))
	if err := c.LoadImages(ctx, src.NodeLoad()...); err != nil {
		t.Fatal(err)
	}
	host, port := c.APIServer()
	values, err := install.Values(install.ValuesInput{Planned: pl.Values, Images: src.HelmValues(), APIServerHost: host, APIServerPort: port, PodCIDR: facts.PodCIDR})
	if err != nil {
		t.Fatal(err)
	}
	cil, err := install.New(c.KubeconfigPath(), "", log)
	if err != nil {
		t.Fatal(err)
	}
	chartDir, err := chart.ModuleChartDir("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cil.Install(ctx, chartDir, values); err != nil {
		t.Fatal(err)
	}
	if err := cil.WaitReady(ctx, install.WaitOptions{Timeout: 6 * time.Minute, Operator: install.OperatorEnabled(values)}); err != nil {
		t.Fatal(err)
	}
	t.Logf("Cilium ready %s after start", time.Since(start).Round(time.Second))
	return runChecks(ctx, t, name, runID, pl, c, cil, baselines, out)
}

func runProfileOnExisting(ctx context.Context, t *testing.T, name, runID string, baselines *Baselines, out string) []verdict.Verdict {
	kc := os.Getenv("TUNEDCILIUM_E2E_KUBECONFIG")
	if kc == "" {
		t.Skip("TUNEDCILIUM_CHECKS_E2E=existing needs TUNEDCILIUM_E2E_KUBECONFIG")
	}
	log := testLog{t}
	c, err := existing.Open(ctx, existing.Options{Kubeconfig: kc, RunID: runID, NodeAccessImage: images.WorkloadImage, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Delete(context.Background()); err != nil {
			t.Errorf("remove what the run added to %s: %v", c.Name(), err)
		}
	}()
	facts, _ := plan.DefaultFacts(plan.Kind, "kind")
	pl := planFor(t, name, c.Name(), facts)
	cil, err := install.New(kc, "", log)
	if err != nil {
		t.Fatal(err)
	}
	return runChecks(ctx, t, name, runID, pl, c, cil, baselines, out)
}

func runChecks(ctx context.Context, t *testing.T, name, runID string, pl *plan.Plan, c clusters.Cluster, cil *install.Cilium, baselines *Baselines, out string) []verdict.Verdict {
	log := testLog{t}
	nodes, err := c.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	env0, err := NewEnv(ctx, Config{Profile: name, Plan: pl, Cluster: c, Cilium: cil, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	w, err := workload.Deploy(ctx, env0.Kube, env0.Exec, nodes, workload.Options{RunID: runID, External: true, Log: log})
	env0.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := w.Delete(ctx); err != nil {
			t.Errorf("delete workload: %v", err)
		}
	}()
	settings := DefaultSettings()
	settings.ReportDir = out
	env, err := NewEnv(ctx, Config{Profile: name, Plan: pl, Cluster: c, Cilium: cil, Workload: w, Settings: settings, Log: log, Baselines: baselines})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	t.Logf("active on the nodes: %v", env.Active(ctx).Keys())
	var verdicts []verdict.Verdict
	for _, pc := range plannedChecks(pl, os.Getenv("TUNEDCILIUM_CHECKS_ALL") != "") {
		if ctx.Err() != nil {
			t.Errorf("interrupted: %v", ctx.Err())
			break
		}
		verdicts = append(verdicts, Run(ctx, env, pc))
	}
	// Nothing leaks: no counting rule is left in any node's iptables.
	for _, n := range env.Nodes {
		if n.Probe == nil {
			continue
		}
		rules, err := n.Probe.IPTables(context.WithoutCancel(ctx))
		if err != nil {
			t.Errorf("read iptables of %s after the checks: %v", n.Name, err)
			continue
		}
		for _, r := range rules.Rules {
			if strings.HasPrefix(r.Comment, "tunedcilium-count") {
				t.Errorf("counting rule left on %s: %s", n.Name, r.Spec)
			}
		}
	}
	return verdicts
}
