package clusters

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeProvider records what the adapter asks of a provider.
type fakeProvider struct {
	created   []Spec
	deleted   []string
	createErr error
}

func (p *fakeProvider) Name() string { return "fake" }
func (p *fakeProvider) Defaults(s Spec) Spec {
	if s.Nodes == 0 {
		s.Nodes = 3
	}
	return s
}
func (p *fakeProvider) Create(_ context.Context, s Spec) (Cluster, error) {
	if p.createErr != nil {
		return nil, p.createErr
	}
	p.created = append(p.created, s)
	return &fakeCluster{name: s.Name, kubeconfig: filepath.Join(os.TempDir(), s.Name+".kubeconfig")}, nil
}
func (p *fakeProvider) Leftovers(context.Context) ([]string, error)        { return nil, nil }
func (p *fakeProvider) Kubeconfig(context.Context, string) ([]byte, error) { return nil, nil }
func (p *fakeProvider) DeleteByName(_ context.Context, name string) error {
	p.deleted = append(p.deleted, "by name "+name)
	return nil
}

type fakeCluster struct {
	name, kubeconfig string
	loaded           []string
	deleted          bool
}

func (c *fakeCluster) Name() string                          { return c.name }
func (c *fakeCluster) Provider() string                      { return "fake" }
func (c *fakeCluster) KubeconfigPath() string                { return c.kubeconfig }
func (c *fakeCluster) APIServer() (string, int)              { return "", 0 }
func (c *fakeCluster) Nodes(context.Context) ([]Node, error) { return nil, nil }
func (c *fakeCluster) Delete(context.Context) error          { c.deleted = true; return nil }
func (c *fakeCluster) LoadImages(_ context.Context, images ...string) error {
	c.loaded = append(c.loaded, images...)
	return nil
}

// TestE2EAdapter drives the adapter as e2e-framework does: options, Create,
// the calls that need a cluster, Destroy; each hook is called with the
// cluster it concerns.
func TestE2EAdapter(t *testing.T) {
	ctx := context.Background()
	p := &fakeProvider{}
	var calls []string
	e := NewE2E(p, Spec{RunID: "r1", KubeProxy: true}, E2EHooks{
		KubectlContext: func(name string) string { return "fake-" + name },
		WriteKubeconfig: func(_ context.Context, c Cluster) error {
			calls = append(calls, "kubeconfig "+c.Name())
			return nil
		},
		ExportLogs: func(_ context.Context, name, dest string) error {
			calls = append(calls, "logs "+name+" "+dest)
			return nil
		},
		LoadImageArchive: func(_ context.Context, c Cluster, path string) error {
			calls = append(calls, "archive "+c.Name()+" "+filepath.Base(path))
			return nil
		},
	})
	e.WithName("tc-r1-baseline").WithVersion("example/node:v1").WithPath("/usr/bin/kind").SetDefaults()
	if e.Spec.Name != "tc-r1-baseline" || e.Spec.NodeImage != "example/node:v1" || e.Spec.Nodes != 3 || !e.Spec.KubeProxy {
		t.Errorf("spec = %+v", e.Spec)
	}

	// Before Create: no cluster, and what needs one says so.
	if e.Cluster() != nil || e.GetKubeconfig() != "" || e.KubernetesRestConfig() != nil {
		t.Error("before Create the adapter must report no cluster")
	}
	if e.GetKubectlContext() != "fake-tc-r1-baseline" {
		t.Errorf("kubectl context %q", e.GetKubectlContext())
	}
	for what, err := range map[string]error{
		"LoadImage":          e.LoadImage(ctx, "x"),
		"LoadImageArchive":   e.LoadImageArchive(ctx, "x.tar"),
		"GenerateKubeconfig": func() error { _, err := e.GenerateKubeconfig(); return err }(),
	} {
		if err == nil || !strings.Contains(err.Error(), "fake provider: no cluster yet") {
			t.Errorf("%s before Create: %v, want an error naming the provider", what, err)
		}
	}
	if _, err := e.Create(ctx, "--image", "x"); err == nil || !strings.Contains(err.Error(), "clusters.Spec") {
		t.Errorf("Create with args: %v, want an error pointing at clusters.Spec", err)
	}
	if _, err := e.CreateWithConfig(ctx, "fake.yaml"); err == nil || !strings.Contains(err.Error(), "a fake config file is not supported") {
		t.Errorf("CreateWithConfig: %v, want a refusal naming the provider", err)
	}
	if len(p.created) != 0 {
		t.Fatalf("refused calls created clusters: %+v", p.created)
	}
	if err := e.Destroy(ctx); err != nil || !slices.Equal(p.deleted, []string{"by name tc-r1-baseline"}) {
		t.Errorf("Destroy before Create: %v, deleted %v; want a delete by name (a half-created cluster)", err, p.deleted)
	}

	kubeconfig, err := e.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.created) != 1 || p.created[0] != e.Spec {
		t.Errorf("created %+v, want the adapter's spec %+v", p.created, e.Spec)
	}
	c := e.Cluster().(*fakeCluster)
	if kubeconfig != c.kubeconfig || e.GetKubeconfig() != c.kubeconfig {
		t.Errorf("kubeconfig %q / %q, want %q", kubeconfig, e.GetKubeconfig(), c.kubeconfig)
	}
	if path, err := e.GenerateKubeconfig(); err != nil || path != c.kubeconfig {
		t.Errorf("GenerateKubeconfig = %q, %v", path, err)
	}
	if err := e.ExportLogs(ctx, "/tmp/logs"); err != nil {
		t.Fatal(err)
	}
	if err := e.LoadImage(ctx, "localhost/img:v1"); err != nil || !slices.Equal(c.loaded, []string{"localhost/img:v1"}) {
		t.Errorf("LoadImage: %v, loaded %v", err, c.loaded)
	}
	missing := filepath.Join(t.TempDir(), "missing.tar")
	if err := e.LoadImageArchive(ctx, missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("LoadImageArchive of a missing file: %v, want an error naming it", err)
	}
	archive := filepath.Join(t.TempDir(), "images.tar")
	if err := os.WriteFile(archive, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.LoadImageArchive(ctx, archive); err != nil {
		t.Fatal(err)
	}
	want := []string{"kubeconfig tc-r1-baseline", "logs tc-r1-baseline /tmp/logs", "archive tc-r1-baseline images.tar"}
	if !slices.Equal(calls, want) {
		t.Errorf("hooks called %q, want %q", calls, want)
	}
	if err := e.Destroy(ctx); err != nil || !c.deleted || len(p.deleted) != 1 {
		t.Errorf("Destroy after Create: %v, cluster deleted %v, by name %v; want the cluster's own Delete", err, c.deleted, p.deleted)
	}
}

func TestE2EAdapterCreateError(t *testing.T) {
	p := &fakeProvider{createErr: errors.New("node image x is not in the local Docker engine")}
	e := NewE2E(p, Spec{Name: "tc-x"}, E2EHooks{})
	if _, err := e.Create(context.Background()); err == nil || e.Cluster() != nil {
		t.Errorf("Create = %v, cluster %v; want the provider's error and no cluster", err, e.Cluster())
	}
}
