package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tunedcilium/tunedcilium/pkg/probe"
)

// inspectCmd prints every probe's evidence for one node (pkg/probe).
func inspectCmd() *cobra.Command {
	var (
		netnsName, container, device, output string
		pid                                  int
		host                                 bool
		timeout                              time.Duration
	)
	cmd := &cobra.Command{
		Use:   "inspect (--netns NAME | --pid PID | --container NAME | --host) [--device DEV] [-o json|table]",
		Short: "Print a node's datapath evidence: XDP, tc/tcx, devices, routes, conntrack + NOTRACK rules, NAT rules, congestion control",
		Long: `Reads a node's real datapath state from inside its network namespace: XDP attachments
(native/generic/offload), tc/tcx BPF programs, device kinds, MTUs, BIG TCP sizes and qdiscs,
main-table routes, the conntrack table size and the iptables rules that skip tracking,
MASQUERADE/SNAT rules with their counters (legacy and nf_tables backends), and the TCP
congestion control. --netns, --pid and --host need root; --container (a kind or k3d node)
enters the container's namespace when root, and otherwise runs the node's own tools with
docker exec.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			chosen := 0
			for _, set := range []bool{netnsName != "", cmd.Flags().Changed("pid"), container != "", host} {
				if set {
					chosen++
				}
			}
			if chosen != 1 {
				return badInput("inspect: pick exactly one node: --netns NAME, --pid PID, --container NAME or --host")
			}
			if cmd.Flags().Changed("pid") && pid <= 0 {
				return badInput("inspect --pid %d: give the id of a running process (see `ps`)", pid)
			}
			if output != "json" && output != "table" {
				return badInput("inspect: -o %q: use -o json or -o table", output)
			}
			if container == "" && !probe.IsRoot() {
				return badInput("inspect: entering a network namespace and reading conntrack needs root: run it with sudo (or use --container, which falls back to docker exec)")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()

			var node *probe.Node
			var err error
			switch {
			case netnsName != "":
				node, err = probe.OpenNetNS(netnsName)
			case cmd.Flags().Changed("pid"):
				node, err = probe.OpenPID(pid)
			case container != "":
				node, err = probe.OpenContainer(ctx, container)
			default:
				node, err = probe.Host()
			}
			if errors.Is(err, probe.ErrNoSuchNode) {
				return badInput("inspect: %v", err)
			}
			if err != nil {
				return err
			}
			defer node.Close()

			report, err := node.Inspect(ctx, probe.InspectOptions{Device: device})
			if errors.Is(err, probe.ErrNoSuchDevice) {
				return badInput("inspect --device: %v", err)
			}
			if err != nil {
				return err
			}
			if output == "table" {
				return report.WriteTable(cmd.OutOrStdout())
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			if err := enc.Encode(report); err != nil {
				return fmt.Errorf("inspect: write JSON: %w", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&netnsName, "netns", "", "a named network namespace (/var/run/netns/NAME, see `ip netns list`)")
	f.IntVar(&pid, "pid", 0, "the network namespace of this process")
	f.StringVar(&container, "container", "", "a running Docker container (kind/k3d node) by name or id")
	f.BoolVar(&host, "host", false, "this machine's own network namespace")
	f.StringVar(&device, "device", "", "limit xdp, tc, devices and routes to this device")
	f.StringVarP(&output, "output", "o", "table", "output format: json or table")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	return cmd
}
