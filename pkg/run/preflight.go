package run

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/client"
)

// Preflight is what the host looked like before the run, and what it fixed.
type Preflight struct {
	// CiliumCLI is the cilium CLI to use, "" when there is none (the
	// connectivity check then SKIPs with that reason).
	CiliumCLI string
	// Notes are things the user should know; Fixed are changes made to the
	// host (inotify limits raised).
	Notes []string
	Fixed []string
	// Sysctls holds the host-wide settings Cilium agents are known to change
	// from inside node containers, read before the run.
	Sysctls map[string]string
}

// watchedSysctls are host-wide settings the agent writes from inside a kind
// node (LAB.md): recorded before and after so the report can say what changed.
var watchedSysctls = []string{
	"kernel/timer_migration",
	"kernel/unprivileged_bpf_disabled",
	"net/core/bpf_jit_enable",
}

// inotify limits kind/k3d nodes need for many pods (cilium-cli#1415).
var inotifyMinimums = map[string]int{
	"fs/inotify/max_user_watches":   524288,
	"fs/inotify/max_user_instances": 512,
}

// RunPreflight checks the host before anything is provisioned. It fails with
// one clear line for what the user must fix, and fixes what it may.
func RunPreflight(ctx context.Context, o *Options, requiredImages []string, log io.Writer) (*Preflight, error) {
	pf := &Preflight{Sysctls: map[string]string{}}
	for _, s := range watchedSysctls {
		pf.Sysctls[s] = readSysctl(s)
	}

	if o.Provider == "kind" || o.Provider == "k3d" {
		if err := dockerReachable(ctx); err != nil {
			return nil, err
		}
		if len(requiredImages) > 0 {
			if err := imagesPresent(ctx, requiredImages); err != nil {
				return nil, err
			}
		}
		for name, min := range inotifyMinimums {
			cur, err := strconv.Atoi(readSysctl(name))
			if err != nil || cur >= min {
				continue
			}
			if os.Geteuid() != 0 {
				pf.Notes = append(pf.Notes, fmt.Sprintf("%s is %d (< %d): echo pods may die with 'too many open files'; raise it with sysctl as root", dotted(name), cur, min))
				continue
			}
			if err := os.WriteFile(filepath.Join("/proc/sys", name), []byte(strconv.Itoa(min)), 0o644); err != nil {
				pf.Notes = append(pf.Notes, fmt.Sprintf("could not raise %s to %d: %v", dotted(name), min, err))
				continue
			}
			pf.Fixed = append(pf.Fixed, fmt.Sprintf("%s %d -> %d", dotted(name), cur, min))
		}
	}

	cli, err := findCiliumCLI(o.CiliumCLI)
	if err != nil {
		return nil, err
	}
	pf.CiliumCLI = cli
	if cli == "" {
		pf.Notes = append(pf.Notes, "no cilium CLI on PATH: the connectivity check will SKIP (pass --cilium-cli PATH to run it)")
	}
	for _, n := range pf.Fixed {
		fmt.Fprintf(log, "preflight: fixed %s\n", n)
	}
	for _, n := range pf.Notes {
		fmt.Fprintf(log, "preflight: %s\n", n)
	}
	return pf, nil
}

// SysctlChanges compares the watched host settings with their values before
// the run.
func (pf *Preflight) SysctlChanges() []string {
	var out []string
	for _, s := range watchedSysctls {
		before, after := pf.Sysctls[s], readSysctl(s)
		if before != after {
			out = append(out, fmt.Sprintf("%s: %s -> %s", dotted(s), before, after))
		}
	}
	return out
}

func dockerReachable(ctx context.Context) error {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return fmt.Errorf("docker: %v; kind and k3d need a Docker engine (in this lab: make env)", err)
	}
	defer cli.Close()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := cli.Ping(pctx); err != nil {
		return fmt.Errorf("docker is not reachable at %s: start the Docker engine (in this lab: make env), or use --provider existing", cli.DaemonHost())
	}
	return nil
}

func imagesPresent(ctx context.Context, names []string) error {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return err
	}
	defer cli.Close()
	var missing []string
	for _, n := range names {
		if _, _, err := cli.ImageInspectWithRaw(ctx, n); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("images missing from the local Docker engine: %s; build them with `make images`", strings.Join(missing, ", "))
	}
	return nil
}

// findCiliumCLI resolves --cilium-cli: an explicit path must exist; without
// one, cilium on PATH or nothing.
func findCiliumCLI(flag string) (string, error) {
	if flag != "" {
		p, err := exec.LookPath(flag)
		if err != nil {
			return "", fmt.Errorf("--cilium-cli %s: not an executable (%v); install the cilium CLI or drop the flag to SKIP the connectivity test", flag, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("cilium"); err == nil {
		return p, nil
	}
	return "", nil
}

func readSysctl(name string) string {
	b, err := os.ReadFile(filepath.Join("/proc/sys", name))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func dotted(name string) string { return strings.ReplaceAll(name, "/", ".") }
