// Package install installs, upgrades and uninstalls Cilium with the Helm SDK
// and waits until it is really ready: the agent DaemonSet rolled out on every
// node, the operator available, and every agent healthy by its own decoded
// status (`cilium-dbg status -o json`), printing what it waits for.
package install

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/tunedcilium/tunedcilium/pkg/chart"
	"github.com/tunedcilium/tunedcilium/pkg/podexec"
	"github.com/tunedcilium/tunedcilium/pkg/waitfor"
)

// Defaults of a Cilium installation.
const (
	DefaultNamespace   = "kube-system"
	DefaultRelease     = "cilium"
	agentDaemonSet     = "cilium"
	agentContainer     = "cilium-agent"
	agentSelector      = "k8s-app=cilium"
	operatorDeployment = "cilium-operator"
	operatorSelector   = "io.cilium/app=operator"
)

// Cilium is the Cilium installation on one cluster.
type Cilium struct {
	Kubeconfig string
	Context    string
	Namespace  string
	Release    string
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// HelmTimeout bounds Helm's own hooks and deletions (5m when zero).
	HelmTimeout time.Duration

	config *rest.Config
	client kubernetes.Interface
	exec   *podexec.Executor
}

// New opens the cluster behind a kubeconfig (and context, "" for the
// current one) for installing Cilium into kube-system as release "cilium".
func New(kubeconfig, kubeContext string, log io.Writer) (*Cilium, error) {
	c := &Cilium{Kubeconfig: kubeconfig, Context: kubeContext, Namespace: DefaultNamespace, Release: DefaultRelease, Log: log}
	config, err := c.flags().ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client for %s: %w", config.Host, err)
	}
	exec, err := podexec.New(config)
	if err != nil {
		return nil, err
	}
	c.config, c.client, c.exec = config, client, exec
	return c, nil
}

func (c *Cilium) String() string {
	return fmt.Sprintf("%s/%s on %s", c.Namespace, c.Release, c.config.Host)
}

func (c *Cilium) flags() *genericclioptions.ConfigFlags {
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &c.Kubeconfig
	if c.Context != "" {
		flags.Context = &c.Context
	}
	ns := c.namespace()
	flags.Namespace = &ns
	return flags
}

func (c *Cilium) namespace() string {
	if c.Namespace == "" {
		return DefaultNamespace
	}
	return c.Namespace
}

func (c *Cilium) helmTimeout() time.Duration {
	if c.HelmTimeout <= 0 {
		return 5 * time.Minute
	}
	return c.HelmTimeout
}

// helm returns a Helm action configuration on the cluster. Helm reads the
// server's version through discovery (Configuration.getCapabilities) for
// every non-client-only action, so the templates see the real
// .Capabilities.KubeVersion, not the SDK's compiled-in default.
func (c *Cilium) helm() (*action.Configuration, error) {
	cfg := new(action.Configuration)
	if err := cfg.Init(c.flags(), c.namespace(), "secret", func(string, ...any) {}); err != nil {
		return nil, fmt.Errorf("helm on %s: %w", c.config.Host, err)
	}
	return cfg, nil
}

func (c *Cilium) printf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, format+"\n", args...)
	}
}

// Installed reports whether the release exists (in any state).
func (c *Cilium) Installed() (bool, error) {
	cfg, err := c.helm()
	if err != nil {
		return false, err
	}
	_, err = action.NewHistory(cfg).Run(c.Release)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, driver.ErrReleaseNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("helm history %s: %w", c.Release, err)
	}
}

// Install installs the chart at chartPath with values. It does not wait:
// WaitReady does, with progress.
func (c *Cilium) Install(ctx context.Context, chartPath string, values map[string]any) (*release.Release, error) {
	ch, err := chart.Load(chartPath)
	if err != nil {
		return nil, err
	}
	cfg, err := c.helm()
	if err != nil {
		return nil, err
	}
	install := action.NewInstall(cfg)
	install.ReleaseName = c.Release
	install.Namespace = c.namespace()
	install.Timeout = c.helmTimeout()
	c.printf("installing Cilium chart %s (%s) as %s", ch.Metadata.Version, chartPath, c)
	rel, err := install.RunWithContext(ctx, ch, values)
	if err != nil {
		return nil, fmt.Errorf("install cilium %s on %s: %w", ch.Metadata.Version, c.config.Host, err)
	}
	return rel, nil
}

// Upgrade upgrades the release to the chart and values (the values replace
// the previous ones; nothing is reused).
func (c *Cilium) Upgrade(ctx context.Context, chartPath string, values map[string]any) (*release.Release, error) {
	ch, err := chart.Load(chartPath)
	if err != nil {
		return nil, err
	}
	cfg, err := c.helm()
	if err != nil {
		return nil, err
	}
	upgrade := action.NewUpgrade(cfg)
	upgrade.Namespace = c.namespace()
	upgrade.Timeout = c.helmTimeout()
	upgrade.ResetValues = true
	c.printf("upgrading %s to Cilium chart %s (%s)", c, ch.Metadata.Version, chartPath)
	rel, err := upgrade.RunWithContext(ctx, c.Release, ch, values)
	if err != nil {
		return nil, fmt.Errorf("upgrade cilium on %s to %s: %w", c.config.Host, ch.Metadata.Version, err)
	}
	return rel, nil
}

// Apply installs the release, or upgrades it when it exists.
func (c *Cilium) Apply(ctx context.Context, chartPath string, values map[string]any) (*release.Release, error) {
	installed, err := c.Installed()
	if err != nil {
		return nil, err
	}
	if installed {
		return c.Upgrade(ctx, chartPath, values)
	}
	return c.Install(ctx, chartPath, values)
}

// Uninstall removes the release, then waits, with progress, until the agent
// and operator pods are gone. A release that does not exist is not an error.
// (Helm's own wait is not used: it prints nothing while it waits, and it
// waits for every object, including the chart's cilium-secrets namespace.)
func (c *Cilium) Uninstall(ctx context.Context) error {
	cfg, err := c.helm()
	if err != nil {
		return err
	}
	uninstall := action.NewUninstall(cfg)
	uninstall.IgnoreNotFound = true
	uninstall.Timeout = c.helmTimeout()
	c.printf("uninstalling %s", c)
	done := make(chan error, 1)
	go func() {
		_, err := uninstall.Run(c.Release)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("uninstall cilium from %s: %w", c.config.Host, err)
		}
	case <-ctx.Done():
		return fmt.Errorf("uninstall cilium from %s: %w (helm goes on in the background until its %s timeout)", c.config.Host, ctx.Err(), uninstall.Timeout)
	}
	w := waitfor.Wait{What: "cilium pods to be gone", Timeout: c.helmTimeout(), Log: c.Log}
	if err := w.Until(ctx, c.checkPodsGone); err != nil {
		return fmt.Errorf("uninstall cilium from %s: %w", c.config.Host, err)
	}
	return nil
}

func (c *Cilium) checkPodsGone(ctx context.Context) (bool, string, error) {
	var left []string
	for _, selector := range []string{agentSelector, operatorSelector} {
		pods, err := c.client.CoreV1().Pods(c.namespace()).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, "", err
		}
		for _, p := range pods.Items {
			left = append(left, p.Name)
		}
	}
	return len(left) == 0, fmt.Sprintf("%d left: %s", len(left), strings.Join(left, ", ")), nil
}
