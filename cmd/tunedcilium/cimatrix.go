package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/tunedcilium/tunedcilium/pkg/chart"
	"github.com/tunedcilium/tunedcilium/pkg/cimatrix"
	"github.com/tunedcilium/tunedcilium/pkg/kernel"
	"github.com/tunedcilium/tunedcilium/pkg/profile"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// ciMatrixCmd prints the e2e workflow's rows: one per pinned kernel (and
// the runner's own), each with the profiles that run there and the options
// the planner SKIPs there.
func ciMatrixCmd() *cobra.Command {
	var (
		kernelsFile, profiles, kernels, ciliumVersion, output string
		host                                                  bool
	)
	cmd := &cobra.Command{
		Use:   "ci-matrix [--kernels-file .github/kernels.yaml] [--profiles a,b] [--kernels 6.1,6.6] [--host] [-o github|json|markdown]",
		Short: "The e2e workflow's matrix rows from the planner: kernels x profiles, with every skip and its reason",
		Long: `ci-matrix plans every profile on every kernel pinned in the kernels file
(LVH kind images) and, with --host, on this machine's own kernel (the CI
runner's). -o github prints the GitHub step outputs "hosted=" and "lvh="
({"include":[...]}) the workflow's jobs take their matrix from; -o markdown a
table for the job summary. Empty --profiles / --kernels mean all.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch output {
			case "github", "json", "markdown":
			default:
				return badInput("ci-matrix -o %q: use github, json or markdown", output)
			}
			pins, err := cimatrix.ReadPins(kernelsFile)
			if err != nil {
				return badInput("ci-matrix --kernels-file: %v", err)
			}
			selected, err := pins.Select(splitList(kernels))
			if err != nil {
				return badInput("ci-matrix --kernels: %v", err)
			}
			names := splitList(profiles)
			if len(names) == 0 {
				names = profile.Names()
			}
			ps, err := profile.LoadAll(names)
			if err != nil {
				return badInput("ci-matrix --profiles: %v", err)
			}
			if ciliumVersion == "" {
				ciliumVersion = chart.ModuleVersion()
			}
			cv, err := tuning.ParseCiliumVersion(ciliumVersion)
			if err != nil {
				return badInput("ci-matrix --cilium-version: %v", err)
			}
			var hostPF *profile.Platform
			if host {
				k, err := kernel.Running()
				if err != nil {
					return err
				}
				pf := profile.Platform{Name: k.String(), Kernel: k}
				if cfg, _, err := kernel.ReadConfig(); err == nil {
					pf.KernelConfig = cfg
				}
				hostPF = &pf
			}
			rows, err := cimatrix.Rows(ps, selected, hostPF, cv)
			if err != nil {
				return err
			}
			switch output {
			case "github":
				return cimatrix.WriteGitHub(cmd.OutOrStdout(), rows)
			case "markdown":
				return cimatrix.WriteMarkdown(cmd.OutOrStdout(), rows)
			}
			return writeJSON(cmd.OutOrStdout(), rows)
		},
	}
	cmd.Flags().StringVar(&kernelsFile, "kernels-file", cimatrix.KernelsFile, "the file pinning the kernels' LVH images")
	cmd.Flags().StringVar(&profiles, "profiles", "", "comma-separated profiles, names or files (empty: every built-in profile)")
	cmd.Flags().StringVar(&kernels, "kernels", "", "comma-separated kernel rows of the kernels file (empty: all)")
	cmd.Flags().BoolVar(&host, "host", false, "add a row for this machine's own kernel (the CI runner's)")
	cmd.Flags().StringVar(&ciliumVersion, "cilium-version", "", "Cilium version to plan for (default: the one the suite installs)")
	cmd.Flags().StringVarP(&output, "output", "o", "json", "output: github (step outputs), json or markdown")
	return cmd
}

// splitList splits a comma-separated flag, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
