package checks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// ciliumCLI finds the cilium CLI: the configured path, else PATH.
func ciliumCLI(configured string) (string, error) {
	if configured != "" {
		if _, err := os.Stat(configured); err != nil {
			return "", fmt.Errorf("the cilium CLI given (%s) is not there: %w", configured, err)
		}
		return configured, nil
	}
	p, err := exec.LookPath("cilium")
	if err != nil {
		return "", errors.New("no cilium CLI on PATH and none given (--cilium-cli): install cilium-cli to run `cilium connectivity test`")
	}
	return p, nil
}

// ConnectivityEvidence is what `cilium connectivity test` left.
type ConnectivityEvidence struct {
	CLI        string   `json:"cli"`
	Kubeconfig string   `json:"kubeconfig"`
	Args       []string `json:"args"`
	ExitCode   int      `json:"exitCode"`
	JUnit      string   `json:"junitFile"`
	// Summary is the CLI's last lines ("✅ All 42 tests ...").
	Summary string `json:"summary"`
}

var failedTests = regexp.MustCompile(`(?m)^.*(\d+)/(\d+) tests failed.*$`)

// DecideConnectivity: PASS when the CLI exited 0; FAIL with its summary.
func DecideConnectivity(e ConnectivityEvidence) Decision {
	if e.ExitCode == 0 {
		return pass("cilium connectivity test passed (%s; JUnit %s)", firstLine(e.Summary), e.JUnit)
	}
	if m := failedTests.FindString(e.Summary); m != "" {
		return fail("cilium connectivity test: %s (exit %d; JUnit %s)", strings.TrimSpace(m), e.ExitCode, e.JUnit)
	}
	return fail("cilium connectivity test exited %d: %s (JUnit %s)", e.ExitCode, firstLine(e.Summary), e.JUnit)
}

func connectivity(ctx context.Context, env *Env, _ tuning.Check) outcome {
	cli, err := ciliumCLI(env.Settings.CiliumCLI)
	if err != nil {
		return skipOutcome(nil, "%v", err)
	}
	dir := env.Settings.ReportDir
	if dir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return errorOutcome(nil, fmt.Errorf("report dir %s: %w", dir, err))
	}
	junit := filepath.Join(dir, "connectivity-"+safeName(env.Profile)+".xml")
	// The kubeconfig goes in KUBECONFIG, which every cilium-cli version
	// reads through client-go's loading rules.
	args := []string{"connectivity", "test",
		"--junit-file", junit,
		"--collect-sysdump-on-failure",
		"--sysdump-output-filename", "cilium-sysdump-" + safeName(env.Profile) + "-<ts>",
	}
	if env.Cilium.Context != "" {
		args = append(args, "--context", env.Cilium.Context)
	}
	if f := env.Settings.ConnectivityFilter; f != "" {
		args = append(args, "--test", f)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), env.Settings.ConnectivityTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	cmd := exec.CommandContext(cctx, cli, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Cluster.KubeconfigPath())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	env.logf("check connectivity: KUBECONFIG=%s %s %s", env.Cluster.KubeconfigPath(), cli, strings.Join(args, " "))
	err = cmd.Run()
	ev := ConnectivityEvidence{CLI: cli, Kubeconfig: env.Cluster.KubeconfigPath(), Args: args, JUnit: junit, Summary: lastLines(out.String(), 5)}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		ev.ExitCode = exitErr.ExitCode()
	default:
		return errorOutcome(map[string]any{"connectivity": ev}, fmt.Errorf("run %s: %w", cli, err))
	}
	return outcome{Decision: DecideConnectivity(ev), Evidence: map[string]any{"connectivity": ev}}
}

func safeName(s string) string {
	s = regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString(s, "-")
	if s == "" {
		return "run"
	}
	return s
}
