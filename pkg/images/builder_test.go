package images

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPlanAddsWhatAnImageIsBuiltFrom(t *testing.T) {
	plan, err := (&Builder{Only: []string{"node"}}).plan()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range plan {
		names = append(names, r.name)
	}
	want := []string{"rootfs-nettools", "rootfs-node", "pause", "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy", "coredns", "node"}
	if !slices.Equal(names, want) {
		t.Errorf("plan for node = %v, want %v (base, preloaded images, in build order)", names, want)
	}
	plan, _ = (&Builder{Only: []string{"workload"}}).plan()
	if len(plan) != 2 || plan[0].name != "rootfs-nettools" || plan[1].name != "workload" {
		t.Errorf("plan for workload = %v", plan)
	}
}

// An image's hash covers what it is built from: a change in a preloaded
// image's inputs changes the node's hash, and nothing else's.
func TestHashFollowsInputs(t *testing.T) {
	ctx := context.Background()
	repo, err := FindRepo()
	if err != nil {
		t.Fatal(err)
	}
	fresh := func() *Builder { return &Builder{RepoDir: repo, hashes: map[string]string{}} }
	a, b := fresh(), fresh()
	for _, name := range []string{"pause", "node", "cilium"} {
		ha, err := a.hash(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		hb, _ := b.hash(ctx, name)
		if ha != hb {
			t.Errorf("hash of %s is not stable: %s vs %s", name, ha, hb)
		}
	}
	changed := fresh()
	changed.hashes["etcd"] = strings.Repeat("0", 64) // as if etcd's inputs had changed
	node, _ := changed.hash(ctx, "node")
	cilium, _ := changed.hash(ctx, "cilium")
	if node == a.hashes["node"] {
		t.Error("node hash did not change with a preloaded image's inputs")
	}
	if cilium != a.hashes["cilium"] {
		t.Error("cilium hash changed with etcd's inputs, which it does not include")
	}
}

// A real build of the smallest image, twice: the second run must skip it on
// the inputs label. Needs root and a Docker engine (`make env`).
func TestBuildIsIncremental(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root and the Docker engine (make env)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	eng, err := newEngine()
	if err != nil {
		t.Skip(err)
	}
	if err := eng.ping(ctx); err != nil {
		eng.Close()
		t.Skip(err)
	}
	eng.Close()
	var out bytes.Buffer
	cache := t.TempDir()
	first := &Builder{CacheDir: cache, Out: &out, Only: []string{"pause"}, Force: true}
	steps, err := first.Build(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) == 0 || steps[0].Skipped {
		t.Fatalf("forced build skipped: %v\n%s", steps, out.String())
	}
	second := &Builder{CacheDir: cache, Out: &out, Only: []string{"pause"}}
	steps, err = second.Build(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 1 || !steps[0].Skipped {
		t.Errorf("second build did not skip pause: %+v\n%s", steps, out.String())
	}
	infos, err := second.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range infos {
		if i.Name == "pause" && !i.UpToDate {
			t.Errorf("pause not up to date after build: %+v", i)
		}
	}
	if !strings.Contains(out.String(), "[1/1] pause: go build pause") {
		t.Errorf("no progress line for the go build step:\n%s", out.String())
	}
}
