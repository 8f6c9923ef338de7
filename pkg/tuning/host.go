package tuning

// HostItem is a host tuning from the same tuning guide. It is audited on
// each node and reported for information: it never fails a run unless the
// user asks for it (--require-host-tuning).
type HostItem struct {
	Key   string `json:"key"`
	Title string `json:"title"`
	// Evidence says what is read on the node.
	Evidence string `json:"evidence"`
	// Want is the value the guide recommends.
	Want string `json:"want"`
}

// HostAudit lists the host tunings of Cilium's tuning guide ("Further
// Considerations" and "Linux Kernel").
func HostAudit() []HostItem {
	return []HostItem{
		{Key: "tuned-profile", Title: "tuned network-* profile active",
			Evidence: "/etc/tuned/active_profile (tuned-adm active)", Want: "network-latency or network-throughput"},
		{Key: "cpu-governor", Title: "CPU frequency governor is performance",
			Evidence: "/sys/devices/system/cpu/cpu*/cpufreq/scaling_governor", Want: "performance on every CPU"},
		{Key: "irqbalance", Title: "irqbalance is not running",
			Evidence: "no irqbalance process in /proc", Want: "not running"},
		{Key: "nic-irq-affinity", Title: "NIC interrupts pinned to CPUs",
			Evidence: "/proc/irq/N/smp_affinity_list of the NIC's IRQs (from /proc/interrupts)", Want: "each IRQ on one CPU"},
		{Key: "preempt-none", Title: "kernel built with CONFIG_PREEMPT_NONE=y",
			Evidence: "/proc/config.gz or /boot/config-$(uname -r)", Want: "CONFIG_PREEMPT_NONE=y"},
	}
}
