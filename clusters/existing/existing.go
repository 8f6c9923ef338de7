// Package existing is a cluster the suite did not create: a kubeconfig (and
// context). Nodes come from the API; the nodes are reached through a
// privileged pod per node (host network, host PID) that the run deploys in a
// namespace of its own, unless a node is a local Docker container, whose name
// is then reported so probes can enter its namespaces directly. The cluster
// is never deleted: Delete removes only what the run added (the node-access
// namespace and the run's lease).
package existing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/tunedcilium/tunedcilium/clusters"
	"github.com/tunedcilium/tunedcilium/clusters/kubenodes"
	"github.com/tunedcilium/tunedcilium/pkg/clusterlock"
	"github.com/tunedcilium/tunedcilium/pkg/podexec"
)

// Options say which cluster and how the run may use it.
type Options struct {
	// Kubeconfig is the kubeconfig file (--kubeconfig); required.
	Kubeconfig string
	// Context is the kubeconfig context; "" for its current context.
	Context string
	// RunID names the run's namespace and holds the cluster's lease.
	RunID string
	// NodeAccessImage is the image of the per-node privileged pods (the
	// suite's workload image with iproute2, iptables, conntrack, bpftool).
	// Needed only for NodeRunner.
	NodeAccessImage string
	// Lock takes the cluster's lease (pkg/clusterlock) at Open, so that two
	// runs never share the cluster; released by Delete.
	Lock bool
	// ReachTimeout bounds the first call to the API server (10s when zero).
	ReachTimeout time.Duration
	// Log receives progress lines of long waits; nil discards them.
	Log io.Writer
}

// Cluster is an existing cluster opened by a run.
type Cluster struct {
	opts    Options
	name    string
	config  *rest.Config
	client  kubernetes.Interface
	apiHost string
	apiPort int
	lock    *clusterlock.Lock

	mu       sync.Mutex
	access   *nodeAccess
	cleanups []func(context.Context) error
}

var _ clusters.Cluster = (*Cluster)(nil)

// Open validates the kubeconfig and reaches the API server before anything
// else; every failure is one line naming the input and the fix.
func Open(ctx context.Context, opts Options) (*Cluster, error) {
	raw, err := loadKubeconfig(opts.Kubeconfig)
	if err != nil {
		return nil, err
	}
	contextName := opts.Context
	if contextName == "" {
		contextName = raw.CurrentContext
	}
	kctx, ok := raw.Contexts[contextName]
	if !ok || contextName == "" {
		return nil, fmt.Errorf("kubeconfig %s has no context %q (contexts: %s): pass one with --kube-context", opts.Kubeconfig, contextName, strings.Join(contextNames(raw), ", "))
	}
	config, err := clientcmd.NewNonInteractiveClientConfig(*raw, contextName, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s, context %s: %w: fix the kubeconfig or pass another with --kubeconfig", opts.Kubeconfig, contextName, err)
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s, context %s: %w", opts.Kubeconfig, contextName, err)
	}
	if err := reach(ctx, client, config.Host, opts); err != nil {
		return nil, err
	}

	c := &Cluster{opts: opts, name: contextName, config: config, client: client}
	if c.name == "" {
		c.name = kctx.Cluster
	}
	c.apiHost, c.apiPort = apiServerForNodes(ctx, client, config.Host)
	if opts.Lock {
		lock, err := clusterlock.Acquire(ctx, client, opts.RunID, clusterlock.Options{Log: opts.Log})
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", c.name, err)
		}
		c.lock = lock
		c.onDelete(lock.Release)
	}
	return c, nil
}

func loadKubeconfig(path string) (*clientcmdapi.Config, error) {
	if path == "" {
		return nil, fmt.Errorf("no kubeconfig given: pass the existing cluster's kubeconfig with --kubeconfig")
	}
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("kubeconfig %s does not exist: pass the path of the cluster's kubeconfig with --kubeconfig", path)
	}
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w: pass a readable kubeconfig with --kubeconfig", path, err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("kubeconfig %s is a directory: pass the kubeconfig file with --kubeconfig", path)
	}
	raw, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s is not a valid kubeconfig (%v): pass a valid one with --kubeconfig", path, oneLine(err))
	}
	if len(raw.Contexts) == 0 {
		return nil, fmt.Errorf("kubeconfig %s has no contexts: pass a kubeconfig for the cluster with --kubeconfig", path)
	}
	return raw, nil
}

