package clusters

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/e2e-framework/klient"
	"sigs.k8s.io/e2e-framework/pkg/types"

	"github.com/tunedcilium/tunedcilium/pkg/waitfor"
)

// E2E fits a Provider to e2e-framework's cluster provider contract
// (support.E2EClusterProviderWithImageLoader), so envfuncs.CreateClusterWithOpts
// and friends can drive it. Unlike e2e-framework's own support/kind and
// support/k3d, it runs no kind or k3d binary, and its control-plane wait
// does not expect kindnet or kube-proxy pods (there are none with the
// default CNI off and kube-proxy replaced).
type E2E struct {
	Provider Provider
	// Spec is the cluster to create; WithName and WithVersion override it.
	Spec    Spec
	hooks   E2EHooks
	cluster Cluster
}

// E2EHooks are the parts of the adapter each provider does its own way.
type E2EHooks struct {
	// KubectlContext is the cluster's context name in its kubeconfig.
	KubectlContext func(cluster string) string
	// WriteKubeconfig writes the cluster's kubeconfig to its
	// KubeconfigPath again.
	WriteKubeconfig func(ctx context.Context, c Cluster) error
	// ExportLogs writes the logs of a cluster's nodes under dest.
	ExportLogs func(ctx context.Context, cluster, dest string) error
	// LoadImageArchive imports a `docker save` archive into every node.
	LoadImageArchive func(ctx context.Context, c Cluster, path string) error
	// Log receives the progress lines of the control-plane wait.
	Log io.Writer
}

var _ types.E2EClusterProviderWithImageLoader = (*E2E)(nil)

// NewE2E returns the adapter of a provider for a spec.
func NewE2E(p Provider, spec Spec, hooks E2EHooks) *E2E {
	return &E2E{Provider: p, Spec: spec, hooks: hooks}
}

// Cluster is the created cluster (nil before Create).
func (e *E2E) Cluster() Cluster { return e.cluster }

func (e *E2E) WithName(name string) types.E2EClusterProvider { e.Spec.Name = name; return e }

// WithVersion picks the node image (a kind node image, a k3s image).
func (e *E2E) WithVersion(image string) types.E2EClusterProvider { e.Spec.NodeImage = image; return e }

// WithPath is a no-op: the providers use their Go libraries, not binaries.
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
		return "", fmt.Errorf("%s provider: arguments %v are not supported; set clusters.Spec fields instead", e.Provider.Name(), args)
	}
	c, err := e.Provider.Create(ctx, e.Spec)
	if err != nil {
		return "", err
	}
	e.cluster = c
	return c.KubeconfigPath(), nil
}

// CreateWithConfig is not supported: the provider's config is generated
// from the spec, so that KPR, the CNI, the mounts and the MTU follow the
// profile.
func (e *E2E) CreateWithConfig(context.Context, string) (string, error) {
	return "", fmt.Errorf("%s provider: a %[1]s config file is not supported; the config is generated from clusters.Spec", e.Provider.Name())
}

func (e *E2E) GetKubeconfig() string {
	if e.cluster == nil {
		return ""
	}
	return e.cluster.KubeconfigPath()
}

// GenerateKubeconfig writes the cluster's kubeconfig again.
func (e *E2E) GenerateKubeconfig(...string) (string, error) {
	if e.cluster == nil {
		return "", e.noCluster()
	}
	return e.cluster.KubeconfigPath(), e.hooks.WriteKubeconfig(context.Background(), e.cluster)
}

func (e *E2E) GetKubectlContext() string { return e.hooks.KubectlContext(e.Spec.Name) }

// ExportLogs collects the nodes' logs into dest.
func (e *E2E) ExportLogs(ctx context.Context, dest string) error {
	return e.hooks.ExportLogs(ctx, e.Spec.Name, dest)
}

func (e *E2E) Destroy(ctx context.Context) error {
	if e.cluster == nil {
		return e.Provider.DeleteByName(ctx, e.Spec.Name)
	}
	return e.cluster.Delete(ctx)
}

// WaitForControlPlane waits until every node has registered with the API
// server. Nodes stay NotReady until Cilium runs, so readiness is not awaited.
func (e *E2E) WaitForControlPlane(ctx context.Context, client klient.Client) error {
	want := e.Provider.Defaults(e.Spec).Nodes
	w := waitfor.Wait{What: e.Provider.Name() + " nodes to register", Timeout: 3 * time.Minute, Log: e.hooks.Log}
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
		return e.noCluster()
	}
	return e.cluster.LoadImages(ctx, image)
}

// LoadImageArchive imports a `docker save` archive into every node.
func (e *E2E) LoadImageArchive(ctx context.Context, archivePath string, _ ...string) error {
	if e.cluster == nil {
		return e.noCluster()
	}
	if _, err := os.Stat(archivePath); err != nil {
		return fmt.Errorf("image archive %s: %w", archivePath, err)
	}
	return e.hooks.LoadImageArchive(ctx, e.cluster, archivePath)
}

func (e *E2E) noCluster() error {
	return fmt.Errorf("%s provider: no cluster yet; call Create first", e.Provider.Name())
}
