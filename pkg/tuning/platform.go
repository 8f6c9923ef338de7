package tuning

import (
	"fmt"
	"strings"

	"github.com/tunedcilium/tunedcilium/pkg/kernel"
)

// nativeXDPDrivers maps the driver name `ethtool -i` reports to the first
// kernel with native XDP for it (Documentation/reference-guides/bpf/progtypes.rst,
// section xdp_drivers, Cilium v1.20.2).
var nativeXDPDrivers = map[string]string{
	"ena": "5.6", "atlantic": "5.19", "bnxt_en": "4.11", "thunderx": "4.12", "tsnep": "6.3",
	"dpaa": "5.11", "dpaa2": "5.0", "enetc": "5.13", "fec": "6.2", "fun": "5.18", "gve": "6.4",
	"ice": "5.5", "igb": "5.10", "igc": "5.13", "i40e": "4.13", "ixgbe": "4.12", "ixgbevf": "4.17",
	"mvneta": "5.5", "mvpp2": "5.9", "rvu_nicpf": "5.16", "mtk_soc_eth": "6.0",
	"mlx4_core": "4.8", "mlx4_en": "4.8", "mlx5_core": "4.9", "lan966x": "6.2",
	"hv_netvsc": "5.6", "mana": "5.17", "nfp": "4.10", "bonding": "5.15", "netdevsim": "4.16",
	"tun": "4.14", "virtio_net": "4.10", "xen-netfront": "5.9", "veth": "4.19",
	"qede": "4.10", "netsec": "5.3", "sfc": "5.5", "st_gmac": "5.13", "stmmac": "5.13", "cpsw": "5.3",
	"vmxnet3": "6.6",
}

// NativeXDP says whether a NIC driver supports native XDP on kernel k, and
// why not.
func NativeXDP(driver string, k kernel.Version) (bool, string) {
	min, ok := nativeXDPDrivers[driver]
	if !ok {
		return false, fmt.Sprintf("NIC driver %s has no native XDP support (Cilium's driver list)", driver)
	}
	if !k.IsZero() && !kernel.Min(min).MetBy(k) {
		return false, fmt.Sprintf("NIC driver %s supports native XDP from kernel %s; this kernel is %s", driver, min, k)
	}
	return true, ""
}

// KnownDriver reports whether the driver appears in any table of the catalog.
func KnownDriver(driver string) bool {
	if _, ok := nativeXDPDrivers[driver]; ok {
		return true
	}
	for _, d := range bigTCPDrivers {
		if d == driver {
			return true
		}
	}
	return false
}

// Cilium versions: the minimum kernel of the agent itself changed over time
// (1.13-1.15: 4.19.57; 1.16-1.17: 5.4; 1.18 and later: 5.10).
var ciliumBaseKernel = []struct {
	since  string
	kernel kernel.Requirement
}{
	{"1.13", kernel.Min("4.19.57")},
	{"1.16", kernel.Min("5.4")},
	{"1.18", kernel.Min("5.10")},
}

// CiliumVersion is a Cilium release, major.minor.patch.
type CiliumVersion struct{ Major, Minor, Patch int }

// ParseCiliumVersion reads "1.20.2", "v1.20.2" or "1.20".
func ParseCiliumVersion(s string) (CiliumVersion, error) {
	in := s
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		s = s[:i]
	}
	var v CiliumVersion
	n, _ := fmt.Sscanf(s, "%d.%d.%d", &v.Major, &v.Minor, &v.Patch)
	if n < 2 || v.Major != 1 || strings.Count(s, ".") > 2 {
		return CiliumVersion{}, fmt.Errorf("cilium version %q: want 1.MINOR[.PATCH], e.g. 1.20.2", in)
	}
	return v, nil
}

func (v CiliumVersion) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// AtLeastMinor reports v >= "1.N".
func (v CiliumVersion) AtLeastMinor(minor string) bool {
	m, err := ParseCiliumVersion(minor)
	if err != nil {
		return false
	}
	return v.Major > m.Major || (v.Major == m.Major && v.Minor >= m.Minor)
}

// CiliumBaseKernel is the minimum kernel of that Cilium version itself, or
// nil for versions older than the table (1.12 and before).
func CiliumBaseKernel(v CiliumVersion) kernel.Requirement {
	var req kernel.Requirement
	for _, row := range ciliumBaseKernel {
		if v.AtLeastMinor(row.since) {
			req = row.kernel
		}
	}
	return req
}

// OldestSupportedCilium is the oldest Cilium the catalog's Helm values fit.
const OldestSupportedCilium = "1.13"
