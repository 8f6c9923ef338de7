package k3d

import (
	"context"
	"strings"
	"testing"

	"github.com/tunedcilium/tunedcilium/clusters"
)

func TestE2EAdapterFollowsTheSpec(t *testing.T) {
	e := NewE2E(&Provider{}, clusters.Spec{RunID: "r9"})
	e.WithName("tunedcilium-r9-seed").SetDefaults()
	if e.Spec.Name != "tunedcilium-r9-seed" || e.Spec.NodeImage != DefaultImage || e.Spec.PodCIDR != DefaultPodCIDR || e.Spec.Nodes != 2 {
		t.Errorf("spec = %+v, want k3s' defaults", e.Spec)
	}
	if e.GetKubectlContext() != "k3d-tunedcilium-r9-seed" {
		t.Errorf("kubectl context %q, want k3d-tunedcilium-r9-seed", e.GetKubectlContext())
	}
	if _, err := e.CreateWithConfig(context.Background(), "k3d.yaml"); err == nil || !strings.Contains(err.Error(), "k3d provider: a k3d config file") {
		t.Errorf("CreateWithConfig: %v, want a refusal: the config is generated", err)
	}
}
