package bench

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/fedgen/fedgen/internal/rig/localcluster"
)

// ChurnConfig sizes scenario 4.
type ChurnConfig struct {
	Services  int
	PerSecond int
	Duration  time.Duration
	Debounce  time.Duration
}

// Churn is scenario 4: endpoints of cfg.Services members changing
// cfg.PerSecond times a second for cfg.Duration.
func Churn(ctx context.Context, fleet *localcluster.Fleet, cfg ChurnConfig) (*Table, error) {
	t := &Table{Title: "4. Churn", Machine: ThisMachine(),
		Header: []string{"changes", "over", "debounce", "commits", "commits per debounce window", "empty commits", "repository growth", "per commit", "last change → its commit"}}
	start := time.Now()
	e, err := newEastEnv(ctx, fleet, false)
	if err != nil {
		return nil, err
	}
	defer e.close()
	names := make([]string, cfg.Services)
	for i := range names {
		names[i] = fmt.Sprintf("churn-%02d", i)
		if err := e.deploy(ctx, "east", names[i], true, fmt.Sprintf("10.42.%d.1", i)); err != nil {
			return nil, err
		}
	}
	e.start(ctx, cfg.Debounce, false)
	// Wait for the first commit holding every member: the set-up.
	if err := waitForFiles(ctx, e, cfg.Services); err != nil {
		return nil, err
	}
	before := e.head()
	sizeBefore, err := dirSize(fleet.Git().RepoPath(e.repo))
	if err != nil {
		return nil, err
	}

	// Change endpoints at the rate asked: each tick moves one service's
	// second endpoint to a new address.
	tick := time.NewTicker(time.Second / time.Duration(cfg.PerSecond))
	churnStart := time.Now()
	changes := 0
	var last time.Time
	var lastSvc, lastIP string
	for time.Since(churnStart) < cfg.Duration {
		select {
		case <-ctx.Done():
			tick.Stop()
			return nil, ctx.Err()
		case <-tick.C:
		}
		svc := names[changes%len(names)]
		ip := fmt.Sprintf("10.43.%d.%d", changes/250%250, changes%250+1)
		if err := e.setEndpoints(ctx, "east", svc, fmt.Sprintf("10.42.%d.1", changes%len(names)), ip); err != nil {
			tick.Stop()
			return nil, err
		}
		last, lastSvc, lastIP = time.Now(), svc, ip
		changes++
	}
	tick.Stop()
	churnTime := last.Sub(churnStart)

	// The latency of the last change: the first commit logged after it
	// whose file holds the change.
	var latency time.Duration
	var found string
	if err := eventually(ctx, "the last change committed", time.Minute, 20*time.Millisecond, func() (bool, string, error) {
		from := last
		for {
			rec, ok := e.logs.first(from, "committed", nil)
			if !ok {
				return false, "no commit after the last change", nil
			}
			body, err := e.git("show", rec.attrs["commit"]+":"+folder+"/"+e.ns+"/"+lastSvc+"-federated.yaml")
			if err == nil && strings.Contains(body, lastIP) {
				latency, found = rec.at.Sub(last), rec.attrs["commit"]
				return true, "", nil
			}
			from = rec.at.Add(time.Nanosecond)
		}
	}); err != nil {
		return nil, err
	}
	// Count the commits of the churn: those up to the last change's.
	list, err := e.git("rev-list", before+".."+found)
	if err != nil {
		return nil, err
	}
	commits := strings.Fields(list)
	empty := 0
	for _, c := range commits {
		// diff-tree prints the changed paths; none means an empty commit.
		out, err := e.git("diff-tree", "--no-commit-id", "--name-only", "-r", c)
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(out) == "" {
			empty++
		}
	}
	if empty > 0 {
		return nil, fmt.Errorf("%d of %d commits changed nothing", empty, len(commits))
	}
	if len(commits) == 0 {
		return nil, fmt.Errorf("no commit during the churn")
	}
	sizeAfter, err := dirSize(fleet.Git().RepoPath(e.repo))
	if err != nil {
		return nil, err
	}
	windows := float64(churnTime) / float64(cfg.Debounce)
	growth := sizeAfter - sizeBefore
	t.AddRow(changes, churnTime.Round(time.Millisecond), cfg.Debounce, len(commits), fmt.Sprintf("%.2f", float64(len(commits))/windows), empty,
		fmt.Sprintf("%.1f KiB", float64(growth)/1024), fmt.Sprintf("%.1f KiB", float64(growth)/1024/float64(len(commits))), ms(latency))
	t.Elapsed = time.Since(start)
	t.Goal(float64(len(commits)) <= windows+1 && empty == 0, "about one commit per debounce window, none empty: %d commits over %.0f windows, %d empty", len(commits), windows, empty)
	t.Note("%d members in east, one slice each; every %s one member's second endpoint moves to a new address (Update of the slice). Repository growth is the bare repository's size on the Git server's disk (as git http-backend stores pushes), before and after.", cfg.Services, time.Second/time.Duration(cfg.PerSecond))
	t.Note("The latency of the last change is from its Update returning to fedgen's `committed` log line for the first commit whose file holds it: the rest of the batching window, the render, the commit and the push.")
	return t, nil
}

// dirSize sums the sizes of the files under dir. A file removed while it
// is walked (fedgen pruning its --git-cache-dir meanwhile) counts nothing.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	return n, err
}
