package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tunedcilium/tunedcilium/pkg/hostaudit"
)

// hostAuditCmd audits this machine for the tuning guide's host items.
func hostAuditCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "host-audit [-o json|table]",
		Short: "Read this machine's host tunings (tuned profile, CPU governor, irqbalance, NIC IRQ affinity, preemption model)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			fs := hostaudit.Audit(cmd.Context(), hostaudit.Host())
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), fs)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ITEM\tSTATE\tFOUND\tRECOMMENDED")
			for _, f := range fs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Key, f.State, f.Value, f.Want)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}
