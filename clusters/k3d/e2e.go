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
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/e2e-framework/klient"
	"sigs.k8s.io/e2e-framework/pkg/types"

	"github.com/tunedcilium/tunedcilium/clusters"
	"github.com/tunedcilium/tunedcilium/pkg/waitfor"
)

// E2E fits the provider to e2e-framework's cluster provider contract
// (support.E2EClusterProviderWithImageLoader). e2e-framework's own
// support/k3d runs the k3d binary; this one uses the library.
type E2E struct {
	Provider *Provider
	// Spec is the cluster to create; WithName overrides its name.
	Spec    clusters.Spec
	cluster *Cluster
}

var _ types.E2EClusterProviderWithImageLoader = (*E2E)(nil)

// NewE2E returns the adapter for a spec.
func NewE2E(p *Provider, spec clusters.Spec) *E2E { return &E2E{Provider: p, Spec: spec} }

// Cluster is the created cluster (nil before Create).
func (e *E2E) Cluster() *Cluster { return e.cluster }

func (e *E2E) WithName(name string) types.E2EClusterProvider { e.Spec.Name = name; return e }

// WithVersion picks the node image: a k3s image reference.
func (e *E2E) WithVersion(image string) types.E2EClusterProvider { e.Spec.NodeImage = image; return e }

// WithPath is a no-op: this provider uses k3d's library, not its binary.
func (e *E2E) WithPath(string) types.E2EClusterProvider { return e }

func (e *E2E) WithOpts(opts ...types.ClusterOpts) types.E2EClusterProvider {
	for _, o := range opts {
		o(e)
	}
	return e
}

func (e *E2E) SetDefaults() types.E2EClusterProvider {
	e.Spec = e.Provider.Defaults(e.Spec)
	return e
}

// Create makes the cluster and returns its kubeconfig path. Arguments are
// not supported: the cluster comes from the spec.
func (e *E2E) Create(ctx context.Context, args ...string) (string, error) {
	if len(args) > 0 {
		return "", fmt.Errorf("k3d provider: arguments %v are not supported; set clusters.Spec fields instead", args)
	}
	c, err := e.Provider.Create(ctx, e.Spec)
	if err != nil {
		return "", err
	}
	e.cluster = c.(*Cluster)
	return e.cluster.KubeconfigPath(), nil
}

// CreateWithConfig is not supported: the k3d config is generated from the
// spec (see SimpleConfig) so that KPR, the CNI, the mounts and the MTU
// follow the profile.
func (e *E2E) CreateWithConfig(context.Context, string) (string, error) {
	return "", fmt.Errorf("k3d provider: a k3d config file is not supported; the config is generated from clusters.Spec")
}

func (e *E2E) GetKubeconfig() string {
	if e.cluster == nil {
		return ""
	}
	return e.cluster.KubeconfigPath()
}

// GenerateKubeconfig writes the cluster's kubeconfig (from the server node)
// again.
func (e *E2E) GenerateKubeconfig(...string) (string, error) {
	if e.cluster == nil {
		return "", fmt.Errorf("k3d provider: no cluster yet")
	}
	return e.cluster.KubeconfigPath(), e.cluster.writeKubeconfig(context.Background())
}

func (e *E2E) GetKubectlContext() string { return k3dtypes.DefaultObjectNamePrefix + "-" + e.Spec.Name }

// ExportLogs writes each node container's log to dest/NODE.log.
func (e *E2E) ExportLogs(ctx context.Context, dest string) error {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	cluster, err := k3dclient.ClusterGet(ctx, e.Provider.runtime(), &k3dtypes.Cluster{Name: e.Spec.Name})
	if err != nil {
		return fmt.Errorf("logs of k3d cluster %s: %w", e.Spec.Name, err)
	}
	for _, n := range cluster.Nodes {
		if err := writeNodeLog(ctx, e.Provider, n, filepath.Join(dest, n.Name+".log")); err != nil {
			return fmt.Errorf("logs of k3d cluster %s: %w", e.Spec.Name, err)
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

func (e *E2E) Destroy(ctx context.Context) error {
	if e.cluster == nil {
		return e.Provider.DeleteByName(ctx, e.Spec.Name)
	}
	return e.cluster.Delete(ctx)
}

// WaitForControlPlane waits until every node has registered. Nodes stay
// NotReady until Cilium runs, so readiness is not awaited.
func (e *E2E) WaitForControlPlane(ctx context.Context, client klient.Client) error {
	want := e.Provider.Defaults(e.Spec).Nodes
	w := waitfor.Wait{What: "k3s nodes to register", Timeout: 3 * time.Minute, Log: e.Provider.Log}
	return w.Until(ctx, func(ctx context.Context) (bool, string, error) {
		var nodes corev1.NodeList
		if err := client.Resources().List(ctx, &nodes); err != nil {
			return false, "", err
		}
		return len(nodes.Items) >= want, fmt.Sprintf("%d/%d registered", len(nodes.Items), want), nil
	})
}

func (e *E2E) KubernetesRestConfig() *rest.Config {
	if e.cluster == nil {
		return nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", e.cluster.KubeconfigPath())
	if err != nil {
		return nil
	}
	return cfg
}

func (e *E2E) LoadImage(ctx context.Context, image string, _ ...string) error {
	if e.cluster == nil {
		return fmt.Errorf("k3d provider: no cluster yet")
	}
	return e.cluster.LoadImages(ctx, image)
}

// LoadImageArchive imports a `docker save` archive into every node (k3d
// takes a file path where an image name goes).
func (e *E2E) LoadImageArchive(ctx context.Context, archivePath string, _ ...string) error {
	if e.cluster == nil {
		return fmt.Errorf("k3d provider: no cluster yet")
	}
	if _, err := os.Stat(archivePath); err != nil {
		return fmt.Errorf("image archive %s: %w", archivePath, err)
	}
	return e.cluster.LoadImages(ctx, archivePath)
}
