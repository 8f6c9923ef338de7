package probe_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/tunedcilium/tunedcilium/pkg/probe"
	"github.com/tunedcilium/tunedcilium/pkg/probe/probetest"
)

const toolsImage = "tunedcilium-probetest:empty"

// nodeContainer starts a container that stands in for a kind node: no
// network but its own namespace, NET_ADMIN, and this machine's /usr and
// /lib mounted read-only so ip, tc, iptables and conntrack exist inside
// (no registry is reachable, so no image can be pulled). It is removed in
// t.Cleanup; containers of dead test runs are removed first.
func nodeContainer(t *testing.T) (*client.Client, string) {
	t.Helper()
	probetest.RequireRoot(t)
	ctx := context.Background()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Skipf("no Docker client: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	pingCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := cli.Ping(pingCtx); err != nil {
		t.Skipf("Docker daemon not reachable (start it with `dockerd &`): %v", err)
	}
	removeStaleContainers(t, cli)

	if _, err := cli.ImageInspect(ctx, toolsImage); err != nil {
		var rootfs bytes.Buffer
		tw := tar.NewWriter(&rootfs)
		must(t, tw.WriteHeader(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 01777}))
		must(t, tw.Close())
		rc, err := cli.ImageImport(ctx, image.ImportSource{Source: &rootfs, SourceName: "-"}, toolsImage, image.ImportOptions{})
		if err != nil {
			t.Fatalf("docker import %s: %v", toolsImage, err)
		}
		_, _ = io.Copy(io.Discard, rc)
		rc.Close()
	}
	name := fmt.Sprintf("%s%d-node", probetest.NamePrefix, os.Getpid())
	binds := []string{"/usr:/usr:ro", "/lib:/lib:ro", "/etc/iproute2:/etc/iproute2:ro"}
	if _, err := os.Stat("/lib64"); err == nil {
		binds = append(binds, "/lib64:/lib64:ro")
	}
	created, err := cli.ContainerCreate(ctx,
		&container.Config{Image: toolsImage, Cmd: []string{"/usr/bin/sleep", "infinity"},
			Env: []string{"PATH=/usr/sbin:/usr/bin"}, Labels: map[string]string{"tunedcilium-test": "probe"}},
		&container.HostConfig{NetworkMode: "none", CapAdd: []string{"NET_ADMIN"}, Binds: binds},
		nil, nil, name)
	if err != nil {
		t.Fatalf("create container %s: %v", name, err)
	}
	remove := func() error {
		return cli.ContainerRemove(context.Background(), created.ID, container.RemoveOptions{Force: true})
	}
	t.Cleanup(func() {
		if err := remove(); err != nil {
			t.Errorf("remove container %s: %v", name, err)
		}
	})
	probetest.OnInterrupt(t, func() { _ = remove() })
	if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		t.Fatalf("start container %s: %v", name, err)
	}
	return cli, name
}

// removeStaleContainers removes test containers whose test process is gone.
func removeStaleContainers(t *testing.T, cli *client.Client) {
	list, err := cli.ContainerList(context.Background(), container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", "tunedcilium-test=probe"))})
	if err != nil {
		return
	}
	for _, c := range list {
		for _, n := range c.Names {
			rest, ok := strings.CutPrefix(strings.TrimPrefix(n, "/"), probetest.NamePrefix)
			pidText, _, _ := strings.Cut(rest, "-")
			if pid, err := strconv.Atoi(pidText); ok && err == nil && !alive(pid) {
				_ = cli.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true})
			}
		}
	}
}

func alive(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

// TestContainerNodeBothPaths opens a container by name through its PID and
// through docker exec, and requires the same evidence from both.
func TestContainerNodeBothPaths(t *testing.T) {
	cli, name := nodeContainer(t)
	ctx := context.Background()
	info, err := cli.ContainerInspect(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	viaExec, err := probe.OpenContainerExec(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer viaExec.Close()
	// Write through the exec path too: a NOTRACK rule, as Cilium would.
	if _, err := viaExec.Runner().Run(ctx, []string{"iptables-nft", "-t", "raw", "-A", "PREROUTING", "-s", "10.244.0.0/16",
		"-m", "comment", "--comment", "cilium: NOTRACK for pod traffic", "-j", "CT", "--notrack"}); err != nil {
		t.Fatal(err)
	}

	entered, err := probe.OpenContainer(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer entered.Close()
	if !entered.Enterable() || viaExec.Enterable() {
		t.Fatalf("OpenContainer as root should enter the namespace (got %v), OpenContainerExec should not (got %v)", entered.Enterable(), viaExec.Enterable())
	}
	byPID, err := probe.OpenPID(info.State.Pid)
	if err != nil {
		t.Fatal(err)
	}
	defer byPID.Close()

	a, b := inspectBoth(t, entered, viaExec)
	requireSameEvidence(t, a, b)
	if len(a.Conntrack.NotrackRules) != 1 || a.Conntrack.NotrackRules[0].Backend != probe.BackendNFT {
		t.Errorf("NOTRACK rule written in the container not seen: %+v", a.Conntrack)
	}
	if len(a.Devices) != 1 || a.Devices[0].Name != "lo" {
		t.Errorf("a --network none container has lo only: %+v", a.Devices)
	}
	pidDevs, err := byPID.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pidDevs) != len(a.Devices) || pidDevs[0].Index != a.Devices[0].Index {
		t.Errorf("by PID %+v, by container %+v", pidDevs, a.Devices)
	}

	// A missing command is reported as such.
	if _, err := viaExec.Runner().Run(ctx, []string{"no-such-tool"}); !errors.Is(err, probe.ErrCommandNotFound) {
		t.Errorf("missing command: %v, want ErrCommandNotFound", err)
	}
	// Negative control: a container that does not exist.
	if _, err := probe.OpenContainer(ctx, probetest.NamePrefix+"no-such-container"); !errors.Is(err, probe.ErrNoSuchNode) {
		t.Errorf("OpenContainer(missing) = %v, want ErrNoSuchNode", err)
	}
}
