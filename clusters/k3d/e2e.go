package k3d

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	k3dclient "github.com/k3d-io/k3d/v5/pkg/client"
	runtimetypes "github.com/k3d-io/k3d/v5/pkg/runtimes/types"
	k3dtypes "github.com/k3d-io/k3d/v5/pkg/types"

	"github.com/tunedcilium/tunedcilium/clusters"
)

// NewE2E returns the e2e-framework adapter of a k3d provider for a spec:
// kubeconfigs come from the server node, the kubectl context is k3d-NAME,
// and logs are the node containers' logs. k3d takes an image archive's
// path where an image name goes.
func NewE2E(p *Provider, spec clusters.Spec) *clusters.E2E {
	return clusters.NewE2E(p, spec, clusters.E2EHooks{
		KubectlContext: func(name string) string { return k3dtypes.DefaultObjectNamePrefix + "-" + name },
		WriteKubeconfig: func(ctx context.Context, c clusters.Cluster) error {
			return c.(*Cluster).writeKubeconfig(ctx)
		},
		ExportLogs: p.exportLogs,
		LoadImageArchive: func(ctx context.Context, c clusters.Cluster, path string) error {
			return c.LoadImages(ctx, path)
		},
		Log: p.Log,
	})
}

// exportLogs writes each node container's log to dest/NODE.log.
func (p *Provider) exportLogs(ctx context.Context, name, dest string) error {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	cluster, err := k3dclient.ClusterGet(ctx, p.runtime(), &k3dtypes.Cluster{Name: name})
	if err != nil {
		return fmt.Errorf("logs of k3d cluster %s: %w", name, err)
	}
	for _, n := range cluster.Nodes {
		if err := writeNodeLog(ctx, p, n, filepath.Join(dest, n.Name+".log")); err != nil {
			return fmt.Errorf("logs of k3d cluster %s: %w", name, err)
		}
	}
	return nil
}

func writeNodeLog(ctx context.Context, p *Provider, n *k3dtypes.Node, path string) error {
	r, err := p.runtime().GetNodeLogs(ctx, n, time.Time{}, &runtimetypes.NodeLogsOpts{})
	if err != nil {
		return fmt.Errorf("log of node %s: %w", n.Name, err)
	}
	defer r.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, r)
	return err
}
