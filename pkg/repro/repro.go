// Package repro writes reproducible bug reports: for every profile with a
// failed check, a directory REPORT_DIR/repro/<profile>/ holding the exact
// profile, the Helm values Cilium was installed with, the chart, the images
// (with digests where known), the provider and node image, every machine's
// kernel release and build configuration, the evidence of each failed
// check, and replay.sh: one line per failed check that replays just that
// profile and that check (`tunedcilium replay BUNDLE --check CHECK`).
package repro

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/tunedcilium/tunedcilium/pkg/profile"
	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

// File names inside a bundle.
const (
	BundleFile  = "bundle.json"
	ProfileFile = "profile.yaml"
	ValuesFile  = "values.json"
	ReplayFile  = "replay.sh"
	FailedDir   = "failed"
	KernelDir   = "kernel"
)

// Bundle is a repro directory's description (bundle.json): everything the
// replay command is built from.
type Bundle struct {
	Created time.Time `json:"created"`
	RunID   string    `json:"runID"`
	Profile string    `json:"profile"`
	// Run is how the failing run was set up; the replay passes it again.
	Run Run `json:"run"`
	// Chart is the Cilium chart installed.
	Chart Chart `json:"chart"`
	// Images are the images involved, with what the Docker engine or the
	// cluster said about them.
	Images []Image `json:"images"`
	// Machines are the kernels the nodes ran on.
	Machines []Machine `json:"machines"`
	Failed   []Failure `json:"failed"`
}

// Run holds the suite flags a replay repeats.
type Run struct {
	Provider       string `json:"provider"`
	Nodes          int    `json:"nodes,omitempty"`
	NodeImage      string `json:"nodeImage,omitempty"`
	CiliumVersion  string `json:"ciliumVersion"`
	CiliumChart    string `json:"ciliumChart,omitempty"`
	Images         string `json:"images"`
	CiliumImage    string `json:"ciliumImage,omitempty"`
	OperatorImage  string `json:"operatorImage,omitempty"`
	WorkloadImage  string `json:"workloadImage,omitempty"`
	Kubeconfig     string `json:"kubeconfig,omitempty"`
	KubeContext    string `json:"kubeContext,omitempty"`
	Kernel         string `json:"kernel"`
	KernelPlatform string `json:"kernelPlatform,omitempty"`
	UpgradeFrom    string `json:"upgradeFrom,omitempty"`
	// The checks' thresholds: a failure against them replays against them.
	Connections    int     `json:"connections,omitempty"`
	ConntrackBound int     `json:"conntrackBound,omitempty"`
	MinGbps        float64 `json:"minGbps,omitempty"`
	MaxSlowdownPct float64 `json:"maxSlowdownPct,omitempty"`
}

// Chart is the Cilium chart of the run.
type Chart struct {
	Path       string `json:"path"`
	Version    string `json:"version,omitempty"`
	AppVersion string `json:"appVersion,omitempty"`
}

// Image is one image, with the digests known for it.
type Image struct {
	Ref string `json:"ref"`
	// ID is the local Docker engine's image id; RepoDigests its digests.
	ID          string   `json:"id,omitempty"`
	RepoDigests []string `json:"repoDigests,omitempty"`
	// Running lists where the cluster ran it, with the image id the
	// kubelet reported ("kube-system/cilium-x7k2p on node-a: sha256:...").
	Running []string `json:"running,omitempty"`
}

// Machine is one kernel the cluster ran on.
type Machine struct {
	Name    string `json:"name"`
	Release string `json:"release"`
	// ConfigFile is the bundle file holding its build configuration, and
	// ConfigFrom where it was read on the machine.
	ConfigFile string `json:"configFile,omitempty"`
	ConfigFrom string `json:"configFrom,omitempty"`
	Error      string `json:"error,omitempty"`
}

// Failure is one failed check in the bundle.
type Failure struct {
	Check  string              `json:"check"`
	Option string              `json:"option,omitempty"`
	Expect verdict.Expectation `json:"expect"`
	Phase  string              `json:"phase,omitempty"`
	Reason string              `json:"reason"`
	// File is the bundle file with the verdict and its evidence.
	File string `json:"file"`
	// Replay is the one-line command that replays the profile and check,
	// from a tunedcilium checkout; GoTest is the `go test` line it runs.
	Replay string `json:"replay"`
	GoTest string `json:"goTest"`
}

// Input is what the suite knows when a check fails.
type Input struct {
	RunID    string
	Profile  profile.Profile
	Values   map[string]any
	Run      Run
	Chart    Chart
	Images   []Image
	Machines []MachineKernel
}

// MachineKernel is a machine's kernel as read from it.
type MachineKernel struct {
	Name, Release, Config, ConfigFrom string
	Err                               error
}

// Dir is the bundle directory of a profile in a report directory.
func Dir(reportDir, profile string) string {
	return filepath.Join(reportDir, "repro", safeName(profile))
}

var unsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func safeName(s string) string { return unsafe.ReplaceAllString(s, "_") }

// Exists reports whether a bundle was started in dir.
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, BundleFile))
	return err == nil
}

