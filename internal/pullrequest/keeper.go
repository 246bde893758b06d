package pullrequest

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Defaults of KeeperOptions.
const (
	DefaultPollInterval  = 30 * time.Second
	DefaultCreateRetries = 6
	DefaultMergeGrace    = 2 * time.Second
)

// KeeperOptions configure a Keeper.
type KeeperOptions struct {
	// Provider is the forge.
	Provider Provider
	// Head is the review branch, Base the branch Flux follows.
	Head, Base string
	// PollInterval is how often the pull request is read again while
	// nothing is submitted: a person may close or merge it any time.
	// Default DefaultPollInterval.
	PollInterval time.Duration
	// CreateRetries bounds the attempts to open a pull request: a forge
	// processes pushes asynchronously and may not know a branch pushed a
	// moment ago. The wait doubles from 250 ms. Default
	// DefaultCreateRetries.
	CreateRetries int
	// MergeGrace is waited before closing a pull request whose proposal
	// reached the followed branch through a new commit there: the forge
	// may be marking it merged at that very moment. Default
	// DefaultMergeGrace.
	MergeGrace time.Duration
	// OnChange, when set, is called (from Run's goroutine) after the
	// Outcome changed.
	OnChange func(Outcome)
	// MayWrite, when set, is asked before every change on the forge
	// (open, rewrite, close); an error skips the change and fails the
	// sync (a replica that is no longer the leader).
	MayWrite func() error
	// Log receives one line per pull request opened, updated, closed or
	// declined; never the token.
	Log *slog.Logger
}

// Outcome is where the review branch's proposal stands on the forge.
type Outcome struct {
	// Number and URL are of the pull request holding the proposal, or of
	// the one that declined it; zero when there is none.
	Number int64
	URL    string
	// Declined is true when a person closed the pull request of this
	// very proposal without merging it.
	Declined bool
	// Fingerprint is the proposal's (see Fingerprint); "" when the review
	// branch proposes nothing.
	Fingerprint string
}

// Keeper keeps one pull request per review branch in line with the
// proposal (SPEC §4.2). Sync does it once; Run does it in the background
// for the proposals given to Submit.
type Keeper struct {
	opts KeeperOptions

	mu        sync.Mutex
	outcome   Outcome
	err       error
	proposal  *Proposal
	submitted chan struct{}
	lastBase  string // BaseCommit of the last proposal that was not empty
	lastOpen  int64  // the pull request last found or made open
}

// NewKeeper returns a Keeper for opts.
func NewKeeper(opts KeeperOptions) *Keeper {
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.CreateRetries <= 0 {
		opts.CreateRetries = DefaultCreateRetries
	}
	if opts.MergeGrace <= 0 {
		opts.MergeGrace = DefaultMergeGrace
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Keeper{opts: opts, submitted: make(chan struct{}, 1)}
}

// Outcome is the last outcome of Sync.
func (k *Keeper) Outcome() Outcome {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.outcome
}

// Err is the error of the last Sync; nil when it succeeded.
func (k *Keeper) Err() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.err
}

// Submit hands Run the current proposal; only the latest counts.
func (k *Keeper) Submit(p Proposal) {
	k.mu.Lock()
	k.proposal = &p
	k.mu.Unlock()
	select {
	case k.submitted <- struct{}{}:
	default:
	}
}

// Run syncs every submitted proposal, and the last one again every
// PollInterval, until ctx ends. A failed sync is retried at the next
// submit or poll; the error is logged and kept for Err.
func (k *Keeper) Run(ctx context.Context) {
	t := time.NewTicker(k.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-k.submitted:
		case <-t.C:
		}
		k.mu.Lock()
		p := k.proposal
		k.mu.Unlock()
		if p == nil {
			continue // nothing pushed yet: nothing to keep
		}
		before := k.Outcome()
		out, err := k.Sync(ctx, *p)
		if err != nil {
			if ctx.Err() == nil {
				k.opts.Log.Warn("keeping the pull request", "provider", k.opts.Provider.Name(), "branch", k.opts.Head, "error", err)
			}
			continue
		}
		if out != before && k.opts.OnChange != nil {
			k.opts.OnChange(out)
		}
	}
}

// Sync makes the forge match p once: open, rewrite, close or leave the
// review branch's pull request, and say where the proposal stands.
func (k *Keeper) Sync(ctx context.Context, p Proposal) (Outcome, error) {
	out, err := k.sync(ctx, p)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.err = err
	if err == nil {
		k.outcome = out
	}
	return out, err
}

