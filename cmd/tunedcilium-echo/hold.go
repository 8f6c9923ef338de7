package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/tunedcilium/tunedcilium/pkg/traffic/hold"
)

// holdCmds are the long-lived connection modes (pkg/traffic/hold), used
// across a Cilium upgrade:
//
//	tunedcilium-echo hold-serve --listen :8081            echo every line back for as long as a connection lives
//	tunedcilium-echo hold ADDR... --count N --status FILE  hold N connections per address, ping them, write the status JSON
func holdCmds(log io.Writer) []*cobra.Command {
	return []*cobra.Command{holdServeCmd(log), holdCmd(log)}
}

func holdServeCmd(log io.Writer) *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "hold-serve",
		Short: "Echo every line each connection sends, for as long as it lives (the server of `hold`)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return badInput("hold-serve --listen %q: %v (give HOST:PORT or :PORT that is free)", listen, err)
			}
			fmt.Fprintf(log, "tunedcilium-echo: holding connections on %s\n", ln.Addr())
			return hold.Serve(cmd.Context(), ln)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", ":8081", "address to listen on")
	return cmd
}

func holdCmd(log io.Writer) *cobra.Command {
	var (
		count             int
		interval, timeout time.Duration
		status            string
	)
	cmd := &cobra.Command{
		Use:   "hold ADDR [ADDR...]",
		Short: "Open --count connections to each hold server once, never reconnect, ping each every --interval, and write which broke to --status",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return badInput("hold: give at least one address, HOST:PORT")
			}
			for _, a := range args {
				if err := exactlyOneAddr(cmd, []string{a}); err != nil {
					return err
				}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if count < 1 {
				return badInput("hold --count %d: give at least 1", count)
			}
			if status == "" {
				return badInput("hold --status is empty: give the file the status JSON goes to")
			}
			write := func(st hold.Status) {
				if err := writeStatus(status, st); err != nil {
					fmt.Fprintf(log, "tunedcilium-echo: %v\n", err)
				}
			}
			opts := hold.Options{Targets: args, Count: count, Interval: interval, Timeout: timeout}
			fmt.Fprintf(log, "tunedcilium-echo: holding %d connections to each of %v, status in %s\n", count, args, status)
			return hold.Hold(cmd.Context(), (&net.Dialer{}).DialContext, opts, write)
		},
	}
	cmd.Flags().IntVar(&count, "count", 10, "connections to hold per address")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "time between pings of one connection")
	cmd.Flags().DurationVar(&timeout, "timeout", 15*time.Second, "longest wait for an echo before the connection counts as broken")
	cmd.Flags().StringVar(&status, "status", "/tmp/hold-status.json", "file the status JSON is written to (atomically) after every round")
	return cmd
}

// writeStatus replaces file with the status, atomically: a reader never
// sees half a file.
func writeStatus(file string, st hold.Status) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".hold-status-*")
	if err != nil {
		return fmt.Errorf("write status %s: %w", file, err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write status %s: %w", file, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), file)
}
