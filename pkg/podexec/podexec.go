// Package podexec runs a command in a container of a Kubernetes pod, as
// `kubectl exec` does (WebSocket, falling back to SPDY on servers that do not
// upgrade to WebSocket), capturing stdout and stderr separately.
package podexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
)

// Target is the container a command runs in.
type Target struct {
	Namespace string
	Pod       string
	// Container may be empty when the pod has a single container.
	Container string
}

func (t Target) String() string {
	s := t.Namespace + "/" + t.Pod
	if t.Container != "" {
		s += " (container " + t.Container + ")"
	}
	return s
}

// Result is what a command wrote and how it ended.
type Result struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
}

// ExitError is returned when the command ran and exited non-zero. The
// Result returned alongside it holds its output.
type ExitError struct {
	Target Target
	Argv   []string
	Code   int
	Stderr string
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("exec %q in pod %s: exit code %d", strings.Join(e.Argv, " "), e.Target, e.Code)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		if len(s) > 500 {
			s = s[:500] + "..."
		}
		msg += ": " + s
	}
	return msg
}

// Executor runs commands in pods of one cluster.
type Executor struct {
	config *rest.Config
	client kubernetes.Interface
}

// New returns an Executor for the cluster behind config.
func New(config *rest.Config) (*Executor, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client for %s: %w", config.Host, err)
	}
	return &Executor{config: config, client: client}, nil
}

// Run runs argv in the target container and waits for it to end or for ctx
// to be done. stdin may be nil. A command that ran and exited non-zero
// returns its Result and an *ExitError; any other error means the command
// could not be run (pod gone, container not running, API unreachable).
func (e *Executor) Run(ctx context.Context, t Target, argv []string, stdin io.Reader) (Result, error) {
	if len(argv) == 0 {
		return Result{}, fmt.Errorf("exec in pod %s: empty command", t)
	}
	req := e.client.CoreV1().RESTClient().Post().
		Resource("pods").Namespace(t.Namespace).Name(t.Pod).
		SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: t.Container,
			Command:   argv,
			Stdin:     stdin != nil,
			Stdout:    true,
			Stderr:    true,
		}, scheme.ParameterCodec)

	exec, err := newExecutor(e.config, req.URL())
	if err != nil {
		return Result{}, fmt.Errorf("exec in pod %s: %w", t, err)
	}
	var stdout, stderr bytes.Buffer
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: &stdout, Stderr: &stderr})
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	if err == nil {
		return res, nil
	}
	var exitErr utilexec.ExitError
	if errors.As(err, &exitErr) && exitErr.Exited() {
		res.ExitCode = exitErr.ExitStatus()
		return res, &ExitError{Target: t, Argv: argv, Code: res.ExitCode, Stderr: stderr.String()}
	}
	if ctx.Err() != nil {
		return res, fmt.Errorf("exec %q in pod %s: %w", strings.Join(argv, " "), t, ctx.Err())
	}
	return res, fmt.Errorf("exec %q in pod %s: %w", strings.Join(argv, " "), t, err)
}

// Output runs argv and returns its stdout; a non-zero exit is an error that
// carries stderr.
func (e *Executor) Output(ctx context.Context, t Target, argv ...string) ([]byte, error) {
	res, err := e.Run(ctx, t, argv, nil)
	return res.Stdout, err
}

func newExecutor(config *rest.Config, u *url.URL) (remotecommand.Executor, error) {
	spdy, err := remotecommand.NewSPDYExecutor(config, "POST", u)
	if err != nil {
		return nil, fmt.Errorf("spdy executor: %w", err)
	}
	// WebSocket requests must be GET (RFC 6455 4.1); this is what kubectl does.
	ws, err := remotecommand.NewWebSocketExecutor(config, "GET", u.String())
	if err != nil {
		return nil, fmt.Errorf("websocket executor: %w", err)
	}
	return remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
}
