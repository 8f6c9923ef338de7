// Package checks implements every check of the catalog (tuning.Checks()).
// Each check gathers evidence from the cluster (agent status and config, the
// nodes' datapath through pkg/probe, traffic between the workload's pods and
// the container outside the cluster) and hands it to a pure decision
// function (Decide*) that returns PASS, FAIL or SKIP with a one-line reason.
// Run turns a planned check into a filled verdict: every PASS goes through
// Credit, which names the first mechanism of the check the nodes show active
// (Active, derived at run time from the agents' status and the nodes' state,
// never from the plan) and lists the masked ones; a PASS no active mechanism
// explains becomes a FAIL.
//
// Choices worth knowing, each measured on this lab's kind clusters:
//
//   - conntrack.flat-pod-to-pod counts entries naming the two pods'
//     addresses, so kubelet probes and cilium-health traffic do not count.
//     It and host-routing.forward-bypassed SKIP under tunnel routing: BPF
//     encapsulates pod packets before netfilter (+0/+1 with legacy host
//     routing and no NOTRACK rule on the baseline profile), so only native
//     routing can tell the mechanisms apart (+200/+200 on bypass-isolated-off).
//   - bbr.pod-congestion-control SKIPs when a fresh network namespace on the
//     nodes' kernel already starts with bbr (this lab's VM default): kind pods
//     inherit it whatever Cilium does.
//   - config.device-mtu reads the agent's StateDB "mtu" table (`cilium-dbg
//     statedb`): `cilium-dbg config -a -o json` does not carry the MTU.
//   - mtu.jumbo-path sends a don't-fragment ICMP echo with iputils ping from
//     the workload image (`ping -M do -s SIZE`): the kernel refuses a size
//     above the route MTU ("message too long") and a smaller hop drops it.
//     The size is 9000 less the tunnel overhead in tunnel mode.
//   - bpf-maps.sized compares max_entries (bpftool in the agent) with the
//     size Cilium's own formula gives the default ratio on the node's memory;
//     the formula matches the agent's figures (221723 CT entries here).
//   - masquerade.bpf-snat and dsr.client-ip-preserved need the container
//     outside the cluster (kind, k3d); elsewhere they SKIP.
//   - connectivity runs the cilium CLI (SKIP without it), with KUBECONFIG
//     set, --junit-file in the report directory and
//     --collect-sysdump-on-failure.
package checks
