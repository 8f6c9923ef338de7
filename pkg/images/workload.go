package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// workloadCommands are the project's own binaries in the workload image.
var workloadCommands = []string{"./cmd/tunedcilium-echo"}

// The workload image serves the suite's test pods (the echo server, iperf3
// client and server) and node-access pods on existing clusters (iproute2,
// iptables, conntrack, bpftool). By default it runs the echo server on
// :8080; pods that want another tool set their own command.
var workloadDockerfile = "FROM " + rootfsRef("rootfs-nettools") + `
COPY rootfs/ /
RUN tunedcilium-echo --help >/dev/null && iperf3 --version >/dev/null
CMD ["tunedcilium-echo", "serve", "--listen", ":8080"]
`

func workloadRecipe() *recipe {
	return &recipe{
		name: "workload", ref: WorkloadImage, base: "rootfs-nettools",
		about: "the suite's workload: tunedcilium-echo, iperf3, node tools",
		inputs: func(ctx context.Context, b *Builder) ([]string, error) {
			src, err := projectSourceDigest(ctx, b.RepoDir, workloadCommands)
			if err != nil {
				return nil, err
			}
			return []string{"project sources " + src, "commands " + strings.Join(workloadCommands, ","), "Dockerfile:\n" + workloadDockerfile}, nil
		},
		build: func(ctx context.Context, b *Builder, j *job) error {
			dir, err := j.contextDir()
			if err != nil {
				return err
			}
			bin := filepath.Join(dir, "rootfs", "usr", "local", "bin")
			if err := os.MkdirAll(bin, 0o755); err != nil {
				return err
			}
			err = j.step("go build "+strings.Join(workloadCommands, " "), func() error {
				args := append([]string{"build", "-trimpath", "-ldflags=-s -w", "-o", bin + "/"}, workloadCommands...)
				env := append(goEnv(), "GOFLAGS=-mod=readonly")
				return runLogged(ctx, b.RepoDir, j.logPath(), env, goBinary(), args...)
			})
			if err != nil {
				return err
			}
			if err := writeFiles(dir, map[string]string{"Dockerfile": workloadDockerfile}); err != nil {
				return err
			}
			return j.dockerBuild(ctx, dir)
		},
	}
}

// projectSourceDigest hashes the non-test Go files of the project packages
// the commands depend on, plus go.mod and go.sum.
func projectSourceDigest(ctx context.Context, repo string, commands []string) (string, error) {
	for _, c := range commands {
		if _, err := os.Stat(filepath.Join(repo, c)); err != nil {
			return "", fmt.Errorf("%s is not in this checkout (%s): the workload image needs it", c, repo)
		}
	}
	args := append([]string{"list", "-deps", "-f", "{{if not .Standard}}{{.Dir}}|{{join .GoFiles \",\"}}|{{join .EmbedFiles \",\"}}{{end}}"}, commands...)
	cmd := exec.CommandContext(ctx, goBinary(), args...)
	cmd.Dir = repo
	cmd.Env = append(goEnv(), "GOFLAGS=-mod=readonly")
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		return "", fmt.Errorf("go list -deps %v: %w", commands, err)
	}
	var files []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.Split(line, "|")
		if len(parts) != 3 || !strings.HasPrefix(parts[0], repo+string(filepath.Separator)) {
			continue // a dependency module: pinned by go.sum
		}
		for _, f := range append(strings.Split(parts[1], ","), strings.Split(parts[2], ",")...) {
			if f != "" {
				files = append(files, filepath.Join(parts[0], f))
			}
		}
	}
	files = append(files, filepath.Join(repo, "go.mod"), filepath.Join(repo, "go.sum"))
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		d, err := fileDigest(f)
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(repo, f)
		fmt.Fprintf(h, "%s %s\n", rel, d)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
