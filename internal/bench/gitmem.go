package bench

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/internal/gitrepo"
	"github.com/fedgen/fedgen/internal/rendercache"
	"github.com/fedgen/fedgen/internal/rig/gitserver"
)

// GitMemoryConfig sizes scenario 7.
type GitMemoryConfig struct {
	// Commits is how many commits are published per clone kind.
	Commits int
	// Checkpoints are the commit counts at which the heap is read; the
	// goal compares the last with the first.
	Checkpoints []int
	// Clusters × Services × Endpoints is the rendered federation.
	Clusters, Services, Endpoints int
	// OtherFiles are files of other writers elsewhere in the repository.
	OtherFiles int
}

// DefaultGitMemoryConfig is the size: 10,000 commits, heap read at
// 100, 1,000 and 10,000.
func DefaultGitMemoryConfig() GitMemoryConfig {
	return GitMemoryConfig{Commits: 10000, Checkpoints: []int{100, 1000, 10000}, Clusters: 3, Services: 20, Endpoints: 10, OtherFiles: 1000}
}

// GitMemory is scenario 7: cfg.Commits one-endpoint changes rendered as
// the reconciler renders them (rendercache) and published with
// gitrepo.Publish against a Git server on loopback, with the clone in
// memory and on disk (--git-cache-dir). What fedgen holds must not grow
// with the commits it made.
func GitMemory(ctx context.Context, cfg GitMemoryConfig) (*Table, error) {
	t := &Table{Title: "7. Memory over commits", Machine: ThisMachine(),
		Header: []string{"clone", "commits", "heap after GC", "vs the first", "clone on disk", "publish p50", "publish p99"}}
	start := time.Now()
	dir, srv, stop, err := tempGitServer("fedgen-bench-gitmem-")
	if err != nil {
		return nil, err
	}
	defer stop()
	var growth []string
	met := true
	for _, disk := range []bool{false, true} {
		kind := "in memory"
		cache := ""
		if disk {
			kind, cache = "on disk", filepath.Join(dir, "cache")
		}
		points, err := gitMemoryRun(ctx, srv, cfg, kind, cache)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kind, err)
		}
		first := points[0].heap
		for _, p := range points {
			disk := "—"
			if cache != "" {
				disk = fmt.Sprintf("%.1f MiB", float64(p.disk)/(1<<20))
			}
			t.AddRow(kind, thousands(p.commits), mb(p.heap), signedPercent(p.heap, first), disk, ms(p.p50), ms(p.p99))
		}
		last := points[len(points)-1].heap
		if float64(last) > 1.1*float64(first) {
			met = false
		}
		growth = append(growth, fmt.Sprintf("%s %s", kind, signedPercent(last, first)))
	}
	t.Elapsed = time.Since(start)
	n := cfg.Checkpoints
	t.Goal(met, "heap after GC at %s commits within 10%% of the heap at %s: %s", thousands(n[len(n)-1]), thousands(n[0]), strings.Join(growth, ", "))
	t.Note("Each commit moves one endpoint of one of %d federated Services (%d clusters × %d endpoints each, rendered by rendercache as the reconciler does) and is published with gitrepo.Publish (commit, push over loopback HTTP to `git http-backend`) into a repository that also holds %s files of other writers. Every %dth commit is checked on the server: the branch must hold the rendered file.", cfg.Services, cfg.Clusters, cfg.Endpoints, thousands(cfg.OtherFiles), checkEvery)
	t.Note("Heap after GC is the benchmark process's live heap (runtime.GC, then the heap's object bytes) with the Repo open: the clone, the render cache and the input; the publish times are of the commits since the previous checkpoint. Clone on disk is the size of the --git-cache-dir folder.")
	return t, nil
}

// checkEvery is how often GitMemory checks the server's branch.
const checkEvery = 500

type gitMemPoint struct {
	commits  int
	heap     uint64
	disk     int64
	p50, p99 time.Duration
}

