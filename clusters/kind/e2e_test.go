package kind

import (
	"context"
	"strings"
	"testing"

	"github.com/tunedcilium/tunedcilium/clusters"
)

func TestE2EAdapterFollowsTheSpec(t *testing.T) {
	e := NewE2E(New(nil), clusters.Spec{RunID: "r9", KubeProxy: true})
	e.WithName("tunedcilium-r9-baseline").WithVersion("example/node:v1").WithPath("/usr/bin/kind").SetDefaults()
	if e.Spec.Name != "tunedcilium-r9-baseline" || e.Spec.NodeImage != "example/node:v1" || e.Spec.Nodes != DefaultNodes {
		t.Errorf("spec = %+v", e.Spec)
	}
	if e.GetKubectlContext() != "kind-tunedcilium-r9-baseline" || e.GetKubeconfig() != "" || e.KubernetesRestConfig() != nil {
		t.Error("before Create the adapter must report no cluster")
	}
	if _, err := e.Create(context.Background(), "--image", "x"); err == nil || !strings.Contains(err.Error(), "clusters.Spec") {
		t.Errorf("Create with args: %v, want an error pointing at clusters.Spec", err)
	}
	if _, err := e.CreateWithConfig(context.Background(), "kind.yaml"); err == nil {
		t.Error("CreateWithConfig must be refused: the config is generated")
	}
	if err := e.LoadImage(context.Background(), "x"); err == nil {
		t.Error("LoadImage before Create must fail")
	}
}
