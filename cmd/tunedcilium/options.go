package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tunedcilium/tunedcilium/pkg/tuning"
)

// optionsCmd prints the catalog.
func optionsCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "options [-o json|table]",
		Short: "List the tunings tunedcilium knows, what each needs and the checks that prove it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), catalogJSON())
			}
			return writeOptionsTable(cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

type optionJSON struct {
	tuning.Option
	MinKernel string `json:"minKernel"`
}

func catalogJSON() any {
	var opts []optionJSON
	for _, o := range tuning.Options() {
		opts = append(opts, optionJSON{Option: o, MinKernel: o.KernelRequirement()})
	}
	return map[string]any{
		"options":   opts,
		"checks":    tuning.Checks(),
		"hostAudit": tuning.HostAudit(),
	}
}

func writeOptionsTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OPTION\tKERNEL\tCILIUM\tREQUIRES\tSTATUS CHECKS\tBEHAVIOURAL CHECKS")
	for _, o := range tuning.Options() {
		var req []string
		for _, n := range o.Requires {
			s := make([]string, len(n.AnyOf))
			for i, k := range n.AnyOf {
				s[i] = string(k)
			}
			r := strings.Join(s, "|")
			if len(n.OrValues) > 0 {
				r += "(or values)"
			}
			req = append(req, r)
		}
		extra := ""
		if o.NIC.NativeXDP {
			extra = " +native-XDP NIC"
		}
		if len(o.NIC.Drivers) > 0 {
			extra = " +NIC " + strings.Join(o.NIC.Drivers, "/")
		}
		if len(o.KernelConfig) > 0 {
			extra += " +" + strings.Join(o.KernelConfig, ",")
		}
		fmt.Fprintf(tw, "%s\t%s%s\t>=%s\t%s\t%s\t%s\n", o.Key, o.KernelRequirement(), extra, o.Since,
			dash(strings.Join(req, ", ")), strings.Join(o.StatusChecks, ", "), strings.Join(o.BehaviourChecks, ", "))
	}
	return tw.Flush()
}

func checkOutput(output string) error {
	if output != "json" && output != "table" {
		return badInput("-o %q: use -o json or -o table", output)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
