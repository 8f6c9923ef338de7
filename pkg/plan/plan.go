// Package plan decides, before any cluster exists, what a set of tunings
// needs and whether it can run: unmet prerequisites and conflicts are
// errors; what this kernel, NIC or Cilium version cannot run is a skip with
// its reason; the rest becomes Helm values and the checks that will prove it.
package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/kernel"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

// Request is what a plan is asked for.
type Request struct {
	Options []tuning.Key
	// Values are extra Helm values (dotted paths) a profile sets on top of
	// its options, e.g. bpf.hostLegacyRouting=true.
	Values map[string]any
	// NegativeControls are checks run with the tunings that produce them off:
	// they must FAIL.
	NegativeControls []string
	Kernel           kernel.Version
	// KernelConfig is nil when unknown: kernel options are then assumed built.
	KernelConfig  kernel.Config
	CiliumVersion tuning.CiliumVersion
	Facts         Facts
}

// Finding is one error, skip or implied option, with its reason.
type Finding struct {
	Option string `json:"option"`
	Reason string `json:"reason"`
}

// PlannedCheck is a check the run will make, or a check it will skip.
type PlannedCheck struct {
	Check  string              `json:"check"`
	Kind   tuning.CheckKind    `json:"kind"`
	Option string              `json:"option,omitempty"`
	Expect verdict.Expectation `json:"expect"`
	// Credits is the option the evidence is expected to prove, given what is
	// selected and implied; Masked are active options it cannot tell apart.
	Credits string   `json:"credits,omitempty"`
	Masked  []string `json:"masked,omitempty"`
	// Skip is the reason the check will not run ("" when it runs).
	Skip string `json:"skip,omitempty"`
}

// Plan is the planner's answer.
type Plan struct {
	Runnable      bool           `json:"runnable"`
	Errors        []Finding      `json:"errors"`
	Skips         []Finding      `json:"skips"`
	Implied       []Finding      `json:"implied"`
	Options       []string       `json:"options"`
	Values        map[string]any `json:"values"`
	Checks        []string       `json:"checks"`
	CheckPlan     []PlannedCheck `json:"checkPlan"`
	Kernel        string         `json:"kernel"`
	CiliumVersion string         `json:"ciliumVersion"`
	Provider      string         `json:"provider"`
	NIC           string         `json:"nic,omitempty"`
	// NodeMTU is the node network MTU the provider must create (0: default).
	NodeMTU int `json:"nodeMTU,omitempty"`
	// KubeProxy says the cluster keeps kube-proxy (no KPR asked for).
	KubeProxy bool `json:"kubeProxy"`
	// Restart is the most disruptive switch among the options.
	Restart tuning.Restart `json:"restart,omitempty"`
}

// Active reports whether an option is selected (and not skipped) or implied.
func (p *Plan) Active(k tuning.Key) bool {
	for _, o := range p.Options {
		if o == string(k) {
			return true
		}
	}
	for _, f := range p.Implied {
		if f.Option == string(k) {
			return true
		}
	}
	return false
}

// Skipped returns the reason an option is skipped, or "".
func (p *Plan) Skipped(k tuning.Key) string {
	for _, f := range p.Skips {
		if f.Option == string(k) {
			return f.Reason
		}
	}
	return ""
}

