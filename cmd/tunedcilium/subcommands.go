package main

import "github.com/spf13/cobra"

// subcommands lists the CLI's commands, one file each.
func subcommands() []*cobra.Command {
	return []*cobra.Command{
		optionsCmd(),
		planCmd(),
		matrixCmd(),
		imagesCmd(),
		cleanCmd(),
		inspectCmd(),
		ciMatrixCmd(),
		replayCmd(),
		hostAuditCmd(),
	}
}
