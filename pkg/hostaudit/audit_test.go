package hostaudit

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tunedcilium/tunedcilium/pkg/kernel"
	"github.com/tunedcilium/tunedcilium/pkg/probe"
	"github.com/tunedcilium/tunedcilium/pkg/verdict"
)

// machine is a fixture root: files, and symlinks (path -> target).
type machine struct {
	files map[string]string
	links map[string]string
}

func (m machine) write(t *testing.T) Dir {
	t.Helper()
	root := t.TempDir()
	for p, content := range m.files {
		full := filepath.Join(root, p)
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, []byte(content), 0o644))
	}
	for p, target := range m.links {
		full := filepath.Join(root, p)
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.Symlink(target, full))
	}
	return Dir{Label: "fixture", Root: root}
}

func gz(t *testing.T, s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, err := w.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.String()
}

const interrupts = `           CPU0       CPU1       CPU2       CPU3
  0:         10          0          0          0  IO-APIC   2-edge      timer
 37:          0          0          0          0 PCI-MSIX-0000:00:03.0   0-edge      virtio2-config
 38:          0      29556          0          0 PCI-MSIX-0000:00:03.0   1-edge      virtio2-input.0
 39:      26182          0          0          0 PCI-MSIX-0000:00:03.0   2-edge      virtio2-output.0
 50:        100          0          0          0  IR-PCI-MSI 1572864-edge      ens1f0-TxRx-0
 51:          0        100          0          0  IR-PCI-MSI 1572865-edge      ens1f0-TxRx-1
 60:          0          0        100          0  IR-PCI-MSI 2000000-edge      mlx5_comp0@pci:0000:3b:00.0
NMI:          0          0          0          0   Non-maskable interrupts
LOC:    1723955    1567859    1567859    1567859   Local timer interrupts
`

// tunedMachine has every recommended setting.
func tunedMachine(t *testing.T) machine {
	return machine{
		files: map[string]string{
			"/etc/tuned/active_profile":                             "network-latency\n",
			"/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor": "performance\n",
			"/sys/devices/system/cpu/cpu1/cpufreq/scaling_governor": "performance\n",
			"/proc/1/comm":                    "systemd\n",
			"/proc/42/comm":                   "kubelet\n",
			"/proc/interrupts":                interrupts,
			"/proc/irq/37/smp_affinity_list":  "0\n",
			"/proc/irq/38/smp_affinity_list":  "1\n",
			"/proc/irq/39/smp_affinity_list":  "0-0\n",
			"/proc/irq/0/smp_affinity_list":   "0-3\n",
			"/proc/config.gz":                 gz(t, "CONFIG_PREEMPT_NONE=y\n# CONFIG_PREEMPT is not set\n"),
			"/proc/cmdline":                   "console=ttyS0 quiet\n",
			"/proc/sys/kernel/osrelease":      "6.1.0-test\n",
			"/sys/class/net/.keep":            "",
			"/sys/devices/virtual/net/lo/mtu": "65536\n",
		},
		links: map[string]string{
			"/sys/class/net/eth0": "../../devices/pci0000:00/0000:00:03.0/virtio2/net/eth0",
			"/sys/class/net/lo":   "../../devices/virtual/net/lo",
		},
	}
}

func byKey(fs []Finding) map[string]Finding {
	m := map[string]Finding{}
	for _, f := range fs {
		m[f.Key] = f
	}
	return m
}

func TestAuditTunedMachine(t *testing.T) {
	got := byKey(Audit(context.Background(), tunedMachine(t).write(t)))
	require.Len(t, got, 5)
	for k, f := range got {
		require.Equal(t, Tuned, f.State, "%s: %s", k, f.Value)
	}
	require.Contains(t, got["nic-irq-affinity"].Value, "all 3 NIC IRQs pinned")
	require.NotContains(t, got["nic-irq-affinity"].Value, "timer", "IRQ 0 is not the NIC's")
	require.Equal(t, "tuned profile network-latency", got["tuned-profile"].Value)
	require.Equal(t, "performance on cpu0,cpu1", got["cpu-governor"].Value)
}

