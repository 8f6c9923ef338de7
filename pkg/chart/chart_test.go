package chart

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/tunedcilium/tunedcilium/pkg/images"

	"github.com/stretchr/testify/require"
)

func TestRenderModuleChartDefaults(t *testing.T) {
	dir, err := ModuleChartDir("")
	require.NoError(t, err)
	c, err := Load(dir)
	require.NoError(t, err)
	r, err := Render(c, map[string]any{}, "kube-system", "v1.34.4")
	require.NoError(t, err)
	cm, err := r.ConfigMap("cilium-config")
	require.NoError(t, err)
	// Cilium defaults: tunnel routing, no conntrack bypass.
	require.Equal(t, "tunnel", cm["routing-mode"])
	require.Equal(t, "false", cm["install-no-conntrack-iptables-rules"])
}

func TestRenderRejectsValuesAgainstSchema(t *testing.T) {
	dir, err := ModuleChartDir("")
	require.NoError(t, err)
	c, err := Load(dir)
	require.NoError(t, err)
	_, err = Render(c, map[string]any{"routingMode": 42}, "kube-system", "v1.34.4")
	require.Error(t, err)
	require.Contains(t, err.Error(), "routingMode")
}

// The agent images are built from the same Cilium version whose chart
// go.mod brings: pkg/images pins it, go.mod requires it.
func TestPinnedCiliumVersionIsGoMods(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", CiliumModule).Output()
	require.NoError(t, err)
	require.Equal(t, strings.TrimSpace(string(out)), images.CiliumVersion)
}
