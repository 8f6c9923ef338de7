package cimatrix

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tunedcilium/tunedcilium/pkg/kernel"
	"github.com/tunedcilium/tunedcilium/pkg/profile"
	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

func TestParsePinsRejectsAKeyReadAsANumber(t *testing.T) {
	// Unquoted, YAML reads 6.10 as the number 6.1: the tag gives it away.
	_, err := ParsePins([]byte("image: quay.io/lvh-images/kind\nkernels:\n  6.10: '6.10-20260907.012340'\n"), "k.yaml")
	require.ErrorContains(t, err, `kernel "6.1" is pinned to tag "6.10-20260907.012340"`)
	require.ErrorContains(t, err, "quote the key")

	_, err = ParsePins([]byte("kernels:\n  '6.1': '6.1-x'\n"), "k.yaml")
	require.ErrorContains(t, err, `"image" is empty`)
	_, err = ParsePins([]byte("image: x\nkernels:\n  'linux': 'linux-x'\n"), "k.yaml")
	require.ErrorContains(t, err, `kernel "linux"`)
	_, err = ParsePins([]byte("image: x\nkernel:\n  '6.1': '6.1-x'\n"), "k.yaml")
	require.ErrorContains(t, err, "unknown field", "strict: a typo is not an empty pin list")
}

func TestPinsOrderAndSelect(t *testing.T) {
	p, err := ParsePins([]byte("image: x\nkernels:\n  '6.12': '6.12-a'\n  '5.15': '5.15-a'\n  'rhel8.10': 'rhel8.10-a'\n  '6.6': '6.6-a'\n"), "k.yaml")
	require.NoError(t, err)
	var order []string
	for _, pin := range p.List() {
		order = append(order, pin.Kernel)
	}
	require.Equal(t, []string{"rhel8.10", "5.15", "6.6", "6.12"}, order)
	sel, err := p.Select([]string{"6.6"})
	require.NoError(t, err)
	require.Equal(t, []Pin{{Kernel: "6.6", Tag: "6.6-a"}}, sel)
	_, err = p.Select([]string{"6.7"})
	require.ErrorContains(t, err, "pinned are rhel8.10, 5.15, 6.6, 6.12")
}

func TestRowsPruneProfilesThatCannotPlan(t *testing.T) {
	ps, err := profile.LoadAll([]string{"baseline", "netkit"})
	require.NoError(t, err)
	// Cilium 1.20 needs 5.10: a 5.4 host row runs nothing, and says why.
	host := profile.Platform{Name: "5.4.0", Kernel: kernel.MustParse("5.4")}
	cv, _ := tuning.ParseCiliumVersion("1.20.2")
	rows, err := Rows(ps, []Pin{{Kernel: "6.12", Tag: "6.12-a"}}, &host, cv)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Equal(t, Hosted, rows[0].Name)
	require.Empty(t, rows[0].Profiles)
	require.Len(t, rows[0].Pruned, 2)
	require.Contains(t, rows[0].Pruned[0].Reason, "needs kernel >= 5.10")
	require.Equal(t, "baseline,netkit", rows[1].Profiles)
	require.Empty(t, rows[1].Skips)

	var out bytes.Buffer
	require.NoError(t, WriteGitHub(&out, rows))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Equal(t, "hosted=", lines[0], "a row with nothing to run is no job")
	require.True(t, strings.HasPrefix(lines[1], `lvh={"include":[{"name":"kernel-6.12"`), lines[1])
	out.Reset()
	require.NoError(t, WriteMarkdown(&out, rows))
	require.Contains(t, out.String(), "| hosted | 5.4.0 | runner | - | - | baseline: plan errors")
}
