package run

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tunedcilium/tunedcilium/pkg/checks"
	"github.com/tunedcilium/tunedcilium/pkg/plan"
	"github.com/tunedcilium/tunedcilium/pkg/podexec"
	"github.com/tunedcilium/tunedcilium/pkg/probe"
	"github.com/tunedcilium/tunedcilium/pkg/verdict"
	"github.com/tunedcilium/tunedcilium/pkg/workload"
)

// checker runs a stage's checks with pkg/checks, on the workloads it deploys.
type checker struct {
	s        *Suite
	st       *Stage
	env      *checks.Env
	workload *workload.Workload
	exec     *podexec.Executor
}

// NewChecker deploys the test workloads on a ready stage and opens its nodes
// for the checks.
func NewChecker(ctx context.Context, s *Suite, st *Stage) (Checker, error) {
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: st.Cluster.KubeconfigPath()}
	overrides := &clientcmd.ConfigOverrides{}
	if st.Cluster.Provider() == plan.Existing {
		overrides.CurrentContext = s.Opts.KubeContext
	}
	rest, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig of %s: %w", st.Cluster.Name(), err)
	}
	kube, err := kubernetes.NewForConfig(rest)
	if err != nil {
		return nil, err
	}
	ex, err := podexec.New(rest)
	if err != nil {
		return nil, err
	}
	nodes, err := st.Cluster.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	wl, err := workload.Deploy(ctx, kube, ex, nodes, workload.Options{
		RunID: s.Opts.RunID, Image: s.workloadImage(),
		External: st.Cluster.Provider() != plan.Existing, Log: s.Out,
	})
	if err != nil {
		return nil, fmt.Errorf("deploy test workloads: %w", err)
	}
	settings := checks.DefaultSettings()
	settings.Connections = s.Opts.Connections
	settings.ConntrackBound = s.Opts.ConntrackBound
	settings.MinGbps = s.Opts.MinGbps
	settings.MaxSlowdownPct = s.Opts.MaxSlowdownPct
	settings.CiliumCLI = s.Preflight.CiliumCLI
	settings.ConnectivityFilter = s.Opts.ConnectivityTestFilter
	settings.ReportDir = s.Opts.ReportDir
	env, err := checks.NewEnv(ctx, checks.Config{
		Profile: st.Profile.Name, Plan: st.Plan, Cluster: st.Cluster, Cilium: st.Cilium,
		Workload: wl, Settings: settings, Log: s.Out, Baselines: s.baselines(),
	})
	if err != nil {
		_ = wl.Delete(context.WithoutCancel(ctx))
		return nil, err
	}
	return &checker{s: s, st: st, env: env, workload: wl, exec: ex}, nil
}

func (c *checker) Run(ctx context.Context, pc plan.PlannedCheck) verdict.Verdict {
	return checks.Run(ctx, c.env, pc)
}

// Collect saves what a maintainer needs to see a failure: the verdict, every
// agent's log and verbose status, every node's datapath evidence, and a
// cilium sysdump when the CLI exists.
func (c *checker) Collect(ctx context.Context, v verdict.Verdict, dir string) error {
	if err := ensureDir(dir); err != nil {
		return err
	}
	write := func(name string, data []byte) {
		_ = os.WriteFile(filepath.Join(dir, name), data, 0o644)
	}
	if b, err := json.MarshalIndent(v, "", "  "); err == nil {
		write("verdict.json", b)
	}
	for _, n := range c.env.Nodes {
		if n.Agent.Pod != "" {
			if log, err := c.st.Cilium.AgentLog(ctx, n.Agent); err == nil {
				write(fmt.Sprintf("agent-%s.log", n.Name), log)
			}
			t := podexec.Target{Namespace: n.Agent.Namespace, Pod: n.Agent.Pod, Container: "cilium-agent"}
			if out, err := c.exec.Output(ctx, t, "cilium-dbg", "status", "--verbose"); err == nil {
				write(fmt.Sprintf("status-%s.txt", n.Name), out)
			}
		}
		if n.Probe != nil {
			if rep, err := n.Probe.Inspect(ctx, probe.InspectOptions{}); err == nil {
				if b, err := json.MarshalIndent(rep, "", "  "); err == nil {
					write(fmt.Sprintf("node-%s.json", n.Name), b)
				}
			}
		}
	}
	if cli := c.s.Preflight.CiliumCLI; cli != "" {
		sctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(sctx, cli, "sysdump", "--output-filename", filepath.Join(dir, "sysdump-"+v.Profile+"-"+v.Check))
		cmd.Env = append(os.Environ(), "KUBECONFIG="+c.st.Cluster.KubeconfigPath())
		if out, err := cmd.CombinedOutput(); err != nil {
			write("sysdump-error.txt", out)
		}
	}
	return nil
}

// Close removes the workloads and releases the node handles.
func (c *checker) Close(ctx context.Context) error {
	werr := c.workload.Delete(ctx)
	eerr := c.env.Close()
	if werr != nil {
		return werr
	}
	return eerr
}
