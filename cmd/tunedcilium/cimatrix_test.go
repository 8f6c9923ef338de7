package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/tunedcilium/tunedcilium/pkg/chart"
	"github.com/tunedcilium/tunedcilium/pkg/cimatrix"
	"github.com/tunedcilium/tunedcilium/pkg/plan"
	"github.com/tunedcilium/tunedcilium/pkg/profile"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// The workflow, as far as this test reads it.
type workflow struct {
	Jobs map[string]struct {
		Needs    any               `json:"needs"`
		If       string            `json:"if"`
		Outputs  map[string]string `json:"outputs"`
		Strategy struct {
			Matrix any `json:"matrix"`
		} `json:"strategy"`
		Steps []struct {
			ID   string            `json:"id"`
			Name string            `json:"name"`
			Uses string            `json:"uses"`
			If   string            `json:"if"`
			Run  string            `json:"run"`
			Env  map[string]string `json:"env"`
			With map[string]any    `json:"with"`
		} `json:"steps"`
	} `json:"jobs"`
}

func repoFile(t *testing.T, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", rel))
	require.NoError(t, err)
	return data
}

// TestWorkflowMatrixDryRun is the workflow's dry run: it takes the plan
// job's exact ci-matrix command from .github/workflows/e2e.yaml, runs it
// (with the empty inputs of a push), and checks that each row the jobs get
// carries the pinned image and the planner's own profiles and skips for
// that kernel.
func TestWorkflowMatrixDryRun(t *testing.T) {
	var wf workflow
	require.NoError(t, yaml.Unmarshal(repoFile(t, ".github/workflows/e2e.yaml"), &wf))
	pins, err := cimatrix.ParsePins(repoFile(t, cimatrix.KernelsFile), cimatrix.KernelsFile)
	require.NoError(t, err)
	require.Equal(t, "quay.io/lvh-images/kind", pins.Image)

	// The plan job: its matrix step's command, run as the workflow runs it.
	planJob := wf.Jobs["plan"]
	var cmdline string
	for _, s := range planJob.Steps {
		if s.ID == "matrix" {
			for _, l := range strings.Split(s.Run, "\n") {
				if strings.Contains(l, "ci-matrix") && strings.Contains(l, "-o github") {
					cmdline = l
				}
			}
		}
	}
	require.NotEmpty(t, cmdline, "the plan job's matrix step runs `tunedcilium ci-matrix ... -o github`")
	require.Equal(t, "${{ steps.matrix.outputs.lvh }}", planJob.Outputs["lvh"])
	require.Equal(t, "${{ steps.matrix.outputs.hosted }}", planJob.Outputs["hosted"])
	args := shellWords(t, strings.TrimSuffix(strings.TrimSpace(cmdline), `>> "$GITHUB_OUTPUT"`), map[string]string{"PROFILES": "", "KERNELS": ""})
	require.Equal(t, []string{"go", "run", "./cmd/tunedcilium", "ci-matrix"}, args[:4])
	args = args[3:]
	for i, a := range args {
		if a == ".github/kernels.yaml" {
			args[i] = filepath.Join("..", "..", a) // the test runs in cmd/tunedcilium
		}
	}
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run(args, &stdout, &stderr), stderr.String())

	outputs := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		k, v, ok := strings.Cut(l, "=")
		require.True(t, ok, l)
		outputs[k] = v
	}
	var hosted cimatrix.Row
	require.NoError(t, json.Unmarshal([]byte(outputs["hosted"]), &hosted))
	var lvh struct{ Include []cimatrix.Row }
	require.NoError(t, json.Unmarshal([]byte(outputs["lvh"]), &lvh))

	// The jobs take their rows from those outputs.
	require.Equal(t, "${{ fromJSON(needs.plan.outputs.lvh) }}", wf.Jobs["lvh"].Strategy.Matrix)
	hostedRun := findStep(t, wf, "hosted", func(run, uses string) bool { return strings.Contains(run, "make e2e") })
	require.Equal(t, "${{ fromJSON(needs.plan.outputs.hosted).profiles }}", hostedRun.Env["PROFILES"])
	require.Contains(t, hostedRun.Run, "--profiles=$PROFILES")

	// Every pinned kernel is a row, booted from its pinned image.
	require.Len(t, lvh.Include, len(pins.Kernels))
	cv, err := tuning.ParseCiliumVersion(chart.ModuleVersion())
	require.NoError(t, err)
	all, err := profile.Builtin()
	require.NoError(t, err)
	for _, row := range lvh.Include {
		require.Equal(t, cimatrix.LVH, row.Runner)
		require.Equal(t, pins.Kernels[row.Kernel], row.Image, row.Kernel)
		pf, err := profile.ParsePlatform(row.Kernel)
		require.NoError(t, err)
		checkRowAgainstPlanner(t, row, all, pf, cv)
		if strings.HasPrefix(row.Kernel, "rhel") {
			require.Equal(t, row.Kernel, row.KernelPlatform, "the rhel row plans as RHEL, not as its 4.18 version")
		} else {
			require.Empty(t, row.KernelPlatform)
		}
	}
	require.Equal(t, cimatrix.Hosted, hosted.Runner)
	require.NotEmpty(t, hosted.Profiles)

	// What the planner says about the kernels Cilium pins, as operators
	// know it: netkit needs 6.8, IPv4 BIG TCP 6.3, BBR for pods 5.18.
	skip := func(kernel, prof, option string) string {
		for _, r := range lvh.Include {
			if r.Kernel != kernel {
				continue
			}
			for _, s := range r.Skips {
				if s.Profile == prof && s.Option == option {
					return s.Reason
				}
			}
			return ""
		}
		t.Fatalf("no row for kernel %s", kernel)
		return ""
	}
	for _, k := range []string{"rhel8.10", "5.15", "6.1", "6.6"} {
		require.Contains(t, skip(k, "netkit", "netkit"), "needs kernel >= 6.8", k)
	}
	for _, k := range []string{"6.12", "6.18"} {
		require.Empty(t, skip(k, "netkit", "netkit"), k)
	}
	for _, k := range []string{"rhel8.10", "5.15", "6.1"} {
		require.Contains(t, skip(k, "ipv4-big-tcp", "ipv4-big-tcp"), "needs kernel >= 6.3", k)
	}
	require.Contains(t, skip("6.6", "ipv4-big-tcp", "ipv4-big-tcp"), "NIC driver veth", "from 6.3 on only the NIC (kind's veth) keeps it off")
	require.Equal(t, "needs kernel >= 5.18; this kernel is 5.10.0", skip("rhel8.10", "bbr", "bbr"), "rhel8.10 plans as 5.10")
	require.Empty(t, skip("6.1", "bbr", "bbr"))
	require.Empty(t, skip("rhel8.10", "seed-part8", "dsr"), "the seed set runs on every pinned kernel")
}

