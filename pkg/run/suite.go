package run

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tunedcilium/tunedcilium/clusters"
	"github.com/tunedcilium/tunedcilium/clusters/k3d"
	"github.com/tunedcilium/tunedcilium/clusters/kind"
	"github.com/tunedcilium/tunedcilium/pkg/chart"
	"github.com/tunedcilium/tunedcilium/pkg/checks"
	"github.com/tunedcilium/tunedcilium/pkg/clusterlock"
	"github.com/tunedcilium/tunedcilium/pkg/images"
	"github.com/tunedcilium/tunedcilium/pkg/install"
	"github.com/tunedcilium/tunedcilium/pkg/kernel"
	"github.com/tunedcilium/tunedcilium/pkg/plan"
	"github.com/tunedcilium/tunedcilium/pkg/profile"
	"github.com/tunedcilium/tunedcilium/pkg/report"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

// Suite is one run of the suite: its validated inputs, the profiles' plans,
// the cluster in use and the results.
type Suite struct {
	Opts      *Options
	Profiles  []profile.Profile
	Kernel    kernel.Version
	Config    kernel.Config
	Cilium    tuning.CiliumVersion
	Images    images.Source
	ChartPath string
	Results   *report.Results
	Preflight *Preflight
	Out       io.Writer

	// NewChecker builds what runs checks on a ready cluster (pkg/checks).
	NewChecker func(ctx context.Context, s *Suite, st *Stage) (Checker, error)

	provider clusters.Provider
	seq      int
	base     *checks.Baselines
	mu       sync.Mutex
	stage    *Stage
	failed   bool
	// kept lists clusters left running on purpose, for the closing message.
	kept []clusters.Cluster
}

// Checker runs planned checks on a ready cluster.
type Checker interface {
	Run(ctx context.Context, pc plan.PlannedCheck) verdict.Verdict
	// Collect saves failure evidence for a check into dir.
	Collect(ctx context.Context, v verdict.Verdict, dir string) error
	Close(ctx context.Context) error
}

// Stage is the cluster a profile runs on, with Cilium installed as the
// profile asks.
type Stage struct {
	Profile profile.Profile
	Plan    *plan.Plan
	Spec    clusters.Spec
	Cluster clusters.Cluster
	Cilium  *install.Cilium
	Values  map[string]any
	Checker Checker
	Reused  bool
	// Lease is the run's hold on a cluster it created (an existing cluster
	// holds its own), released at teardown.
	Lease *clusterlock.Lock
}

// NewSuite validates every input and plans every profile. Nothing is
// provisioned: bad input fails here with one line naming it.
func NewSuite(ctx context.Context, o *Options, out io.Writer) (*Suite, error) {
	o.Finish()
	if err := o.ValidateBasics(); err != nil {
		return nil, err
	}
	if o.RunID == "" {
		o.RunID = newRunID()
	}
	s := &Suite{Opts: o, Out: out, NewChecker: NewChecker, base: checks.NewBaselines()}

	ps, err := profile.LoadAll(o.Profiles)
	if err != nil {
		return nil, fmt.Errorf("--profiles: %w", err)
	}
	s.Profiles = ps

	cv := o.CiliumVersion
	if cv == "" {
		cv = chart.ModuleVersion()
	}
	if s.Cilium, err = tuning.ParseCiliumVersion(cv); err != nil {
		return nil, fmt.Errorf("--cilium-version: %w", err)
	}
	if s.Images, err = images.ParseSource(o.Images, o.CiliumImage, o.OperatorImage); err != nil {
		return nil, err
	}

	// The kernel the nodes run: kind and k3d nodes share the host's.
	if o.Provider != plan.Existing {
		if s.Kernel, err = o.NodeKernel(); err != nil {
			return nil, err
		}
		if cfg, _, err := kernel.ReadConfig(); err == nil {
			s.Config = cfg
		}
	}

	// Every profile must plan without errors before anything is created.
	for _, p := range ps {
		if o.Provider == plan.Existing {
			break // planned once the cluster's kernel and CIDRs are known
		}
		pl, err := s.plan(p, "tc-check")
		if err != nil {
			return nil, err
		}
		if len(pl.Errors) > 0 {
			var why []string
			for _, f := range pl.Errors {
				why = append(why, f.Option+": "+f.Reason)
			}
			return nil, fmt.Errorf("profile %s cannot run: %s (see `tunedcilium plan --profile %s`)", p.Name, strings.Join(why, "; "), p.Name)
		}
	}

	switch o.Provider {
	case plan.Kind:
		s.provider = kind.New(out)
	case plan.K3d:
		s.provider = &k3d.Provider{Log: out}
	}

	s.Results = report.New(report.Run{
		ID: o.RunID, Provider: o.Provider, Kernel: s.Kernel.String(), CiliumVersion: s.Cilium.String(),
		Images: s.imagesLabel(), NodeImage: o.NodeImage,
	})
	return s, nil
}

