// Package tuning is the catalog: the single source of truth for every Cilium
// performance tuning tunedcilium knows, what each one needs, and which checks
// prove it is active. The planner, the CLI, the e2e features and the reports
// all read it; none of them restates it.
//
// Sources: Cilium's tuning guide and system requirements
// (Documentation/operations/performance/tuning.rst and
// Documentation/operations/system_requirements.rst in the
// github.com/cilium/cilium module), its Helm chart (install/kubernetes/cilium),
// and the seed requirements of this project.
package tuning

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/kernel"
)

// Key is an option's stable name, used in profiles, flags, labels and reports.
type Key string

const (
	NativeRouting        Key = "native-routing"
	KubeProxyReplacement Key = "kube-proxy-replacement"
	BPFMasquerade        Key = "bpf-masquerade"
	DSR                  Key = "dsr"
	BypassConntrack      Key = "bypass-conntrack"
	BPFHostRouting       Key = "bpf-host-routing"
	IPv6BIGTCP           Key = "ipv6-big-tcp"
	IPv4BIGTCP           Key = "ipv4-big-tcp"
	BandwidthManager     Key = "bandwidth-manager"
	BBR                  Key = "bbr"
	XDPAcceleration      Key = "xdp-acceleration"
	JumboMTU             Key = "jumbo-mtu"
	HubbleDisabled       Key = "hubble-disabled"
	BPFMapSize           Key = "bpf-map-size"
	Netkit               Key = "netkit"
	DistributedLRU       Key = "distributed-lru"
)

// Option is one tuning.
type Option struct {
	Key   Key    `json:"key"`
	Title string `json:"title"`
	// Doc names the section of Cilium's documentation that describes it.
	Doc string `json:"doc"`
	// Values are the Helm values the option sets, as dotted paths
	// ("bpf.masquerade": true).
	Values map[string]any `json:"values"`
	// AgentConfig is what the values promise in the agent's configuration
	// (the chart's cilium-config ConfigMap): key -> value, "" meaning the key
	// must be absent (left to the agent's auto-detection).
	AgentConfig map[string]string `json:"agentConfig"`
	// ClusterValues are Helm values whose value comes from the cluster (pod
	// CIDR, API server address): path -> what fills it.
	ClusterValues map[string]ClusterFact `json:"clusterValues,omitempty"`
	// Requires lists what must also be in effect.
	Requires []Need `json:"requires,omitempty"`
	// ConflictsWith lists Helm values that switch the option off.
	ConflictsWith []ValueConflict `json:"conflictsWith,omitempty"`
	// Excludes lists options that cannot run together with this one.
	Excludes []OptionConflict `json:"excludes,omitempty"`
	// Kernel is the minimum kernel for the option itself.
	Kernel kernel.Requirement `json:"-"`
	// KernelConfig lists kernel options that must be built (=y or =m).
	KernelConfig []string `json:"kernelConfig,omitempty"`
	// NIC says which NIC drivers the option needs, if any.
	NIC NICNeed `json:"nic,omitempty"`
	// NodeMTU is the MTU the node network itself must have (jumbo frames).
	NodeMTU int `json:"nodeMTU,omitempty"`
	// IPv6 says the cluster must be dual-stack or IPv6.
	IPv6 bool `json:"ipv6,omitempty"`
	// Since is the first Cilium minor version that has the option with these
	// Helm values.
	Since string `json:"since"`
	// Restart says how much a switch needs: "" (agent restart), "pods"
	// (pods must be recreated), "cluster" (a fresh cluster: the datapath
	// cannot be switched in place, per Cilium's docs).
	Restart Restart `json:"restart,omitempty"`
	// StatusChecks read what the agent reports; BehaviourChecks measure the
	// node's kernel and traffic. Names index Checks.
	StatusChecks    []string `json:"statusChecks"`
	BehaviourChecks []string `json:"behaviourChecks"`
	Notes           string   `json:"notes,omitempty"`
}

// KernelRequirement renders the minimum kernel for JSON and tables.
func (o Option) KernelRequirement() string { return o.Kernel.String() }

// Restart is how disruptive switching an option is.
type Restart string

const (
	RestartAgents  Restart = ""
	RestartPods    Restart = "pods"
	RestartCluster Restart = "cluster"
)

// ClusterFact names a value that only the cluster knows.
type ClusterFact string

const (
	PodCIDR       ClusterFact = "pod-cidr"
	PodCIDRv6     ClusterFact = "pod-cidr-v6"
	APIServerHost ClusterFact = "api-server-host"
	APIServerPort ClusterFact = "api-server-port"
)

// Need is one prerequisite: any of the options, or (when set) Helm values
// that make the option unnecessary ("eBPF masquerading or no masquerading").
type Need struct {
	AnyOf []Key `json:"anyOf"`
	// OrValues satisfies the need without the options when every value here
	// is set exactly so.
	OrValues map[string]any `json:"orValues,omitempty"`
	Why      string         `json:"why"`
}

// ValueConflict is a Helm value that turns the option off.
type ValueConflict struct {
	Path  string `json:"path"`
	Value any    `json:"value"`
	Why   string `json:"why"`
}

// OptionConflict is an option that cannot be combined with another.
type OptionConflict struct {
	Key Key    `json:"key"`
	Why string `json:"why"`
}

// NICNeed restricts the NIC drivers an option works with.
type NICNeed struct {
	// NativeXDP requires a driver with native XDP support on this kernel
	// (the table in Documentation/reference-guides/bpf/progtypes.rst).
	NativeXDP bool `json:"nativeXDP,omitempty"`
	// Drivers lists the only drivers that support the option.
	Drivers []string `json:"drivers,omitempty"`
}

// Options returns the catalog in a stable order.
func Options() []Option {
	out := make([]Option, len(catalog))
	copy(out, catalog)
	return out
}

// Keys returns every option key, in catalog order.
func Keys() []Key {
	keys := make([]Key, len(catalog))
	for i, o := range catalog {
		keys[i] = o.Key
	}
	return keys
}

// Lookup finds an option by key.
func Lookup(k Key) (Option, bool) {
	for _, o := range catalog {
		if o.Key == k {
			return o, true
		}
	}
	return Option{}, false
}

// Parse validates a user-supplied option name. An unknown name gets an error
// that suggests the closest key.
func Parse(name string) (Key, error) {
	if _, ok := Lookup(Key(name)); ok {
		return Key(name), nil
	}
	names := make([]string, 0, len(catalog))
	for _, k := range Keys() {
		names = append(names, string(k))
	}
	if best := closest(name, names); best != "" {
		return "", fmt.Errorf("unknown tuning %q: did you mean %q? (`tunedcilium options` lists them)", name, best)
	}
	return "", fmt.Errorf("unknown tuning %q (`tunedcilium options` lists them)", name)
}

// closest suggests a candidate for a mistyped name: one that contains it
// (the shortest), else the nearest by edit distance when near enough.
func closest(name string, candidates []string) string {
	best := ""
	for _, c := range candidates {
		if name != "" && strings.Contains(c, name) && (best == "" || len(c) < len(best)) {
			best = c
		}
	}
	if best != "" {
		return best
	}
	bestDist := 1 << 30
	for _, c := range candidates {
		if d := editDistance(name, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	if bestDist <= len(name)/2+2 {
		return best
	}
	return ""
}

// Sorted returns keys in catalog order, without duplicates.
func Sorted(keys []Key) []Key {
	pos := map[Key]int{}
	for i, k := range Keys() {
		pos[k] = i
	}
	seen := map[Key]bool{}
	var out []Key
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return pos[out[i]] < pos[out[j]] })
	return out
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
