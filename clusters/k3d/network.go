package k3d

import (
	"context"
	"fmt"
	"strconv"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	docker "github.com/docker/docker/client"
	k3dtypes "github.com/k3d-io/k3d/v5/pkg/types"

	"github.com/tunedcilium/tunedcilium/clusters"
)

// networkClusterLabel names the k3d cluster a network was created for, so
// that a network left by a run killed before its cluster existed is found.
const networkClusterLabel = "io.tunedcilium.k3d-cluster"

// mtuOption is the bridge driver option that sets the MTU of the network
// and of every container interface on it.
const mtuOption = "com.docker.network.driver.mtu"

// NetworkName is the cluster's Docker network: the name k3d itself would
// give it, created by the provider (with the run label and the MTU) and
// handed to k3d as an existing network.
func NetworkName(cluster string) string {
	return k3dtypes.DefaultObjectNamePrefix + "-" + cluster
}

// NetworkCreateOptions are the options the cluster network is created with.
func NetworkCreateOptions(spec clusters.Spec) network.CreateOptions {
	opts := network.CreateOptions{
		Driver: "bridge",
		Labels: map[string]string{clusters.LabelKey: spec.RunID, networkClusterLabel: spec.Name},
	}
	if spec.MTU != 0 {
		opts.Options = map[string]string{mtuOption: strconv.Itoa(spec.MTU)}
	}
	return opts
}

func dockerClient() (*docker.Client, error) {
	c, err := docker.NewClientWithOpts(docker.FromEnv, docker.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return c, nil
}

func createNetwork(ctx context.Context, spec clusters.Spec) (string, error) {
	cli, err := dockerClient()
	if err != nil {
		return "", err
	}
	defer cli.Close()
	name := NetworkName(spec.Name)
	if _, err := cli.NetworkCreate(ctx, name, NetworkCreateOptions(spec)); err != nil {
		return "", fmt.Errorf("create Docker network %s: %w", name, err)
	}
	return name, nil
}

// removeNetworks removes the networks the provider made for a cluster.
func removeNetworks(ctx context.Context, cluster string) error {
	cli, err := dockerClient()
	if err != nil {
		return err
	}
	defer cli.Close()
	list, err := cli.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("label", networkClusterLabel+"="+cluster))})
	if err != nil {
		return fmt.Errorf("list Docker networks of k3d cluster %s: %w", cluster, err)
	}
	for _, n := range list {
		if err := clusters.RemoveRunContainers(ctx, cli, n.ID); err != nil {
			return err
		}
		if err := cli.NetworkRemove(ctx, n.ID); err != nil {
			return fmt.Errorf("remove Docker network %s: %w", n.Name, err)
		}
	}
	return nil
}

// labelledNetworkClusters lists the clusters named by the provider's networks.
func labelledNetworkClusters(ctx context.Context) ([]string, error) {
	cli, err := dockerClient()
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	list, err := cli.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("label", networkClusterLabel))})
	if err != nil {
		return nil, fmt.Errorf("list Docker networks: %w", err)
	}
	var out []string
	for _, n := range list {
		if _, ok := n.Labels[clusters.LabelKey]; ok {
			out = append(out, n.Labels[networkClusterLabel])
		}
	}
	return out, nil
}
