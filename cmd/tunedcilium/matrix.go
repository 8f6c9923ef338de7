package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tunedcilium/tunedcilium/pkg/chart"
	"github.com/tunedcilium/tunedcilium/pkg/plan"
	"github.com/tunedcilium/tunedcilium/pkg/profile"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// DefaultKernels are the kernels Cilium v1.20's own CI pins LVH images for.
var DefaultKernels = []string{"rhel8.10", "5.15", "6.1", "6.6", "6.12", "6.18"}

// matrixCmd expands profiles x kernels x providers.
func matrixCmd() *cobra.Command {
	var (
		profiles, kernels, providers []string
		ciliumVersion, output        string
	)
	cmd := &cobra.Command{
		Use:   "matrix [--profiles a,b] [--kernels 5.15,6.1] [--providers kind,k3d] [-o json|table]",
		Short: "Expand profiles x kernels x providers, with the reason for every pruned row and every skip",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if len(profiles) == 0 {
				profiles = profile.Names()
			}
			ps, err := profile.LoadAll(profiles)
			if err != nil {
				return badInput("matrix --profiles: %v", err)
			}
			var pfs []profile.Platform
			for _, k := range kernels {
				pf, err := profile.ParsePlatform(strings.TrimSpace(k))
				if err != nil {
					return badInput("matrix --kernels: %v", err)
				}
				pfs = append(pfs, pf)
			}
			for _, p := range providers {
				if _, err := plan.DefaultFacts(p, ""); err != nil {
					return badInput("matrix --providers: %v", err)
				}
			}
			if ciliumVersion == "" {
				ciliumVersion = chart.ModuleVersion()
			}
			cv, err := tuning.ParseCiliumVersion(ciliumVersion)
			if err != nil {
				return badInput("matrix --cilium-version: %v", err)
			}
			rows, err := profile.Matrix(ps, pfs, providers, cv)
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), rows)
			}
			return writeMatrixTable(cmd.OutOrStdout(), rows)
		},
	}
	cmd.Flags().StringSliceVar(&profiles, "profiles", nil, "profiles (names or files; default: every built-in profile)")
	cmd.Flags().StringSliceVar(&kernels, "kernels", DefaultKernels, "kernel rows")
	cmd.Flags().StringSliceVar(&providers, "providers", []string{plan.Kind}, "providers: kind, k3d, existing")
	cmd.Flags().StringVar(&ciliumVersion, "cilium-version", "", "Cilium version (default: the one the suite installs)")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func writeMatrixTable(w io.Writer, rows []profile.Row) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROFILE\tKERNEL\tPROVIDER\tROW\tSKIPS / REASON")
	for _, r := range rows {
		state, detail := "run", ""
		if r.Pruned != "" {
			state, detail = "pruned", r.Pruned
		} else if len(r.Plan.Skips) > 0 {
			var s []string
			for _, f := range r.Plan.Skips {
				s = append(s, f.Option+" ("+f.Reason+")")
			}
			detail = strings.Join(s, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Profile, r.Kernel, r.Provider, state, dash(detail))
	}
	return tw.Flush()
}

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }
