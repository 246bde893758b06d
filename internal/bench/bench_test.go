package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPercentiles(t *testing.T) {
	ds := func(ms ...int) []time.Duration {
		out := make([]time.Duration, len(ms))
		for i, m := range ms {
			out[i] = time.Duration(m) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		name     string
		in       []time.Duration
		p50, p99 time.Duration
	}{
		{"empty", nil, 0, 0},
		{"one", ds(7), 7 * time.Millisecond, 7 * time.Millisecond},
		{"unsorted odd", ds(5, 1, 3), 3 * time.Millisecond, 5 * time.Millisecond},
		{"even takes the lower middle", ds(4, 1, 3, 2), 2 * time.Millisecond, 4 * time.Millisecond},
		{"hundred", ds(func() []int {
			v := make([]int, 100)
			for i := range v {
				v[i] = 100 - i
			}
			return v
		}()...), 50 * time.Millisecond, 99 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p50, p99 := Percentiles(tt.in)
			if p50 != tt.p50 || p99 != tt.p99 {
				t.Errorf("Percentiles = %s, %s; want %s, %s", p50, p99, tt.p50, tt.p99)
			}
		})
	}
}

func TestThousands(t *testing.T) {
	for in, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 5000000: "5,000,000", 100000: "100,000"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestTableMarkdown(t *testing.T) {
	tb := &Table{Title: "9. Example", Machine: Machine{Cores: 2, MemoryGB: 8, Load: "0.5", At: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)},
		Header: []string{"size", "p50"}}
	tb.AddRow(10, "1 ms")
	tb.Goal(true, "fast: %s", "1 ms")
	tb.Goal(false, "faster")
	tb.Note("measured %d times", 3)
	tb.Charts = append(tb.Charts, LineChart("example", "Example over sizes", "size", "ms", []Line{{Name: "p50", X: []float64{10}, Y: []float64{1}}}, false, false))
	var b bytes.Buffer
	tb.Markdown(&b, "benchmarks")
	want := "## 9. Example\n\n![Example over sizes](benchmarks/example.svg)\n\n" +
		"Machine: 2 cores, 8.0 GB, load 0.5, 2025-01-02T03:04:05Z; scenario took 0s.\n\n" +
		"| size | p50 |\n|---|---|\n| 10 | 1 ms |\n\n- Goal **met**: fast: 1 ms\n- Goal **missed**: faster\n- measured 3 times\n\n"
	if b.String() != want {
		t.Errorf("Markdown =\n%s\nwant\n%s", b.String(), want)
	}
}

// Charts are written as SVG files; a chart that cannot be drawn is an
// error that names it, not an empty picture.
func TestCharts(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []Chart{
		BoxChart("box", "Latency per stage", "ms", []Series{{Name: "detect", Values: []float64{1, 2, 3}}, {Name: "render", Values: []float64{5, 8, 13, 40}}}),
		LineChart("line", "Render by size", "endpoints", "ms", []Line{{Name: "full", X: []float64{1e5, 1e6}, Y: []float64{50, 400}}}, true, true).HLine("goal", 100),
	} {
		path, err := c.write(dir)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("<svg")) || !bytes.Contains(b, []byte(c.Title)) {
			t.Errorf("%s is not an SVG with its title", path)
		}
	}
	bad := LineChart("bad", "Bad", "x", "y", []Line{{Name: "l", X: []float64{1, 2}, Y: []float64{1}}}, false, false)
	if _, err := bad.write(dir); err == nil || !strings.Contains(err.Error(), "bad") {
		t.Errorf("a line with 2 x for 1 y was written: %v", err)
	}
}

// TestRenderScenarioChecksItsWork runs scenario 1 at a small size: the
// full and incremental renders must pass the scenario's own checks.
func TestRenderScenarioChecksItsWork(t *testing.T) {
	tb, err := Render(context.Background(), RenderConfig{Sizes: []RenderSize{{3, 20, 5}, {5, 40, 10}}, Incremental: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(tb.Rows) != 2 || len(tb.Goals) != 2 {
		t.Fatalf("got %d rows and %d goals, want 2 and 2", len(tb.Rows), len(tb.Goals))
	}
	if got := tb.Rows[1][1]; got != "2,000" {
		t.Errorf("endpoints of 5 × 40 × 10 = %s, want 2,000", got)
	}
}

// TestSuiteSmall runs every scenario at its small scale on the local
// clusters, so the suite's own checks (right commits, right addresses,
// right Flux revision) keep working; it never looks at the timings.
func TestSuiteSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local clusters; skipped by -short")
	}
	out := filepath.Join(t.TempDir(), "benchmarks.md")
	var log bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	err := RunSuite(ctx, SuiteOptions{Out: out, Scale: "small"}, &log)
	t.Log(log.String())
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 9; n++ {
		if !strings.Contains(string(md), fmt.Sprintf("\n## %d. ", n)) {
			t.Errorf("the report has no section for scenario %d", n)
		}
	}
	charts, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "benchmarks", "*.svg"))
	if len(charts) < 3 {
		t.Errorf("the suite wrote %d charts (%v), want the render's and the end-to-end ones", len(charts), charts)
	}
	for _, c := range charts {
		if !strings.Contains(string(md), "(benchmarks/"+filepath.Base(c)+")") {
			t.Errorf("the report does not show %s", c)
		}
	}
}