// Start writes the parts of a bundle that do not depend on the failure:
// profile, values, chart, images, kernels. It replaces what dir held.
func Start(dir string, in Input) (Bundle, error) {
	if err := os.RemoveAll(dir); err != nil {
		return Bundle{}, fmt.Errorf("repro bundle %s: %w", dir, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, FailedDir), 0o755); err != nil {
		return Bundle{}, fmt.Errorf("repro bundle %s: %w", dir, err)
	}
	b := Bundle{Created: time.Now().UTC(), RunID: in.RunID, Profile: in.Profile.Name, Run: in.Run, Chart: in.Chart,
		Images: in.Images, Machines: []Machine{}, Failed: []Failure{}}
	prof, err := yaml.Marshal(in.Profile)
	if err != nil {
		return Bundle{}, fmt.Errorf("repro bundle: encode profile %s: %w", in.Profile.Name, err)
	}
	if _, err := profile.Parse(prof, ProfileFile); err != nil {
		return Bundle{}, fmt.Errorf("repro bundle: profile %s does not read back: %w", in.Profile.Name, err)
	}
	files := map[string][]byte{ProfileFile: prof}
	if files[ValuesFile], err = json.MarshalIndent(in.Values, "", "  "); err != nil {
		return Bundle{}, fmt.Errorf("repro bundle: encode values: %w", err)
	}
	for _, m := range in.Machines {
		mc := Machine{Name: m.Name, Release: m.Release, ConfigFrom: m.ConfigFrom}
		if m.Err != nil {
			mc.Error = m.Err.Error()
		}
		if m.Config != "" {
			mc.ConfigFile = filepath.Join(KernelDir, safeName(m.Name)+".config")
			files[mc.ConfigFile] = []byte(m.Config)
		}
		b.Machines = append(b.Machines, mc)
	}
	for name, data := range files {
		if err := writeFile(filepath.Join(dir, name), data); err != nil {
			return Bundle{}, err
		}
	}
	return b, save(dir, b)
}

// AddFailure adds a failed verdict (its evidence in failed/) and rewrites
// bundle.json and replay.sh.
func AddFailure(dir string, v verdict.Verdict) (Bundle, error) {
	b, err := Read(dir)
	if err != nil {
		return Bundle{}, err
	}
	name := v.Check
	if v.Phase != "" {
		name += "@" + v.Phase
	}
	f := Failure{Check: v.Check, Option: v.Option, Expect: v.Expect, Phase: v.Phase, Reason: v.Reason,
		File: filepath.Join(FailedDir, safeName(name)+".json")}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return Bundle{}, fmt.Errorf("repro bundle: encode verdict %s: %w", v.Check, err)
	}
	if err := writeFile(filepath.Join(dir, f.File), data); err != nil {
		return Bundle{}, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Bundle{}, err
	}
	f.Replay = "go run ./cmd/tunedcilium replay " + shellQuote(abs) + " --check " + shellQuote(v.Check)
	if v.Phase != "" {
		f.Replay += " --phase " + shellQuote(v.Phase)
	}
	f.GoTest = ShellLine(ReplayCommand(b, abs, f))
	replaced := false
	for i := range b.Failed {
		if b.Failed[i].Check == f.Check && b.Failed[i].Phase == f.Phase {
			b.Failed[i], replaced = f, true
		}
	}
	if !replaced {
		b.Failed = append(b.Failed, f)
	}
	return b, save(dir, b)
}

// Read loads a bundle.
func Read(dir string) (Bundle, error) {
	data, err := os.ReadFile(filepath.Join(dir, BundleFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Bundle{}, fmt.Errorf("%s is not a repro bundle (no %s): give a directory REPORT_DIR/repro/<profile>", dir, BundleFile)
	}
	if err != nil {
		return Bundle{}, err
	}
	var b Bundle
	if err := json.Unmarshal(data, &b); err != nil {
		return Bundle{}, fmt.Errorf("repro bundle %s: %s: %w", dir, BundleFile, err)
	}
	return b, nil
}

func save(dir string, b Bundle) error {
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, BundleFile), append(data, '\n')); err != nil {
		return err
	}
	var sh strings.Builder
	sh.WriteString("#!/bin/sh\n# Replays one failed check of profile " + b.Profile + " (run " + b.RunID + "), from a tunedcilium checkout.\n")
	sh.WriteString("# Each command line runs exactly that profile and that check (the go test line it runs follows as a comment).\nset -e\n")
	for _, f := range b.Failed {
		fmt.Fprintf(&sh, "\n# %s%s FAILED: %s\n# %s\n%s\n", f.Check, phaseSuffix(f.Phase), oneLine(f.Reason), f.GoTest, f.Replay)
	}
	return os.WriteFile(filepath.Join(dir, ReplayFile), []byte(sh.String()), 0o755)
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("repro bundle: %w", err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("repro bundle: %w", err)
	}
	return nil
}

func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Find picks the failure to replay: the named check (and phase, when the
// check failed in more than one), or the only failure.
func (b Bundle) Find(check, phase string) (Failure, error) {
	var names []string
	var match []Failure
	for _, f := range b.Failed {
		names = append(names, f.Check+phaseSuffix(f.Phase))
		if (check == "" || f.Check == check) && (phase == "" || f.Phase == phase) {
			match = append(match, f)
		}
	}
	sort.Strings(names)
	switch {
	case len(b.Failed) == 0:
		return Failure{}, fmt.Errorf("bundle of profile %s records no failed check", b.Profile)
	case len(match) == 1:
		return match[0], nil
	case len(match) == 0:
		return Failure{}, fmt.Errorf("check %q did not fail in this bundle: failed are %s", check, strings.Join(names, ", "))
	case check == "":
		return Failure{}, fmt.Errorf("%d checks failed (%s): name one with --check", len(b.Failed), strings.Join(names, ", "))
	}
	// The same check failed before and after an upgrade: either phase
	// replays the whole upgrade, so any will do.
	return match[0], nil
}

func phaseSuffix(p string) string {
	if p == "" {
		return ""
	}
	return "@" + p
}