func TestAuditUntunedMachine(t *testing.T) {
	m := tunedMachine(t)
	m.files["/etc/tuned/active_profile"] = "balanced\n"
	m.files["/sys/devices/system/cpu/cpu1/cpufreq/scaling_governor"] = "powersave\n"
	m.files["/proc/777/comm"] = "irqbalance\n"
	m.files["/proc/irq/38/smp_affinity_list"] = "0-3\n"
	m.files["/proc/config.gz"] = gz(t, "# CONFIG_PREEMPT_NONE is not set\nCONFIG_PREEMPT_VOLUNTARY=y\n")
	got := byKey(Audit(context.Background(), m.write(t)))
	for k, f := range got {
		require.Equal(t, NotTuned, f.State, "%s: %s", k, f.Value)
	}
	require.Equal(t, "tuned profile balanced (not a network-* profile)", got["tuned-profile"].Value)
	require.Equal(t, "performance on cpu0; powersave on cpu1", got["cpu-governor"].Value)
	require.Equal(t, "irqbalance is running (pid 777)", got["irqbalance"].Value)
	require.Contains(t, got["nic-irq-affinity"].Value, "1 of 3 NIC IRQs not pinned to one CPU: eth0 IRQ 38 (virtio2-input.0) on CPUs 0-3")
	require.Contains(t, got["preempt-none"].Value, "CONFIG_PREEMPT_VOLUNTARY=y")
}

func TestAuditDynamicPreemptionOverriddenAtBoot(t *testing.T) {
	m := tunedMachine(t)
	m.files["/proc/config.gz"] = gz(t, "CONFIG_PREEMPT_NONE=y\nCONFIG_PREEMPT_DYNAMIC=y\n")
	m.files["/proc/cmdline"] = "quiet preempt=full\n"
	f := byKey(Audit(context.Background(), m.write(t)))["preempt-none"]
	require.Equal(t, NotTuned, f.State)
	require.Equal(t, "kernel built with CONFIG_PREEMPT_NONE=y but booted with preempt=full", f.Value)

	m.files["/sys/kernel/debug/sched/preempt"] = "(none) voluntary full lazy\n"
	f = byKey(Audit(context.Background(), m.write(t)))["preempt-none"]
	require.Equal(t, Tuned, f.State, "debugfs shows the model in force: %s", f.Value)
}

func TestAuditMachineThatExposesNothing(t *testing.T) {
	// A VM: no cpufreq, only virtual NICs, config in /boot.
	m := machine{
		files: map[string]string{
			"/proc/1/comm":               "init\n",
			"/proc/interrupts":           interrupts,
			"/proc/sys/kernel/osrelease": "5.15.0-lvh\n",
			"/boot/config-5.15.0-lvh":    "CONFIG_PREEMPT_NONE=y\n",
		},
		links: map[string]string{"/sys/class/net/lo": "../../devices/virtual/net/lo"},
	}
	got := byKey(Audit(context.Background(), m.write(t)))
	require.Equal(t, NotTuned, got["tuned-profile"].State)
	require.Equal(t, "tuned is not set up (no /etc/tuned/active_profile)", got["tuned-profile"].Value)
	require.Equal(t, Unknown, got["cpu-governor"].State)
	require.Contains(t, got["cpu-governor"].Value, "no cpufreq")
	require.Equal(t, Unknown, got["nic-irq-affinity"].State)
	require.Equal(t, Tuned, got["irqbalance"].State)
	require.Equal(t, Tuned, got["preempt-none"].State)
	require.Equal(t, "CONFIG_PREEMPT_NONE=y (/boot/config-5.15.0-lvh)", got["preempt-none"].Value)
}

func TestParseInterruptsActions(t *testing.T) {
	irqs := ParseInterrupts([]byte(interrupts), 0)
	require.Len(t, irqs, 7, "NMI and LOC are not numbered IRQs")
	require.Equal(t, IRQ{Number: 50, Actions: []string{"ens1f0-TxRx-0"}}, irqs[4])
	require.Equal(t, []string{"mlx5_comp0@pci:0000:3b:00.0"}, irqs[6].Actions)
}

func TestNICsFromSysClassNet(t *testing.T) {
	got := nics(map[string]string{
		"/sys/class/net/eth0":   "../../devices/pci0000:00/0000:00:03.0/virtio2/net/eth0",
		"/sys/class/net/ens1f0": "../../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0/net/ens1f0",
		"/sys/class/net/veth1":  "../../devices/virtual/net/veth1",
	})
	require.Len(t, got, 2)
	require.Equal(t, []string{"ens1f0", "0000:3b:00.0"}, got[0].tokens, "the bridge 0000:3a:00.0 is not the NIC")
	require.Equal(t, []string{"eth0", "virtio2", "0000:00:03.0"}, got[1].tokens)
	require.True(t, got[0].owns("mlx5_comp0@pci:0000:3b:00.0"))
	require.True(t, got[1].owns("virtio2-input.0"))
	require.False(t, got[1].owns("virtio21-input.0"))
}

