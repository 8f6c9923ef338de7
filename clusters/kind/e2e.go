package kind

import (
	"context"
	"fmt"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/e2e-framework/klient"
	"sigs.k8s.io/e2e-framework/pkg/types"

	"github.com/tunedcilium/tunedcilium/clusters"
)

// E2E fits the provider to e2e-framework's cluster provider contract
// (support.E2EClusterProviderWithImageLoader), so envfuncs.CreateClusterWithOpts
// and friends can drive it. Unlike e2e-framework's own support/kind, it needs
// no kind binary, and its control-plane wait does not expect kindnet or
// kube-proxy pods (there are none with the default CNI and kube-proxy off).
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

// WithVersion picks the node image: a kind node image reference.
func (e *E2E) WithVersion(image string) types.E2EClusterProvider { e.Spec.NodeImage = image; return e }

// WithPath is a no-op: this provider uses kind's library, not its binary.
func (e *E2E) WithPath(string) types.E2EClusterProvider { return e }

func (e *E2E) WithOpts(opts ...types.ClusterOpts) types.E2EClusterProvider {
	for _, o := range opts {
		o(e)
	}
	return e
}

func (e *E2E) SetDefaults() types.E2EClusterProvider {
	e.Spec = WithDefaults(e.Spec)
	return e
}

// Create makes the cluster and returns its kubeconfig path. Arguments are
// not supported: the cluster comes from the spec.
func (e *E2E) Create(ctx context.Context, args ...string) (string, error) {
	if len(args) > 0 {
		return "", fmt.Errorf("kind provider: arguments %v are not supported; set clusters.Spec fields instead", args)
	}
	c, err := e.Provider.Create(ctx, e.Spec)
	if err != nil {
		return "", err
	}
	e.cluster = c.(*Cluster)
	return e.cluster.KubeconfigPath(), nil
}

// CreateWithConfig is not supported: the kind config is generated from the
// spec (see Config), so that KPR, the CNI and the MTU follow the profile.
func (e *E2E) CreateWithConfig(context.Context, string) (string, error) {
	return "", fmt.Errorf("kind provider: a kind config file is not supported; the config is generated from clusters.Spec")
}

func (e *E2E) GetKubeconfig() string {
	if e.cluster == nil {
		return ""
	}
	return e.cluster.KubeconfigPath()
}

// GenerateKubeconfig writes the cluster's kubeconfig (from kind) again.
func (e *E2E) GenerateKubeconfig(...string) (string, error) {
	if e.cluster == nil {
		return "", fmt.Errorf("kind provider: no cluster yet")
	}
	cfg, err := e.Provider.kind().KubeConfig(e.cluster.Name(), false)
	if err != nil {
		return "", fmt.Errorf("kubeconfig of kind cluster %s: %w", e.cluster.Name(), err)
	}
	return e.cluster.KubeconfigPath(), os.WriteFile(e.cluster.KubeconfigPath(), []byte(cfg), 0o600)
}

func (e *E2E) GetKubectlContext() string { return "kind-" + e.Spec.Name }

// ExportLogs collects kind's node logs into dest.
func (e *E2E) ExportLogs(_ context.Context, dest string) error {
	return e.Provider.kind().CollectLogs(e.Spec.Name, dest)
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
	return WaitNodesRegistered(ctx, client, WithDefaults(e.Spec).Nodes, 3*time.Minute)
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
		return fmt.Errorf("kind provider: no cluster yet")
	}
	return e.cluster.LoadImages(ctx, image)
}

func (e *E2E) LoadImageArchive(ctx context.Context, archivePath string, _ ...string) error {
	if e.cluster == nil {
		return fmt.Errorf("kind provider: no cluster yet")
	}
	if _, err := os.Stat(archivePath); err != nil {
		return fmt.Errorf("image archive %s: %w", archivePath, err)
	}
	return e.cluster.loadArchive(ctx, archivePath, archivePath, time.Now())
}

// WaitNodesRegistered polls until want Node objects exist, printing nothing;
// the error names the nodes seen when the time is up.
func WaitNodesRegistered(ctx context.Context, client klient.Client, want int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var seen []string
	for {
		var nodes corev1.NodeList
		if err := client.Resources().List(ctx, &nodes); err == nil {
			seen = seen[:0]
			for _, n := range nodes.Items {
				seen = append(seen, n.Name)
			}
			if len(seen) >= want {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waited %s for %d nodes to register, saw %v", timeout, want, seen)
		case <-time.After(2 * time.Second):
		}
	}
}
