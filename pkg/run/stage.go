package run

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tunedcilium/tunedcilium/clusters"
	"github.com/tunedcilium/tunedcilium/clusters/existing"
	"github.com/tunedcilium/tunedcilium/pkg/clusterlock"
	"github.com/tunedcilium/tunedcilium/pkg/install"
	"github.com/tunedcilium/tunedcilium/pkg/plan"
	"github.com/tunedcilium/tunedcilium/pkg/profile"
	"github.com/tunedcilium/tunedcilium/pkg/report"
)

// step is one named part of bringing a profile up.
type step struct {
	name string
	run  func(ctx context.Context, st *Stage) error
}

// Bring gives a profile a cluster with Cilium installed as it asks, ready
// for its checks: the pipeline, in the order a reader expects.
func (s *Suite) Bring(ctx context.Context, p profile.Profile) (*Stage, error) {
	st := &Stage{Profile: p}
	steps := []step{
		{"plan", s.planStage},
		{"provision", s.provision},
		{"load images", s.loadImages},
		{"install cilium", s.installCilium},
		{"wait ready", s.waitReady},
		{"prepare checks", s.prepareChecks},
	}
	rp := report.Profile{Name: p.Name}
	defer func() { s.Results.AddProfile(rp) }()
	for i, stp := range steps {
		start := time.Now()
		fmt.Fprintf(s.Out, "[%s %d/%d] %s\n", p.Name, i+1, len(steps), stp.name)
		err := stp.run(ctx, st)
		rs := report.Step{Name: stp.name, Duration: time.Since(start)}
		if err != nil {
			if ctx.Err() != nil {
				err = fmt.Errorf("%w: %v", errInterrupted, err)
			}
			rs.Error = err.Error()
			rp.Steps = append(rp.Steps, rs)
			rp.Error = fmt.Sprintf("%s: %v", stp.name, err)
			if st.Cluster != nil {
				rp.Cluster = st.Cluster.Name()
			}
			// A stage that failed half-way is not reused: its cluster goes
			// now (or is kept, with --keep-cluster on-failure), also when
			// the failure is an interrupt.
			s.Failed()
			s.stage = nil
			tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
			if terr := s.teardown(tctx, st); terr != nil {
				fmt.Fprintf(s.Out, "  %v\n", terr)
			}
			cancel()
			return st, fmt.Errorf("profile %s: %s: %w", p.Name, stp.name, err)
		}
		fmt.Fprintf(s.Out, "[%s %d/%d] %s done (%s)\n", p.Name, i+1, len(steps), stp.name, since(start))
		rp.Steps = append(rp.Steps, rs)
		if st.Cluster != nil {
			rp.Cluster, rp.Reused = st.Cluster.Name(), st.Reused
		}
	}
	s.stage = st
	s.RecordHostAudit(ctx, st) // informational host tunings (hostaudit.go)
	return st, nil
}

// planStage plans the profile for the cluster it will run on.
func (s *Suite) planStage(ctx context.Context, st *Stage) error {
	name := ClusterName(s.Opts.RunID, s.seq+1)
	if s.stage != nil {
		name = s.stage.Cluster.Name()
	}
	if s.Opts.Provider == plan.Existing {
		return s.planExisting(ctx, st)
	}
	pl, err := s.plan(st.Profile, name)
	if err != nil {
		return err
	}
	st.Plan = pl
	st.Spec = SpecFor(pl, *s.Opts, name)
	st.Spec.NodeImage = s.nodeImage()
	if s.stage != nil {
		if ok, _ := Reuse(s.stage.Plan, pl, s.stage.Spec, st.Spec, s.Opts.FreshClusters); !ok {
			// A fresh cluster gets a fresh name.
			s.seq++
			name = ClusterName(s.Opts.RunID, s.seq)
			if pl, err = s.plan(st.Profile, name); err != nil {
				return err
			}
			st.Plan = pl
			st.Spec = SpecFor(pl, *s.Opts, name)
			st.Spec.NodeImage = s.nodeImage()
		}
	} else {
		s.seq++
	}
	for _, f := range pl.Skips {
		fmt.Fprintf(s.Out, "  skip %s: %s\n", f.Option, f.Reason)
	}
	for _, f := range pl.Implied {
		fmt.Fprintf(s.Out, "  implied %s: %s\n", f.Option, f.Reason)
	}
	return nil
}

