// Package k3d creates k3s clusters in Docker through the k3d v5 library (no
// k3d binary), ready for Cilium: flannel, k3s' network policy controller,
// servicelb and traefik off, kube-proxy off under kube-proxy replacement, the
// pod CIDR set, and bpffs and cgroup v2 mounted shared in every node.
//
// The steps are k3d's ClusterRun without its tools container: k3d starts
// ghcr.io/k3d-io/k3d-tools to learn the host gateway and to import images,
// and that image cannot be pulled in an air-gapped lab. Here the gateway is
// read from the cluster network (as k3d does on Linux) and images are
// streamed into the nodes (k3d's "direct" import mode). The load balancer
// (k3d-proxy image) is off for the same reason; the API is published by the
// server node.
//
// Not run on this lab: no k3s image can be pulled or built here, so Create
// has only been checked up to the missing image. Two lab facts apply when
// one exists: node containers are privileged, which needs the Docker-level
// runc wrapper (`make env`); and inside a node, kubelet's negative
// oom_score_adj for pods needs CAP_SYS_RESOURCE, which this lab withholds
// (kind's node image works around it in its containerd config; k3s' embedded
// containerd would need the same, through its config template).
package k3d

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"

	k3dclient "github.com/k3d-io/k3d/v5/pkg/client"
	"github.com/k3d-io/k3d/v5/pkg/config/v1alpha5"
	k3dlog "github.com/k3d-io/k3d/v5/pkg/logger"
	"github.com/k3d-io/k3d/v5/pkg/runtimes"
	k3dtypes "github.com/k3d-io/k3d/v5/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tunedcilium/tunedcilium/clusters"
	"github.com/tunedcilium/tunedcilium/clusters/kubenodes"
)

// Provider creates k3d clusters.
type Provider struct {
	// Log receives k3d's progress lines; nil sends them to stderr.
	Log io.Writer
	// StateDir holds each cluster's kubeconfig (a directory per cluster);
	// $TMPDIR/tunedcilium-k3d when empty.
	StateDir string
}

var _ clusters.Provider = (*Provider)(nil)

func (p *Provider) Name() string { return "k3d" }

// Defaults fills the node image, node count and k3s' CIDRs.
func (p *Provider) Defaults(spec clusters.Spec) clusters.Spec {
	if spec.NodeImage == "" {
		spec.NodeImage = DefaultImage
	}
	if spec.Nodes == 0 {
		spec.Nodes = 2
	}
	if spec.PodCIDR == "" {
		spec.PodCIDR = DefaultPodCIDR
	}
	if spec.ServiceCIDR == "" {
		spec.ServiceCIDR = DefaultServiceCIDR
	}
	return spec
}

func (p *Provider) stateDir(cluster string) string {
	dir := p.StateDir
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "tunedcilium-k3d")
	}
	return filepath.Join(dir, cluster)
}

func (p *Provider) runtime() runtimes.Runtime { return runtimes.Docker }

func (p *Provider) setUpLog() {
	if p.Log != nil {
		k3dlog.Log().SetOutput(p.Log)
	}
}

// Create creates the cluster and waits for its server to be up. Everything
// created is removed again if a later step fails.
func (p *Provider) Create(ctx context.Context, spec clusters.Spec) (clusters.Cluster, error) {
	spec = p.Defaults(spec)
	if err := Validate(spec); err != nil {
		return nil, err
	}
	if spec.RunID == "" {
		return nil, fmt.Errorf("k3d cluster %s: no run id: every cluster carries its run's label", spec.Name)
	}
	p.setUpLog()
	runtime := runtimes.Docker
	if err := requireImage(ctx, spec.NodeImage); err != nil {
		return nil, fmt.Errorf("k3d cluster %s: %w", spec.Name, err)
	}

	created := false
	defer func() {
		if !created {
			_ = p.DeleteByName(context.WithoutCancel(ctx), spec.Name)
		}
	}()

	network, err := createNetwork(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("k3d cluster %s: %w", spec.Name, err)
	}
	apiPort, err := freeLoopbackPort()
	if err != nil {
		return nil, fmt.Errorf("k3d cluster %s: %w", spec.Name, err)
	}
	cfg, err := ClusterConfig(ctx, runtime, SimpleConfig(spec, network, apiPort))
	if err != nil {
		return nil, err
	}
	if err := run(ctx, runtime, cfg); err != nil {
		return nil, fmt.Errorf("create k3d cluster %s: %w", spec.Name, err)
	}

	c := &Cluster{name: spec.Name, runtime: runtime, stateDir: p.stateDir(spec.Name), podCIDR: spec.PodCIDR}
	if err := c.writeKubeconfig(ctx); err != nil {
		return nil, err
	}
	if err := c.readAPIServer(ctx); err != nil {
		return nil, err
	}
	created = true
	return c, nil
}

