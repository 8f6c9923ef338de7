package existing

import (
	"context"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	docker "github.com/docker/docker/client"
)

// localContainersByIP maps the IP addresses of this machine's running Docker
// containers to their names. No Docker engine (or none reachable) means no
// local containers: the nodes are then reached through the API.
func localContainersByIP(ctx context.Context) map[string]string {
	out := map[string]string{}
	cli, err := docker.NewClientWithOpts(docker.FromEnv, docker.WithAPIVersionNegotiation())
	if err != nil {
		return out
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	list, err := cli.ContainerList(ctx, container.ListOptions{})
	if err != nil {
		return out
	}
	for _, c := range list {
		if c.NetworkSettings == nil || len(c.Names) == 0 {
			continue
		}
		name := strings.TrimPrefix(c.Names[0], "/")
		for _, n := range c.NetworkSettings.Networks {
			if n == nil {
				continue
			}
			if n.IPAddress != "" {
				out[n.IPAddress] = name
			}
			if n.GlobalIPv6Address != "" {
				out[n.GlobalIPv6Address] = name
			}
		}
	}
	return out
}
