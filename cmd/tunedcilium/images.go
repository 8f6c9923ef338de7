package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tunedcilium/tunedcilium/pkg/images"
)

// imagesCmd builds and lists the air-gapped images (pkg/images).
func imagesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Build and list the air-gapped images (kind node, Cilium, workload) in the local Docker engine",
	}
	cmd.AddCommand(imagesBuildCmd(), imagesListCmd())
	return cmd
}

func imagesBuildCmd() *cobra.Command {
	var only []string
	var force bool
	var cacheDir string
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build the images from pinned Go modules and Debian packages, skipping those up to date",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			known := images.Names()
			for _, n := range only {
				if !contains(known, n) {
					return badInput("--only %q: unknown image; pick from %s", n, strings.Join(known, ","))
				}
			}
			b := &images.Builder{CacheDir: cacheDir, Out: cmd.OutOrStdout(), Only: only, Force: force}
			start := time.Now()
			steps, err := b.Build(cmd.Context())
			printTimings(cmd, steps)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "images ready in %s (cache: %s)\n", time.Since(start).Round(time.Second), b.CacheDir)
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&only, "only", nil, "build only these images (and what they are built from), comma-separated; see `images list`")
	cmd.Flags().BoolVar(&force, "force", false, "rebuild even when an image with the same inputs exists")
	cmd.Flags().StringVar(&cacheDir, "cache-dir", images.DefaultCacheDir(), "work dirs (build modules, Cilium source copy, binaries, logs); also $TUNEDCILIUM_CACHE")
	return cmd
}

func imagesListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the images, their names and whether the Docker engine has them up to date",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			infos, err := (&images.Builder{}).List(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tIMAGE\tSTATE\tINPUTS\tWHAT")
			for _, i := range infos {
				state := "missing"
				switch {
				case i.UpToDate:
					state = "up to date"
				case i.Present:
					state = "stale"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", i.Name, i.Ref, state, i.Inputs, i.About)
			}
			return w.Flush()
		},
	}
	return cmd
}

func printTimings(cmd *cobra.Command, steps []images.StepTiming) {
	if len(steps) == 0 {
		return
	}
	fmt.Fprintln(cmd.OutOrStdout(), "\nstep timings:")
	for _, s := range steps {
		if s.Skipped {
			fmt.Fprintf(cmd.OutOrStdout(), "  %-24s %s\n", s.Image, s.Step)
			continue
		}
		fmt.Fprintf(cmd.OutOrStdout(), "  %-24s %-8s %s\n", s.Image, s.Took.Round(time.Second), s.Step)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
