package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tunedcilium/tunedcilium/clusters"
	"github.com/tunedcilium/tunedcilium/clusters/k3d"
	"github.com/tunedcilium/tunedcilium/clusters/kind"
)

// cleanProviders are the providers whose leftovers `tunedcilium clean`
// removes; add a provider here when it can create clusters.
func cleanProviders(cmd *cobra.Command) []clusters.Provider {
	return []clusters.Provider{kind.New(cmd.ErrOrStderr()), &k3d.Provider{Log: cmd.ErrOrStderr()}}
}

// cleanCmd removes what killed runs left behind: every cluster carrying the
// tunedcilium run label, with its Docker network and kubeconfig.
func cleanCmd() *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "clean",
		Short: "Remove leftover tunedcilium clusters (any run id) with their networks and kubeconfigs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			failed := 0
			for _, p := range cleanProviders(cmd) {
				names, err := p.Leftovers(cmd.Context())
				if err != nil {
					return fmt.Errorf("list %s leftovers: %w", p.Name(), err)
				}
				for _, name := range names {
					if dryRun {
						fmt.Fprintf(cmd.OutOrStdout(), "would delete %s cluster %s\n", p.Name(), name)
						continue
					}
					if err := p.DeleteByName(cmd.Context(), name); err != nil {
						failed++
						fmt.Fprintf(cmd.ErrOrStderr(), "delete %s cluster %s: %v\n", p.Name(), name, err)
						continue
					}
					fmt.Fprintf(cmd.OutOrStdout(), "deleted %s cluster %s\n", p.Name(), name)
				}
				if len(names) == 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "no %s leftovers\n", p.Name())
				}
			}
			if failed > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%d leftover cluster(s) could not be deleted", failed)}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only list what would be deleted")
	return cmd
}