// provision reuses the previous cluster when the switch can be made in
// place, and otherwise tears it down and creates a fresh one.
func (s *Suite) provision(ctx context.Context, st *Stage) error {
	if prev := s.stage; prev != nil {
		ok, why := Reuse(prev.Plan, st.Plan, prev.Spec, st.Spec, s.Opts.FreshClusters)
		fmt.Fprintf(s.Out, "  cluster %s: %s\n", prev.Cluster.Name(), why)
		if ok {
			st.Cluster, st.Cilium, st.Lease, st.Reused = prev.Cluster, prev.Cilium, prev.Lease, true
			return s.closeChecker(ctx, prev)
		}
		if err := s.teardown(ctx, prev); err != nil {
			return err
		}
		s.stage = nil
	}
	if s.Opts.Provider == plan.Existing {
		return nil // opened while planning
	}
	spec := s.provider.Defaults(st.Spec)
	st.Spec = spec
	fmt.Fprintf(s.Out, "  creating %s cluster %s (%d nodes, kube-proxy %v, MTU %s)\n", s.provider.Name(), spec.Name, spec.Nodes, spec.KubeProxy, mtuText(spec.MTU))
	c, err := s.provider.Create(ctx, spec)
	if err != nil {
		return err
	}
	st.Cluster = c
	// The run holds its cluster: `tunedcilium clean` leaves it alone.
	if st.Lease, err = clusterlock.AcquireCluster(ctx, c, s.Opts.RunID, clusterlock.Options{Log: s.Out}); err != nil {
		return err
	}
	cil, err := install.New(c.KubeconfigPath(), "", s.Out)
	if err != nil {
		return err
	}
	st.Cilium = cil
	return nil
}

func (s *Suite) loadImages(ctx context.Context, st *Stage) error {
	if st.Reused || s.Opts.Provider == plan.Existing {
		return nil
	}
	// The suite's own workload image exists only in the local Docker
	// engine, whatever --images says: load it in registry mode too.
	refs := []string{s.workloadImage()}
	if s.Images.Local {
		refs = dedupe(append(s.Images.NodeLoad(), s.workloadImage()))
	}
	fmt.Fprintf(s.Out, "  loading %d images into every node\n", len(refs))
	return st.Cluster.LoadImages(ctx, refs...)
}

func (s *Suite) installCilium(ctx context.Context, st *Stage) error {
	host, port := st.Cluster.APIServer()
	in := install.ValuesInput{Planned: st.Plan.Values, APIServerHost: host, APIServerPort: port}
	if s.Images.Local || s.Images.CiliumImage != "" {
		in.Images = s.Images.HelmValues()
	}
	values, err := install.Values(in)
	if err != nil {
		return err
	}
	st.Values = values
	_, err = st.Cilium.Apply(ctx, s.ChartPath, values)
	return err
}

func (s *Suite) waitReady(ctx context.Context, st *Stage) error {
	opts := install.WaitOptions{Timeout: s.Opts.ReadyTimeout, Operator: install.OperatorEnabled(st.Values)}
	if st.Reused {
		// New values reach the agents only when they restart.
		return st.Cilium.RestartAgents(ctx, opts)
	}
	return st.Cilium.WaitReady(ctx, opts)
}

func (s *Suite) prepareChecks(ctx context.Context, st *Stage) error {
	if s.NewChecker == nil {
		return errors.New("no checker configured")
	}
	c, err := s.NewChecker(ctx, s, st)
	if err != nil {
		return err
	}
	st.Checker = c
	return nil
}

// planExisting opens the existing cluster once and plans from what its
// nodes report: their kernel, and the pod CIDR that covers their podCIDRs.
func (s *Suite) planExisting(ctx context.Context, st *Stage) error {
	if s.stage == nil {
		c, err := existing.Open(ctx, existing.Options{
			Kubeconfig: s.Opts.Kubeconfig, Context: s.Opts.KubeContext, RunID: s.Opts.RunID,
			NodeAccessImage: s.workloadImage(), Lock: true, Log: s.Out,
		})
		if err != nil {
			return err
		}
		st.Cluster = c
		cil, err := install.New(c.KubeconfigPath(), s.Opts.KubeContext, s.Out)
		if err != nil {
			return err
		}
		st.Cilium = cil
	} else {
		st.Cluster, st.Cilium, st.Reused = s.stage.Cluster, s.stage.Cilium, true
	}
	c := st.Cluster.(*existing.Cluster)
	facts, k, err := existingFacts(ctx, c, s.Opts)
	if err != nil {
		return err
	}
	s.Kernel = k
	s.Results.Run.Kernel = k.String()
	pl := plan.New(st.Profile.Request(plan.Request{Kernel: k, CiliumVersion: s.Cilium, Facts: facts}))
	if len(pl.Errors) > 0 {
		return fmt.Errorf("plan: %s", findingsText(pl.Errors))
	}
	st.Plan = pl
	st.Spec = SpecFor(pl, *s.Opts, c.Name())
	return nil
}

func mtuText(m int) string {
	if m == 0 {
		return "default"
	}
	return fmt.Sprint(m)
}

var _ clusters.Cluster = (*existing.Cluster)(nil)
