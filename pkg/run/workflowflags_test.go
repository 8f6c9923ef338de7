package run

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tunedcilium/tunedcilium/pkg/kernel"
)

func TestWorkflowFlagsRejectBadInput(t *testing.T) {
	o := Options{UpgradeFrom: "1.19.5", UpgradeConnections: 20}
	require.NoError(t, o.validateWorkflowFlags())
	o.UpgradeFrom = t.TempDir() // a chart directory
	require.NoError(t, o.validateWorkflowFlags())

	o.UpgradeFrom = "yesterday"
	require.EqualError(t, o.validateWorkflowFlags(), `--upgrade-from "yesterday": neither a Cilium version nor a chart directory: give a version such as 1.19.5 or the path of the old chart`)
	o.UpgradeFrom, o.UpgradeConnections = "1.19.5", 0
	require.ErrorContains(t, o.validateWorkflowFlags(), "--upgrade-connections 0")

	o = Options{KernelPlatform: "rhel"}
	require.ErrorContains(t, o.validateWorkflowFlags(), `--kernel-platform "rhel"`)
}

func TestNodeKernelFromPlatform(t *testing.T) {
	o := Options{KernelPlatform: "rhel8.10"}
	k, err := o.NodeKernel()
	require.NoError(t, err)
	require.Equal(t, kernel.MustParse("5.10"), k, "RHEL 8.10 plans as 5.10")
	o.KernelPlatform = ""
	k, err = o.NodeKernel()
	require.NoError(t, err)
	running, _ := kernel.Running()
	require.Equal(t, running, k)
}
