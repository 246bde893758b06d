package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"time"

	"github.com/fedgen/fedgen/internal/rig/gitserver"
)

// Fault kinds.
const (
	faultRemoteAPIServer = "remote apiserver killed"
	faultLocalAPIServer  = "local apiserver restarted"
	faultGitDown         = "Git server down"
	faultPushRejected    = "pushes rejected"
	faultCompetitor      = "competing writer"
	faultLeaderKill      = "leader SIGKILLed"
	faultLeaderStop      = "leader SIGSTOPped"
	faultFluxDown        = "Flux stopped"
)

// faultKinds are the kinds in the order of the report; a window draws
// from them.
var faultKinds = []string{
	faultRemoteAPIServer, faultLocalAPIServer, faultGitDown, faultPushRejected,
	faultCompetitor, faultLeaderKill, faultLeaderStop, faultFluxDown,
}

// fault is one planned fault: what, when within its window, for how long,
// and the draws it needs.
type fault struct {
	kind   string
	offset time.Duration
	length time.Duration
	arg    uint64
}

// between draws a duration in [lo, hi], both scaled, at least floor.
func between(rng *rand.Rand, lo, hi time.Duration, scale float64, floor time.Duration) time.Duration {
	l, h := time.Duration(float64(lo)*scale), time.Duration(float64(hi)*scale)
	return max(floor, l+time.Duration(rng.Int64N(int64(h-l)+1)))
}

// planWindow draws one fault window: one to three faults of different
// kinds, starting within the first half of the longest, so they overlap.
func planWindow(rng *rand.Rand, scale float64) []fault {
	kinds := append([]string(nil), faultKinds...)
	rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	n := 1 + rng.IntN(3)
	var out []fault
	longest := time.Duration(0)
	for _, k := range kinds[:n] {
		f := fault{kind: k, arg: rng.Uint64()}
		switch k {
		case faultRemoteAPIServer:
			f.length = between(rng, 10*time.Second, 90*time.Second, scale, 3*time.Second)
		case faultLocalAPIServer:
			f.length = between(rng, 2*time.Second, 10*time.Second, 1, 2*time.Second)
		case faultGitDown:
			f.length = between(rng, 30*time.Second, 3*time.Minute, scale, 3*time.Second)
		case faultCompetitor:
			f.length = between(rng, 10*time.Second, 60*time.Second, scale, 5*time.Second)
		case faultLeaderStop:
			// Longer than the lease (4 s): another replica takes over.
			f.length = between(rng, 6*time.Second, 20*time.Second, 1, 6*time.Second)
		case faultFluxDown:
			f.length = between(rng, 10*time.Second, 90*time.Second, scale, 4*time.Second)
		}
		longest = max(longest, f.length)
		out = append(out, f)
	}
	for i := range out {
		out[i].offset = time.Duration(rng.Int64N(int64(longest/2) + 1))
	}
	return out
}

// runWindow injects the window's faults, each at its offset, and returns
// once every one was reverted; it counts the injected ones by kind.
func (w *world) runWindow(ctx context.Context, faults []fault, injected map[string]int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, f := range faults {
		wg.Go(func() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(f.offset):
			}
			desc, revert, err := w.inject(ctx, f)
			if err != nil {
				w.log.printf("fault %s: not injected: %v", f.kind, err)
				return
			}
			mu.Lock()
			injected[f.kind]++
			mu.Unlock()
			w.log.progress("fault %s: %s", f.kind, desc)
			if revert == nil {
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(f.length):
			}
			// Reverted even when the run is cancelled: the fleet is
			// stopped cleanly either way.
			if err := revert(context.WithoutCancel(ctx)); err != nil {
				w.log.progress("fault %s: reverting: %v", f.kind, err)
				return
			}
			w.log.printf("fault %s: reverted", f.kind)
		})
	}
	wg.Wait()
}

