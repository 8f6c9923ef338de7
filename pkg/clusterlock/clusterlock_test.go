package clusterlock

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/clientcmd"
)

func lease(holder string, acquired, renewed time.Time, seconds int32) *coordinationv1.Lease {
	a, r := metav1.NewMicroTime(acquired), metav1.NewMicroTime(renewed)
	return &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{
		HolderIdentity: &holder, AcquireTime: &a, RenewTime: &r, LeaseDurationSeconds: &seconds,
	}}
}

func TestDecide(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		runID string
		lease *coordinationv1.Lease
		want  Action
	}{
		{"no lease", "run-a", nil, Create},
		{"ours", "run-a", lease("run-a", now.Add(-time.Hour), now.Add(-10*time.Second), 120), Renew},
		{"empty holder", "run-a", lease("", now.Add(-time.Hour), now.Add(-10*time.Second), 120), TakeOver},
		{"other run, live", "run-a", lease("run-b", now.Add(-5*time.Minute), now.Add(-30*time.Second), 120), Refuse},
		{"other run, expired", "run-a", lease("run-b", now.Add(-time.Hour), now.Add(-121*time.Second), 120), TakeOver},
		{"other run, expires exactly now", "run-a", lease("run-b", now.Add(-time.Hour), now.Add(-120*time.Second), 120), TakeOver},
		// `tunedcilium clean` asks with no run id: only a live holder
		// keeps it off the cluster.
		{"no run, no lease", "", nil, Create},
		{"no run, empty holder", "", lease("", now.Add(-time.Hour), now.Add(-10*time.Second), 120), TakeOver},
		{"no run, live run", "", lease("run-b", now.Add(-5*time.Minute), now.Add(-30*time.Second), 120), Refuse},
		{"no run, expired run", "", lease("run-b", now.Add(-time.Hour), now.Add(-121*time.Second), 120), TakeOver},
	}
	for _, c := range cases {
		got, held := Decide(c.lease, c.runID, now)
		if got != c.want {
			t.Errorf("%s: Decide = %v, want %v", c.name, got, c.want)
		}
		if (got == Refuse) != (held != nil) {
			t.Errorf("%s: HeldError = %v for action %v", c.name, held, got)
		}
	}
}

// TestHolder reads the lease through the API: a live holder is named, an
// expired lease or none is no holder, and an API error is an error.
func TestHolder(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	stored := func(l *coordinationv1.Lease) *coordinationv1.Lease {
		l.Name, l.Namespace = Name, Namespace
		return l
	}
	live := fake.NewClientset(stored(lease("20261124-1155-abcd", now.Add(-5*time.Minute), now.Add(-12*time.Second), 120)))
	held, err := holder(ctx, live, now)
	if err != nil || held == nil || held.Holder != "20261124-1155-abcd" || now.Sub(held.Renewed).Round(time.Second) != 12*time.Second {
		t.Errorf("live lease: holder = %+v, %v; want run 20261124-1155-abcd renewed 12s ago", held, err)
	}
	expired := fake.NewClientset(stored(lease("20261124-1155-abcd", now.Add(-time.Hour), now.Add(-3*time.Minute), 120)))
	if held, err := holder(ctx, expired, now); err != nil || held != nil {
		t.Errorf("expired lease: holder = %+v, %v; want none", held, err)
	}
	if held, err := holder(ctx, fake.NewClientset(), now); err != nil || held != nil {
		t.Errorf("no lease: holder = %+v, %v; want none", held, err)
	}
	broken := fake.NewClientset()
	broken.PrependReactor("get", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("connection refused")
	})
	if _, err := holder(ctx, broken, now); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("API error: %v, want it returned", err)
	}
}

// TestHolderOfAnUnreadableKubeconfig: clean treats it as a leftover, so the
// error must come back (not a nil holder and nil error).
func TestHolderOfAnUnreadableKubeconfig(t *testing.T) {
	if _, err := Holder(context.Background(), []byte("not: [a kubeconfig"), time.Second); err == nil {
		t.Error("a broken kubeconfig must be an error")
	}
}

func TestHeldErrorSaysWhoAndHowToFreeIt(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	_, held := Decide(lease("20261124-1155-abcd", now.Add(-5*time.Minute), now.Add(-30*time.Second), 120), "run-a", now)
	msg := held.Error()
	for _, want := range []string{
		"in use by tunedcilium run 20261124-1155-abcd",
		"lease kube-system/tunedcilium",
		"taken 5m0s ago, renewed 30s ago",
		"expires 2m0s after its last renewal",
		"kubectl -n kube-system delete lease tunedcilium",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
}

// TestAcquireOnRealCluster takes, renews, refuses and releases the lease on
// the cluster of TUNEDCILIUM_KUBECONFIG (any cluster: only the lease
// kube-system/tunedcilium is touched, and removed at the end).
func TestAcquireOnRealCluster(t *testing.T) {
	kubeconfig := os.Getenv("TUNEDCILIUM_KUBECONFIG")
	if kubeconfig == "" {
		t.Skip("needs a cluster: set TUNEDCILIUM_KUBECONFIG")
	}
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first, err := Acquire(ctx, client, "test-run-a", Options{Duration: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(ctx, client, "test-run-b", Options{Duration: 3 * time.Second})
	var held *HeldError
	if !errors.As(err, &held) || held.Holder != "test-run-a" {
		t.Fatalf("second run: err = %v, want HeldError by test-run-a", err)
	}
	time.Sleep(4 * time.Second) // longer than the lease: renewal must keep it
	if _, err := Acquire(ctx, client, "test-run-b", Options{Duration: 3 * time.Second}); !errors.As(err, &held) {
		t.Fatalf("after renewal period: err = %v, want HeldError", err)
	}
	if err := first.Err(); err != nil {
		t.Fatalf("renewal: %v", err)
	}
	if err := first.Release(ctx); err != nil {
		t.Fatal(err)
	}
	second, err := Acquire(ctx, client, "test-run-b", Options{})
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	if err := second.Release(ctx); err != nil {
		t.Fatal(err)
	}
}
