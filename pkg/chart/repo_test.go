package chart

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/repo"
)

// TestRepoChartFromLocalRepository serves the module's chart from a Helm
// repository on loopback (packaged and indexed with the Helm SDK, as
// helm.cilium.io serves it) and downloads it through RepoChart. The real
// Cilium repository is not reachable from this lab; this exercises the same
// code path against a repository that is.
func TestRepoChartFromLocalRepository(t *testing.T) {
	t.Setenv("HELM_REPOSITORY_CONFIG", filepath.Join(t.TempDir(), "repositories.yaml"))
	t.Setenv("HELM_REPOSITORY_CACHE", t.TempDir())

	dir, err := ModuleChartDir("")
	require.NoError(t, err)
	c, err := Load(dir)
	require.NoError(t, err)

	repoDir := t.TempDir()
	_, err = chartutil.Save(c, repoDir)
	require.NoError(t, err)
	srv := httptest.NewServer(http.FileServer(http.Dir(repoDir)))
	defer srv.Close()
	index, err := repo.IndexDirectory(repoDir, srv.URL)
	require.NoError(t, err)
	require.NoError(t, index.WriteFile(filepath.Join(repoDir, "index.yaml"), 0o644))

	got, err := RepoChart(srv.URL, "v"+c.Metadata.Version, t.TempDir())
	require.NoError(t, err)
	loaded, err := Load(got)
	require.NoError(t, err)
	require.Equal(t, c.Metadata.Version, loaded.Metadata.Version)
	require.Equal(t, "cilium", loaded.Metadata.Name)

	_, err = RepoChart(srv.URL, "0.0.1", t.TempDir())
	require.Error(t, err)
	require.Contains(t, err.Error(), "0.0.1")
	require.Contains(t, err.Error(), srv.URL)
}
