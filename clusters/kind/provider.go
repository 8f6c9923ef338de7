package kind

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"

	"github.com/tunedcilium/tunedcilium/clusters"
)

// clusterLabel on a cluster's Docker network names the kind cluster it
// belongs to (the network also carries clusters.LabelKey = run id).
const clusterLabel = "io.tunedcilium.kind-cluster"

// kindNetworkEnv makes kind put a cluster's nodes on a given Docker network.
// It is process-wide, so creations are serialised.
const kindNetworkEnv = "KIND_EXPERIMENTAL_DOCKER_NETWORK"

var createMu sync.Mutex

// Provider creates kind clusters.
type Provider struct {
	// Out receives progress lines (kind's own status lines included).
	Out io.Writer
	// KubeconfigDir holds one kubeconfig per cluster; default
	// $TMPDIR/tunedcilium-kind.
	KubeconfigDir string
}

var _ clusters.Provider = (*Provider)(nil)

// New returns a kind provider printing progress to out.
func New(out io.Writer) *Provider {
	if out == nil {
		out = io.Discard
	}
	return &Provider{Out: out}
}

func (p *Provider) Name() string { return "kind" }

func (p *Provider) Defaults(spec clusters.Spec) clusters.Spec { return WithDefaults(spec) }

func (p *Provider) out() io.Writer {
	if p.Out == nil {
		return io.Discard
	}
	return p.Out
}

func (p *Provider) printf(format string, args ...any) {
	fmt.Fprintf(p.out(), "kind: "+format+"\n", args...)
}

func (p *Provider) kind() *kindcluster.Provider {
	return kindcluster.NewProvider(kindcluster.ProviderWithDocker(), kindcluster.ProviderWithLogger(newLogger(p.out())))
}

func (p *Provider) kubeconfigPath(name string) (string, error) {
	dir := p.KubeconfigDir
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "tunedcilium-kind")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	return filepath.Join(dir, name+".kubeconfig"), nil
}

func dockerClient() (*client.Client, error) {
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return c, nil
}

// Create makes the cluster the spec asks for. On failure everything created
// so far is removed. The nodes register with the API server; they stay
// NotReady until a CNI (Cilium) is installed.
func (p *Provider) Create(ctx context.Context, spec clusters.Spec) (clusters.Cluster, error) {
	spec = WithDefaults(spec)
	cfg, err := Config(spec)
	if err != nil {
		return nil, err
	}
	dc, err := dockerClient()
	if err != nil {
		return nil, err
	}
	if _, err := dc.ImageInspect(ctx, spec.NodeImage); err != nil {
		dc.Close()
		if errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("node image %s is not in the local Docker engine: build it with `make images` (or pass another node image)", spec.NodeImage)
		}
		return nil, fmt.Errorf("inspect node image %s: %w", spec.NodeImage, err)
	}
	kubeconfig, err := p.kubeconfigPath(spec.Name)
	if err != nil {
		dc.Close()
		return nil, err
	}
	c := &Cluster{p: p, spec: spec, docker: dc, kubeconfig: kubeconfig, network: NetworkName(spec.Name)}

	if err := c.createNetwork(ctx); err != nil {
		c.Delete(context.WithoutCancel(ctx))
		return nil, err
	}
	start := time.Now()
	p.printf("creating cluster %s: %d node(s) from %s, network %s (MTU %s), kube-proxy %s",
		spec.Name, spec.Nodes, spec.NodeImage, c.network, mtuString(spec.MTU), cfg.Networking.KubeProxyMode)
	err = func() error {
		createMu.Lock()
		defer createMu.Unlock()
		old, had := os.LookupEnv(kindNetworkEnv)
		os.Setenv(kindNetworkEnv, c.network)
		defer func() {
			if had {
				os.Setenv(kindNetworkEnv, old)
			} else {
				os.Unsetenv(kindNetworkEnv)
			}
		}()
		return p.kind().Create(spec.Name,
			kindcluster.CreateWithV1Alpha4Config(cfg),
			kindcluster.CreateWithNodeImage(spec.NodeImage),
			kindcluster.CreateWithWaitForReady(0), // nodes are NotReady until Cilium runs
			kindcluster.CreateWithKubeconfigPath(kubeconfig),
			kindcluster.CreateWithDisplayUsage(false),
			kindcluster.CreateWithDisplaySalutation(false),
		)
	}()
	if err != nil {
		c.Delete(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("create kind cluster %s: %w", spec.Name, err)
	}
	p.printf("cluster %s created in %s", spec.Name, time.Since(start).Round(time.Second))
	if spec.XDP {
		if err := c.prepareXDP(ctx); err != nil {
			c.Delete(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("prepare host veths of %s for XDP: %w", spec.Name, err)
		}
	}
	return c, nil
}

func mtuString(mtu int) string {
	if mtu == 0 {
		return "Docker's default"
	}
	return strconv.Itoa(mtu)
}

// Leftovers lists the kind clusters a tunedcilium run made (their Docker
// network carries clusters.LabelKey), of any run.
func (p *Provider) Leftovers(ctx context.Context) ([]string, error) {
	dc, err := dockerClient()
	if err != nil {
		return nil, err
	}
	defer dc.Close()
	nets, err := dc.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("label", clusters.LabelKey), filters.Arg("label", clusterLabel))})
	if err != nil {
		return nil, fmt.Errorf("list docker networks: %w", err)
	}
	seen := map[string]bool{}
	for _, n := range nets {
		seen[n.Labels[clusterLabel]] = true
	}
	// clusters whose network is gone but whose nodes remain
	known, err := p.kind().List()
	if err != nil {
		return nil, fmt.Errorf("list kind clusters: %w", err)
	}
	for _, name := range known {
		if len(name) > len("tunedcilium-") && name[:len("tunedcilium-")] == "tunedcilium-" {
			seen[name] = true
		}
	}
	var out []string
	for name := range seen {
		out = append(out, name)
	}
	sort.Strings(out)
	return out, nil
}