// checkRowAgainstPlanner recomputes a row with the planner directly: the
// same profiles run, the same options skip for the same reasons.
func checkRowAgainstPlanner(t *testing.T, row cimatrix.Row, all []profile.Profile, pf profile.Platform, cv tuning.CiliumVersion) {
	t.Helper()
	facts, err := plan.DefaultFacts(plan.Kind, "")
	require.NoError(t, err)
	var runs []string
	var skips []cimatrix.Finding
	for _, p := range all {
		pl := plan.New(p.Request(plan.Request{Kernel: pf.Kernel, CiliumVersion: cv, Facts: facts}))
		if len(pl.Errors) > 0 || (len(p.Tunings) > 0 && len(pl.Options) == 0) {
			continue
		}
		runs = append(runs, p.Name)
		for _, s := range pl.Skips {
			skips = append(skips, cimatrix.Finding{Profile: p.Name, Option: s.Option, Reason: s.Reason})
		}
	}
	require.Equal(t, strings.Join(runs, ","), row.Profiles, row.Kernel)
	require.Equal(t, skips, row.Skips, row.Kernel)
}

func findStep(t *testing.T, wf workflow, job string, match func(run, uses string) bool) struct {
	ID   string            `json:"id"`
	Name string            `json:"name"`
	Uses string            `json:"uses"`
	If   string            `json:"if"`
	Run  string            `json:"run"`
	Env  map[string]string `json:"env"`
	With map[string]any    `json:"with"`
} {
	t.Helper()
	for _, s := range wf.Jobs[job].Steps {
		if match(s.Run, s.Uses) {
			return s
		}
	}
	t.Fatalf("job %s has no such step", job)
	return wf.Jobs[job].Steps[0]
}

