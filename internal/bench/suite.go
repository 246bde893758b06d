package bench

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/fedgen/fedgen/internal/rig/localcluster"
)

// SuiteOptions configure RunSuite.
type SuiteOptions struct {
	// Out, when set, receives the results as markdown.
	Out string
	// Scale is "full" (the sizes) or "small" (a quick check).
	Scale string
	// Only lists the scenarios to run ("1,3"); empty runs all.
	Only string
	// ProfileDir, when set, receives a CPU profile per scenario.
	ProfileDir string
	// Fedgen is the fedgen command the process scenarios run; empty
	// builds it from this checkout.
	Fedgen string
}

// scenario is one numbered scenario of the suite.
type scenario struct {
	n     int
	fleet bool // needs the local clusters
	run   func(ctx context.Context, s *suite) (*Table, error)
}

type suite struct {
	small bool
	fleet *localcluster.Fleet
	bin   *fedgenBinary
}

func scenarios() []scenario {
	return []scenario{
		{1, false, func(ctx context.Context, s *suite) (*Table, error) {
			cfg := DefaultRenderConfig()
			if s.small {
				cfg = RenderConfig{Sizes: []RenderSize{{10, 100, 10}, {20, 500, 10}}, Incremental: 10}
			}
			return Render(ctx, cfg)
		}},
		{2, true, func(ctx context.Context, s *suite) (*Table, error) {
			cfg := WatchConfig{Slices: 50000, MemberPercent: 1, Endpoints: 10, Namespaces: 10}
			if s.small {
				cfg.Slices = 2000
			}
			return WatchMemory(ctx, s.fleet, cfg)
		}},
		{3, false, func(ctx context.Context, s *suite) (*Table, error) {
			cfg := CommitConfig{RepoFiles: []int{20000, 100000}, FolderFiles: 100, Rounds: 20}
			if s.small {
				cfg = CommitConfig{RepoFiles: []int{1000, 5000}, FolderFiles: 20, Rounds: 3}
			}
			return Commit(ctx, cfg)
		}},
		{4, true, func(ctx context.Context, s *suite) (*Table, error) {
			cfg := ChurnConfig{Services: 10, PerSecond: 20, Duration: 60 * time.Second, Debounce: time.Second}
			if s.small {
				cfg.Duration = 5 * time.Second
			}
			return Churn(ctx, s.fleet, cfg)
		}},
		{5, true, func(ctx context.Context, s *suite) (*Table, error) {
			cfg := E2EConfig{Runs: 30, Sets: DefaultE2ESets()}
			if s.small {
				cfg.Runs = 3
			}
			return EndToEnd(ctx, s.fleet, cfg)
		}},
		{6, true, func(ctx context.Context, s *suite) (*Table, error) {
			cfg := BurstConfig{Services: 50, Runs: 5, Debounce: time.Second}
			if s.small {
				cfg = BurstConfig{Services: 10, Runs: 2, Debounce: time.Second}
			}
			return Burst(ctx, s.fleet, cfg)
		}},
		{7, false, func(ctx context.Context, s *suite) (*Table, error) {
			cfg := DefaultGitMemoryConfig()
			if s.small {
				cfg.Commits, cfg.Checkpoints, cfg.OtherFiles = 60, []int{20, 60}, 200
			}
			return GitMemory(ctx, cfg)
		}},
		{8, true, func(ctx context.Context, s *suite) (*Table, error) {
			cfg := ChurnMemoryConfig{Services: 20, PerSecond: 9, Duration: 10 * time.Minute, Rows: 5}
			if s.small {
				cfg.Duration, cfg.Rows = 20*time.Second, 2
			}
			return ChurnMemory(ctx, s.fleet, s.bin, cfg)
		}},
		{9, true, func(ctx context.Context, s *suite) (*Table, error) {
			cfg := WritersConfig{Writers: []int{10, 30}, Interval: time.Second, Duration: 2 * time.Minute}
			if s.small {
				cfg.Writers, cfg.Duration = []int{3}, 10*time.Second
			}
			return Writers(ctx, s.fleet, s.bin, cfg)
		}},
	}
}