// DeleteByName removes a leftover cluster: its nodes, its network, its
// kubeconfig file.
func (p *Provider) DeleteByName(ctx context.Context, name string) error {
	dc, err := dockerClient()
	if err != nil {
		return err
	}
	kubeconfig, err := p.kubeconfigPath(name)
	if err != nil {
		return err
	}
	c := &Cluster{p: p, spec: clusters.Spec{Name: name}, docker: dc, kubeconfig: kubeconfig, network: NetworkName(name)}
	return c.Delete(ctx)
}

// Kubeconfig reads a kind cluster's kubeconfig (its host endpoint) from its
// control-plane node.
func (p *Provider) Kubeconfig(_ context.Context, name string) ([]byte, error) {
	cfg, err := p.kind().KubeConfig(name, false)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig of kind cluster %s: %w", name, err)
	}
	return []byte(cfg), nil
}

// Cluster is a kind cluster this provider created.
type Cluster struct {
	p          *Provider
	spec       clusters.Spec
	docker     *client.Client
	kubeconfig string
	network    string
	xdp        []xdpPrepared
}

var _ clusters.Cluster = (*Cluster)(nil)

func (c *Cluster) Name() string           { return c.spec.Name }
func (c *Cluster) Provider() string       { return "kind" }
func (c *Cluster) KubeconfigPath() string { return c.kubeconfig }
func (c *Cluster) Spec() clusters.Spec    { return c.spec }

// Network is the cluster's Docker network.
func (c *Cluster) Network() string { return c.network }

// APIServer is the control-plane container, resolvable by name on the
// cluster's user-defined network, and kube-apiserver's port.
func (c *Cluster) APIServer() (string, int) {
	return ControlPlaneContainer(c.spec.Name), APIServerPort
}

