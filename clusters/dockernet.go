package clusters

import (
	"context"
	"fmt"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
)

// RemoveRunContainers force-removes the containers still attached to a
// cluster's Docker network that a tunedcilium run created (they carry
// LabelKey), such as the test workload's external container. A run killed
// before its own teardown leaves them there, and Docker refuses to remove a
// network with active endpoints. Containers without the label (someone
// else's) are left alone; the network removal then reports them.
func RemoveRunContainers(ctx context.Context, dc client.APIClient, networkName string) error {
	nw, err := dc.NetworkInspect(ctx, networkName, network.InspectOptions{})
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect Docker network %s: %w", networkName, err)
	}
	for id := range nw.Containers {
		c, err := dc.ContainerInspect(ctx, id)
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("inspect container %s on network %s: %w", id, networkName, err)
		}
		if _, ours := c.Config.Labels[LabelKey]; !ours {
			continue
		}
		if err := dc.ContainerRemove(ctx, id, container.RemoveOptions{Force: true}); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("remove container %s from network %s: %w", c.Name, networkName, err)
		}
	}
	return nil
}