func gitMemoryRun(ctx context.Context, srv *gitserver.Server, cfg GitMemoryConfig, kind, cache string) ([]gitMemPoint, error) {
	name := "gitmem-memory"
	if cache != "" {
		name = "gitmem-disk"
	}
	seed := make(map[string][]byte, cfg.OtherFiles)
	for i := range cfg.OtherFiles {
		seed[fmt.Sprintf("apps/team-%02d/app-%05d.yaml", i%20, i)] = []byte(fmt.Sprintf("kind: ConfigMap\nname: app-%d\n", i))
	}
	url, err := srv.CreateRepoWithFiles(name, seed)
	if err != nil {
		return nil, err
	}
	in := SyntheticInput(cfg.Clusters, cfg.Services, cfg.Endpoints)
	rc := rendercache.New()
	repo, err := gitrepo.Open(ctx, gitrepo.Options{URL: url, Path: folder, CacheDir: cache})
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	msg := func(c gitrepo.Change) string { return fmt.Sprintf("Update %d files\n", len(c.Modified)+len(c.Added)) }
	var points []gitMemPoint
	var times []time.Duration
	next := 0
	for round := 1; round <= cfg.Commits; round++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cluster, service := round%cfg.Clusters, round%cfg.Services
		ChangeEndpoint(&in, cluster, service, round)
		out, _, err := rc.Render(in)
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		res, err := repo.Publish(ctx, out.Files, msg)
		if err != nil {
			return nil, fmt.Errorf("commit %d: %w", round, err)
		}
		times = append(times, time.Since(t0))
		if !res.Changed || !res.Pushed {
			return nil, fmt.Errorf("commit %d: changed %t, pushed %t; want both", round, res.Changed, res.Pushed)
		}
		if round%checkEvery == 0 || round == cfg.Commits {
			if err := serverHolds(srv, name, in, cluster, service, out.Files); err != nil {
				return nil, fmt.Errorf("commit %d: %w", round, err)
			}
		}
		if next < len(cfg.Checkpoints) && round == cfg.Checkpoints[next] {
			next++
			// The timings go before the heap is read: the slice of
			// the 9,000 publishes up to the last checkpoint is the
			// benchmark's, not fedgen's, and would show as growth.
			var p gitMemPoint
			p.p50, p.p99 = Percentiles(times)
			times = nil
			p.commits, p.heap = round, heapAfterGC()
			if cache != "" {
				if p.disk, err = dirSize(cache); err != nil {
					return nil, err
				}
			}
			points = append(points, p)
		}
	}
	if len(points) == 0 {
		return nil, fmt.Errorf("%s: no checkpoint within %d commits", kind, cfg.Commits)
	}
	runtime.KeepAlive(rc)
	return points, nil
}

// serverHolds checks the server's branch holds the file of the service
// that changed last, as rendered.
func serverHolds(srv *gitserver.Server, repo string, in generator.Input, cluster, service int, files map[string][]byte) error {
	m := in.Clusters[cluster].Members[service]
	file := m.Service.Namespace + "/" + m.Service.Name + "-federated.yaml"
	got, err := gitOutput(srv.RepoPath(repo), "show", "main:"+folder+"/"+file)
	if err != nil {
		return err
	}
	if !bytes.Equal([]byte(got), files[file]) {
		return fmt.Errorf("the server's %s differs from the rendered file", file)
	}
	return nil
}

// heapAfterGC is the live heap after a full collection.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	return heapBytes()
}

// signedPercent is v relative to base: "+3.2%".
func signedPercent(v, base uint64) string {
	if base == 0 {
		return "—"
	}
	return fmt.Sprintf("%+.1f%%", (float64(v)/float64(base)-1)*100)
}

// gitOutput runs the git command line on bare repository gitDir.
func gitOutput(gitDir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"--git-dir", gitDir}, args...)...)
	cmd.Env = gitserver.GitEnv()
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}
