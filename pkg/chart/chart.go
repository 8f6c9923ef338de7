// Package chart finds the Cilium Helm chart and renders it with the Helm SDK.
//
// The chart comes from one of three places: a local directory (a Cilium
// checkout under test), the github.com/cilium/cilium module in the Go module
// cache (the version in go.mod, no network beyond the module proxy), or the
// Cilium Helm repository (a pinned version).
package chart

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/images"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/releaseutil"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// CiliumModule is the Go module that ships Cilium's chart, docs and datapath.
const CiliumModule = "github.com/cilium/cilium"

// chartPathInModule is where the chart sits inside the Cilium module.
const chartPathInModule = "install/kubernetes/cilium"

// ModuleVersion is the Cilium version this build of tunedcilium depends on
// (from go.mod), e.g. "v1.20.2": read from the binary's build information, or
// from `go list -m` in this module, or, for a binary run outside the module
// without build information (a compiled test binary), the pinned version in
// pkg/images (a test keeps it equal to go.mod's).
func ModuleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range bi.Deps {
			if dep.Path == CiliumModule {
				if dep.Replace != nil {
					return dep.Replace.Version
				}
				return dep.Version
			}
		}
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", CiliumModule).Output()
	if v := strings.TrimSpace(string(out)); err == nil && v != "" {
		return v
	}
	return images.CiliumVersion
}

// ModuleDir returns the directory of github.com/cilium/cilium@version in the Go
// module cache, downloading it through the module proxy when it is absent.
func ModuleDir(version string) (string, error) {
	if version == "" {
		version = ModuleVersion()
	}
	if version == "" {
		return "", fmt.Errorf("cilium module version unknown: pass a version such as v1.20.2")
	}
	if !strings.HasPrefix(version, "v") {
		version = "v" + version
	}
	if dir := filepath.Join(modCache(), CiliumModule+"@"+version); isDir(filepath.Join(dir, chartPathInModule)) {
		return dir, nil
	}
	out, err := exec.Command("go", "mod", "download", "-json", CiliumModule+"@"+version).Output()
	if err != nil {
		return "", fmt.Errorf("download %s@%s through the Go module proxy: %w", CiliumModule, version, exitErr(err))
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("read go mod download output: %w", err)
	}
	if info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("download %s@%s: %s", CiliumModule, version, info.Error)
	}
	return info.Dir, nil
}

// ModuleChartDir is the chart inside the Cilium module of that version.
func ModuleChartDir(version string) (string, error) {
	dir, err := ModuleDir(version)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, chartPathInModule), nil
}

// Load loads a chart directory or archive.
func Load(path string) (*chart.Chart, error) {
	c, err := loader.Load(path)
	if err != nil {
		return nil, fmt.Errorf("load Cilium chart %s: %w", path, err)
	}
	return c, nil
}

// Rendered is a chart rendered to manifests.
type Rendered struct {
	// Manifests maps "kind/name" to the manifest YAML.
	Manifests map[string]string
}

// Render renders the chart client-side, as `helm template` does, for the given
// Kubernetes version. Helm validates the values against the chart's
// values.schema.json before rendering; a schema violation is an error.
func Render(c *chart.Chart, values map[string]any, namespace, kubeVersion string) (*Rendered, error) {
	install := action.NewInstall(&action.Configuration{})
	install.DryRun = true
	install.ClientOnly = true
	install.Replace = true
	install.IncludeCRDs = false
	install.ReleaseName = "cilium"
	install.Namespace = namespace
	if kubeVersion != "" {
		kv, err := chartutil.ParseKubeVersion(kubeVersion)
		if err != nil {
			return nil, fmt.Errorf("kubernetes version %q: %w", kubeVersion, err)
		}
		install.KubeVersion = kv
	}
	rel, err := install.Run(c, values)
	if err != nil {
		return nil, fmt.Errorf("render Cilium chart %s: %w", c.Metadata.Version, err)
	}
	r := &Rendered{Manifests: map[string]string{}}
	for _, m := range releaseutil.SplitManifests(rel.Manifest) {
		var head struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(m), &head); err != nil || head.Kind == "" {
			continue
		}
		r.Manifests[head.Kind+"/"+head.Metadata.Name] = m
	}
	return r, nil
}

// ConfigMap returns the data of the rendered ConfigMap with that name
// ("cilium-config" holds the agent's settings).
func (r *Rendered) ConfigMap(name string) (map[string]string, error) {
	m, ok := r.Manifests["ConfigMap/"+name]
	if !ok {
		return nil, fmt.Errorf("rendered chart has no ConfigMap %q", name)
	}
	var cm corev1.ConfigMap
	if err := yaml.Unmarshal([]byte(m), &cm); err != nil {
		return nil, fmt.Errorf("decode ConfigMap %q: %w", name, err)
	}
	return cm.Data, nil
}

func modCache() string {
	if d := os.Getenv("GOMODCACHE"); d != "" {
		return d
	}
	if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
		if d := strings.TrimSpace(string(out)); d != "" {
			return d
		}
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, "go", "pkg", "mod")
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func exitErr(err error) error {
	if ee, ok := err.(*exec.ExitError); ok && len(bytes.TrimSpace(ee.Stderr)) > 0 {
		return fmt.Errorf("%w: %s", err, bytes.TrimSpace(ee.Stderr))
	}
	return err
}
