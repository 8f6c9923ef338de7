package kind

import (
	"context"
	"os"
	"time"

	"github.com/tunedcilium/tunedcilium/clusters"
)

// NewE2E returns the e2e-framework adapter of a kind provider for a spec:
// kubeconfigs come from kind, the kubectl context is kind-NAME, and logs
// are kind's own node log collection.
func NewE2E(p *Provider, spec clusters.Spec) *clusters.E2E {
	return clusters.NewE2E(p, spec, clusters.E2EHooks{
		KubectlContext: func(name string) string { return "kind-" + name },
		WriteKubeconfig: func(ctx context.Context, c clusters.Cluster) error {
			cfg, err := p.Kubeconfig(ctx, c.Name())
			if err != nil {
				return err
			}
			return os.WriteFile(c.KubeconfigPath(), cfg, 0o600)
		},
		ExportLogs: func(_ context.Context, name, dest string) error { return p.kind().CollectLogs(name, dest) },
		LoadImageArchive: func(ctx context.Context, c clusters.Cluster, path string) error {
			return c.(*Cluster).loadArchive(ctx, path, path, time.Now())
		},
		Log: p.out(),
	})
}