func (k *Keeper) sync(ctx context.Context, p Proposal) (Outcome, error) {
	prov, head, base := k.opts.Provider, k.opts.Head, k.opts.Base
	latest, err := prov.Latest(ctx, head, base)
	if err != nil {
		return Outcome{}, err
	}
	if len(p.Changes) == 0 {
		return Outcome{}, k.closeEmpty(ctx, latest, p)
	}
	k.mu.Lock()
	prevBase, prevOpen := k.lastBase, k.lastOpen
	k.lastBase = p.BaseCommit
	k.mu.Unlock()

	fp := Fingerprint(p)
	want := Content{Title: Title(p), Body: Body(p)}
	if latest != nil {
		switch latest.State {
		case Open:
			if latest.Title != want.Title || latest.Body != want.Body {
				if err := k.mayWrite(); err != nil {
					return Outcome{}, err
				}
				if latest, err = prov.Update(ctx, latest.Number, want); err != nil {
					return Outcome{}, err
				}
				k.opts.Log.Info("pull request updated", "url", latest.URL, "title", want.Title)
			}
			k.setOpen(latest.Number)
			return Outcome{Number: latest.Number, URL: latest.URL, Fingerprint: fp}, nil
		case Merged:
			// Merged while this proposal, made on the followed branch as
			// it was before the merge, was being kept: the next proposal,
			// made on the merge, says what is left to propose.
			if latest.Number == prevOpen && p.BaseCommit == prevBase {
				return Outcome{Number: latest.Number, URL: latest.URL, Fingerprint: fp}, nil
			}
		case Closed:
			if was, byFedgen := BodyFingerprint(latest.Body); was == fp && !byFedgen {
				return Outcome{Number: latest.Number, URL: latest.URL, Declined: true, Fingerprint: fp}, nil
			}
		}
	}
	if err := k.mayWrite(); err != nil {
		return Outcome{}, err
	}
	pr, err := k.create(ctx, want)
	if err != nil {
		return Outcome{}, err
	}
	k.setOpen(pr.Number)
	k.opts.Log.Info("pull request opened", "url", pr.URL, "title", want.Title)
	return Outcome{Number: pr.Number, URL: pr.URL, Fingerprint: fp}, nil
}

// create opens the pull request, waiting for the forge to know the branch.
// A failed attempt may still have opened it (a forge slow to answer, a
// reply lost): an open pull request of the review branch found after a
// failure is the one to keep, not a reason to fail every retry with
// "already exists".
func (k *Keeper) create(ctx context.Context, c Content) (*PullRequest, error) {
	delay := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		pr, err := k.opts.Provider.Create(ctx, k.opts.Head, k.opts.Base, c)
		if err == nil {
			return pr, nil
		}
		if open, lerr := k.opts.Provider.Latest(ctx, k.opts.Head, k.opts.Base); lerr == nil && open != nil && open.State == Open {
			return open, nil
		}
		if attempt >= k.opts.CreateRetries {
			return nil, fmt.Errorf("after %d attempts: %w", attempt, err)
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(delay):
		}
		delay *= 2
	}
}

// closeEmpty closes the open pull request of a review branch that no
// longer proposes anything, saying why.
func (k *Keeper) closeEmpty(ctx context.Context, pr *PullRequest, p Proposal) error {
	if pr == nil || pr.State != Open {
		return nil
	}
	k.mu.Lock()
	moved := k.lastBase != "" && p.BaseCommit != "" && k.lastBase != p.BaseCommit
	k.mu.Unlock()
	why := fmt.Sprintf("fedgen closes this pull request: `%s` no longer differs from `%s`, the change was undone before a merge.", k.opts.Head, k.opts.Base)
	if moved {
		// The proposal reached the followed branch by a new commit there:
		// a merge the forge may be recording right now.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(k.opts.MergeGrace):
		}
		again, err := k.opts.Provider.Get(ctx, pr.Number)
		if err != nil {
			return err
		}
		if again.State != Open {
			return nil
		}
		pr = again
		why = fmt.Sprintf("fedgen closes this pull request: `%s` already holds everything it proposed (commit %s reached it by another way).", k.opts.Base, shortSHA(p.BaseCommit))
	}
	if err := k.mayWrite(); err != nil {
		return err
	}
	// Mark the body first, so that a restarted fedgen does not take the
	// closed pull request for a person's decline.
	if _, err := k.opts.Provider.Update(ctx, pr.Number, Content{Title: pr.Title, Body: MarkClosedByFedgen(pr.Body)}); err != nil {
		return err
	}
	if err := k.opts.Provider.Close(ctx, pr.Number, why); err != nil {
		return err
	}
	k.opts.Log.Info("pull request closed", "url", pr.URL, "reason", why)
	return nil
}

func (k *Keeper) setOpen(number int64) {
	k.mu.Lock()
	k.lastOpen = number
	k.mu.Unlock()
}

func (k *Keeper) mayWrite() error {
	if k.opts.MayWrite == nil {
		return nil
	}
	if err := k.opts.MayWrite(); err != nil {
		return fmt.Errorf("not changing the pull request: %w", err)
	}
	return nil
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