// run is k3d's ClusterRun (pkg/client/cluster.go) without the tools node:
// prepare the network, create the containers, start them with the host
// gateway taken from the cluster network.
func run(ctx context.Context, runtime runtimes.Runtime, cfg *v1alpha5.ClusterConfig) error {
	if err := k3dclient.ClusterPrep(ctx, runtime, cfg); err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	if err := k3dclient.ClusterCreate(ctx, runtime, &cfg.Cluster, &cfg.ClusterCreateOpts); err != nil {
		return fmt.Errorf("create containers: %w", err)
	}
	info, err := runtime.Info()
	if err != nil {
		return fmt.Errorf("docker info: %w", err)
	}
	gateway, err := runtime.GetHostIP(ctx, cfg.Cluster.Network.Name)
	if err != nil {
		return fmt.Errorf("gateway of network %s: %w", cfg.Cluster.Network.Name, err)
	}
	env := &k3dtypes.EnvironmentInfo{RuntimeInfo: *info, HostGateway: gateway}
	return k3dclient.ClusterStart(ctx, runtime, &cfg.Cluster, k3dtypes.ClusterStartOpts{
		WaitForServer:   cfg.ClusterCreateOpts.WaitForServer,
		Timeout:         cfg.ClusterCreateOpts.Timeout,
		NodeHooks:       cfg.ClusterCreateOpts.NodeHooks,
		EnvironmentInfo: env,
		Intent:          k3dtypes.IntentClusterCreate,
		HostAliases:     cfg.ClusterCreateOpts.HostAliases,
	})
}

// Leftovers lists k3d clusters whose nodes carry the run label, and
// clusters named by a labelled network whose cluster never came up.
func (p *Provider) Leftovers(ctx context.Context) ([]string, error) {
	p.setUpLog()
	found := map[string]bool{}
	list, err := k3dclient.ClusterList(ctx, runtimes.Docker)
	if err != nil {
		return nil, fmt.Errorf("list k3d clusters: %w", err)
	}
	for _, c := range list {
		for _, n := range c.Nodes {
			if _, ok := n.RuntimeLabels[clusters.LabelKey]; ok {
				found[c.Name] = true
			}
		}
	}
	names, err := labelledNetworkClusters(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		found[n] = true
	}
	out := make([]string, 0, len(found))
	for n := range found {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// DeleteByName removes a cluster's containers, its network and its state
// directory. What is already gone is not an error.
func (p *Provider) DeleteByName(ctx context.Context, name string) error {
	p.setUpLog()
	var errs []error
	if err := k3dclient.ClusterDelete(ctx, runtimes.Docker, &k3dtypes.Cluster{Name: name}, k3dtypes.ClusterDeleteOpts{}); err != nil && !isNotFound(err) {
		errs = append(errs, err)
	}
	if err := removeNetworks(ctx, name); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(p.stateDir(name)); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete k3d cluster %s: %w", name, err)
	}
	return nil
}

// Kubeconfig reads a k3d cluster's kubeconfig from its server node.
func (p *Provider) Kubeconfig(ctx context.Context, name string) ([]byte, error) {
	p.setUpLog()
	kc, err := k3dclient.KubeconfigGet(ctx, p.runtime(), &k3dtypes.Cluster{Name: name})
	if err != nil {
		return nil, fmt.Errorf("kubeconfig of k3d cluster %s: %w", name, err)
	}
	out, err := clientcmd.Write(*kc)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig of k3d cluster %s: %w", name, err)
	}
	return out, nil
}

// Cluster is a running k3d cluster.
type Cluster struct {
	name     string
	runtime  runtimes.Runtime
	stateDir string
	podCIDR  string
	apiHost  string
	apiPort  int
}

var _ clusters.Cluster = (*Cluster)(nil)

func (c *Cluster) Name() string           { return c.name }
func (c *Cluster) Provider() string       { return "k3d" }
func (c *Cluster) KubeconfigPath() string { return filepath.Join(c.stateDir, "kubeconfig") }

// APIServer is the server node's address on the cluster network.
func (c *Cluster) APIServer() (string, int) { return c.apiHost, c.apiPort }

