package clusters

import (
	"context"
	"os"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/stretchr/testify/require"
)

// A run killed before its teardown leaves its external container on the
// cluster network; removing the run's containers lets the network go, and a
// container that is not the run's stays.
func TestRemoveRunContainers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root and the Docker engine (make env)")
	}
	ctx := context.Background()
	dc, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	require.NoError(t, err)
	defer dc.Close()
	if _, err := dc.Ping(ctx); err != nil {
		t.Skipf("no Docker engine answers (%v): make env starts one", err)
	}
	// Any local image with a shell and sleep will do; the workload image has
	// them and exists wherever the air-gapped images were built.
	const image = "localhost/tunedcilium/workload:v1"
	if _, _, err := dc.ImageInspectWithRaw(ctx, image); err != nil {
		t.Skipf("image %s not built (make images): no container to start", image)
	}

	netName := "tunedcilium-test-dockernet"
	_, err = dc.NetworkCreate(ctx, netName, network.CreateOptions{Labels: map[string]string{LabelKey: "test"}})
	require.NoError(t, err)
	start := func(name string, labels map[string]string) string {
		c, err := dc.ContainerCreate(ctx, &container.Config{Image: image, Cmd: []string{"sleep", "300"}, Labels: labels},
			&container.HostConfig{NetworkMode: container.NetworkMode(netName)}, nil, nil, name)
		require.NoError(t, err)
		t.Cleanup(func() { _ = dc.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true}) })
		require.NoError(t, dc.ContainerStart(ctx, c.ID, container.StartOptions{}))
		return c.ID
	}
	t.Cleanup(func() { _ = dc.NetworkRemove(context.Background(), netName) })
	ours := start("tunedcilium-test-ours", map[string]string{LabelKey: "test"})
	theirs := start("tunedcilium-test-theirs", nil)

	// Negative control: with both attached, the network cannot go.
	require.Error(t, dc.NetworkRemove(ctx, netName))

	require.NoError(t, RemoveRunContainers(ctx, dc, netName))
	_, err = dc.ContainerInspect(ctx, ours)
	require.Error(t, err, "the run's container is removed")
	_, err = dc.ContainerInspect(ctx, theirs)
	require.NoError(t, err, "a container that is not the run's stays")

	require.NoError(t, dc.ContainerRemove(ctx, theirs, container.RemoveOptions{Force: true}))
	require.NoError(t, dc.NetworkRemove(ctx, netName))
	require.NoError(t, RemoveRunContainers(ctx, dc, netName), "a network already gone is not an error")
}
