package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/fedgen/fedgen/reconciler"
)

// leaseTimes are leader election's timings (client-go's, as flags).
type leaseTimes struct {
	duration, renewDeadline, retryPeriod time.Duration
}

func (l *leaseTimes) bind(f *pflag.FlagSet) {
	f.DurationVar(&l.duration, "leader-election-lease-duration", 15*time.Second, "how long a non-leader waits before taking an unrenewed Lease")
	f.DurationVar(&l.renewDeadline, "leader-election-renew-deadline", 10*time.Second, "how long the leader keeps trying to renew before it gives up; also how old the last renewal may be before it stops writing")
	f.DurationVar(&l.retryPeriod, "leader-election-retry-period", 2*time.Second, "how often the Lease is tried")
}

// runElected runs the reconciler only while this replica holds the Lease.
// Losing the Lease cancels the loop's context, and every write is fenced
// on the last successful renewal (see leaseFence), so a deposed leader
// never commits or writes status next to the new one.
func (o *runOptions) runElected(ctx context.Context, cfg *rest.Config, log *slog.Logger, rec *reconciler.Reconciler, fence *leaseFence) error {
	ns := o.leaderNamespace
	if ns == "" {
		ns = o.in.linkNamespace
	}
	host, _ := os.Hostname()
	id := fmt.Sprintf("%s_%d", host, os.Getpid())
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	lock := &fencedLock{
		Interface: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: ns, Name: o.leaderID},
			Client:     client.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: id},
		},
		fence: fence,
	}
	var runErr error
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   o.lease.duration,
		RenewDeadline:   o.lease.renewDeadline,
		RetryPeriod:     o.lease.retryPeriod,
		ReleaseOnCancel: true,
		Name:            o.leaderID,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				log.Info("became the leader", "lease", ns+"/"+o.leaderID, "identity", id)
				runErr = rec.Run(ctx)
			},
			OnStoppedLeading: func() {
				fence.revoke()
				log.Info("stopped leading", "lease", ns+"/"+o.leaderID, "identity", id)
				cancel()
			},
			OnNewLeader: func(identity string) {
				if identity != id {
					log.Info("another replica leads", "leader", identity)
				}
			},
		},
	})
	if parent.Err() == nil {
		// Lost the Lease while still wanted: exit non-zero, as
		// controller-runtime does, and let the Deployment restart us as
		// a follower.
		return errors.New("leader election lost")
	}
	return runErr
}

// leaseFence says whether this replica may still write: only while its
// last successful Lease renewal is younger than the renew deadline.
// Another replica takes the Lease only a whole lease duration after the
// last renewal it saw, so a replica that was paused past the deadline
// (and has not yet noticed it lost) stops writing before anyone else
// starts.
type leaseFence struct {
	valid time.Duration

	mu      sync.Mutex
	renewed time.Time
	revoked bool
}

func (f *leaseFence) renew(at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.renewed = at
}

func (f *leaseFence) revoke() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = true
}

// held reports whether this replica has held the Lease at all.
func (f *leaseFence) held() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.renewed.IsZero() || f.revoked
}

func (f *leaseFence) check() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.revoked:
		return errors.New("the Lease was lost")
	case f.renewed.IsZero():
		return errors.New("the Lease is not held")
	case time.Since(f.renewed) >= f.valid:
		return fmt.Errorf("the Lease was last renewed %s ago", time.Since(f.renewed).Round(time.Millisecond))
	}
	return nil
}

// fencedLock records each successful write of the Lease (acquire and
// renew) in the fence. The time is taken before the request: the Lease's
// renewTime is no older than that.
type fencedLock struct {
	resourcelock.Interface
	fence *leaseFence
}

func (l *fencedLock) Create(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	at := time.Now()
	err := l.Interface.Create(ctx, ler)
	if err == nil {
		l.fence.renew(at)
	}
	return err
}

func (l *fencedLock) Update(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	at := time.Now()
	err := l.Interface.Update(ctx, ler)
	if err == nil && ler.HolderIdentity == l.Identity() {
		l.fence.renew(at)
	}
	return err
}