func reach(ctx context.Context, client kubernetes.Interface, host string, opts Options) error {
	timeout := opts.ReachTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	done := make(chan error, 1)
	go func() {
		_, err := client.Discovery().ServerVersion()
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(timeout):
		err = fmt.Errorf("no answer in %s", timeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("API server %s (kubeconfig %s) is unreachable: %v: check that the cluster runs and that --kubeconfig/--kube-context point at it", host, opts.Kubeconfig, oneLine(err))
	}
	return nil
}

// apiServerForNodes is the API server address the nodes use: the endpoints
// of the default/kubernetes Service (what kube-proxy would have served); the
// kubeconfig's server (which may be a port forward on this machine, as with
// kind) only when they cannot be read.
func apiServerForNodes(ctx context.Context, client kubernetes.Interface, kubeconfigHost string) (string, int) {
	slices, err := client.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=kubernetes"})
	if err == nil {
		for _, s := range slices.Items {
			port := 0
			for _, p := range s.Ports {
				if p.Port != nil && (p.Name == nil || *p.Name == "https") {
					port = int(*p.Port)
				}
			}
			for _, e := range s.Endpoints {
				if len(e.Addresses) > 0 && port != 0 {
					return e.Addresses[0], port
				}
			}
		}
	}
	return hostPort(kubeconfigHost)
}

func hostPort(server string) (string, int) {
	u, err := url.Parse(server)
	if err != nil {
		return "", 0
	}
	host, portStr, err := net.SplitHostPort(u.Host)
	if err != nil {
		host, portStr = u.Host, "443"
		if u.Scheme == "http" {
			portStr = "80"
		}
	}
	port, _ := strconv.Atoi(portStr)
	return host, port
}

func (c *Cluster) Name() string           { return c.name }
func (c *Cluster) Provider() string       { return "existing" }
func (c *Cluster) KubeconfigPath() string { return c.opts.Kubeconfig }

// Context is the kubeconfig context in use.
func (c *Cluster) Context() string { return c.name }

// RESTConfig is the client configuration of the cluster.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.config) }

func (c *Cluster) APIServer() (string, int) { return c.apiHost, c.apiPort }

// Nodes lists the nodes from the API; a node whose InternalIP belongs to a
// local Docker container carries that container's name.
func (c *Cluster) Nodes(ctx context.Context) ([]clusters.Node, error) {
	nodes, err := kubenodes.List(ctx, c.client)
	if err != nil {
		return nil, fmt.Errorf("nodes of %s: %w", c.name, err)
	}
	byIP := localContainersByIP(ctx)
	for i := range nodes {
		nodes[i].Container = byIP[nodes[i].InternalIP]
	}
	return nodes, nil
}

// LoadImages is not offered for an existing cluster: its nodes pull from
// wherever the cluster's owner configured.
func (c *Cluster) LoadImages(_ context.Context, images ...string) error {
	return fmt.Errorf("existing cluster %s: cannot load images %s into its nodes: make them pullable by the cluster (its registry) or load them yourself, then run again", c.name, strings.Join(images, ", "))
}

// Delete removes what the run added to the cluster (node-access namespace,
// lease), newest first, and never the cluster itself.
func (c *Cluster) Delete(ctx context.Context) error {
	c.mu.Lock()
	cleanups := c.cleanups
	c.cleanups = nil
	c.access = nil
	c.mu.Unlock()
	var errs []error
	for i := len(cleanups) - 1; i >= 0; i-- {
		if err := cleanups[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clean up existing cluster %s: %w", c.name, err)
	}
	return nil
}

func (c *Cluster) onDelete(f func(context.Context) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cleanups = append(c.cleanups, f)
}

func (c *Cluster) executor() (*podexec.Executor, error) { return podexec.New(c.config) }

func contextNames(raw *clientcmdapi.Config) []string {
	names := make([]string, 0, len(raw.Contexts))
	for n := range raw.Contexts {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return []string{"none"}
	}
	return names
}

func oneLine(err error) string {
	s := strings.TrimSpace(err.Error())
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