// TestWorkflowLVHRows checks how each LVH row runs: the VM comes from
// cilium/little-vm-helper pinned by commit (as Cilium's CI pins it), boots
// the row's image, runs the row's profiles and kernel platform, and every
// row, hosted or not, uploads its report and writes the job summary even
// when the suite failed.
func TestWorkflowLVHRows(t *testing.T) {
	var wf workflow
	require.NoError(t, yaml.Unmarshal(repoFile(t, ".github/workflows/e2e.yaml"), &wf))
	pinned := regexp.MustCompile(`^[a-z0-9-]+/[a-z0-9-]+@[0-9a-f]{40}$`)
	for name, job := range wf.Jobs {
		for _, s := range job.Steps {
			if s.Uses != "" && !strings.HasPrefix(s.Uses, "./") {
				require.Regexp(t, pinned, s.Uses, "job %s: actions are pinned by commit SHA", name)
			}
		}
	}
	var boot, suite map[string]any
	for _, s := range wf.Jobs["lvh"].Steps {
		if strings.HasPrefix(s.Uses, "cilium/little-vm-helper@") {
			if s.With["provision"] == "false" {
				suite = s.With
			} else {
				boot = s.With
			}
		}
	}
	require.NotNil(t, boot, "a step boots the VM")
	require.NotNil(t, suite, "a step runs the suite in the booted VM")
	require.Equal(t, "kind", boot["image"])
	require.Equal(t, "${{ matrix.image }}", boot["image-version"])
	require.Equal(t, "./", boot["host-mount"])
	cmd := suite["cmd"].(string)
	for _, want := range []string{"--profiles=${{ matrix.profiles }}", "--kernel-platform=${{ matrix.kernelPlatform }}", "--report-dir=/host/${{ env.REPORT_DIR }}", "-test.run=TestTunedCilium"} {
		require.Contains(t, cmd, want)
	}
	require.NotContains(t, strings.ReplaceAll(cmd, "${{", ""), "$", "LVH runs cmd in an unquoted here-document: a $ would expand on the runner")

	for _, job := range []string{"hosted", "lvh"} {
		up := findStep(t, wf, job, func(_, uses string) bool { return strings.HasPrefix(uses, "actions/upload-artifact@") })
		require.Equal(t, "always()", up.If, job)
		require.Equal(t, "${{ env.REPORT_DIR }}", up.With["path"], job)
		sum := findStep(t, wf, job, func(run, _ string) bool { return strings.Contains(run, "GITHUB_STEP_SUMMARY") })
		require.Equal(t, "always()", sum.If, job)
		require.Contains(t, sum.Run, `"$REPORT_DIR/summary.md"`, job)
	}
}

// shellWords splits a one-line shell command with double quotes and $VAR
// expansion: enough for the workflow's own lines.
func shellWords(t *testing.T, line string, env map[string]string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '"':
			quoted, inWord = !quoted, true
		case c == '$':
			j := i + 1
			for j < len(line) && (line[j] == '_' || line[j] >= 'A' && line[j] <= 'Z') {
				j++
			}
			v, ok := env[line[i+1:j]]
			require.True(t, ok, "unknown variable in %q", line)
			cur.WriteString(v)
			inWord, i = true, j-1
		case c == ' ' && !quoted:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	require.False(t, quoted, "unbalanced quotes in %q", line)
	if inWord {
		words = append(words, cur.String())
	}
	return words
}
