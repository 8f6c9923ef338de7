package run

import (
	"fmt"
	"os"

	"github.com/tunedcilium/tunedcilium/pkg/kernel"
	"github.com/tunedcilium/tunedcilium/pkg/profile"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// validateWorkflowFlags checks the flags of the users' workflows: the
// upgrade source, the connections held across it, the kernel platform.
func (o *Options) validateWorkflowFlags() error {
	if o.UpgradeFrom != "" {
		if _, err := os.Stat(o.UpgradeFrom); err != nil {
			if _, verr := tuning.ParseCiliumVersion(o.UpgradeFrom); verr != nil {
				return fmt.Errorf("--upgrade-from %q: neither a Cilium version nor a chart directory: give a version such as 1.19.5 or the path of the old chart", o.UpgradeFrom)
			}
		}
		if o.UpgradeConnections < 1 {
			return fmt.Errorf("--upgrade-connections %d: hold at least 1 connection across the upgrade", o.UpgradeConnections)
		}
	}
	if o.KernelPlatform != "" {
		if _, err := profile.ParsePlatform(o.KernelPlatform); err != nil {
			return fmt.Errorf("--kernel-platform %q: %v; give a kernel row such as 6.1 or rhel8.10", o.KernelPlatform, err)
		}
	}
	return nil
}

// NodeKernel is the kernel the plans are made for: --kernel-platform's
// when given (RHEL 8.10 runs 4.18 with the backports Cilium counts as
// 5.10), else the running kernel, which kind and k3d nodes share.
func (o *Options) NodeKernel() (kernel.Version, error) {
	if o.KernelPlatform != "" {
		pf, err := profile.ParsePlatform(o.KernelPlatform)
		if err != nil {
			return kernel.Version{}, fmt.Errorf("--kernel-platform %q: %w", o.KernelPlatform, err)
		}
		return pf.Kernel, nil
	}
	return kernel.Running()
}
