// Package clusterlock keeps two tunedcilium runs off one cluster: a run
// holds a coordination.k8s.io Lease (kube-system/tunedcilium, holder = run
// id) for as long as it uses the cluster, renewing it; another run finds it
// held and refuses, saying by whom and how to free it. A lease whose holder
// stopped renewing (a killed run) expires and is taken over.
package clusterlock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tunedcilium/tunedcilium/clusters"
)

// The lease every run takes.
const (
	Namespace = "kube-system"
	Name      = "tunedcilium"
)

// DefaultDuration is how long a lease stays valid without renewal.
const DefaultDuration = 2 * time.Minute

// HeldError says another run holds the cluster.
type HeldError struct {
	Holder   string
	Acquired time.Time
	Renewed  time.Time
	Duration time.Duration
	Now      time.Time
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("the cluster is in use by tunedcilium run %s (lease %s/%s, taken %s ago, renewed %s ago): "+
		"wait for that run to finish; if it died, its lease expires %s after its last renewal, or free it now with "+
		"`kubectl -n %s delete lease %s`",
		e.Holder, Namespace, Name, ago(e.Now, e.Acquired), ago(e.Now, e.Renewed), e.Duration, Namespace, Name)
}

// Lock is a held lease.
type Lock struct {
	client   kubernetes.Interface
	runID    string
	duration time.Duration
	log      io.Writer

	stop     context.CancelFunc
	done     chan struct{}
	mu       sync.Mutex
	renewErr error
}

// Options tune Acquire.
type Options struct {
	// Duration is the lease's validity without renewal (DefaultDuration when
	// zero); the lock renews it every Duration/3.
	Duration time.Duration
	// Log receives a line when an expired lease of another run is taken over.
	Log io.Writer
}

// Acquire takes the cluster's lease for runID, or returns a *HeldError when
// another live run holds it. The lease is renewed in the background until
// Release.
func Acquire(ctx context.Context, client kubernetes.Interface, runID string, opts Options) (*Lock, error) {
	if runID == "" {
		return nil, fmt.Errorf("acquire cluster lease: empty run id")
	}
	d := opts.Duration
	if d <= 0 {
		d = DefaultDuration
	}
	l := &Lock{client: client, runID: runID, duration: d, log: opts.Log}
	for attempt := 0; ; attempt++ {
		err := l.tryAcquire(ctx)
		if err == nil {
			break
		}
		if (apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)) && attempt < 5 {
			continue // raced with another run: look again
		}
		var held *HeldError
		if errors.As(err, &held) {
			return nil, err
		}
		return nil, fmt.Errorf("acquire cluster lease %s/%s: %w", Namespace, Name, err)
	}
	renewCtx, stop := context.WithCancel(context.Background())
	l.stop, l.done = stop, make(chan struct{})
	go l.renew(renewCtx)
	return l, nil
}

// Action is what Acquire does with the lease it found.
type Action int

const (
	Create   Action = iota // no lease: create it
	Renew                  // this run holds it already
	TakeOver               // empty or expired: take it
	Refuse                 // another live run holds it
)

// Decide says what to do with the lease found (nil: none) for runID at now.
// With runID "" (no run: `tunedcilium clean`), Refuse means a live run
// holds the cluster and anything else that none does.
func Decide(lease *coordinationv1.Lease, runID string, now time.Time) (Action, *HeldError) {
	if lease == nil {
		return Create, nil
	}
	holder := ""
	if lease.Spec.HolderIdentity != nil {
		holder = *lease.Spec.HolderIdentity
	}
	switch {
	case holder == "":
		return TakeOver, nil
	case holder == runID:
		return Renew, nil
	}
	renewed := leaseTime(lease.Spec.RenewTime)
	if renewed.IsZero() {
		renewed = leaseTime(lease.Spec.AcquireTime)
	}
	duration := time.Duration(0)
	if lease.Spec.LeaseDurationSeconds != nil {
		duration = time.Duration(*lease.Spec.LeaseDurationSeconds) * time.Second
	}
	if renewed.IsZero() || !now.Before(renewed.Add(duration)) {
		return TakeOver, nil
	}
	return Refuse, &HeldError{Holder: holder, Acquired: leaseTime(lease.Spec.AcquireTime), Renewed: renewed, Duration: duration, Now: now}
}

// AcquireCluster takes the lease of a cluster the run created, through the
// cluster's kubeconfig, as Acquire does.
func AcquireCluster(ctx context.Context, c clusters.Cluster, runID string, opts Options) (*Lock, error) {
	config, err := clientcmd.BuildConfigFromFlags("", c.KubeconfigPath())
	if err != nil {
		return nil, fmt.Errorf("cluster %s: kubeconfig %s: %w", c.Name(), c.KubeconfigPath(), err)
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", c.Name(), err)
	}
	l, err := Acquire(ctx, client, runID, opts)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", c.Name(), err)
	}
	return l, nil
}