// inject starts one fault; revert (nil for instant faults) ends it.
func (w *world) inject(ctx context.Context, f fault) (string, func(context.Context) error, error) {
	switch f.kind {
	case faultRemoteAPIServer:
		c := w.cluster(w.remotes()[f.arg%uint64(len(w.remotes()))])
		if f.arg>>32%2 == 0 {
			c.KillAPIServer()
		} else {
			c.StopAPIServer()
		}
		return fmt.Sprintf("%s down for %s", c.Name(), f.length.Round(time.Second)),
			func(ctx context.Context) error { return retry(ctx, c.StartAPIServer) }, nil
	case faultLocalAPIServer:
		c := w.cluster(localCluster)
		c.StopAPIServer()
		return fmt.Sprintf("down for %s", f.length.Round(time.Second)),
			func(ctx context.Context) error { return retry(ctx, c.StartAPIServer) }, nil
	case faultGitDown:
		if err := w.git().Stop(); err != nil {
			return "", nil, err
		}
		return fmt.Sprintf("for %s", f.length.Round(time.Second)), func(context.Context) error { return w.git().Start() }, nil
	case faultPushRejected:
		n := 1 + int(f.arg%5)
		w.git().RejectNextPushes(n)
		return fmt.Sprintf("the next %d", n), nil, nil
	case faultCompetitor:
		stop := w.competeFor(f.length, f.arg)
		return fmt.Sprintf("pushing elsewhere in the repository for %s", f.length.Round(time.Second)),
			func(context.Context) error { stop(); return nil }, nil
	case faultLeaderKill, faultLeaderStop:
		r, err := w.leaderWithin(ctx, 10*time.Second)
		if err != nil {
			return "", nil, err
		}
		if f.kind == faultLeaderKill {
			pid, err := r.signal(syscall.SIGKILL)
			return fmt.Sprintf("%s pid %d", r.name, pid), nil, err
		}
		pid, err := r.signal(syscall.SIGSTOP)
		return fmt.Sprintf("%s pid %d for %s", r.name, pid, f.length.Round(time.Second)),
			func(context.Context) error { _, err := r.signal(syscall.SIGCONT); return err }, err
	case faultFluxDown:
		w.fleet.Flux().StopControllers()
		return fmt.Sprintf("for %s", f.length.Round(time.Second)),
			func(ctx context.Context) error { return retry(ctx, w.fleet.Flux().StartControllers) }, nil
	}
	return "", nil, fmt.Errorf("unknown fault %q", f.kind)
}

// retry starts a server again until it stays up, as a kubelet restarts a
// container: Flux's controllers exit when the local apiserver is down as
// they start, which another fault of the window may well be doing.
func retry(ctx context.Context, start func(context.Context) error) error {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		err := start(ctx)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(2 * time.Second)
	}
}

// leaderWithin waits for a replica to hold the Lease (after a previous
// fault there may be none for a few seconds).
func (w *world) leaderWithin(ctx context.Context, d time.Duration) (*replica, error) {
	deadline := time.Now().Add(d)
	for {
		r, err := leader(ctx, w.cluster(localCluster).Clientset(), w.replicas)
		if err == nil || time.Now().After(deadline) {
			return r, err
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// competeFor is another writer of the repository for d: it commits files
// outside fedgen's folder now and then, one of them racing fedgen's next
// push (landing after fedgen read the refs, before its push). It returns
// a function that stops it and waits.
func (w *world) competeFor(d time.Duration, arg uint64) (stop func()) {
	rng := rand.New(rand.NewPCG(arg, 3))
	done := make(chan struct{})
	var wg sync.WaitGroup
	commit := func() {
		w.theirsMu.Lock()
		w.theirWrites++
		n := w.theirWrites
		w.theirsMu.Unlock()
		path := fmt.Sprintf("apps/app-%d.yaml", n%5)
		content := []byte(fmt.Sprintf("kind: ConfigMap\n# write %d\n", n))
		c, err := w.git().CommitFiles(repoName, gitserver.DefaultBranch, map[string][]byte{path: content}, fmt.Sprintf("apps: write %d", n))
		if err != nil {
			w.log.printf("competing writer: %v", err)
			return
		}
		w.recordTheirs(c, path, content)
		w.log.printf("competing writer: %s wrote %s", c[:7], path)
	}
	w.git().BeforeNextPush(commit)
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Duration(1+rng.IntN(5)) * time.Second):
				commit()
			}
		}
	})
	_ = d
	return func() { close(done); wg.Wait() }
}

func (w *world) recordTheirs(commit, path string, content []byte) {
	w.theirsMu.Lock()
	defer w.theirsMu.Unlock()
	if w.theirFiles == nil {
		w.theirFiles = map[string][]byte{}
	}
	w.theirs = append(w.theirs, commit)
	w.theirFiles[path] = content
}
