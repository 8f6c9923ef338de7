package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/e2e-framework/pkg/flags"
	"sigs.k8s.io/e2e-framework/pkg/types"

	"github.com/tunedcilium/tunedcilium/features"
	"github.com/tunedcilium/tunedcilium/pkg/kernel"
	"github.com/tunedcilium/tunedcilium/pkg/plan"
	"github.com/tunedcilium/tunedcilium/pkg/profile"
	"github.com/tunedcilium/tunedcilium/pkg/repro"
	suiterun "github.com/tunedcilium/tunedcilium/pkg/run"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

// failedBundle writes the bundle a run leaves when one check of profile
// seed-part8 failed, and returns its directory, the plan and the verdict.
func failedBundle(t *testing.T, failed string) (string, *plan.Plan, verdict.Verdict) {
	t.Helper()
	p, err := profile.Load("seed-part8")
	require.NoError(t, err)
	facts, err := plan.DefaultFacts(plan.Kind, "tc-r1-1")
	require.NoError(t, err)
	cv, _ := tuning.ParseCiliumVersion("1.20.2")
	pl := plan.New(p.Request(plan.Request{Kernel: kernel.MustParse("6.18"), CiliumVersion: cv, Facts: facts}))
	require.Empty(t, pl.Errors)
	var pc plan.PlannedCheck
	for _, c := range pl.CheckPlan {
		if c.Check == failed {
			pc = c
		}
	}
	require.Equal(t, failed, pc.Check, "seed-part8 plans %s", failed)

	dir := repro.Dir(t.TempDir(), "seed-part8")
	_, err = repro.Start(dir, repro.Input{
		RunID: "r1", Profile: p, Values: pl.Values,
		Run: repro.Run{Provider: "kind", Nodes: 2, CiliumVersion: "1.20.2", Images: "local", Kernel: "6.18.44",
			NodeImage: "localhost/tunedcilium/kind-node:v1.34.4"},
		Chart:    repro.Chart{Path: "/root/go/pkg/mod/github.com/cilium/cilium@v1.20.2/install/kubernetes/cilium", Version: "1.20.2"},
		Images:   []repro.Image{{Ref: "localhost/cilium/cilium:v1.20.2", ID: "sha256:abc"}},
		Machines: []repro.MachineKernel{{Name: "host (shared by nodes a, b)", Release: "6.18.44-fc", Config: "CONFIG_BPF=y\n", ConfigFrom: "/proc/config.gz"}},
	})
	require.NoError(t, err)
	v := verdict.Verdict{Profile: "seed-part8", Option: pc.Option, Check: failed, Expect: pc.Expect, Result: verdict.Fail,
		Reason: "backend saw 172.18.0.3, node A's address", Evidence: map[string]any{"seen": "172.18.0.3"}}
	_, err = repro.AddFailure(dir, v)
	require.NoError(t, err)
	return dir, pl, v
}

func TestFailedCheckLeavesABundle(t *testing.T) {
	dir, _, v := failedBundle(t, "dsr.client-ip-preserved")
	for _, f := range []string{"bundle.json", "profile.yaml", "values.json", "replay.sh", "kernel/host_shared_by_nodes_a_b_.config", "failed/dsr.client-ip-preserved.json"} {
		_, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err, f)
	}
	data, err := os.ReadFile(filepath.Join(dir, "profile.yaml"))
	require.NoError(t, err)
	back, err := profile.Parse(data, "profile.yaml")
	require.NoError(t, err)
	require.Equal(t, []string{"native-routing", "kube-proxy-replacement", "bpf-masquerade", "dsr", "bypass-conntrack"}, back.Tunings)
	evidence, err := os.ReadFile(filepath.Join(dir, "failed/dsr.client-ip-preserved.json"))
	require.NoError(t, err)
	require.Contains(t, string(evidence), `"seen": "172.18.0.3"`)
	values, err := os.ReadFile(filepath.Join(dir, "values.json"))
	require.NoError(t, err)
	require.Contains(t, string(values), `"kubeProxyReplacement"`)

	sh, err := os.ReadFile(filepath.Join(dir, "replay.sh"))
	require.NoError(t, err)
	require.Contains(t, string(sh), "go run ./cmd/tunedcilium replay "+dir+" --check dsr.client-ip-preserved\n")
	require.Contains(t, string(sh), "# dsr.client-ip-preserved FAILED: "+v.Reason)

	b, err := repro.Read(dir)
	require.NoError(t, err)
	require.Equal(t, "r1", b.RunID)
	require.Len(t, b.Failed, 1)
	require.Equal(t, "6.18.44-fc", b.Machines[0].Release)
}