// Nodes lists the cluster's nodes, control plane first.
func (c *Cluster) Nodes(ctx context.Context) ([]clusters.Node, error) {
	kn, err := c.p.kind().ListNodes(c.spec.Name)
	if err != nil {
		return nil, fmt.Errorf("list nodes of kind cluster %s: %w", c.spec.Name, err)
	}
	var out []clusters.Node
	for _, n := range kn {
		role, err := n.Role()
		if err != nil {
			return nil, fmt.Errorf("role of node %s: %w", n, err)
		}
		ip, _, err := n.IP()
		if err != nil {
			return nil, fmt.Errorf("IP of node %s: %w", n, err)
		}
		out = append(out, clusters.Node{Name: n.String(), Role: role, InternalIP: ip, Container: n.String()})
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i].Role == "control-plane") != (out[j].Role == "control-plane") {
			return out[i].Role == "control-plane"
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// LoadImages saves the images from the local Docker engine once and imports
// them into every node's containerd (k8s.io namespace), nodes in parallel.
func (c *Cluster) LoadImages(ctx context.Context, refs ...string) error {
	if len(refs) == 0 {
		return nil
	}
	for _, r := range refs {
		if _, err := c.docker.ImageInspect(ctx, r); err != nil {
			if errdefs.IsNotFound(err) {
				return fmt.Errorf("image %s is not in the local Docker engine: build it (`make images`) or pull it first", r)
			}
			return fmt.Errorf("inspect image %s: %w", r, err)
		}
	}
	start := time.Now()
	archive, err := os.CreateTemp("", "tunedcilium-images-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(archive.Name())
	defer archive.Close()
	rc, err := c.docker.ImageSave(ctx, refs)
	if err != nil {
		return fmt.Errorf("docker save %v: %w", refs, err)
	}
	_, err = io.Copy(archive, rc)
	rc.Close()
	if err != nil {
		return fmt.Errorf("docker save %v: %w", refs, err)
	}
	return c.loadArchive(ctx, archive.Name(), fmt.Sprint(refs), start)
}

// loadArchive imports an image archive into every node.
func (c *Cluster) loadArchive(ctx context.Context, path, what string, start time.Time) error {
	kn, err := c.p.kind().ListNodes(c.spec.Name)
	if err != nil {
		return fmt.Errorf("list nodes of kind cluster %s: %w", c.spec.Name, err)
	}
	if len(kn) == 0 {
		return fmt.Errorf("kind cluster %s has no nodes", c.spec.Name)
	}
	c.p.printf("loading %s into %d node(s)", what, len(kn))
	errs := make([]error, len(kn))
	var wg sync.WaitGroup
	for i, n := range kn {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := os.Open(path)
			if err != nil {
				errs[i] = err
				return
			}
			defer f.Close()
			if err := nodeutils.LoadImageArchive(n, f); err != nil {
				errs[i] = fmt.Errorf("load %s into node %s: %w", what, n, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	c.p.printf("loaded %s into %d node(s) in %s", what, len(kn), time.Since(start).Round(time.Second))
	return nil
}

// Delete undoes the XDP preparation, deletes the nodes, the cluster's Docker
// network and its kubeconfig file. It goes on after a failed step and
// returns every error.
func (c *Cluster) Delete(ctx context.Context) error {
	var errs []error
	if err := c.undoXDP(); err != nil {
		errs = append(errs, err)
	}
	if err := c.p.kind().Delete(c.spec.Name, c.kubeconfig); err != nil {
		errs = append(errs, fmt.Errorf("delete kind cluster %s: %w", c.spec.Name, err))
	}
	if err := c.removeNetwork(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := os.Remove(c.kubeconfig); err != nil && !os.IsNotExist(err) {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		c.p.printf("cluster %s deleted", c.spec.Name)
	}
	c.docker.Close()
	return errors.Join(errs...)
}

// createNetwork makes the cluster's own Docker network, labelled with the
// run id, with the spec's MTU.
func (c *Cluster) createNetwork(ctx context.Context) error {
	opts := map[string]string{}
	if c.spec.MTU != 0 {
		opts["com.docker.network.driver.mtu"] = strconv.Itoa(c.spec.MTU)
	}
	labels := map[string]string{clusters.LabelKey: c.spec.RunID, clusterLabel: c.spec.Name}
	_, err := c.docker.NetworkCreate(ctx, c.network, network.CreateOptions{Driver: "bridge", Options: opts, Labels: labels})
	if err != nil {
		return fmt.Errorf("create docker network %s: %w", c.network, err)
	}
	return nil
}

func (c *Cluster) removeNetwork(ctx context.Context) error {
	if err := clusters.RemoveRunContainers(ctx, c.docker, c.network); err != nil {
		return err
	}
	err := c.docker.NetworkRemove(ctx, c.network)
	if err == nil || errdefs.IsNotFound(err) {
		return nil
	}
	return fmt.Errorf("remove docker network %s: %w", c.network, err)
}

// Open returns the Cluster of an existing kind cluster this provider made
// (a kept cluster of an earlier run), without changing it. The XDP
// preparation of the run that made it is not known: Delete leaves it to the
// veths' removal with the node containers.
func (p *Provider) Open(ctx context.Context, name string) (*Cluster, error) {
	known, err := p.kind().List()
	if err != nil {
		return nil, fmt.Errorf("list kind clusters: %w", err)
	}
	found := false
	for _, k := range known {
		found = found || k == name
	}
	if !found {
		return nil, fmt.Errorf("no kind cluster named %q (existing: %v)", name, known)
	}
	dc, err := dockerClient()
	if err != nil {
		return nil, err
	}
	kubeconfig, err := p.kubeconfigPath(name)
	if err != nil {
		dc.Close()
		return nil, err
	}
	spec := clusters.Spec{Name: name}
	if n, err := dc.NetworkInspect(ctx, NetworkName(name), network.InspectOptions{}); err == nil {
		spec.RunID = n.Labels[clusters.LabelKey]
	}
	nodes, err := p.kind().ListNodes(name)
	if err != nil {
		dc.Close()
		return nil, fmt.Errorf("list nodes of kind cluster %s: %w", name, err)
	}
	spec.Nodes = len(nodes)
	return &Cluster{p: p, spec: spec, docker: dc, kubeconfig: kubeconfig, network: NetworkName(name)}, nil
}