// New plans a request.
func New(req Request) *Plan {
	selected := tuning.Sorted(req.Options)
	isSelected := map[tuning.Key]bool{}
	for _, k := range selected {
		isSelected[k] = true
	}
	p := &Plan{
		Errors: []Finding{}, Skips: []Finding{}, Implied: []Finding{},
		Options: []string{}, Checks: []string{}, CheckPlan: []PlannedCheck{},
		Kernel: req.Kernel.String(), CiliumVersion: req.CiliumVersion.String(),
		Provider: req.Facts.Provider, NIC: req.Facts.NIC,
		KubeProxy: !isSelected[tuning.KubeProxyReplacement],
	}
	extra := req.Values
	if extra == nil {
		extra = map[string]any{}
	}

	// Cilium itself must run on this kernel.
	if base := tuning.CiliumBaseKernel(req.CiliumVersion); !base.MetBy(req.Kernel) {
		p.addError("cilium", fmt.Sprintf("Cilium %s needs kernel >= %s; this kernel is %s", req.CiliumVersion, base, req.Kernel))
	}

	// Prerequisites and conflicts: errors, about the request itself.
	for _, k := range selected {
		o, _ := tuning.Lookup(k)
		for _, need := range o.Requires {
			if !needMet(need, isSelected, extra) {
				p.addError(string(k), "requires "+describeNeed(need))
			}
		}
		for _, x := range o.Excludes {
			if isSelected[x.Key] {
				p.addError(string(k), fmt.Sprintf("cannot run with %s: %s", x.Key, x.Why))
			}
		}
		for _, c := range o.ConflictsWith {
			if v, ok := extra[c.Path]; ok && sameValue(v, c.Value) {
				p.addError(string(k), fmt.Sprintf("conflicts with %s=%v (%s)", c.Path, c.Value, c.Why))
			}
		}
	}

	// What this platform cannot run: skips, propagated to dependants.
	skipped := map[tuning.Key]string{}
	for _, k := range selected {
		o, _ := tuning.Lookup(k)
		if reason := platformSkip(o, req); reason != "" {
			skipped[k] = reason
		}
	}
	for changed := true; changed; {
		changed = false
		for _, k := range selected {
			if _, done := skipped[k]; done {
				continue
			}
			o, _ := tuning.Lookup(k)
			for _, need := range o.Requires {
				if needMet(need, isSelected, extra) && !needMetWithout(need, skipped, extra) {
					skipped[k] = fmt.Sprintf("requires %s, which is skipped here", joinKeys(need.AnyOf))
					changed = true
					break
				}
			}
		}
	}
	for _, k := range selected {
		if reason, ok := skipped[k]; ok {
			p.Skips = append(p.Skips, Finding{Option: string(k), Reason: reason})
			continue
		}
		p.Options = append(p.Options, string(k))
	}

	// Options Cilium turns on by itself.
	if reason := impliedHostRouting(req, p, extra); reason != "" {
		p.Implied = append(p.Implied, Finding{Option: string(tuning.BPFHostRouting), Reason: reason})
	}

	p.Values = p.values(req, extra, skipped)
	p.CheckPlan = p.checks(req, skipped)
	for _, c := range p.CheckPlan {
		if c.Skip == "" {
			p.Checks = append(p.Checks, c.Check)
		}
	}
	for _, k := range selected {
		o, _ := tuning.Lookup(k)
		if o.NodeMTU > p.NodeMTU {
			p.NodeMTU = o.NodeMTU
		}
		if restartRank(o.Restart) > restartRank(p.Restart) {
			p.Restart = o.Restart
		}
	}
	p.Runnable = len(p.Errors) == 0 && len(p.Skips) == 0
	return p
}

func (p *Plan) addError(option, reason string) {
	p.Errors = append(p.Errors, Finding{Option: option, Reason: reason})
}

// platformSkip says why this kernel, NIC, cluster or Cilium version cannot
// run the option, or "".
func platformSkip(o tuning.Option, req Request) string {
	if !req.CiliumVersion.AtLeastMinor(o.Since) {
		return fmt.Sprintf("needs Cilium >= %s; planning for %s", o.Since, req.CiliumVersion)
	}
	if !o.Kernel.MetBy(req.Kernel) {
		return fmt.Sprintf("needs kernel >= %s; this kernel is %s", o.Kernel, req.Kernel)
	}
	if req.KernelConfig != nil {
		for _, c := range o.KernelConfig {
			if !req.KernelConfig.Built(c) {
				return fmt.Sprintf("kernel built without %s%s", c, kernelConfigHint(c))
			}
		}
	}
	nic := req.Facts.NIC
	if o.NIC.NativeXDP {
		if nic == "" {
			return "NIC driver unknown: pass --nic (the driver `ethtool -i DEVICE` reports)"
		}
		if ok, why := tuning.NativeXDP(nic, req.Kernel); !ok {
			return why
		}
	}
	if len(o.NIC.Drivers) > 0 {
		if nic == "" {
			return "NIC driver unknown: pass --nic; supported: " + strings.Join(o.NIC.Drivers, ", ")
		}
		if !contains(o.NIC.Drivers, nic) {
			return fmt.Sprintf("NIC driver %s does not support it; supported: %s", nic, strings.Join(o.NIC.Drivers, ", "))
		}
	}
	if o.IPv6 && !req.Facts.IPv6 {
		return "the cluster has no IPv6 pod addressing"
	}
	if o.NodeMTU > 0 && !req.Facts.MTUConfigurable && req.Facts.NodeMTU < o.NodeMTU {
		if req.Facts.NodeMTU == 0 {
			return fmt.Sprintf("needs a node network with MTU %d; this cluster's node MTU is unknown", o.NodeMTU)
		}
		return fmt.Sprintf("needs a node network with MTU %d; the nodes run %d", o.NodeMTU, req.Facts.NodeMTU)
	}
	return ""
}

