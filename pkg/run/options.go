// Package run is the suite's pipeline: for each profile, in order,
//
//	plan -> provision (or reuse) -> load images -> install Cilium -> wait ready
//	-> deploy workloads -> checks -> collect on failure -> tear down
//
// Options come from flags and matching environment variables; everything
// the user got wrong is reported before any cluster exists.
package run

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Keep says when a cluster outlives the run.
type Keep string

const (
	KeepNever     Keep = "never"
	KeepOnFailure Keep = "on-failure"
	KeepAlways    Keep = "always"
)

// Options are the suite's inputs.
type Options struct {
	Provider      string
	Profiles      []string
	CiliumVersion string
	CiliumChart   string
	// Images is "local" (the air-gapped images built by `make images`) or
	// "registry" (the chart's own images).
	Images                 string
	CiliumImage            string
	OperatorImage          string
	NodeImage              string
	WorkloadImage          string
	Nodes                  int
	Kubeconfig             string
	KubeContext            string
	Keep                   Keep
	ReportDir              string
	CiliumCLI              string
	ConnectivityTestFilter string
	// FreshClusters disables in-place profile switches.
	FreshClusters bool
	// Connections per burst and the conntrack "flat" bound.
	Connections    int
	ConntrackBound int
	// Throughput thresholds.
	MinGbps        float64
	MaxSlowdownPct float64
	ReadyTimeout   time.Duration
	RunID          string
	// PodCIDR and NIC describe an existing cluster where they cannot be read.
	PodCIDR string
	NIC     string
	// UpgradeFrom, when set, validates an upgrade: each profile is installed
	// at this Cilium version (or from this chart directory), checked,
	// upgraded with `helm upgrade` to the version under test and checked
	// again (upgrade.go). UpgradeConnections long-lived TCP connections are
	// held open across the upgrade.
	UpgradeFrom        string
	UpgradeConnections int
	// RequireHostTuning makes the host audit's items count (they are
	// informational otherwise).
	RequireHostTuning bool
	// KernelPlatform plans for a named kernel row instead of the running
	// kernel's version ("rhel8.10": RHEL's 4.18 with the backports Cilium
	// counts as 5.10).
	KernelPlatform string

	profilesRaw, keepRaw *string
}

// envPrefix: every flag can also come from TUNEDCILIUM_<FLAG> (dashes become
// underscores), the way CI matrices pass them.
const envPrefix = "TUNEDCILIUM_"

// RegisterFlags defines the suite's flags on fs, with defaults taken from the
// environment. It returns the options the flags fill.
func RegisterFlags(fs *flag.FlagSet) *Options {
	o := &Options{}
	str := func(p *string, name, def, usage string) {
		fs.StringVar(p, name, envOr(name, def), usage+" [$"+envName(name)+"]")
	}
	var profiles, keep string
	str(&o.Provider, "provider", "kind", "cluster provider: kind, k3d or existing")
	str(&profiles, "profiles", "baseline,seed-part8", "comma-separated profiles: built-in names or YAML files")
	str(&o.CiliumVersion, "cilium-version", "", "Cilium version to install (default: the one in go.mod)")
	str(&o.CiliumChart, "cilium-chart", "", "Cilium chart: a local chart directory or Cilium checkout, 'module' (the chart in the Go module cache) or 'repo' (the Cilium Helm repository); default: module with --images=local, else repo")
	str(&o.Images, "images", "registry", "where images come from: local (built by `make images`, loaded into the nodes) or registry")
	str(&o.CiliumImage, "cilium-image", "", "your own agent image REPO:TAG (loaded into the nodes with --images=local)")
	str(&o.OperatorImage, "operator-image", "", "your own operator image REPO:TAG")
	str(&o.NodeImage, "node-image", "", "node image for kind/k3d (default: the provider's; the local one with --images=local)")
	str(&o.WorkloadImage, "workload-image", "", "image of the suite's test pods (default: the local workload image)")
	str(&o.Kubeconfig, "kubeconfig", "", "kubeconfig of an existing cluster (--provider existing)")
	str(&o.KubeContext, "kube-context", "", "kubeconfig context (default: its current context)")
	str(&keep, "keep-cluster", string(KeepNever), "keep clusters after the run: never, on-failure or always")
	str(&o.ReportDir, "report-dir", "report", "where results.json, junit.xml, summary.md and failure evidence go")
	str(&o.CiliumCLI, "cilium-cli", "", "path of the cilium CLI for `cilium connectivity test` (default: cilium on PATH)")
	str(&o.ConnectivityTestFilter, "connectivity-tests", "", "test filter passed to `cilium connectivity test --test`")
	str(&o.PodCIDR, "pod-cidr", "", "existing cluster: its IPv4 pod CIDR (default: the prefix covering every node's podCIDR)")
	str(&o.NIC, "nic", "", "existing cluster: the nodes' NIC driver as `ethtool -i` reports it (default: unknown, so XDP and BIG TCP SKIP)")
	str(&o.RunID, "run-id", "", "run id used in cluster names and labels (default: generated)")
	str(&o.UpgradeFrom, "upgrade-from", "", "validate an upgrade: install this Cilium version (or chart directory) first, check, `helm upgrade` to the version under test, check again")
	fs.IntVar(&o.UpgradeConnections, "upgrade-connections", envInt("upgrade-connections", 20), "long-lived TCP connections held open across --upgrade-from's upgrade [$"+envName("upgrade-connections")+"]")
	fs.BoolVar(&o.RequireHostTuning, "require-host-tuning", envBool("require-host-tuning"), "fail the run when a host tuning of the audit (tuned profile, CPU governor, irqbalance, NIC IRQ affinity, preemption model) is missing [$"+envName("require-host-tuning")+"]")
	str(&o.KernelPlatform, "kernel-platform", "", "plan for this kernel row instead of the running kernel's version, e.g. rhel8.10 (RHEL's 4.18 counts as 5.10)")
	fs.IntVar(&o.Nodes, "nodes", envInt("nodes", 2), "nodes per cluster (one control plane + workers) [$"+envName("nodes")+"]")
	fs.BoolVar(&o.FreshClusters, "fresh-clusters", envBool("fresh-clusters"), "one fresh cluster per profile: no in-place switches [$"+envName("fresh-clusters")+"]")
	fs.IntVar(&o.Connections, "connections", envInt("connections", 200), "TCP connections per traffic burst [$"+envName("connections")+"]")
	fs.IntVar(&o.ConntrackBound, "conntrack-bound", envInt("conntrack-bound", 20), "largest conntrack growth per node still called flat [$"+envName("conntrack-bound")+"]")
	fs.Float64Var(&o.MinGbps, "min-gbps", envFloat("min-gbps", 0.5), "throughput floor in Gbit/s [$"+envName("min-gbps")+"]")
	fs.Float64Var(&o.MaxSlowdownPct, "max-slowdown", envFloat("max-slowdown", 30), "largest slowdown vs baseline in percent [$"+envName("max-slowdown")+"]")
	fs.DurationVar(&o.ReadyTimeout, "ready-timeout", envDuration("ready-timeout", 6*time.Minute), "how long to wait for Cilium to be ready [$"+envName("ready-timeout")+"]")
	// The list-valued and enum flags are split after parsing.
	o.profilesRaw, o.keepRaw = &profiles, &keep
	return o
}

