//go:build e2e

// Package e2e is the suite's entry point:
//
//	go test ./e2e/... -tags e2e -args --provider kind --profiles baseline,seed-part8
//
// For each profile, in order: plan, provision (or reuse) a cluster, load
// images, install Cilium, wait until it is ready, then assess every check of
// the profile from inside the nodes. See README.md for the flags.
package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"

	"github.com/tunedcilium/tunedcilium/features"
	"github.com/tunedcilium/tunedcilium/pkg/run"
)

var (
	opts    = run.RegisterFlags(flag.CommandLine)
	runCtx  context.Context
	suite   *run.Suite
	testenv env.Environment
)

func TestMain(m *testing.M) {
	os.Exit(main(m))
}

func main(m *testing.M) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	runCtx = ctx

	cfg, err := envconf.NewFromFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tunedcilium:", err)
		return 2
	}
	// Bad input and a host that cannot run the suite fail here, before
	// anything is provisioned, with one line that names the fix.
	suite, err = run.NewSuite(ctx, opts, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tunedcilium:", err)
		return 2
	}
	if err := suite.RunPreflight(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "tunedcilium:", err)
		return 2
	}
	if testenv, err = env.NewWithContext(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "tunedcilium:", err)
		return 2
	}
	code := testenv.Run(m)
	if err := suite.Finish(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "tunedcilium:", err)
		if code == 0 {
			code = 1
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "tunedcilium: interrupted")
		if code == 0 {
			code = 130
		}
	}
	return code
}

// TestTunedCilium runs every profile in turn: bring it up, then assess it.
func TestTunedCilium(t *testing.T) {
	for _, p := range suite.Profiles {
		t.Run(p.Name, func(t *testing.T) {
			if suite.Upgrading() { // --upgrade-from: old version, checks, helm upgrade, checks (pkg/run/upgrade.go)
				err := suite.RunUpgrade(runCtx, p, func(_ context.Context, st *run.Stage, phase string) error {
					t.Run(phase, func(t *testing.T) { testenv.Test(t, features.For(suite, st)...) })
					return nil
				})
				if err != nil {
					suite.Failed()
					t.Fatal(err)
				}
				return
			}
			st, err := suite.Bring(runCtx, p)
			if err != nil {
				suite.Failed()
				t.Fatal(err)
			}
			testenv.Test(t, features.For(suite, st)...)
		})
		if runCtx.Err() != nil {
			t.Fatal("interrupted")
		}
	}
}