// PodCIDR is k3s' --cluster-cidr: Cilium's cluster-pool must use it.
func (c *Cluster) PodCIDR() string { return c.podCIDR }

func (c *Cluster) writeKubeconfig(ctx context.Context) error {
	kc, err := k3dclient.KubeconfigGet(ctx, c.runtime, &k3dtypes.Cluster{Name: c.name})
	if err != nil {
		return fmt.Errorf("kubeconfig of k3d cluster %s: %w", c.name, err)
	}
	if err := os.MkdirAll(c.stateDir, 0o700); err != nil {
		return fmt.Errorf("kubeconfig of k3d cluster %s: %w", c.name, err)
	}
	if err := clientcmd.WriteToFile(*kc, c.KubeconfigPath()); err != nil {
		return fmt.Errorf("write kubeconfig of k3d cluster %s: %w", c.name, err)
	}
	return nil
}

func (c *Cluster) readAPIServer(ctx context.Context) error {
	server := k3dclient.GenerateNodeName(c.name, k3dtypes.ServerRole, 0)
	node, err := c.runtime.GetNode(ctx, &k3dtypes.Node{Name: server})
	if err != nil {
		return fmt.Errorf("k3d cluster %s: server node %s: %w", c.name, server, err)
	}
	if !node.IP.IP.IsValid() {
		return fmt.Errorf("k3d cluster %s: server node %s has no address on the cluster network", c.name, server)
	}
	c.apiHost = node.IP.IP.String()
	c.apiPort = 6443
	return nil
}

// Nodes lists the nodes from the API; k3s names each node after its
// container, which is reported for probes to enter.
func (c *Cluster) Nodes(ctx context.Context) ([]clusters.Node, error) {
	config, err := clientcmd.BuildConfigFromFlags("", c.KubeconfigPath())
	if err != nil {
		return nil, fmt.Errorf("nodes of k3d cluster %s: %w", c.name, err)
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("nodes of k3d cluster %s: %w", c.name, err)
	}
	nodes, err := kubenodes.List(ctx, client)
	if err != nil {
		return nil, fmt.Errorf("nodes of k3d cluster %s: %w", c.name, err)
	}
	k3dNodes, err := c.runtime.GetNodesByLabel(ctx, map[string]string{k3dtypes.LabelClusterName: c.name})
	if err != nil {
		return nil, fmt.Errorf("containers of k3d cluster %s: %w", c.name, err)
	}
	containers := map[string]bool{}
	for _, n := range k3dNodes {
		containers[n.Name] = true
	}
	for i := range nodes {
		if containers[nodes[i].Name] {
			nodes[i].Container = nodes[i].Name
		}
	}
	return nodes, nil
}

// LoadImages streams images from the local Docker engine into every node's
// containerd (k3d's direct import: no tools container).
func (c *Cluster) LoadImages(ctx context.Context, images ...string) error {
	cluster, err := k3dclient.ClusterGet(ctx, c.runtime, &k3dtypes.Cluster{Name: c.name})
	if err != nil {
		return fmt.Errorf("load images into k3d cluster %s: %w", c.name, err)
	}
	if err := k3dclient.ImageImportIntoClusterMulti(ctx, c.runtime, images, cluster, k3dtypes.ImageImportOpts{Mode: k3dtypes.ImportModeDirect}); err != nil {
		return fmt.Errorf("load images %s into k3d cluster %s: %w", strings.Join(images, ", "), c.name, err)
	}
	return nil
}

// Delete removes the cluster, its network and its kubeconfig.
func (c *Cluster) Delete(ctx context.Context) error {
	p := &Provider{StateDir: filepath.Dir(c.stateDir)}
	return p.DeleteByName(ctx, c.name)
}

// requireImage checks that the node image is in the local engine: nothing
// can be pulled in an air-gapped lab, and a missing image should fail here,
// naming itself, rather than in the middle of cluster creation.
func requireImage(ctx context.Context, image string) error {
	cli, err := dockerClient()
	if err != nil {
		return err
	}
	defer cli.Close()
	if _, err := cli.ImageInspect(ctx, image); err != nil {
		return fmt.Errorf("node image %s is not in the local Docker engine (%v): load or build it first, or pass another with the node image option", image, err)
	}
	return nil
}

func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port for the API server: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func isNotFound(err error) bool { return errors.Is(err, k3dclient.ClusterGetNoNodesFoundError) }
