package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf/link"
	"github.com/stretchr/testify/require"

	"github.com/tunedcilium/tunedcilium/pkg/probe/probetest"
)

// inspectJSON is what `inspect -o json` promises, field by field.
type inspectJSON struct {
	XDP []struct {
		Device      string `json:"device"`
		Attached    bool   `json:"attached"`
		Mode        string `json:"mode"`
		ProgramID   uint32 `json:"programId"`
		ProgramName string `json:"programName"`
	} `json:"xdp"`
	Conntrack struct {
		Entries      int `json:"entries"`
		NotrackRules []struct {
			CIDR    string `json:"cidr"`
			Backend string `json:"backend"`
			Chain   string `json:"chain"`
			Comment string `json:"comment"`
		} `json:"notrackRules"`
	} `json:"conntrack"`
	NAT struct {
		MasqueradeRules []struct {
			Target  string `json:"target"`
			Packets uint64 `json:"packets"`
			Backend string `json:"backend"`
		} `json:"masqueradeRules"`
	} `json:"nat"`
	TC                json.RawMessage   `json:"tc"`
	Devices           []json.RawMessage `json:"devices"`
	Routes            []json.RawMessage `json:"routes"`
	CongestionControl struct {
		Default string `json:"default"`
	} `json:"congestionControl"`
	Errors map[string]string `json:"errors"`
}

// TestInspectNetNSMatchesTools runs `tunedcilium inspect --netns X -o json`
// on a namespace set up for every probe and checks its evidence against
// what `ip -d link`, `iptables-save` and `conntrack -C` print there.
func TestInspectNetNSMatchesTools(t *testing.T) {
	c := probetest.NewChain(t)
	r := c.Router
	r.AttachXDP(t, "r-c", probetest.XDPPass(t, "tcil_xdp_drv"), link.XDPDriverMode)
	r.AttachXDP(t, "r-s", probetest.XDPPass(t, "tcil_xdp_skb"), link.XDPGenericMode)
	c.EnableConntrack(t, "nft")
	r.Iptables(t, "nft", "-t", "raw", "-A", "PREROUTING", "-s", "10.244.0.0/16", "-m", "comment", "--comment", "cilium: NOTRACK for pod traffic", "-j", "CT", "--notrack")
	r.Iptables(t, "nft", "-t", "nat", "-A", "POSTROUTING", "-o", "r-s", "-m", "comment", "--comment", "cilium masquerade non-cluster", "-j", "MASQUERADE")
	// Some tracked traffic through the router: three short TCP connections.
	probetest.ServeEcho(t, c.Server.Open(t))
	probetest.Burst(t, c.Client.Open(t), c.ServerIP.String()+":8080", 3)

	code, out, errOut := runCLI(t, "inspect", "--netns", r.Name, "-o", "json")
	require.Equal(t, 0, code, errOut)
	var got inspectJSON
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	require.Empty(t, got.Errors)

	// xdp against `ip -d link show dev X`: "xdp" (driver) or "xdpgeneric",
	// and "prog/xdp id N name NAME".
	modeWord := map[string]string{"native": "xdp", "generic": "xdpgeneric"}
	progRe := regexp.MustCompile(`prog/xdp id (\d+) name (\S+)`)
	seen := 0
	for _, a := range got.XDP {
		text := r.Exec(t, "ip", "-d", "link", "show", "dev", a.Device)
		m := progRe.FindStringSubmatch(text)
		if !a.Attached {
			require.Equal(t, "none", a.Mode)
			require.Nil(t, m, "%s: inspect says none, ip says %s", a.Device, text)
			continue
		}
		seen++
		require.NotNil(t, m, "%s: inspect says %s, ip -d link shows no program:\n%s", a.Device, a.Mode, text)
		require.Equal(t, m[1], strconv.FormatUint(uint64(a.ProgramID), 10))
		require.Equal(t, m[2], a.ProgramName)
		require.Contains(t, strings.Fields(text), modeWord[a.Mode], "%s: mode %s not in %s", a.Device, a.Mode, text)
	}
	require.Equal(t, 2, seen, "two devices carry XDP programs: %+v", got.XDP)

	// conntrack against `conntrack -C`; NOTRACK and MASQUERADE rules against iptables-save.
	require.Equal(t, strings.TrimSpace(r.Exec(t, "conntrack", "-C")), strconv.Itoa(got.Conntrack.Entries))
	require.GreaterOrEqual(t, got.Conntrack.Entries, 3, "the connections are tracked")
	save := r.Exec(t, "iptables-nft-save")
	require.Len(t, got.Conntrack.NotrackRules, strings.Count(save, "--notrack"))
	require.Equal(t, "10.244.0.0/16", got.Conntrack.NotrackRules[0].CIDR)
	require.Contains(t, save, "-s "+got.Conntrack.NotrackRules[0].CIDR)
	require.Equal(t, "nft", got.Conntrack.NotrackRules[0].Backend)
	require.Len(t, got.NAT.MasqueradeRules, strings.Count(save, "-j MASQUERADE"))
	require.Equal(t, uint64(3), got.NAT.MasqueradeRules[0].Packets, "three connections crossed the MASQUERADE rule")

	require.NotEmpty(t, got.Devices)
	require.NotEmpty(t, got.Routes)
	require.NotEmpty(t, got.TC)
	require.NotEmpty(t, got.CongestionControl.Default)

	// --device narrows the per-device probes; table output names every probe.
	code, out, errOut = runCLI(t, "inspect", "--netns", r.Name, "--device", "r-c", "-o", "json")
	require.Equal(t, 0, code, errOut)
	got = inspectJSON{}
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.Len(t, got.XDP, 1)
	require.Equal(t, "native", got.XDP[0].Mode)
	require.Len(t, got.Devices, 1)
	code, out, errOut = runCLI(t, "inspect", "--netns", r.Name)
	require.Equal(t, 0, code, errOut)
	for _, title := range []string{"XDP", "TC / TCX", "DEVICES", "ROUTES", "CONNTRACK", "NAT", "CONGESTION", "IPTABLES BACKENDS", "tcil_xdp_drv", "10.244.0.0/16"} {
		require.Contains(t, out, title)
	}
}

