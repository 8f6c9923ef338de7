package ciliumstatus

import (
	"strings"
	"testing"
)

// agentLog holds lines in the v1.20 agent's slog text format, with messages
// taken from Cilium's source (pkg/kpr/initializer, pkg/datapath/loader,
// pkg/datapath/linux/bandwidth, pkg/datapath/connector) and from older
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
`

func TestScanFallbacks(t *testing.T) {
	got, err := ScanFallbacks(strings.NewReader(agentLog))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ option, phrase, msgPrefix string }{
		{"bpf-host-routing", "falling back", "BPF host routing requires enable-bpf-masquerade."},
		{"xdp", "ignoring", "Failed to attach XDP program"},
		{"bandwidth-manager", "disabling", "The bandwidth manager cannot be used with IPSec."},
		{"netkit", "reverting", "datapath autodiscovery failed"},
		{"bpf-masquerade", "falling back", "Falling back to iptables-based masquerading"},
		{"", "falling back", "bpf_sock_destroy is not supported"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d fallbacks, want %d:\n%v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Option != w.option || g.Phrase != w.phrase || !strings.HasPrefix(g.Message, w.msgPrefix) {
			t.Errorf("fallback %d = {option %q phrase %q msg %q}, want {%q %q %q...}", i, g.Option, g.Phrase, g.Message, w.option, w.phrase, w.msgPrefix)
		}
		if !strings.Contains(g.Line, "msg=") {
			t.Errorf("fallback %d lost its full line: %q", i, g.Line)
		}
	}

	xdp := ForOption(got, "xdp")
	if len(xdp) != 1 || Lines(xdp)[0] != "xdp: Failed to attach XDP program, ignoring due to best-effort mode" {
		t.Errorf("ForOption(xdp) = %v", Lines(xdp))
	}
}

func TestScanFallbacksPlainLines(t *testing.T) {
	// Lines without msg= (e.g. from an init container) are matched whole.
	got, err := ScanFallbacks(strings.NewReader("Disabling NOTRACK rules: tunnel mode\nnothing here\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Option != "install-no-conntrack-iptables-rules" || got[0].Message != "Disabling NOTRACK rules: tunnel mode" {
		t.Fatalf("got %+v", got)
	}
}