// Holder says whether a live run holds the cluster a kubeconfig names: a
// *HeldError when a run holds its lease and renewed it within the lease's
// duration; nil when there is no lease, nobody holds it, or it expired.
// Calls to the API server give up after timeout (none when zero): an API
// that does not answer is an error.
func Holder(ctx context.Context, kubeconfig []byte, timeout time.Duration) (*HeldError, error) {
	config, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	config.Timeout = timeout
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	return holder(ctx, client, time.Now())
}

func holder(ctx context.Context, client kubernetes.Interface, now time.Time) (*HeldError, error) {
	lease, err := client.CoordinationV1().Leases(Namespace).Get(ctx, Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read cluster lease %s/%s: %w", Namespace, Name, err)
	}
	if action, held := Decide(lease, "", now); action == Refuse {
		return held, nil
	}
	return nil, nil
}

func (l *Lock) tryAcquire(ctx context.Context) error {
	leases := l.client.CoordinationV1().Leases(Namespace)
	existing, err := leases.Get(ctx, Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		existing, err = nil, nil
	}
	if err != nil {
		return err
	}
	now := time.Now()
	action, held := Decide(existing, l.runID, now)
	switch action {
	case Refuse:
		return held
	case Create:
		_, err := leases.Create(ctx, l.lease(nil, now), metav1.CreateOptions{})
		return err
	case TakeOver:
		if existing.Spec.HolderIdentity != nil && *existing.Spec.HolderIdentity != "" && l.log != nil {
			fmt.Fprintf(l.log, "taking over the expired cluster lease %s/%s of run %s\n", Namespace, Name, *existing.Spec.HolderIdentity)
		}
	}
	_, err = leases.Update(ctx, l.lease(existing, now), metav1.UpdateOptions{})
	return err
}

// lease returns the lease object this run writes (over existing, keeping its
// resourceVersion so that a concurrent change is a conflict).
func (l *Lock) lease(existing *coordinationv1.Lease, now time.Time) *coordinationv1.Lease {
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: Namespace}}
	if existing != nil {
		lease = existing.DeepCopy()
	}
	if lease.Labels == nil {
		lease.Labels = map[string]string{}
	}
	lease.Labels[clusters.LabelKey] = l.runID
	seconds := int32(l.duration / time.Second)
	t := metav1.NewMicroTime(now)
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != l.runID {
		lease.Spec.AcquireTime = &t
	}
	lease.Spec.HolderIdentity = &l.runID
	lease.Spec.LeaseDurationSeconds = &seconds
	lease.Spec.RenewTime = &t
	return lease
}

func (l *Lock) renew(ctx context.Context) {
	defer close(l.done)
	tick := time.NewTicker(l.duration / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		err := l.renewOnce(ctx)
		l.mu.Lock()
		l.renewErr = err
		l.mu.Unlock()
		if err != nil && l.log != nil && ctx.Err() == nil {
			fmt.Fprintf(l.log, "renew cluster lease %s/%s: %v\n", Namespace, Name, err)
		}
	}
}

func (l *Lock) renewOnce(ctx context.Context) error {
	leases := l.client.CoordinationV1().Leases(Namespace)
	existing, err := leases.Get(ctx, Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if h := existing.Spec.HolderIdentity; h == nil || *h != l.runID {
		return fmt.Errorf("lease lost: now held by %q", deref(h))
	}
	_, err = leases.Update(ctx, l.lease(existing, time.Now()), metav1.UpdateOptions{})
	return err
}

// Err is the last renewal error (nil while the lease is renewed fine).
func (l *Lock) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.renewErr
}

// Release stops renewing and deletes the lease if this run still holds it.
func (l *Lock) Release(ctx context.Context) error {
	l.stop()
	<-l.done
	leases := l.client.CoordinationV1().Leases(Namespace)
	existing, err := leases.Get(ctx, Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release cluster lease %s/%s: %w", Namespace, Name, err)
	}
	if h := existing.Spec.HolderIdentity; h == nil || *h != l.runID {
		return nil // someone else's now: not ours to delete
	}
	rv := existing.ResourceVersion
	err = leases.Delete(ctx, Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &rv}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("release cluster lease %s/%s: %w", Namespace, Name, err)
	}
	return nil
}

func leaseTime(t *metav1.MicroTime) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	return now.Sub(t).Round(time.Second).String()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