// TestReplaySelectsOnlyThatProfileAndCheck runs `tunedcilium replay
// --dry-run` on a bundle and applies the command it prints the way go test
// and the e2e-framework do: of every feature and assessment the profile's
// plan makes (features.For), exactly the failed check's runs.
func TestReplaySelectsOnlyThatProfileAndCheck(t *testing.T) {
	for _, failed := range []string{"dsr.client-ip-preserved", "status.kube-proxy-replacement", "conntrack.flat-pod-to-pod"} {
		t.Run(failed, func(t *testing.T) {
			dir, pl, _ := failedBundle(t, failed)
			var stdout, stderr bytes.Buffer
			require.Equal(t, 0, run([]string{"replay", dir, "--dry-run"}, &stdout, &stderr), stderr.String())
			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			cmdline := strings.TrimSpace(lines[len(lines)-1])
			argv := strings.Fields(strings.ReplaceAll(cmdline, "'", ""))
			require.Equal(t, []string{"go", "test", "./e2e/...", "-tags", "e2e"}, argv[:5])
			flag := func(name string) string {
				for i, a := range argv {
					if a == name && i+1 < len(argv) {
						return argv[i+1]
					}
				}
				t.Fatalf("%s missing from %s", name, cmdline)
				return ""
			}
			// go test -run: only TestTunedCilium's subtest of this profile.
			parts := strings.Split(flag("-run"), "/")
			require.Len(t, parts, 2)
			require.Regexp(t, parts[0], "TestTunedCilium")
			require.Regexp(t, parts[1], "seed-part8")
			require.NotRegexp(t, parts[1], "seed-part8-copy")
			require.Equal(t, filepath.Join(dir, "profile.yaml"), flag("--profiles"))
			require.Equal(t, "kind", flag("--provider"))
			require.Equal(t, "1.20.2", flag("--cilium-version"))
			require.Equal(t, "local", flag("--images"))

			// The e2e-framework: features whose labels hold every --labels
			// pair, and in them the assessments --assess matches.
			want := flags.LabelsMap{}
			require.NoError(t, want.Set(flag("--labels")))
			assess := regexp.MustCompile(flag("--assess"))
			st := &suiterun.Stage{Profile: profile.Profile{Name: "seed-part8"}, Plan: pl}
			var selected []string
			for _, f := range features.For(&suiterun.Suite{}, st) {
				if !labelsMatch(f.Labels(), want) {
					continue
				}
				for _, s := range f.Steps() {
					if s.Level() == types.LevelAssess && assess.MatchString(s.Name()) {
						selected = append(selected, s.Name())
					}
				}
			}
			require.Len(t, selected, 1, "exactly one assessment runs: %v", selected)
			require.True(t, strings.HasSuffix(selected[0], "["+failed+"]"), selected[0])
		})
	}
}

func labelsMatch(have types.Labels, want flags.LabelsMap) bool {
	for k, vs := range want {
		ok := false
		for _, v := range vs {
			if have.Contains(k, v) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func TestReplayBadInput(t *testing.T) {
	var stderr bytes.Buffer
	require.Equal(t, 2, run([]string{"replay", t.TempDir()}, &bytes.Buffer{}, &stderr))
	require.Contains(t, stderr.String(), "is not a repro bundle (no bundle.json)")

	dir, _, _ := failedBundle(t, "dsr.client-ip-preserved")
	stderr.Reset()
	require.Equal(t, 2, run([]string{"replay", dir, "--check", "bbr.congestion-control"}, &bytes.Buffer{}, &stderr))
	require.Contains(t, stderr.String(), `check "bbr.congestion-control" did not fail in this bundle: failed are dsr.client-ip-preserved`)

	stderr.Reset()
	require.Equal(t, 2, run([]string{"replay", dir, "--repo", t.TempDir()}, &bytes.Buffer{}, &stderr))
	require.Contains(t, stderr.String(), "not a tunedcilium checkout (no e2e/)")
}

func TestHostAuditCommandOnThisMachine(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run([]string{"host-audit"}, &stdout, &stderr), stderr.String())
	for _, k := range []string{"tuned-profile", "cpu-governor", "irqbalance", "nic-irq-affinity", "preempt-none"} {
		require.Contains(t, stdout.String(), k)
	}
	require.Equal(t, 2, run([]string{"host-audit", "-o", "yaml"}, &bytes.Buffer{}, &bytes.Buffer{}))
}
