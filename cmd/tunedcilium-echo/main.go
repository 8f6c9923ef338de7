// Command tunedcilium-echo is the source-IP echo server and its clients,
// small and static (CGO_ENABLED=0) so the air-gapped test images can carry
// it into pods:
//
//	tunedcilium-echo serve --listen :8080    answer each TCP connection (and HTTP GET) with {"peer":"IP:PORT"}
//	tunedcilium-echo ask ADDR [--count N]    print {"local","seen","preserved"} per connection, one JSON line each
//	tunedcilium-echo burst ADDR --count N    open N short connections (conntrack deltas), print a JSON summary
//	tunedcilium-echo hold-serve / hold       hold connections open across an upgrade, report which broke (hold.go)
//
// The logic lives in pkg/traffic/echo. Exit codes: 0 done, 1 a connection
// failed, 2 bad input.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tunedcilium/tunedcilium/pkg/traffic/echo"
)

type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func badInput(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:           "tunedcilium-echo",
		Short:         "Source-IP echo server and clients for tunedcilium's checks",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return badInput("%v", err) })
	root.AddCommand(serveCmd(stderr), askCmd(), burstCmd())
	root.AddCommand(holdCmds(stderr)...)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "tunedcilium-echo:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if strings.HasPrefix(err.Error(), "unknown command") {
		return 2
	}
	return 1
}

func serveCmd(log io.Writer) *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: `Answer every TCP connection (and HTTP GET) with {"peer":"IP:PORT"}, the address seen`,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return badInput("serve --listen %q: %v (give HOST:PORT or :PORT that is free)", listen, err)
			}
			fmt.Fprintf(log, "tunedcilium-echo: serving on %s\n", ln.Addr())
			return echo.Serve(cmd.Context(), ln)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", ":8080", "address to listen on")
	return cmd
}

func askCmd() *cobra.Command {
	var count int
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "ask ADDR",
		Short: "Connect to an echo server; print the local address, the one it saw, and whether the IP was preserved",
		Args:  exactlyOneAddr,
		RunE: func(cmd *cobra.Command, args []string) error {
			if count < 1 {
				return badInput("ask --count %d: give at least 1", count)
			}
			dialer := &net.Dialer{}
			enc := json.NewEncoder(cmd.OutOrStdout())
			for range count {
				ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
				obs, err := echo.Ask(ctx, dialer.DialContext, args[0])
				cancel()
				if err != nil {
					return err
				}
				if err := enc.Encode(obs); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&count, "count", 1, "connections to make, one JSON line each")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "time limit per connection")
	return cmd
}

func burstCmd() *cobra.Command {
	var count int
	cmd := &cobra.Command{
		Use:   "burst ADDR",
		Short: "Open N short TCP connections to an echo server, one after another, and print a JSON summary",
		Args:  exactlyOneAddr,
		RunE: func(cmd *cobra.Command, args []string) error {
			if count < 1 {
				return badInput("burst --count %d: give at least 1", count)
			}
			res, err := echo.Burst(cmd.Context(), (&net.Dialer{}).DialContext, args[0], count)
			if encErr := json.NewEncoder(cmd.OutOrStdout()).Encode(res); encErr != nil {
				return encErr
			}
			if err != nil {
				return err
			}
			if res.Failed > 0 {
				return fmt.Errorf("%d of %d connections failed, first: %s", res.Failed, count, res.FirstError)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&count, "count", 200, "connections to open")
	return cmd
}

func exactlyOneAddr(_ *cobra.Command, args []string) error {
	if len(args) != 1 {
		return badInput("give one address, HOST:PORT (got %d arguments)", len(args))
	}
	if _, _, err := net.SplitHostPort(args[0]); err != nil {
		return badInput("address %q: %v (give HOST:PORT)", args[0], err)
	}
	return nil
}
