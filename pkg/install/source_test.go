package install

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tunedcilium/tunedcilium/pkg/chart"
)

func TestSourceValidate(t *testing.T) {
	for _, c := range []struct {
		s    Source
		want string
	}{
		{Source{}, "none given"},
		{Source{LocalDir: "/x", RepoVersion: "1.20.2"}, "2 sources given"},
		{Source{ModuleVersion: "v1.20.2"}, "none given"},
		{Source{ModuleVersion: "v1.20.2", RepoVersion: "1.20.2"}, "without the module source"},
	} {
		err := c.s.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want %q", c.s, err, c.want)
		}
	}
	if err := DefaultSource().Validate(); err != nil {
		t.Errorf("DefaultSource: %v", err)
	}
	if v := DefaultSource().RepoVersion; v != chart.ModuleVersion() || v == "" {
		t.Errorf("DefaultSource pins %q, want go.mod's %q", v, chart.ModuleVersion())
	}
}

func TestSourceResolveModuleAndLocal(t *testing.T) {
	dir, err := Source{Module: true}.Resolve(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(dir, filepath.Join("install", "kubernetes", "cilium")) {
		t.Fatalf("module chart = %s", dir)
	}
	// A chart directory, and a checkout root holding install/kubernetes/cilium.
	if got, err := (Source{LocalDir: dir}).Resolve(""); err != nil || got != dir {
		t.Errorf("local chart dir: %s, %v", got, err)
	}
	root := filepath.Dir(filepath.Dir(filepath.Dir(dir)))
	if got, err := (Source{LocalDir: root}).Resolve(""); err != nil || got != dir {
		t.Errorf("checkout root: %s, %v", got, err)
	}

	empty := t.TempDir()
	_, err = Source{LocalDir: empty}.Resolve("")
	if err == nil || !strings.Contains(err.Error(), empty) || !strings.Contains(err.Error(), "--chart-dir") {
		t.Errorf("dir without chart: %v", err)
	}
	missing := filepath.Join(empty, "nope")
	_, err = Source{LocalDir: missing}.Resolve("")
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "--chart-dir") {
		t.Errorf("missing dir: %v", err)
	}
	file := filepath.Join(empty, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err = (Source{LocalDir: file}).Resolve(""); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("file: %v", err)
	}
}
