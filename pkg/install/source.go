package install

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/chart"
)

// Source says where the Cilium chart comes from. Exactly one of LocalDir,
// Module and RepoVersion is set.
type Source struct {
	// LocalDir is a chart directory: a Cilium checkout under test (its root
	// or its install/kubernetes/cilium).
	LocalDir string
	// Module takes the chart from the github.com/cilium/cilium Go module, at
	// ModuleVersion or, when that is empty, at the version in go.mod.
	Module        bool
	ModuleVersion string
	// RepoVersion takes the chart from a Helm repository at this pinned
	// version (RepoURL, or the Cilium repository).
	RepoVersion string
	RepoURL     string
}

// DefaultSource is the Cilium Helm repository at the Cilium version this
// build depends on (go.mod): the published chart of the same release.
func DefaultSource() Source {
	return Source{RepoVersion: chart.ModuleVersion()}
}

func (s Source) String() string {
	switch {
	case s.LocalDir != "":
		return "local chart " + s.LocalDir
	case s.Module:
		v := s.ModuleVersion
		if v == "" {
			v = "go.mod's version"
		}
		return "chart from Go module " + chart.CiliumModule + "@" + v
	default:
		url := s.RepoURL
		if url == "" {
			url = chart.CiliumRepoURL
		}
		return "chart " + strings.TrimPrefix(s.RepoVersion, "v") + " from " + url
	}
}

// Validate rejects a source with none or more than one place set.
func (s Source) Validate() error {
	n := 0
	if s.LocalDir != "" {
		n++
	}
	if s.Module {
		n++
	}
	if s.RepoVersion != "" {
		n++
	}
	switch {
	case n == 0:
		return fmt.Errorf("cilium chart source: none given: pass a local chart dir (--chart-dir), the module chart (--chart-module) or a repository version (--chart-version)")
	case n > 1:
		return fmt.Errorf("cilium chart source: %d sources given (%+v): pass only one of --chart-dir, --chart-module, --chart-version", n, s)
	case s.ModuleVersion != "" && !s.Module:
		return fmt.Errorf("cilium chart source: a module version %q without the module source", s.ModuleVersion)
	}
	return nil
}

// Resolve returns the path of a chart directory or archive for the source.
// A repository chart is downloaded into downloadDir.
func (s Source) Resolve(downloadDir string) (string, error) {
	if err := s.Validate(); err != nil {
		return "", err
	}
	switch {
	case s.LocalDir != "":
		return localChartDir(s.LocalDir)
	case s.Module:
		dir, err := chart.ModuleChartDir(s.ModuleVersion)
		if err != nil {
			return "", fmt.Errorf("resolve %s: %w", s, err)
		}
		return dir, nil
	default:
		path, err := chart.RepoChart(s.RepoURL, s.RepoVersion, downloadDir)
		if err != nil {
			return "", fmt.Errorf("resolve %s: %w", s, err)
		}
		return path, nil
	}
}

// localChartDir accepts a chart directory or a Cilium checkout root.
func localChartDir(dir string) (string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("cilium chart dir %s: %w: pass a chart directory or a Cilium checkout with --chart-dir", dir, err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("cilium chart dir %s is not a directory: pass a chart directory or a Cilium checkout with --chart-dir", dir)
	}
	if isFile(filepath.Join(dir, "Chart.yaml")) {
		return dir, nil
	}
	if inCheckout := filepath.Join(dir, "install", "kubernetes", "cilium"); isFile(filepath.Join(inCheckout, "Chart.yaml")) {
		return inCheckout, nil
	}
	return "", fmt.Errorf("cilium chart dir %s has no Chart.yaml (nor install/kubernetes/cilium/Chart.yaml): pass a chart directory or a Cilium checkout with --chart-dir", dir)
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
