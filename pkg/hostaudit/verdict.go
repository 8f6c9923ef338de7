package hostaudit

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/tunedcilium/tunedcilium/clusters"
	"github.com/tunedcilium/tunedcilium/pkg/probe"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

// CheckPrefix starts the check name of every host item: "host.cpu-governor".
const CheckPrefix = "host."

// Verdicts turns findings (any number of machines) into one verdict per
// host item. They are informational: PASS when every machine that exposes
// the item has it, else SKIP with what was found. With require
// (--require-host-tuning) a machine without the setting makes it FAIL; an
// item no machine exposes (no cpufreq in a VM) stays SKIP either way.
func Verdicts(findings []Finding, profile string, require bool) []verdict.Verdict {
	byKey := map[string][]Finding{}
	for _, f := range findings {
		byKey[f.Key] = append(byKey[f.Key], f)
	}
	var out []verdict.Verdict
	for _, item := range tuning.HostAudit() {
		fs := byKey[item.Key]
		if len(fs) == 0 {
			continue
		}
		sort.Slice(fs, func(i, j int) bool { return fs[i].Machine < fs[j].Machine })
		var tuned, not, unknown []string
		ev := map[string]any{"want": item.Want}
		for _, f := range fs {
			line := f.Machine + ": " + f.Value
			switch f.State {
			case Tuned:
				tuned = append(tuned, line)
			case NotTuned:
				not = append(not, line)
			default:
				unknown = append(unknown, line)
			}
			ev[f.Machine] = map[string]any{"state": f.State, "value": f.Value, "readings": f.Evidence}
		}
		v := verdict.Verdict{Profile: profile, Check: CheckPrefix + item.Key, Expect: verdict.ExpectPass, Evidence: ev}
		switch {
		case len(not) > 0 && require:
			v.Result, v.Reason = verdict.Fail, item.Title+": NOT on "+strings.Join(not, "; ")+" (required by --require-host-tuning)"
		case len(not) > 0:
			v.Result, v.Reason = verdict.Skip, "informational, not required (--require-host-tuning makes it count): "+item.Title+": not on "+strings.Join(not, "; ")
		case len(tuned) == 0:
			v.Result, v.Reason = verdict.Skip, item.Title+": cannot be read here: "+strings.Join(unknown, "; ")
		default:
			v.Result, v.Reason = verdict.Pass, item.Title+": "+strings.Join(tuned, "; ")
			v.Mechanism = "host"
			if len(unknown) > 0 {
				v.Reason += " (not readable on " + strings.Join(unknown, "; ") + ")"
			}
		}
		out = append(out, v)
	}
	return out
}

// Sources returns what to audit for a cluster's nodes. Nodes that are local
// containers (kind, k3d) share this machine's kernel, CPUs and NICs, so the
// host is audited once for all of them. Other nodes are read through the
// cluster's node access (a privileged host-PID pod; the node's root
// filesystem under /proc/1/root). close releases what was opened.
func Sources(ctx context.Context, c clusters.Cluster) (srcs []Source, close func(), err error) {
	nodes, err := c.Nodes(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("host audit of %s: list nodes: %w", c.Name(), err)
	}
	var local []string
	var opened []*probe.Node
	close = func() {
		for _, n := range opened {
			_ = n.Close()
		}
	}
	prober, canProbe := c.(interface {
		ProbeNode(context.Context, clusters.Node) (*probe.Node, error)
	})
	for _, n := range nodes {
		if n.Container != "" {
			local = append(local, n.Name)
			continue
		}
		if !canProbe {
			close()
			return nil, nil, fmt.Errorf("host audit of %s: node %s is not a local container and the %s provider gives no node access", c.Name(), n.Name, c.Provider())
		}
		pn, err := prober.ProbeNode(ctx, n)
		if err != nil {
			close()
			return nil, nil, fmt.Errorf("host audit of node %s: %w", n.Name, err)
		}
		opened = append(opened, pn)
		srcs = append(srcs, Exec{Label: "node " + n.Name, Runner: pn.Runner(), FileRoot: "/proc/1/root"})
	}
	if len(local) > 0 {
		srcs = append([]Source{Dir{Label: "host (shared by nodes " + strings.Join(local, ", ") + ")"}}, srcs...)
	}
	return srcs, close, nil
}

// ClusterVerdicts audits every machine of a cluster and returns the
// informational verdicts for a profile: the call the suite makes once a
// cluster is up.
func ClusterVerdicts(ctx context.Context, c clusters.Cluster, profile string, require bool) ([]verdict.Verdict, error) {
	srcs, close, err := Sources(ctx, c)
	if err != nil {
		return nil, err
	}
	defer close()
	var all []Finding
	for _, s := range srcs {
		all = append(all, Audit(ctx, s)...)
	}
	return Verdicts(all, profile, require), nil
}
