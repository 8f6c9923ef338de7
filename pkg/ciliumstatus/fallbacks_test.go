package ciliumstatus

import (
	"slices"
	"strings"
	"testing"

	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// agentLog holds lines in the v1.20 agent's slog text format, with messages
// taken from Cilium's source (pkg/kpr/initializer, pkg/datapath/loader,
// pkg/datapath/linux/bandwidth, pkg/datapath/linux/bigtcp,
// pkg/datapath/connector) and from older
// agents' logrus format (the masquerade fallback of cilium/cilium#12026).
const agentLog = `time=2026-11-24T10:00:00.1Z level=info source=/go/src/github.com/cilium/cilium/pkg/kpr/initializer/kube_proxy_replacement.go:58 msg="BPF host routing requires enable-bpf-masquerade. Falling back to legacy host routing (enable-host-legacy-routing=true)." module=agent.controlplane.kpr
time=2026-11-24T10:00:00.2Z level=info msg="kube-proxy replacement starting with the following config" module=agent
time=2026-11-24T10:00:01Z level=info msg="Failed to attach XDP program, ignoring due to best-effort mode" module=agent.datapath.loader device=eth0 error="operation not supported"
time=2026-11-24T10:00:02Z level=warn msg="The bandwidth manager cannot be used with IPSec. Disabling the bandwidth manager." module=agent.datapath
time=2026-11-24T10:00:03Z level=warn msg="datapath autodiscovery failed, reverting from netkit to veth" module=agent.datapath.connector
time=2026-11-24T10:00:04Z level=debug msg="ignoring upsert request for already up-to-date key" module=agent
level=warning msg="Falling back to iptables-based masquerading" subsys=daemon
time=2026-11-24T10:00:05Z level=info msg="bpf_sock_destroy is not supported on the current kernel. Falling back to netlink-based socket destroyer" module=agent
time=2026-11-24T10:00:06Z level=info msg="Started endpoint" module=agent
time=2026-11-24T10:00:07Z level=warn msg="Cannot enable --enable-ipv4-big-tcp, needs kernel 6.3 or newer" module=agent.datapath.bigtcp
level=warning msg="Disabling NOTRACK rules: tunnel mode" subsys=daemon
level=error msg="cannot enable --enable-bbr, needs kernel 5.18 or newer" subsys=daemon
`

func TestScanFallbacks(t *testing.T) {
	got, err := ScanFallbacks(strings.NewReader(agentLog))
	if err != nil {
		t.Fatal(err)
	}
	const (
		xdp = tuning.XDPAcceleration
		bwm = tuning.BandwidthManager
		v4  = tuning.IPv4BIGTCP
		v6  = tuning.IPv6BIGTCP
	)
	want := []struct {
		options           []tuning.Key
		phrase, msgPrefix string
	}{
		{[]tuning.Key{tuning.BPFHostRouting}, "falling back", "BPF host routing requires enable-bpf-masquerade."},
		{[]tuning.Key{xdp}, "ignoring", "Failed to attach XDP program"},
		{[]tuning.Key{bwm, tuning.BBR}, "disabling", "The bandwidth manager cannot be used with IPSec."},
		{[]tuning.Key{tuning.Netkit}, "reverting", "datapath autodiscovery failed"},
		{[]tuning.Key{tuning.BPFMasquerade}, "falling back", "Falling back to iptables-based masquerading"},
		{nil, "falling back", "bpf_sock_destroy is not supported"},
		{[]tuning.Key{v4}, "cannot enable", "Cannot enable --enable-ipv4-big-tcp"},
		{[]tuning.Key{tuning.BypassConntrack}, "disabling", "Disabling NOTRACK rules"},
		{[]tuning.Key{tuning.BBR}, "cannot enable", "cannot enable --enable-bbr"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d fallbacks, want %d:\n%v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if !slices.Equal(g.Options, w.options) || g.Phrase != w.phrase || !strings.HasPrefix(g.Message, w.msgPrefix) {
			t.Errorf("fallback %d = {options %q phrase %q msg %q}, want {%q %q %q...}", i, g.Options, g.Phrase, g.Message, w.options, w.phrase, w.msgPrefix)
		}
		if !strings.Contains(g.Line, "msg=") {
			t.Errorf("fallback %d lost its full line: %q", i, g.Line)
		}
	}

	if got := Lines(ForOptions(got, xdp)); len(got) != 1 || got[0] != "xdp-acceleration: Failed to attach XDP program, ignoring due to best-effort mode" {
		t.Errorf("ForOptions(xdp-acceleration) = %v", got)
	}
	if got := ForOptions(got, v6); len(got) != 0 {
		t.Errorf("an IPv4 BIG TCP line concerns IPv6 BIG TCP: %v", Lines(got))
	}
	// A line concerning two of the asked options is kept once.
	if got := Lines(ForOptions(got, bwm, tuning.BBR)); len(got) != 2 || !strings.HasPrefix(got[0], "bandwidth-manager,bbr: ") || !strings.HasPrefix(got[1], "bbr: ") {
		t.Errorf("ForOptions(bandwidth-manager, bbr) = %v", got)
	}
	if got := ForOptions(got, bwm); len(got) != 1 {
		t.Errorf("a BBR-only line concerns the bandwidth manager: %v", Lines(got))
	}
}

// TestBIGTCPFamilies: a BIG TCP line concerns the families it names, both
// when it names none (messages from pkg/datapath/linux/bigtcp; the agent
// logs the last one in an error field when it refuses to start).
func TestBIGTCPFamilies(t *testing.T) {
	for msg, want := range map[string][]tuning.Key{
		"Cannot enable --enable-ipv6-big-tcp, needs kernel 5.19 or newer":                                     {tuning.IPv6BIGTCP},
		"BIG TCP IPv4 is disabled, but gro_ipv4_max_size or gso_ipv4_max_size is bigger than 65536: lowering": {tuning.IPv4BIGTCP},
		"BIG TCP is not supported with legacy host routing":                                                   {tuning.IPv4BIGTCP, tuning.IPv6BIGTCP},
	} {
		if got := recogniseOptions(msg); !slices.Equal(got, want) {
			t.Errorf("%q concerns %q, want %q", msg, got, want)
		}
	}
}

// TestFallbackOptionsAreCatalogKeys: every option a rule names is one the
// catalog knows, so a verdict finds its lines by its own key.
func TestFallbackOptionsAreCatalogKeys(t *testing.T) {
	for _, r := range optionRules {
		for _, k := range r.options("IPv4 IPv6") {
			if _, ok := tuning.Lookup(k); !ok {
				t.Errorf("rule %s names %q, not a catalog key", r.re, k)
			}
		}
	}
}

func TestScanFallbacksPlainLines(t *testing.T) {
	// Lines without msg= (e.g. from an init container) are matched whole.
	got, err := ScanFallbacks(strings.NewReader("Disabling NOTRACK rules: tunnel mode\nnothing here\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !slices.Equal(got[0].Options, []tuning.Key{tuning.BypassConntrack}) || got[0].Message != "Disabling NOTRACK rules: tunnel mode" {
		t.Fatalf("got %+v", got)
	}
}