// RunSuite runs the scenarios, printing each table to w as it finishes,
// and writes the markdown report to opts.Out. A scenario whose own checks
// fail is reported and makes RunSuite return an error; timing never does.
func RunSuite(ctx context.Context, opts SuiteOptions, w io.Writer) error {
	ctrllog.SetLogger(logr.Discard())
	s := &suite{small: opts.Scale == "small", bin: &fedgenBinary{path: opts.Fedgen}}
	defer s.bin.close()
	if opts.Scale != "small" && opts.Scale != "full" {
		return fmt.Errorf("unknown scale %q (full or small)", opts.Scale)
	}
	var picked []scenario
	// The watch-memory scenario loads east with tens of thousands of
	// slices: it runs last, so the others measure an ordinary cluster.
	all := scenarios()
	slices.SortStableFunc(all, func(a, b scenario) int { return cmp.Compare(runOrder(a.n), runOrder(b.n)) })
	for _, sc := range all {
		if picks(opts.Only, sc.n) {
			picked = append(picked, sc)
		}
	}
	begin := time.Now()
	machine := ThisMachine()
	fmt.Fprintf(w, "fedgen benchmarks, scale %s, on %s\n\n", opts.Scale, machine)
	var tables []*Table
	var failures []string
	for _, sc := range picked {
		if sc.fleet && s.fleet == nil {
			t0 := time.Now()
			fleet, err := localcluster.Start(ctx, localcluster.Options{
				Clusters: []string{"west", "east"}, Flux: "west", GitServer: true, LinkCRD: localcluster.LinkCRDUpstream,
			})
			if err != nil {
				return fmt.Errorf("starting the local clusters: %w", err)
			}
			defer fleet.Stop()
			s.fleet = fleet
			fmt.Fprintf(w, "local clusters (west with Flux, east, Git server) started in %s\n\n", time.Since(t0).Round(time.Millisecond))
		}
		stopProfile, err := startProfile(opts.ProfileDir, sc.n)
		if err != nil {
			return err
		}
		t0 := time.Now()
		t, err := sc.run(ctx, s)
		stopProfile()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			msg := fmt.Sprintf("scenario %d failed its checks after %s: %v", sc.n, time.Since(t0).Round(time.Second), err)
			fmt.Fprintln(w, msg)
			failures = append(failures, msg)
			continue
		}
		t.Text(w)
		tables = append(tables, t)
	}
	total := time.Since(begin)
	fmt.Fprintf(w, "suite took %s\n", total.Round(time.Second))
	if opts.Out != "" {
		if err := writeMarkdown(opts, machine, total, tables, failures); err != nil {
			return err
		}
	}
	if len(failures) > 0 {
		return fmt.Errorf("%d scenario(s) failed their checks", len(failures))
	}
	return nil
}

// picks reports whether the -only list runs scenario n (an empty list
// runs all).
func picks(only string, n int) bool {
	return only == "" || slices.Contains(strings.Split(only, ","), fmt.Sprint(n))
}

func runOrder(n int) int {
	if n == 2 {
		return 100
	}
	return n
}

func startProfile(dir string, n int) (func(), error) {
	if dir == "" {
		return func() {}, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("scenario-%d.cpu.pprof", n)))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting the CPU profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func writeMarkdown(opts SuiteOptions, m Machine, total time.Duration, tables []*Table, failures []string) error {
	var b strings.Builder
	b.WriteString("# fedgen benchmarks\n\n")
	b.WriteString("<!-- Written by `make bench` (go run ./hack/bench -out docs/benchmarks.md); edit the suite in internal/bench, not this file. -->\n\n")
	fmt.Fprintf(&b, "Run at scale %q on %s (load average at start: %s); the whole suite took %s.\n\n", opts.Scale, m, m.Load, total.Round(time.Second))
	for _, f := range failures {
		fmt.Fprintf(&b, "**%s**\n\n", f)
	}
	kept := map[int]string{}
	if opts.Only != "" {
		var err error
		if kept, err = keptSections(opts.Out, func(n int) bool { return picks(opts.Only, n) }); err != nil {
			return err
		}
	}
	if len(kept) > 0 {
		fmt.Fprintf(&b, "Scenarios %s ran now; the others' sections are kept from an earlier run, each with its own date and load.\n\n", opts.Only)
	}
	// The charts go into a folder named after the report, beside it:
	// docs/benchmarks.md shows docs/benchmarks/*.svg.
	chartDir := strings.TrimSuffix(filepath.Base(opts.Out), filepath.Ext(opts.Out))
	sections := map[int]string{}
	for _, t := range tables {
		for _, c := range t.Charts {
			if _, err := c.write(filepath.Join(filepath.Dir(opts.Out), chartDir)); err != nil {
				return err
			}
		}
		var sb strings.Builder
		t.Markdown(&sb, chartDir)
		n, ok := sectionNumber("## " + t.Title)
		if !ok {
			return fmt.Errorf("scenario title %q does not start with its number", t.Title)
		}
		sections[n] = sb.String()
	}
	for n, sec := range kept {
		sections[n] = sec
	}
	for _, n := range slices.Sorted(maps.Keys(sections)) {
		b.WriteString(sections[n])
	}
	if err := os.MkdirAll(filepath.Dir(opts.Out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(opts.Out, []byte(b.String()), 0o644)
}
