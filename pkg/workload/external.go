package workload

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/tunedcilium/tunedcilium/clusters"
	"github.com/tunedcilium/tunedcilium/pkg/probe"
)

// External is a container on the cluster's Docker network that is not a
// node: a client outside the cluster (DSR, NodePort from outside) and a
// destination outside it (masquerading). It runs the echo server too.
type External struct {
	Name    string
	ID      string
	Network string
	IP      netip.Addr
	cli     *client.Client
}

// ExternalName names the run's external container.
func ExternalName(runID string) string {
	n := "tunedcilium-" + strings.ToLower(runID) + "-external"
	return regexp.MustCompile(`[^a-z0-9_.-]+`).ReplaceAllString(n, "-")
}

// Exec runs argv in the external container and returns its stdout; a
// non-zero exit is a *probe.CommandError carrying stderr.
func (e *External) Exec(ctx context.Context, argv ...string) ([]byte, error) {
	return probe.DockerExec{Client: e.cli, Container: e.ID}.Run(ctx, argv)
}

// EchoAddr is the external echo server's address.
func (e *External) EchoAddr() netip.AddrPort { return netip.AddrPortFrom(e.IP, EchoPort) }

func dockerClient() (*client.Client, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return cli, nil
}

// NodeNetwork returns the Docker network a node container is attached to
// (kind and k3d put every node of a cluster on one user-defined network).
func NodeNetwork(ctx context.Context, cli *client.Client, node clusters.Node) (string, error) {
	info, err := cli.ContainerInspect(ctx, node.Container)
	if err != nil {
		return "", fmt.Errorf("inspect node container %s: %w", node.Container, err)
	}
	if info.NetworkSettings == nil || len(info.NetworkSettings.Networks) == 0 {
		return "", fmt.Errorf("node container %s is on no Docker network", node.Container)
	}
	var names []string
	for name := range info.NetworkSettings.Networks {
		names = append(names, name)
	}
	if len(names) > 1 {
		// Prefer the network that carries the node's internal IP.
		for name, ep := range info.NetworkSettings.Networks {
			if ep != nil && ep.IPAddress == node.InternalIP {
				return name, nil
			}
		}
		return "", fmt.Errorf("node container %s is on several Docker networks (%s) and none carries its IP %s", node.Container, strings.Join(names, ", "), node.InternalIP)
	}
	return names[0], nil
}

// startExternal creates and starts the external container on netName.
// A container of the same name left by an earlier attempt of this run is
// removed first.
func startExternal(ctx context.Context, cli *client.Client, runID, image, netName string) (*External, error) {
	name := ExternalName(runID)
	_ = cli.ContainerRemove(ctx, name, container.RemoveOptions{Force: true})
	created, err := cli.ContainerCreate(ctx,
		&container.Config{
			Image:  image,
			Cmd:    []string{"tunedcilium-echo", "serve", "--listen", fmt.Sprintf(":%d", EchoPort)},
			Labels: map[string]string{clusters.LabelKey: runID, RoleLabel: "external"},
		},
		&container.HostConfig{NetworkMode: container.NetworkMode(netName)},
		&network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{netName: {}}},
		nil, name)
	if err != nil {
		return nil, fmt.Errorf("create external container %s from %s on network %s: %w", name, image, netName, err)
	}
	ext := &External{Name: name, ID: created.ID, Network: netName, cli: cli}
	if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return ext, fmt.Errorf("start external container %s: %w", name, err)
	}
	info, err := cli.ContainerInspect(ctx, created.ID)
	if err != nil {
		return ext, fmt.Errorf("inspect external container %s: %w", name, err)
	}
	ep := info.NetworkSettings.Networks[netName]
	if ep == nil || ep.IPAddress == "" {
		return ext, fmt.Errorf("external container %s has no address on network %s", name, netName)
	}
	ip, err := netip.ParseAddr(ep.IPAddress)
	if err != nil {
		return ext, fmt.Errorf("external container %s address %q: %w", name, ep.IPAddress, err)
	}
	ext.IP = ip
	return ext, nil
}

// waitServing waits until the external echo server answers on its own
// address.
func (e *External) waitServing(ctx context.Context, progress func(string)) error {
	addr := e.EchoAddr().String()
	var last error
	for start := time.Now(); ; {
		_, err := e.Exec(ctx, "tunedcilium-echo", "ask", addr, "--timeout", "2s")
		if err == nil {
			return nil
		}
		last = err
		progress(fmt.Sprintf("waiting for the external echo server %s at %s (%s): %v", e.Name, addr, time.Since(start).Round(time.Second), err))
		select {
		case <-ctx.Done():
			return fmt.Errorf("external echo server %s at %s not serving: %w (last: %v)", e.Name, addr, ctx.Err(), last)
		case <-time.After(time.Second):
		}
	}
}

// remove deletes the container; a container already gone is not an error.
func (e *External) remove(ctx context.Context) error {
	if e == nil || e.cli == nil {
		return nil
	}
	err := e.cli.ContainerRemove(ctx, e.ID, container.RemoveOptions{Force: true})
	if err != nil && !client.IsErrNotFound(err) {
		return fmt.Errorf("remove external container %s: %w", e.Name, err)
	}
	return nil
}

// RemoveExternalByRun removes the external container of a run, if any: for
// a cleanup that lost the Workload handle.
func RemoveExternalByRun(ctx context.Context, runID string) error {
	cli, err := dockerClient()
	if err != nil {
		return err
	}
	defer cli.Close()
	err = cli.ContainerRemove(ctx, ExternalName(runID), container.RemoveOptions{Force: true})
	if err != nil && !client.IsErrNotFound(err) {
		return fmt.Errorf("remove external container %s: %w", ExternalName(runID), err)
	}
	return nil
}

var errNoContainerNodes = errors.New("the nodes are not local containers")
