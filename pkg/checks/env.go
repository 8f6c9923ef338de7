package checks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tunedcilium/tunedcilium/clusters"
	"github.com/tunedcilium/tunedcilium/pkg/ciliumstatus"
	"github.com/tunedcilium/tunedcilium/pkg/install"
	"github.com/tunedcilium/tunedcilium/pkg/plan"
	"github.com/tunedcilium/tunedcilium/pkg/podexec"
	"github.com/tunedcilium/tunedcilium/pkg/probe"
	"github.com/tunedcilium/tunedcilium/pkg/traffic"
	"github.com/tunedcilium/tunedcilium/pkg/workload"
)

// Settings are the knobs of the behavioural checks.
type Settings struct {
	// Connections per burst (conntrack, FORWARD counters).
	Connections int
	// ConntrackBound: a delta under it on both nodes is "flat".
	ConntrackBound int
	// Iperf3Duration and Iperf3Runs shape each throughput measurement.
	Iperf3Duration time.Duration
	Iperf3Runs     int
	// MinGbps is the absolute throughput floor (median of the runs).
	MinGbps float64
	// MaxSlowdownPct is how much slower than the baseline profile's figure
	// (measured earlier in the same run) a throughput may be.
	MaxSlowdownPct float64
	// CiliumCLI is the cilium CLI binary ("": look it up on PATH).
	CiliumCLI string
	// ConnectivityFilter is passed to `cilium connectivity test --test`.
	ConnectivityFilter string
	// ConnectivityTimeout bounds `cilium connectivity test`.
	ConnectivityTimeout time.Duration
	// ReportDir receives the connectivity test's JUnit file and sysdumps.
	ReportDir string
	// CheckTimeout bounds one check.
	CheckTimeout time.Duration
	// BaselineProfile is the profile whose throughput is the relative
	// reference ("baseline").
	BaselineProfile string
}

// DefaultSettings are the suite's defaults.
func DefaultSettings() Settings {
	return Settings{
		Connections:         200,
		ConntrackBound:      20,
		Iperf3Duration:      2 * time.Second,
		Iperf3Runs:          3,
		MinGbps:             1,
		MaxSlowdownPct:      10,
		ConnectivityTimeout: 30 * time.Minute,
		CheckTimeout:        2 * time.Minute,
		BaselineProfile:     "baseline",
	}
}

func (s Settings) withDefaults() Settings {
	d := DefaultSettings()
	if s.Connections <= 0 {
		s.Connections = d.Connections
	}
	if s.ConntrackBound <= 0 {
		s.ConntrackBound = d.ConntrackBound
	}
	if s.Iperf3Duration <= 0 {
		s.Iperf3Duration = d.Iperf3Duration
	}
	if s.Iperf3Runs <= 0 {
		s.Iperf3Runs = d.Iperf3Runs
	}
	if s.ConnectivityTimeout <= 0 {
		s.ConnectivityTimeout = d.ConnectivityTimeout
	}
	if s.CheckTimeout <= 0 {
		s.CheckTimeout = d.CheckTimeout
	}
	if s.BaselineProfile == "" {
		s.BaselineProfile = d.BaselineProfile
	}
	return s
}

// Baselines holds throughput figures measured by the baseline profile, for
// the relative floor of later profiles in the same run. Share one between
// the Envs of a run.
type Baselines struct {
	mu sync.Mutex
	m  map[string]traffic.Throughput
}

// NewBaselines returns an empty store.
func NewBaselines() *Baselines { return &Baselines{m: map[string]traffic.Throughput{}} }

// Record stores a check's throughput.
func (b *Baselines) Record(check string, t traffic.Throughput) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[check] = t
}