func TestVerdictsInformationalUnlessRequired(t *testing.T) {
	fs := []Finding{
		{Machine: "node a", Key: "cpu-governor", Title: "CPU frequency governor is performance", State: NotTuned, Value: "powersave on cpu0"},
		{Machine: "node b", Key: "cpu-governor", Title: "CPU frequency governor is performance", State: Tuned, Value: "performance on cpu0"},
		{Machine: "node a", Key: "irqbalance", Title: "irqbalance is not running", State: Tuned, Value: "no irqbalance"},
		{Machine: "node a", Key: "nic-irq-affinity", Title: "NIC interrupts pinned to CPUs", State: Unknown, Value: "no hardware NIC"},
	}
	vs := Verdicts(fs, "seed-part8", false)
	require.Len(t, vs, 3)
	for _, v := range vs {
		require.True(t, v.Met(), "informational verdicts never fail a run: %s", v)
		require.Equal(t, "seed-part8", v.Profile)
	}
	require.Equal(t, "host.cpu-governor", vs[0].Check)
	require.Equal(t, verdict.Skip, vs[0].Result)
	require.Contains(t, vs[0].Reason, "not on node a: powersave on cpu0")
	require.Equal(t, verdict.Pass, vs[1].Result)
	require.Equal(t, verdict.Skip, vs[2].Result)

	req := Verdicts(fs, "seed-part8", true)
	require.Equal(t, verdict.Fail, req[0].Result)
	require.False(t, req[0].Met(), "--require-host-tuning makes an untuned host fail")
	require.Contains(t, req[0].Reason, "--require-host-tuning")
	require.Equal(t, verdict.Skip, req[2].Result, "what no machine exposes stays SKIP")
}

// TestAuditThisHost reads this machine as it is. The lab's VM (LAB.md):
// kernel config in /proc/config.gz with CONFIG_PREEMPT_NONE=y, no cpufreq,
// a virtio NIC. What it shows must agree with what the kernel says itself.
func TestAuditThisHost(t *testing.T) {
	got := byKey(Audit(context.Background(), Host()))
	require.Len(t, got, 5)

	cfg, where, err := kernel.ReadConfig()
	if err == nil {
		want := NotTuned
		if cfg["CONFIG_PREEMPT_NONE"] == "y" {
			want = Tuned
		}
		if cmd, _ := os.ReadFile("/proc/cmdline"); strings.Contains(string(cmd), "preempt=") {
			t.Logf("boot line sets preempt=: %s", cmd)
		} else {
			require.Equal(t, want, got["preempt-none"].State, got["preempt-none"].Value)
			require.Contains(t, got["preempt-none"].Value, where)
		}
	}

	govs, _ := filepath.Glob("/sys/devices/system/cpu/cpu*/cpufreq/scaling_governor")
	if len(govs) == 0 {
		require.Equal(t, Unknown, got["cpu-governor"].State)
	} else {
		require.NotEqual(t, Unknown, got["cpu-governor"].State)
	}

	_, err = os.Stat("/etc/tuned/active_profile")
	if os.IsNotExist(err) {
		require.Equal(t, NotTuned, got["tuned-profile"].State)
	}

	running := exec.Command("pgrep", "-x", "irqbalance").Run() == nil
	require.Equal(t, running, got["irqbalance"].State == NotTuned, got["irqbalance"].Value)

	for k, f := range got {
		t.Logf("%-17s %-9s %s", k, f.State, f.Value)
	}
}

// TestExecSourceMatchesDir reads this host through the exec path (sh, cat,
// readlink run by a probe.Runner) and compares it with direct reads.
func TestExecSourceMatchesDir(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh on this machine")
	}
	ctx := context.Background()
	m := tunedMachine(t)
	dir := m.write(t)
	// The exec source sees the fixture's root filesystem under FileRoot,
	// as a node-access pod sees the node's under /proc/1/root.
	ex := Exec{Label: "exec", Runner: rootedRunner{root: dir.Root}, FileRoot: "/"}
	direct := byKey(Audit(ctx, dir))
	via := byKey(Audit(ctx, ex))
	for k, f := range direct {
		require.Equal(t, f.State, via[k].State, "%s: %s vs %s", k, f.Value, via[k].Value)
		require.Equal(t, f.Value, via[k].Value, k)
	}
}

// rootedRunner runs commands on this machine with every absolute path
// argument moved under root: the fixture stands in for a node.
type rootedRunner struct{ root string }

func (r rootedRunner) Run(ctx context.Context, argv []string) ([]byte, error) {
	args := append([]string(nil), argv...)
	for i, a := range args {
		if i > 0 && strings.HasPrefix(a, "/") {
			args[i] = filepath.Join(r.root, a)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return stdout.Bytes(), &probe.CommandError{Argv: argv, ExitCode: ee.ExitCode(), Stderr: stderr.String()}
	}
	if err != nil {
		return nil, err
	}
	// Report paths as the node would.
	return bytes.ReplaceAll(stdout.Bytes(), []byte(r.root), nil), nil
}