func TestInspectHostJSON(t *testing.T) {
	probetest.RequireRoot(t)
	code, out, errOut := runCLI(t, "inspect", "--host", "-o", "json")
	require.Equal(t, 0, code, errOut)
	var got map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	for _, key := range []string{"xdp", "tc", "devices", "routes", "conntrack", "nat", "congestionControl", "iptables"} {
		require.Contains(t, got, key)
		require.NotEqual(t, "null", string(got[key]), key)
	}
}

func TestInspectBadInputExitsTwo(t *testing.T) {
	probetest.RequireRoot(t)
	ns := probetest.NewNetNS(t, "cli")
	for _, args := range [][]string{
		{"inspect"},
		{"inspect", "--host", "--netns", ns.Name},
		{"inspect", "--host", "-o", "yaml"},
		{"inspect", "--netns", "tcil-no-such-namespace"},
		{"inspect", "--pid", strconv.Itoa(1 << 30)},
		{"inspect", "--pid", "-3"},
		{"inspect", "--pid", "0"},
		{"inspect", "--netns", ns.Name, "--device", "nope0"},
	} {
		code, _, errOut := runCLI(t, args...)
		require.Equal(t, 2, code, "%v: %s", args, errOut)
		require.Equal(t, 1, strings.Count(errOut, "\n"), "%v: one line: %q", args, errOut)
	}
	if _, err := exec.LookPath("docker"); err == nil && exec.Command("docker", "info").Run() == nil {
		code, _, errOut := runCLI(t, "inspect", "--container", "tcil-no-such-container")
		require.Equal(t, 2, code, errOut)
		require.Contains(t, errOut, "no such node")
	}
}

// TestInspectNotRootExitsTwo runs this test binary as nobody, as the CLI
// (see TestHelperCLI), and expects a one-line "needs root" error, exit 2.
func TestInspectNotRootExitsTwo(t *testing.T) {
	probetest.RequireRoot(t)
	self, err := os.Executable()
	require.NoError(t, err)
	// The test binary's own directory is private to root: copy it out.
	dir, err := os.MkdirTemp("", "tcil-cli-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	bin := filepath.Join(dir, "cli.test")
	data, err := os.ReadFile(self)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bin, data, 0o755))

	cmd := exec.Command(bin, "-test.run=^TestHelperCLI$")
	cmd.Env = append(os.Environ(), "TUNEDCILIUM_HELPER_CLI=inspect --host")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr, stderr.String())
	require.Equal(t, 2, exitErr.ExitCode(), stderr.String())
	require.Contains(t, stderr.String(), "needs root")
	require.Equal(t, 1, strings.Count(stderr.String(), "\n"), stderr.String())
}

// TestHelperCLI is not a test: run as a subprocess with
// TUNEDCILIUM_HELPER_CLI set, it is the CLI with those arguments.
func TestHelperCLI(t *testing.T) {
	args := os.Getenv("TUNEDCILIUM_HELPER_CLI")
	if args == "" {
		t.Skip("helper process for TestInspectNotRootExitsTwo")
	}
	os.Exit(run(strings.Fields(args), os.Stdout, os.Stderr))
}
