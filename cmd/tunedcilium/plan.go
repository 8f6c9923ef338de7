package main

import (
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tunedcilium/tunedcilium/pkg/chart"
	"github.com/tunedcilium/tunedcilium/pkg/kernel"
	"github.com/tunedcilium/tunedcilium/pkg/plan"
	"github.com/tunedcilium/tunedcilium/pkg/profile"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// planFlags are the inputs of `tunedcilium plan`.
type planFlags struct {
	tunings        []string
	profile        string
	kernel         string
	kernelConfig   string
	nic            string
	ciliumVersion  string
	provider       string
	podCIDR        string
	apiServer      string
	output         string
	clusterName    string
	nodeMTU        int
	ipv6, ipv6Seen bool
}

// planCmd answers "will this combination work on my kernel?" before any
// cluster exists.
func planCmd() *cobra.Command {
	var f planFlags
	cmd := &cobra.Command{
		Use:   "plan (--tunings a,b,c | --profile NAME|FILE) [--kernel X.Y[.Z]] [--nic DRIVER] [--cilium-version V] [--provider kind|k3d|existing] [-o json|table]",
		Short: "Check a tuning combination against a kernel, NIC and Cilium version, and print its Helm values and checks",
		Long: `Plans a tuning combination before any cluster exists: unmet prerequisites and
conflicts are errors (exit 1); what the kernel, NIC or Cilium version cannot run is a
skip with its reason (exit 0); bad input exits 2. Without --kernel the running kernel
and its config (/proc/config.gz) are used.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.ipv6Seen = cmd.Flags().Changed("ipv6")
			p, err := runPlan(f)
			if err != nil {
				return err
			}
			if f.output == "json" {
				if err := writeJSON(cmd.OutOrStdout(), p); err != nil {
					return err
				}
			} else if err := writePlanTable(cmd.OutOrStdout(), p); err != nil {
				return err
			}
			if len(p.Errors) > 0 {
				return &exitError{code: 1, err: fmt.Errorf("plan has %d error(s)", len(p.Errors))}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&f.tunings, "tunings", nil, "comma-separated catalog keys (see `tunedcilium options`)")
	fl.StringVar(&f.profile, "profile", "", "a built-in profile name or a profile YAML file")
	fl.StringVar(&f.kernel, "kernel", "", "kernel version X.Y[.Z] (default: the running kernel)")
	fl.StringVar(&f.kernelConfig, "kernel-config", "", "kernel .config file to check built options against (default: the running kernel's, when --kernel is not given)")
	fl.StringVar(&f.nic, "nic", "", "NIC driver as `ethtool -i` reports it (mlx5_core, ice, veth, virtio_net, ...; default: the provider's)")
	fl.StringVar(&f.ciliumVersion, "cilium-version", "", "Cilium version (default: the one the suite installs, "+strings.TrimPrefix(chart.ModuleVersion(), "v")+")")
	fl.StringVar(&f.provider, "provider", plan.Kind, "kind, k3d or existing: fills provider values such as the pod CIDR")
	fl.StringVar(&f.clusterName, "cluster-name", "", "cluster name, for the API server address kind/k3d nodes use")
	fl.StringVar(&f.podCIDR, "pod-cidr", "", "the cluster's IPv4 pod CIDR (default: the provider's)")
	fl.StringVar(&f.apiServer, "api-server", "", "HOST:PORT the nodes reach the API server at (default: the provider's)")
	fl.IntVar(&f.nodeMTU, "node-mtu", 0, "MTU of the node network, when known")
	fl.BoolVar(&f.ipv6, "ipv6", false, "the cluster has IPv6 pod addressing")
	fl.StringVarP(&f.output, "output", "o", "table", "output format: table or json")
	return cmd
}

func runPlan(f planFlags) (*plan.Plan, error) {
	if err := checkOutput(f.output); err != nil {
		return nil, err
	}
	if (len(f.tunings) == 0) == (f.profile == "") {
		return nil, badInput("plan: give either --tunings a,b,c or --profile NAME|FILE")
	}
	var prof profile.Profile
	if f.profile != "" {
		p, err := profile.Load(f.profile)
		if err != nil {
			return nil, badInput("plan --profile: %v", err)
		}
		prof = p
	} else {
		prof = profile.Profile{Name: "cli"}
		for _, t := range f.tunings {
			k, err := tuning.Parse(strings.TrimSpace(t))
			if err != nil {
				return nil, badInput("plan --tunings: %v", err)
			}
			prof.Tunings = append(prof.Tunings, string(k))
		}
	}

	req := plan.Request{}
	if f.kernel == "" {
		k, err := kernel.Running()
		if err != nil {
			return nil, badInput("plan: %v; pass --kernel X.Y[.Z]", err)
		}
		req.Kernel = k
		if f.kernelConfig == "" {
			if cfg, _, err := kernel.ReadConfig(); err == nil {
				req.KernelConfig = cfg
			}
		}
	} else {
		k, err := kernel.Parse(f.kernel)
		if err != nil {
			return nil, badInput("plan --kernel: %v", err)
		}
		req.Kernel = k
	}
	if f.kernelConfig != "" {
		cfg, err := readKernelConfig(f.kernelConfig)
		if err != nil {
			return nil, badInput("plan --kernel-config: %v", err)
		}
		req.KernelConfig = cfg
	}

	cv := f.ciliumVersion
	if cv == "" {
		cv = chart.ModuleVersion()
	}
	civ, err := tuning.ParseCiliumVersion(cv)
	if err != nil {
		return nil, badInput("plan --cilium-version: %v", err)
	}
	req.CiliumVersion = civ

	facts, err := plan.DefaultFacts(f.provider, f.clusterName)
	if err != nil {
		return nil, badInput("plan --provider: %v", err)
	}
	if f.nic != "" {
		if strings.Trim(f.nic, "abcdefghijklmnopqrstuvwxyz0123456789_-.") != "" {
			return nil, badInput("plan --nic %q: give the driver name `ethtool -i DEVICE` reports, e.g. mlx5_core", f.nic)
		}
		facts.NIC = f.nic
	}
	if f.podCIDR != "" {
		if _, _, err := net.ParseCIDR(f.podCIDR); err != nil {
			return nil, badInput("plan --pod-cidr %q: not a CIDR, e.g. 10.244.0.0/16", f.podCIDR)
		}
		facts.PodCIDR = f.podCIDR
	}
	if f.apiServer != "" {
		host, port, err := net.SplitHostPort(f.apiServer)
		n, perr := strconv.Atoi(port)
		if err != nil || perr != nil || host == "" || n <= 0 || n > 65535 {
			return nil, badInput("plan --api-server %q: want HOST:PORT, e.g. 172.18.0.2:6443", f.apiServer)
		}
		facts.APIServerHost, facts.APIServerPort = host, n
	}
	if f.nodeMTU != 0 {
		facts.NodeMTU = f.nodeMTU
	}
	if f.ipv6Seen {
		facts.IPv6 = f.ipv6
	}
	req.Facts = facts
	return plan.New(prof.Request(req)), nil
}

func readKernelConfig(path string) (kernel.Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return kernel.ParseConfig(strings.NewReader(string(data)))
}

func writePlanTable(w io.Writer, p *plan.Plan) error {
	fmt.Fprintf(w, "Plan for kernel %s, Cilium %s, provider %s", p.Kernel, p.CiliumVersion, p.Provider)
	if p.NIC != "" {
		fmt.Fprintf(w, ", NIC %s", p.NIC)
	}
	fmt.Fprintln(w)
	state := "runnable"
	switch {
	case len(p.Errors) > 0:
		state = "NOT runnable: fix the errors below"
	case len(p.Skips) > 0:
		state = "runnable with skips"
	}
	fmt.Fprintf(w, "Result: %s\n", state)
	section := func(title string, fs []plan.Finding) {
		if len(fs) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s:\n", title)
		for _, f := range fs {
			fmt.Fprintf(w, "  %-24s %s\n", f.Option, f.Reason)
		}
	}
	section("Errors", p.Errors)
	section("Skips", p.Skips)
	section("Implied (Cilium turns these on by itself)", p.Implied)

	flat := plan.Flatten(p.Values)
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintln(w, "\nHelm values:")
	for _, k := range keys {
		fmt.Fprintf(w, "  %s=%v\n", k, flat[k])
	}
	fmt.Fprintln(w, "\nChecks:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  CHECK\tKIND\tOPTION\tEXPECT\tNOTE")
	for _, c := range p.CheckPlan {
		note := ""
		switch {
		case c.Skip != "":
			note = "SKIP: " + c.Skip
		case len(c.Masked) > 0:
			note = "cannot tell apart: " + strings.Join(c.Masked, ", ")
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", c.Check, c.Kind, dash(c.Option), c.Expect, note)
	}
	return tw.Flush()
}
