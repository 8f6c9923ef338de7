package chart

import (
	"fmt"
	"io"
	"os"
	"strings"

	"helm.sh/helm/v3/pkg/cli"
	"helm.sh/helm/v3/pkg/downloader"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/repo"
)

// CiliumRepoURL is the Cilium project's Helm repository.
const CiliumRepoURL = "https://helm.cilium.io"

// chartName is the chart's name in the Cilium repository.
const chartName = "cilium"

// RepoChart downloads the Cilium chart of that version (e.g. "1.20.2" or
// "v1.20.2") from a Helm repository (CiliumRepoURL when repoURL is empty)
// into destDir with the Helm SDK, and returns the archive's path. Helm's
// environment (HELM_* variables) applies, as for `helm pull`.
func RepoChart(repoURL, version, destDir string) (string, error) {
	if repoURL == "" {
		repoURL = CiliumRepoURL
	}
	version = strings.TrimPrefix(version, "v")
	if version == "" {
		return "", fmt.Errorf("download Cilium chart from %s: no version given: pin one, e.g. 1.20.2", repoURL)
	}
	if err := os.MkdirAll(destDir, 0o755); err != nil {
		return "", fmt.Errorf("download Cilium chart: %w", err)
	}
	settings := cli.New()
	getters := getter.All(settings)
	chartURL, err := repo.FindChartInRepoURL(repoURL, chartName, version, "", "", "", getters)
	if err != nil {
		return "", fmt.Errorf("find Cilium chart %s in Helm repository %s: %w", version, repoURL, err)
	}
	dl := downloader.ChartDownloader{
		Out:              io.Discard,
		Verify:           downloader.VerifyNever,
		Getters:          getters,
		RepositoryConfig: settings.RepositoryConfig,
		RepositoryCache:  settings.RepositoryCache,
	}
	saved, _, err := dl.DownloadTo(chartURL, version, destDir)
	if err != nil {
		return "", fmt.Errorf("download Cilium chart %s from %s: %w", version, chartURL, err)
	}
	return saved, nil
}