// Get returns the baseline of a check, if it ran.
func (b *Baselines) Get(check string) (traffic.Throughput, bool) {
	if b == nil {
		return traffic.Throughput{}, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.m[check]
	return t, ok
}

// Node is one cluster node as the checks see it.
type Node struct {
	clusters.Node
	// Probe is the node's network namespace (nil when it could not be
	// opened: ProbeErr says why).
	Probe    *probe.Node
	ProbeErr error
	// Agent is the node's cilium-agent pod and Status its decoded status
	// (nil when unreadable: StatusErr says why).
	Agent     install.Agent
	Status    *ciliumstatus.Status
	StatusErr error
	// PodCIDRs are the node's pod CIDRs (Node.spec.podCIDRs, or the
	// CiliumNode's with cluster-pool IPAM).
	PodCIDRs []netip.Prefix
}

// Env is what a check may use.
type Env struct {
	Profile  string
	Plan     *plan.Plan
	Cluster  clusters.Cluster
	Kube     kubernetes.Interface
	Rest     *rest.Config
	Cilium   *install.Cilium
	Exec     *podexec.Executor
	Nodes    []*Node
	Workload *workload.Workload
	Settings Settings
	Log      io.Writer
	// Baselines is shared by the Envs of one run.
	Baselines *Baselines

	mu     sync.Mutex
	active *Active
	fb     *fallbackCache
}

// OpenNodeFunc opens a node's network namespace for probes.
type OpenNodeFunc func(ctx context.Context, n clusters.Node) (*probe.Node, error)

// Config is what NewEnv builds an Env from.
type Config struct {
	Profile  string
	Plan     *plan.Plan
	Cluster  clusters.Cluster
	Cilium   *install.Cilium
	Workload *workload.Workload
	Settings Settings
	Log      io.Writer
	// Baselines: share one across the profiles of a run (nil: a new one).
	Baselines *Baselines
	// OpenNode opens a node for probes. Nil: the cluster's own ProbeNode
	// when it has one (clusters/existing), else probe.OpenContainer for
	// nodes that are local containers.
	OpenNode OpenNodeFunc
}

// nodeProber is what clusters/existing offers.
type nodeProber interface {
	ProbeNode(ctx context.Context, node clusters.Node) (*probe.Node, error)
}

// NewEnv builds an Env: it opens every node's namespace, finds each node's
// agent and reads its status. A node that cannot be opened or an agent whose
// status cannot be read is recorded (ProbeErr, StatusErr): the checks that
// need it SKIP or FAIL with that reason; NewEnv fails only when the cluster
// itself cannot be reached.
func NewEnv(ctx context.Context, cfg Config) (*Env, error) {
	if cfg.Cluster == nil || cfg.Cilium == nil {
		return nil, errors.New("checks env: a cluster and its Cilium installation are required")
	}
	restCfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: cfg.Cluster.KubeconfigPath()},
		&clientcmd.ConfigOverrides{CurrentContext: cfg.Cilium.Context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("checks env: kubeconfig %s: %w", cfg.Cluster.KubeconfigPath(), err)
	}
	kube, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return nil, fmt.Errorf("checks env: kubernetes client for %s: %w", restCfg.Host, err)
	}
	ex, err := podexec.New(restCfg)
	if err != nil {
		return nil, fmt.Errorf("checks env: %w", err)
	}
	log := cfg.Log
	if log == nil {
		log = io.Discard
	}
	if cfg.Baselines == nil {
		cfg.Baselines = NewBaselines()
	}
	e := &Env{
		Profile: cfg.Profile, Plan: cfg.Plan, Cluster: cfg.Cluster, Kube: kube, Rest: restCfg,
		Cilium: cfg.Cilium, Exec: ex, Workload: cfg.Workload, Settings: cfg.Settings.withDefaults(),
		Log: log, Baselines: cfg.Baselines, fb: &fallbackCache{},
	}
	open := cfg.OpenNode
	if open == nil {
		open = defaultOpener(cfg.Cluster)
	}
	nodes, err := cfg.Cluster.Nodes(ctx)
	if err != nil {
		return nil, fmt.Errorf("checks env: nodes of %s: %w", cfg.Cluster.Name(), err)
	}
	cidrs, err := podCIDRs(ctx, kube, restCfg)
	if err != nil {
		return nil, fmt.Errorf("checks env: %w", err)
	}
	for _, cn := range nodes {
		n := &Node{Node: cn, PodCIDRs: cidrs[cn.Name]}
		n.Probe, n.ProbeErr = open(ctx, cn)
		e.Nodes = append(e.Nodes, n)
	}
	if err := e.RefreshStatus(ctx); err != nil {
		e.Close()
		return nil, err
	}
	e.logf("checks: %d nodes (%s), profile %s", len(e.Nodes), e.describeNodes(), e.Profile)
	return e, nil
}

