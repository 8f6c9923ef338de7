package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Runner runs a command inside a node and returns its standard output. A
// command that runs but fails returns a *CommandError carrying its exit
// code and standard error; a command that is not installed in the node
// returns an error matching ErrCommandNotFound.
type Runner interface {
	Run(ctx context.Context, argv []string) ([]byte, error)
}

// ErrCommandNotFound says the node has no such command.
var ErrCommandNotFound = errors.New("command not found in the node")

// CommandError is a command that ran in the node and failed.
type CommandError struct {
	Argv     []string
	ExitCode int
	Stderr   string
}

func (e *CommandError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return fmt.Sprintf("%s: exit status %d: %s", strings.Join(e.Argv, " "), e.ExitCode, msg)
}

// nsRunner runs this machine's binaries forked from a thread inside the
// node's namespace.
type nsRunner struct{ node *Node }

func (r nsRunner) Run(ctx context.Context, argv []string) ([]byte, error) {
	if _, err := exec.LookPath(argv[0]); err != nil {
		return nil, fmt.Errorf("%s: %w (on this machine, which runs it inside %s)", argv[0], ErrCommandNotFound, r.node.name)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	return runCmd(cmd, argv, func() error { return r.node.Do(cmd.Start) })
}

// NetNSExec runs commands with `ip netns exec NAME`: the exec path for a
// named namespace, which tests compare with the netlink path.
type NetNSExec string

func (name NetNSExec) Run(ctx context.Context, argv []string) ([]byte, error) {
	if _, err := exec.LookPath(argv[0]); err != nil {
		return nil, fmt.Errorf("%s: %w", argv[0], ErrCommandNotFound)
	}
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", string(name)}, argv...)...)
	return runCmd(cmd, argv, cmd.Start)
}

// runCmd starts cmd with start and collects stdout, or a CommandError.
func runCmd(cmd *exec.Cmd, argv []string, start func() error) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	if err := cmd.Wait(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return stdout.Bytes(), &CommandError{Argv: argv, ExitCode: exitErr.ExitCode(), Stderr: stderr.String()}
		}
		return nil, fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return stdout.Bytes(), nil
}