// RunPreflight checks the host (Docker, images, inotify, the cilium CLI).
func (s *Suite) RunPreflight(ctx context.Context) error {
	var required []string
	if s.Images.Local && s.Opts.Provider != plan.Existing {
		required = append(append(required, s.Images.NodeLoad()...), s.workloadImage())
		if s.Opts.Provider == plan.Kind {
			required = append(required, s.nodeImage())
		}
	}
	pf, err := RunPreflight(ctx, s.Opts, dedupe(required), s.Out)
	if err != nil {
		return err
	}
	s.Preflight = pf
	// The chart comes last: fetching it from the Helm repository is the only
	// step that may need the network.
	if s.ChartPath, err = resolveChart(s.Opts, s.Cilium); err != nil {
		return err
	}
	s.Results.Run.Chart = s.ChartPath
	// An upgrade's old chart and images are inputs too: refuse a bad
	// --upgrade-from before anything is created.
	if s.Upgrading() {
		if _, err := s.ResolveUpgrade(); err != nil {
			return err
		}
	}
	return nil
}

// plan plans a profile for a cluster of that name on this platform.
func (s *Suite) plan(p profile.Profile, clusterName string) (*plan.Plan, error) {
	facts, err := plan.DefaultFacts(s.Opts.Provider, clusterName)
	if err != nil {
		return nil, err
	}
	return plan.New(p.Request(plan.Request{Kernel: s.Kernel, KernelConfig: s.Config, CiliumVersion: s.Cilium, Facts: facts})), nil
}

func (s *Suite) nodeImage() string {
	if s.Opts.NodeImage != "" {
		return s.Opts.NodeImage
	}
	if s.Images.Local && s.Opts.Provider == plan.Kind {
		return images.NodeImage
	}
	return ""
}

func (s *Suite) workloadImage() string {
	if s.Opts.WorkloadImage != "" {
		return s.Opts.WorkloadImage
	}
	return images.WorkloadImage
}

func (s *Suite) imagesLabel() string {
	if s.Images.Local {
		return "local (" + s.Images.Agent() + ")"
	}
	return "registry"
}

// Failed marks the run as failed (for --keep-cluster on-failure).
func (s *Suite) Failed() {
	s.mu.Lock()
	s.failed = true
	s.mu.Unlock()
}

// baselines is the throughput measured by earlier profiles of this run.
func (s *Suite) baselines() *checks.Baselines { return s.base }

func newRunID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func resolveChart(o *Options, v tuning.CiliumVersion) (string, error) {
	src := install.Source{}
	switch o.CiliumChart {
	case "", "module":
		if o.CiliumChart == "" && !strings.EqualFold(o.Images, "local") {
			src.RepoVersion = v.String()
		} else {
			src.Module, src.ModuleVersion = true, "v"+v.String()
		}
	case "repo":
		src.RepoVersion = v.String()
	default:
		src.LocalDir = o.CiliumChart
	}
	if err := src.Validate(); err != nil {
		return "", fmt.Errorf("--cilium-chart: %w", err)
	}
	dir := filepath.Join(os.TempDir(), "tunedcilium-charts")
	path, err := src.Resolve(dir)
	if err != nil {
		return "", fmt.Errorf("--cilium-chart %s: %w", src, err)
	}
	return path, nil
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// errInterrupted marks work stopped by Ctrl-C.
var errInterrupted = errors.New("interrupted")

func since(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Millisecond) }
