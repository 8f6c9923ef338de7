package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
)

// ErrNoSuchNode says the namespace, process or container to open does not
// exist.
var ErrNoSuchNode = errors.New("no such node")

// OpenContainer opens the network namespace of a running Docker container
// (a kind or k3d node), found by name or id through the Docker API
// (DOCKER_HOST and friends are honoured). It enters the namespace through
// the container's PID when it can (root, same machine), and otherwise falls
// back to running the node's own tools with docker exec.
func OpenContainer(ctx context.Context, name string) (*Node, error) {
	cli, pid, id, err := inspectContainer(ctx, name)
	if err != nil {
		return nil, err
	}
	if n, err := OpenPID(pid); err == nil {
		n.name = "container " + name
		n.closers = append(n.closers, cli.Close)
		return n, nil
	}
	n := Via("container "+name, DockerExec{Client: cli, Container: id})
	n.closers = append(n.closers, cli.Close)
	return n, nil
}

// OpenContainerExec opens a running Docker container as a node reached only
// through docker exec, whatever this process's privileges.
func OpenContainerExec(ctx context.Context, name string) (*Node, error) {
	cli, _, id, err := inspectContainer(ctx, name)
	if err != nil {
		return nil, err
	}
	n := Via("container "+name, DockerExec{Client: cli, Container: id})
	n.closers = append(n.closers, cli.Close)
	return n, nil
}

func inspectContainer(ctx context.Context, name string) (*client.Client, int, string, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, 0, "", fmt.Errorf("docker client: %w", err)
	}
	info, err := cli.ContainerInspect(ctx, name)
	switch {
	case client.IsErrNotFound(err):
		cli.Close()
		return nil, 0, "", fmt.Errorf("container %q: %w (list them with `docker ps`)", name, ErrNoSuchNode)
	case err != nil:
		cli.Close()
		return nil, 0, "", fmt.Errorf("inspect container %q: %w (is the Docker daemon running and DOCKER_HOST right?)", name, err)
	case info.State == nil || !info.State.Running || info.State.Pid == 0:
		cli.Close()
		return nil, 0, "", fmt.Errorf("container %q is not running: %w (start it first)", name, ErrNoSuchNode)
	}
	return cli, info.State.Pid, info.ID, nil
}

// DockerExec runs commands in a container with the Docker API's exec, as
// root, the way `docker exec` does.
type DockerExec struct {
	Client    *client.Client
	Container string
}

func (d DockerExec) Run(ctx context.Context, argv []string) ([]byte, error) {
	created, err := d.Client.ContainerExecCreate(ctx, d.Container, container.ExecOptions{
		Cmd: argv, AttachStdout: true, AttachStderr: true, User: "0",
	})
	if err != nil {
		return nil, fmt.Errorf("docker exec %s in %s: %w", argv[0], d.Container, err)
	}
	attached, err := d.Client.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return nil, fmt.Errorf("docker exec %s in %s: attach: %w", argv[0], d.Container, err)
	}
	defer attached.Close()
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, attached.Reader); err != nil {
		return nil, fmt.Errorf("docker exec %s in %s: read output: %w", argv[0], d.Container, err)
	}
	done, err := d.Client.ContainerExecInspect(ctx, created.ID)
	if err != nil {
		return nil, fmt.Errorf("docker exec %s in %s: exit status: %w", argv[0], d.Container, err)
	}
	if done.ExitCode != 0 {
		out := stdout.String() + stderr.String()
		if (done.ExitCode == 126 || done.ExitCode == 127) &&
			(strings.Contains(out, "executable file not found") || strings.Contains(out, "no such file or directory")) {
			return nil, fmt.Errorf("%s: %w", argv[0], ErrCommandNotFound)
		}
		return stdout.Bytes(), &CommandError{Argv: argv, ExitCode: done.ExitCode, Stderr: stderr.String()}
	}
	return stdout.Bytes(), nil
}