func kernelConfigHint(c string) string {
	switch c {
	case "CONFIG_NET_SCH_FQ":
		return " (no fq qdisc)"
	case "CONFIG_NETKIT":
		return " (no netkit devices)"
	}
	return ""
}

// impliedHostRouting: Cilium uses BPF host routing by itself once KPR and BPF
// masquerading are on and the kernel allows, unless legacy routing is forced.
func impliedHostRouting(req Request, p *Plan, extra map[string]any) string {
	if p.Active(tuning.BPFHostRouting) {
		return ""
	}
	if !p.Active(tuning.KubeProxyReplacement) || !p.Active(tuning.BPFMasquerade) {
		return ""
	}
	if v, ok := extra["bpf.hostLegacyRouting"]; ok && sameValue(v, true) {
		return ""
	}
	o, _ := tuning.Lookup(tuning.BPFHostRouting)
	if !o.Kernel.MetBy(req.Kernel) {
		return ""
	}
	return fmt.Sprintf("Cilium enables eBPF host routing by itself with %s and %s on kernel >= %s; set bpf.hostLegacyRouting=true to force legacy routing",
		tuning.KubeProxyReplacement, tuning.BPFMasquerade, o.Kernel)
}

// values merges, in order: provider base values, the options' values, values
// only the cluster knows, the profile's extra values.
func (p *Plan) values(req Request, extra map[string]any, skipped map[tuning.Key]string) map[string]any {
	flat := map[string]any{}
	for k, v := range req.Facts.BaseValues {
		flat[k] = v
	}
	for _, name := range p.Options {
		o, _ := tuning.Lookup(tuning.Key(name))
		for k, v := range o.Values {
			flat[k] = v
		}
		for path, fact := range o.ClusterValues {
			switch fact {
			case tuning.PodCIDR:
				if req.Facts.PodCIDR == "" {
					p.addError(name, fmt.Sprintf("%s needs the cluster's pod CIDR: pass --pod-cidr", path))
					continue
				}
				flat[path] = req.Facts.PodCIDR
			case tuning.PodCIDRv6:
				if req.Facts.PodCIDRv6 == "" {
					p.addError(name, fmt.Sprintf("%s needs the cluster's IPv6 pod CIDR: pass --pod-cidr-v6", path))
					continue
				}
				flat[path] = req.Facts.PodCIDRv6
			case tuning.APIServerHost:
				if req.Facts.APIServerHost == "" {
					p.addError(name, fmt.Sprintf("%s needs the API server address the nodes use: pass --api-server HOST:PORT", path))
					continue
				}
				flat[path] = req.Facts.APIServerHost
			case tuning.APIServerPort:
				if req.Facts.APIServerPort != 0 {
					flat[path] = req.Facts.APIServerPort
				}
			}
		}
	}
	for k, v := range extra {
		flat[k] = v
	}
	return Nest(flat)
}

