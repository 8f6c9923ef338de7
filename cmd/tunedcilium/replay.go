package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/tunedcilium/tunedcilium/pkg/kernel"
	"github.com/tunedcilium/tunedcilium/pkg/repro"
)

// replayCmd re-runs one failed check of a repro bundle: only that profile,
// only that check, with the run's provider, Cilium version, chart and
// images.
func replayCmd() *cobra.Command {
	var (
		check, phase, repo string
		dryRun             bool
	)
	cmd := &cobra.Command{
		Use:   "replay BUNDLE [--check CHECK] [--phase PHASE] [--dry-run] [--repo DIR]",
		Short: "Replay just the profile and check of a repro bundle (REPORT_DIR/repro/<profile>)",
		Long: `replay reads a repro bundle that a failed check left in REPORT_DIR/repro/<profile>
and runs the e2e suite for exactly that profile (the profile file in the
bundle) and that check, with the provider, Cilium version, chart and images
of the failing run. --check picks the check when several failed; --dry-run
prints the command without running it. Run it from a tunedcilium checkout
(or pass --repo).`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return badInput("replay: give one bundle directory, REPORT_DIR/repro/<profile> (got %d arguments)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := filepath.Abs(args[0])
			if err != nil {
				return badInput("replay %s: %v", args[0], err)
			}
			b, err := repro.Read(dir)
			if err != nil {
				return badInput("replay: %v", err)
			}
			f, err := b.Find(check, phase)
			if err != nil {
				return badInput("replay %s: %v", args[0], err)
			}
			argv := repro.ReplayCommand(b, dir, f)
			out := cmd.OutOrStdout()
			what := f.Check
			if f.Phase != "" {
				what += " (" + f.Phase + ")"
			}
			fmt.Fprintf(out, "replaying profile %s, check %s (it failed in run %s: %s)\n", b.Profile, what, b.RunID, f.Reason)
			if !repro.Selects(f.Check) {
				fmt.Fprintf(out, "note: %s is judged on the whole profile, so the whole profile runs\n", f.Check)
			}
			if k, err := kernel.Running(); err == nil && b.Run.Provider != "existing" && b.Run.KernelPlatform == "" && b.Run.Kernel != "" && k.String() != b.Run.Kernel {
				fmt.Fprintf(out, "note: the failing run's nodes ran kernel %s; this machine runs %s\n", b.Run.Kernel, k)
			}
			fmt.Fprintf(out, "  %s\n", repro.ShellLine(argv))
			if dryRun {
				return nil
			}
			if _, err := os.Stat(filepath.Join(repo, "e2e")); err != nil {
				return badInput("replay --repo %s: not a tunedcilium checkout (no e2e/): run replay from the checkout or pass --repo DIR", repo)
			}
			c := exec.CommandContext(cmd.Context(), argv[0], argv[1:]...)
			c.Dir, c.Stdout, c.Stderr = repo, out, cmd.ErrOrStderr()
			if err := c.Run(); err != nil {
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					return &exitError{code: ee.ExitCode(), err: fmt.Errorf("replay of %s/%s: the suite exited with %d", b.Profile, f.Check, ee.ExitCode())}
				}
				return fmt.Errorf("replay of %s/%s: %w", b.Profile, f.Check, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&check, "check", "", "the failed check to replay (needed when several failed)")
	cmd.Flags().StringVar(&phase, "phase", "", "the phase it failed in, when it failed in more than one (before-upgrade, after-upgrade)")
	cmd.Flags().StringVar(&repo, "repo", ".", "the tunedcilium checkout to run the suite from")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the command, do not run it")
	return cmd
}
