package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tunedcilium/tunedcilium/clusters"
	"github.com/tunedcilium/tunedcilium/clusters/kind"
	"github.com/tunedcilium/tunedcilium/pkg/clusterlock"
	"github.com/tunedcilium/tunedcilium/pkg/images"
)

// leftoverProvider lists fixed leftovers and records deletions.
type leftoverProvider struct {
	clusters.Provider // only the methods below are called
	names             []string
	failDelete        string
	deleted           []string
}

func (p *leftoverProvider) Name() string                                { return "kind" }
func (p *leftoverProvider) Leftovers(context.Context) ([]string, error) { return p.names, nil }
func (p *leftoverProvider) DeleteByName(_ context.Context, name string) error {
	if name == p.failDelete {
		return errors.New("docker: container in use")
	}
	p.deleted = append(p.deleted, name)
	return nil
}

// cleanLeftovers runs the clean path on leftovers tc-dead and tc-live,
// where tc-live is held by run r-live, renewed 12s ago (a dead API, an
// expired lease or none all read as nil). It returns what clean printed,
// deleted, and whose lease it read.
func cleanLeftovers(t *testing.T, c cleaner, failDelete string) (out, errOut string, deleted, asked []string, err error) {
	t.Helper()
	now := time.Now()
	c.inUse = func(_ context.Context, _ clusters.Provider, name string) *clusterlock.HeldError {
		asked = append(asked, name)
		if name != "tc-live" {
			return nil
		}
		return &clusterlock.HeldError{Holder: "r-live", Renewed: now.Add(-12 * time.Second), Now: now, Duration: 2 * time.Minute}
	}
	var o, e bytes.Buffer
	c.out, c.errOut = &o, &e
	p := &leftoverProvider{names: []string{"tc-dead", "tc-live"}, failDelete: failDelete}
	err = c.clean(context.Background(), []clusters.Provider{p, &leftoverProvider{}})
	return o.String(), e.String(), p.deleted, asked, err
}

const skipLive = "skipping tc-live: in use by run r-live (renewed 12s ago); --force deletes it anyway\n"

func TestCleanSkipsClustersOfLiveRuns(t *testing.T) {
	out, _, deleted, asked, err := cleanLeftovers(t, cleaner{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := "deleted kind cluster tc-dead\n" + skipLive + "no kind leftovers\n"; out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
	if !slices.Equal(deleted, []string{"tc-dead"}) || !slices.Equal(asked, []string{"tc-dead", "tc-live"}) {
		t.Errorf("deleted %v (asked about %v), want only tc-dead deleted", deleted, asked)
	}
}

func TestCleanForceDeletesClustersOfLiveRuns(t *testing.T) {
	_, _, deleted, asked, err := cleanLeftovers(t, cleaner{force: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(deleted, []string{"tc-dead", "tc-live"}) || len(asked) != 0 {
		t.Errorf("--force deleted %v and read leases of %v; want both deleted, no lease read", deleted, asked)
	}
}

func TestCleanDryRunSaysWhatItWouldDo(t *testing.T) {
	out, _, deleted, _, err := cleanLeftovers(t, cleaner{dryRun: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := "would delete kind cluster tc-dead\n" + skipLive + "no kind leftovers\n"; out != want || len(deleted) != 0 {
		t.Errorf("output:\n%s\nwant:\n%s\n(deleted %v)", out, want, deleted)
	}
}

func TestCleanFailureExitsOne(t *testing.T) {
	_, errOut, deleted, _, err := cleanLeftovers(t, cleaner{force: true}, "tc-dead")
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(err.Error(), "1 leftover cluster(s) could not be deleted") {
		t.Fatalf("err = %v, want exit 1 counting the failure", err)
	}
	if !strings.Contains(errOut, "delete kind cluster tc-dead: docker: container in use") || !slices.Equal(deleted, []string{"tc-live"}) {
		t.Errorf("stderr %q, deleted %v", errOut, deleted)
	}
}

// onlyCluster narrows a provider's leftovers to one cluster, so that the
// real test never touches another run's clusters.
type onlyCluster struct {
	clusters.Provider
	name string
}

func (o onlyCluster) Leftovers(ctx context.Context) ([]string, error) {
	names, err := o.Provider.Leftovers(ctx)
	if err != nil || !slices.Contains(names, o.name) {
		return nil, err
	}
	return []string{o.name}, nil
}

// TestCleanOnRealKindCluster creates a 1-node kind cluster, holds its lease
// as a run does, and runs the clean path on it (and on nothing else): held,
// it is skipped; once its API stops answering (the node stopped), it is a
// leftover and deleted. It creates a cluster, so it runs only when asked:
// TUNEDCILIUM_CLEAN_E2E=kind (root, `make env`, `make images`).
func TestCleanOnRealKindCluster(t *testing.T) {
	if os.Getenv("TUNEDCILIUM_CLEAN_E2E") != "kind" {
		t.Skip("creates a kind cluster: set TUNEDCILIUM_CLEAN_E2E=kind to run it")
	}
	if out, err := exec.Command("docker", "image", "inspect", images.NodeImage).CombinedOutput(); err != nil {
		t.Skipf("node image %s is absent (%v, %s): run `make images`", images.NodeImage, err, bytes.TrimSpace(out))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var log bytes.Buffer
	p := kind.New(&log)
	name := fmt.Sprintf("tunedcilium-clean-%d", time.Now().Unix()%1000000)
	c, err := p.Create(ctx, clusters.Spec{Name: name, RunID: "clean-test", Nodes: 1})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	deleted := false
	t.Cleanup(func() {
		if !deleted {
			if err := c.Delete(context.Background()); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	lease, err := clusterlock.AcquireCluster(ctx, c, "run-holding-it", clusterlock.Options{Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		// The cluster is gone by then: this only stops the renewals.
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = lease.Release(rctx)
	}()

	var out bytes.Buffer
	cl := cleaner{out: &out, errOut: &out, inUse: leaseHolder}
	only := []clusters.Provider{onlyCluster{p, name}}
	if err := cl.clean(ctx, only); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "skipping "+name+": in use by run run-holding-it (renewed ") ||
		!strings.HasSuffix(out.String(), " ago); --force deletes it anyway\n") {
		t.Fatalf("held cluster: clean said %q", out.String())
	}

	if out, err := exec.CommandContext(ctx, "docker", "stop", name+"-control-plane").CombinedOutput(); err != nil {
		t.Fatalf("docker stop: %v\n%s", err, out)
	}
	out.Reset()
	start := time.Now()
	if err := cl.clean(ctx, only); err != nil {
		t.Fatal(err)
	}
	if out.String() != "deleted kind cluster "+name+"\n" {
		t.Fatalf("cluster with a dead API: clean said %q, want it deleted", out.String())
	}
	deleted = true
	t.Logf("dead API judged and cluster deleted in %s", time.Since(start).Round(time.Second))
	left, err := p.Leftovers(ctx)
	if err != nil || slices.Contains(left, name) {
		t.Errorf("leftovers after clean: %v, %v", left, err)
	}
}