// Finish splits list flags after parsing; call it after fs.Parse.
func (o *Options) Finish() {
	if o.profilesRaw != nil {
		o.Profiles = nil
		for _, p := range strings.Split(*o.profilesRaw, ",") {
			if p = strings.TrimSpace(p); p != "" {
				o.Profiles = append(o.Profiles, p)
			}
		}
	}
	if o.keepRaw != nil {
		o.Keep = Keep(*o.keepRaw)
	}
}

func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

func envOr(flag, def string) string {
	if v, ok := os.LookupEnv(envName(flag)); ok {
		return v
	}
	return def
}

func envInt(flag string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(envName(flag))); err == nil {
		return v
	}
	return def
}

func envFloat(flag string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(envName(flag)), 64); err == nil {
		return v
	}
	return def
}

func envBool(flag string) bool {
	v, _ := strconv.ParseBool(os.Getenv(envName(flag)))
	return v
}

func envDuration(flag string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(envName(flag))); err == nil {
		return v
	}
	return def
}

// ValidateBasics checks what needs no machine state: enums and numbers.
func (o *Options) ValidateBasics() error {
	switch o.Provider {
	case "kind", "k3d", "existing":
	default:
		return fmt.Errorf("--provider %q: use kind, k3d or existing", o.Provider)
	}
	switch o.Keep {
	case KeepNever, KeepOnFailure, KeepAlways:
	default:
		return fmt.Errorf("--keep-cluster %q: use never, on-failure or always", o.Keep)
	}
	switch o.Images {
	case "local", "registry":
	default:
		return fmt.Errorf("--images %q: use local or registry", o.Images)
	}
	if len(o.Profiles) == 0 {
		return fmt.Errorf("--profiles is empty: name at least one profile, e.g. --profiles baseline,seed-part8")
	}
	if o.Nodes < 2 && o.Provider != "existing" {
		return fmt.Errorf("--nodes %d: the checks need pods on two nodes; use --nodes 2 or more", o.Nodes)
	}
	if o.Connections < 10 {
		return fmt.Errorf("--connections %d: use at least 10 so conntrack growth stands out", o.Connections)
	}
	if o.ConntrackBound < 0 || o.ConntrackBound >= o.Connections/2 {
		return fmt.Errorf("--conntrack-bound %d: must be between 0 and half of --connections (%d)", o.ConntrackBound, o.Connections/2)
	}
	if err := o.validateWorkflowFlags(); err != nil {
		return err
	}
	if o.Provider == "existing" && o.Kubeconfig == "" {
		if kc := os.Getenv("KUBECONFIG"); kc != "" {
			o.Kubeconfig = strings.Split(kc, string(os.PathListSeparator))[0]
		} else {
			return fmt.Errorf("--provider existing needs --kubeconfig PATH (or $KUBECONFIG)")
		}
	}
	if o.Provider == "existing" {
		if _, err := os.Stat(o.Kubeconfig); err != nil {
			return fmt.Errorf("--kubeconfig %s: %v; pass the kubeconfig of the cluster to test", o.Kubeconfig, err)
		}
	}
	return nil
}