// checks lists every check of the selected options (expect PASS) and of the
// negative controls (expect FAIL), each once, with the option it credits.
func (p *Plan) checks(req Request, skipped map[tuning.Key]string) []PlannedCheck {
	var out []PlannedCheck
	seen := map[string]bool{}
	at := map[string]int{}
	for _, k := range tuning.Sorted(req.Options) {
		o, _ := tuning.Lookup(k)
		_, kSkipped := skipped[k]
		for _, name := range append(append([]string{}, o.StatusChecks...), o.BehaviourChecks...) {
			// A check shared by two options runs once; it is skipped only
			// when every option that asks for it is.
			if seen[name] && (kSkipped || out[at[name]].Skip == "") {
				continue
			}
			c, _ := tuning.LookupCheck(name)
			pc := PlannedCheck{Check: name, Kind: c.Kind, Option: string(k), Expect: verdict.ExpectPass}
			if reason, ok := skipped[k]; ok {
				pc.Skip = reason
			} else if credited, masked, ok := c.Credit(p.Active); ok {
				pc.Credits = string(credited)
				pc.Option = string(credited)
				for _, m := range masked {
					pc.Masked = append(pc.Masked, string(m))
				}
			}
			if seen[name] {
				out[at[name]] = pc
				continue
			}
			seen[name] = true
			at[name] = len(out)
			out = append(out, pc)
		}
	}
	for _, name := range req.NegativeControls {
		if seen[name] {
			p.addError(name, "is both a check of a selected option and a negative control")
			continue
		}
		seen[name] = true
		c, ok := tuning.LookupCheck(name)
		if !ok {
			p.addError(name, "unknown check in negativeControls")
			continue
		}
		pc := PlannedCheck{Check: name, Kind: c.Kind, Expect: verdict.ExpectFail}
		if len(c.Mechanisms) > 0 {
			pc.Option = string(c.Mechanisms[0])
		}
		if credited, _, ok := c.Credit(p.Active); ok {
			p.addError(name, fmt.Sprintf("negative control cannot fail: %s is active", credited))
			continue
		}
		out = append(out, pc)
	}
	// Cluster-wide checks run on every profile: cilium connectivity test and
	// the throughput sanity thresholds (baseline's figures are the reference
	// for the profiles after it).
	for _, name := range []string{tuning.CheckConnectivity, tuning.CheckThroughputPodToPod, tuning.CheckThroughputToService} {
		c, _ := tuning.LookupCheck(name)
		out = append(out, PlannedCheck{Check: name, Kind: c.Kind, Expect: verdict.ExpectPass})
	}
	sort.SliceStable(out, func(i, j int) bool { return kindRank(out[i].Kind) < kindRank(out[j].Kind) })
	return out
}

func kindRank(k tuning.CheckKind) int {
	switch k {
	case tuning.Status:
		return 0
	case tuning.Kernel:
		return 1
	}
	return 2
}

func restartRank(r tuning.Restart) int {
	switch r {
	case tuning.RestartPods:
		return 1
	case tuning.RestartCluster:
		return 2
	}
	return 0
}

func needMet(n tuning.Need, selected map[tuning.Key]bool, extra map[string]any) bool {
	for _, k := range n.AnyOf {
		if selected[k] {
			return true
		}
	}
	return orValuesMet(n, extra)
}

// needMetWithout: the need still holds once skipped options are taken away.
func needMetWithout(n tuning.Need, skipped map[tuning.Key]string, extra map[string]any) bool {
	for _, k := range n.AnyOf {
		if _, gone := skipped[k]; !gone {
			return true
		}
	}
	return orValuesMet(n, extra)
}

func orValuesMet(n tuning.Need, extra map[string]any) bool {
	if len(n.OrValues) == 0 {
		return false
	}
	for path, want := range n.OrValues {
		if v, ok := extra[path]; !ok || !sameValue(v, want) {
			return false
		}
	}
	return true
}

func describeNeed(n tuning.Need) string {
	s := joinKeys(n.AnyOf)
	if len(n.OrValues) > 0 {
		var vs []string
		for k, v := range n.OrValues {
			vs = append(vs, fmt.Sprintf("%s=%v", k, v))
		}
		sort.Strings(vs)
		s += " (or " + strings.Join(vs, ", ") + ")"
	}
	return s + ": " + n.Why
}

func joinKeys(ks []tuning.Key) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, " or ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