func defaultOpener(c clusters.Cluster) OpenNodeFunc {
	if p, ok := c.(nodeProber); ok {
		return p.ProbeNode
	}
	return func(ctx context.Context, n clusters.Node) (*probe.Node, error) {
		if n.Container == "" {
			return nil, fmt.Errorf("node %s is not a local container and the %s provider gives no node access", n.Name, c.Provider())
		}
		return probe.OpenContainer(ctx, n.Container)
	}
}

// RefreshStatus finds every node's agent and reads its status again (after
// an agent restart).
func (e *Env) RefreshStatus(ctx context.Context) error {
	agents, err := e.Cilium.Agents(ctx)
	if err != nil {
		return fmt.Errorf("checks env: %w", err)
	}
	byNode := map[string]install.Agent{}
	for _, a := range agents {
		byNode[a.Node] = a
	}
	for _, n := range e.Nodes {
		a, ok := byNode[n.Name]
		if !ok {
			n.Agent, n.Status, n.StatusErr = install.Agent{}, nil, fmt.Errorf("no cilium agent pod on node %s", n.Name)
			continue
		}
		n.Agent = a
		n.Status, n.StatusErr = e.Cilium.AgentStatus(ctx, a)
	}
	e.mu.Lock()
	e.active = nil
	e.mu.Unlock()
	return nil
}

func (e *Env) describeNodes() string {
	s := ""
	for i, n := range e.Nodes {
		if i > 0 {
			s += ", "
		}
		access := "no probe: " + fmt.Sprint(n.ProbeErr)
		if n.Probe != nil {
			access = n.Probe.Name()
		}
		s += fmt.Sprintf("%s %s [%s]", n.Name, n.InternalIP, access)
	}
	return s
}

// Close releases the node handles.
func (e *Env) Close() error {
	var errs []error
	for _, n := range e.Nodes {
		if n.Probe != nil {
			if err := n.Probe.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close node %s: %w", n.Name, err))
			}
			n.Probe = nil
		}
	}
	return errors.Join(errs...)
}

func (e *Env) logf(format string, args ...any) {
	fmt.Fprintf(e.Log, format+"\n", args...)
}

// Node returns the node of that name.
func (e *Env) Node(name string) (*Node, error) {
	for _, n := range e.Nodes {
		if n.Name == name {
			return n, nil
		}
	}
	return nil, fmt.Errorf("no node %s in the cluster", name)
}

// AllPodCIDRs is every node's pod CIDRs, sorted.
func (e *Env) AllPodCIDRs() []netip.Prefix {
	var out []netip.Prefix
	for _, n := range e.Nodes {
		out = append(out, n.PodCIDRs...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// podCIDRs reads every node's pod CIDRs: Node.spec.podCIDRs (Kubernetes
// IPAM), else the CiliumNode's spec.ipam.podCIDRs (cluster-pool).
func podCIDRs(ctx context.Context, kube kubernetes.Interface, restCfg *rest.Config) (map[string][]netip.Prefix, error) {
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	out := map[string][]netip.Prefix{}
	missing := false
	for _, n := range nodes.Items {
		cidrs := n.Spec.PodCIDRs
		if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
			cidrs = []string{n.Spec.PodCIDR}
		}
		for _, c := range cidrs {
			if p, err := netip.ParsePrefix(c); err == nil && p.Addr().Is4() {
				out[n.Name] = append(out[n.Name], p)
			}
		}
		if len(out[n.Name]) == 0 {
			missing = true
		}
	}
	if missing {
		fromCilium, err := ciliumNodePodCIDRs(ctx, restCfg)
		if err == nil {
			for name, cidrs := range fromCilium {
				if len(out[name]) == 0 {
					out[name] = cidrs
				}
			}
		}
	}
	return out, nil
}
