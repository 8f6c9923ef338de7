package kind

import (
	"context"
	"testing"

	"github.com/tunedcilium/tunedcilium/clusters"
)

func TestE2EAdapterFollowsTheSpec(t *testing.T) {
	e := NewE2E(New(nil), clusters.Spec{RunID: "r9", KubeProxy: true})
	e.WithName("tunedcilium-r9-baseline").WithVersion("example/node:v1").SetDefaults()
	if e.Spec.Name != "tunedcilium-r9-baseline" || e.Spec.NodeImage != "example/node:v1" || e.Spec.Nodes != DefaultNodes {
		t.Errorf("spec = %+v", e.Spec)
	}
	if e.GetKubectlContext() != "kind-tunedcilium-r9-baseline" {
		t.Errorf("kubectl context %q, want kind-tunedcilium-r9-baseline", e.GetKubectlContext())
	}
	if _, err := e.CreateWithConfig(context.Background(), "kind.yaml"); err == nil {
		t.Error("CreateWithConfig must be refused: the config is generated")
	}
}
