package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/tunedcilium/tunedcilium/clusters"
	"github.com/tunedcilium/tunedcilium/clusters/k3d"
	"github.com/tunedcilium/tunedcilium/clusters/kind"
	"github.com/tunedcilium/tunedcilium/pkg/clusterlock"
)

// cleanProviders are the providers whose leftovers `tunedcilium clean`
// removes; add a provider here when it can create clusters.
func cleanProviders(cmd *cobra.Command) []clusters.Provider {
	return []clusters.Provider{kind.New(cmd.ErrOrStderr()), &k3d.Provider{Log: cmd.ErrOrStderr()}}
}

// cleanCmd removes what killed runs left behind: every cluster carrying the
// tunedcilium run label, with its Docker network and kubeconfig, except
// the clusters a live run still holds.
func cleanCmd() *cobra.Command {
	c := cleaner{inUse: leaseHolder}
	cmd := &cobra.Command{
		Use:   "clean",
		Short: "Remove leftover tunedcilium clusters (any run id) with their networks and kubeconfigs; clusters of live runs are skipped",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c.out, c.errOut = cmd.OutOrStdout(), cmd.ErrOrStderr()
			return c.clean(cmd.Context(), cleanProviders(cmd))
		},
	}
	cmd.Flags().BoolVar(&c.dryRun, "dry-run", false, "only list what would be deleted")
	cmd.Flags().BoolVar(&c.force, "force", false, "delete clusters of live runs too (their lease held and renewed)")
	return cmd
}

// cleaner deletes leftover clusters.
type cleaner struct {
	out, errOut   io.Writer
	dryRun, force bool
	// inUse names the live run that holds a cluster, or nil when none
	// does (no lease, an expired one, or an API that does not answer).
	inUse func(ctx context.Context, p clusters.Provider, name string) *clusterlock.HeldError
}

func (c cleaner) clean(ctx context.Context, providers []clusters.Provider) error {
	failed := 0
	for _, p := range providers {
		names, err := p.Leftovers(ctx)
		if err != nil {
			return fmt.Errorf("list %s leftovers: %w", p.Name(), err)
		}
		for _, name := range names {
			if !c.force {
				if held := c.inUse(ctx, p, name); held != nil {
					fmt.Fprintf(c.out, "skipping %s: in use by run %s (renewed %s ago); --force deletes it anyway\n",
						name, held.Holder, held.Now.Sub(held.Renewed).Round(time.Second))
					continue
				}
			}
			if c.dryRun {
				fmt.Fprintf(c.out, "would delete %s cluster %s\n", p.Name(), name)
				continue
			}
			if err := p.DeleteByName(ctx, name); err != nil {
				failed++
				fmt.Fprintf(c.errOut, "delete %s cluster %s: %v\n", p.Name(), name, err)
				continue
			}
			fmt.Fprintf(c.out, "deleted %s cluster %s\n", p.Name(), name)
		}
		if len(names) == 0 {
			fmt.Fprintf(c.out, "no %s leftovers\n", p.Name())
		}
	}
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d leftover cluster(s) could not be deleted", failed)}
	}
	return nil
}

// leaseHolder reads a leftover cluster's lease through the API, giving up
// after 10s: a cluster whose kubeconfig cannot be read or whose API does
// not answer is a leftover.
func leaseHolder(ctx context.Context, p clusters.Provider, name string) *clusterlock.HeldError {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	kubeconfig, err := p.Kubeconfig(ctx, name)
	if err != nil {
		return nil
	}
	held, err := clusterlock.Holder(ctx, kubeconfig, 5*time.Second)
	if err != nil {
		return nil
	}
	return held
}
