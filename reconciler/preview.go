package reconciler

import (
	"context"
	"fmt"
	"time"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/internal/gitrepo"
)

// Preview is what the next commit would change, computed against the live
// clusters and the repository without writing anything.
type Preview struct {
	// Current is the folder at the head of the branch.
	Current map[string][]byte
	// Next is the render of the live state.
	Next *generator.Output
	// Head is the commit Current was read at ("" for an empty branch).
	Head string
}

// NewPreview watches the inputs until they are synced (or timeout), renders
// them, and reads the folder at the branch's head. It is `fedgen diff`.
func NewPreview(ctx context.Context, opts Options, timeout time.Duration) (*Preview, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	opts.Metrics = NewMetrics()
	r, err := New(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	repo, err := gitrepo.Open(ctx, opts.Git)
	if err != nil {
		return nil, fmt.Errorf("opening the git repository: %w", err)
	}
	defer repo.Close()
	current, err := repo.ReadFolder(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", opts.Git.Path, err)
	}
	go func() { _ = r.tracker.Run(ctx) }()
	for {
		snap := r.tracker.Snapshot(opts.Now())
		if snap.Ready {
			out, err := generator.Render(generator.Input{Options: opts.Generator, Namespaces: snap.Namespaces, Clusters: snap.Clusters})
			if err != nil {
				return nil, err
			}
			p := &Preview{Current: current, Next: out}
			if h := repo.Head(); !h.IsZero() {
				p.Head = h.String()
			}
			return p, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the clusters' watches did not sync within %s", timeout)
		case <-time.After(notReadyRetry):
		}
	}
}
