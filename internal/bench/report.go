// Package bench is fedgen's benchmark suite: how many clusters, services
// and endpoints one fedgen serves, how fast a change reaches the cluster,
// and what it costs. Each scenario measures, checks that the work it
// measured was right (a wrong answer fast is no result), and returns
// tables; `make bench` runs them all and writes docs/benchmarks.md.
//
// No scenario fails on timing: goals are reported as met or missed.
package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Machine describes where a scenario ran.
type Machine struct {
	Cores    int
	MemoryGB float64
	// Load is the 1-minute load average when the scenario started.
	Load string
	At   time.Time
}

// ThisMachine reads the machine's cores, memory and load.
func ThisMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), At: time.Now().UTC()}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var kb float64
			if _, err := fmt.Sscanf(sc.Text(), "MemTotal: %f kB", &kb); err == nil {
				m.MemoryGB = kb / (1 << 20)
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			m.Load = f[0]
		}
	}
	return m
}

func (m Machine) String() string {
	return fmt.Sprintf("%d cores, %.1f GB, load %s, %s", m.Cores, m.MemoryGB, m.Load, m.At.Format(time.RFC3339))
}

// Table is one scenario's result.
type Table struct {
	// Title names the scenario.
	Title string
	// Machine is where and when it ran.
	Machine Machine
	// Header and Rows are the table.
	Header []string
	Rows   [][]string
	// Goals say, one line each, whether the goals were met.
	Goals []string
	// Notes explain how it was measured and what limits it.
	Notes []string
	// Elapsed is how long the scenario took, set-up included.
	Elapsed time.Duration
	// Charts are shown before the table (BoxChart, LineChart).
	Charts []Chart
}

// AddRow appends a row of formatted cells.
func (t *Table) AddRow(cells ...any) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = fmt.Sprint(c)
	}
	t.Rows = append(t.Rows, row)
}

// Goal records a goal, met or missed.
func (t *Table) Goal(met bool, format string, args ...any) {
	verdict := "**met**"
	if !met {
		verdict = "**missed**"
	}
	t.Goals = append(t.Goals, verdict+": "+fmt.Sprintf(format, args...))
}

// Note records an explanation.
func (t *Table) Note(format string, args ...any) {
	t.Notes = append(t.Notes, fmt.Sprintf(format, args...))
}

// Markdown writes the table as a section of docs/benchmarks.md, its
// charts as links to chartDir/<name>.svg (relative to the report; no
// charts when chartDir is empty).
func (t *Table) Markdown(w io.Writer, chartDir string) {
	fmt.Fprintf(w, "## %s\n\n", t.Title)
	if chartDir != "" {
		for _, c := range t.Charts {
			fmt.Fprintf(w, "![%s](%s/%s.svg)\n\n", c.Title, chartDir, c.Name)
		}
	}
	fmt.Fprintf(w, "Machine: %s; scenario took %s.\n\n", t.Machine, t.Elapsed.Round(time.Second))
	fmt.Fprintf(w, "| %s |\n", strings.Join(t.Header, " | "))
	fmt.Fprintf(w, "|%s\n", strings.Repeat("---|", len(t.Header)))
	for _, r := range t.Rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
	fmt.Fprintln(w)
	for _, g := range t.Goals {
		fmt.Fprintf(w, "- Goal %s\n", g)
	}
	for _, n := range t.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
	fmt.Fprintln(w)
}

// Text writes the table for a terminal.
func (t *Table) Text(w io.Writer) {
	fmt.Fprintf(w, "== %s (%s, %s)\n", t.Title, t.Machine, t.Elapsed.Round(time.Millisecond))
	widths := make([]int, len(t.Header))
	for i, h := range t.Header {
		widths[i] = len(h)
	}
	for _, r := range t.Rows {
		for i, c := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], len(c))
			}
		}
	}
	line := func(cells []string) {
		for i, c := range cells {
			fmt.Fprintf(w, "%-*s  ", widths[min(i, len(widths)-1)], c)
		}
		fmt.Fprintln(w)
	}
	line(t.Header)
	for _, r := range t.Rows {
		line(r)
	}
	for _, g := range t.Goals {
		fmt.Fprintf(w, "goal %s\n", strings.ReplaceAll(g, "**", ""))
	}
	for _, n := range t.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintln(w)
}

// Percentiles returns the p50 and p99 of d (nearest rank).
func Percentiles(d []time.Duration) (p50, p99 time.Duration) {
	if len(d) == 0 {
		return 0, 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[rank(len(s), 50)], s[rank(len(s), 99)]
}

// rank is the nearest-rank index of percentile p of n sorted values.
func rank(n, p int) int {
	i := (n*p + 99) / 100 // ceil(n*p/100)
	return min(max(i-1, 0), n-1)
}

// ms formats a duration in milliseconds with a precision that suits it.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v < 10:
		return fmt.Sprintf("%.2f ms", v)
	case v < 1000:
		return fmt.Sprintf("%.0f ms", v)
	default:
		return fmt.Sprintf("%.2f s", v/1000)
	}
}

// msFloat is a duration in milliseconds, for charts.
func msFloat(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// mbFloat is bytes in MiB, for charts.
func mbFloat(b uint64) float64 { return float64(b) / (1 << 20) }

// mb formats bytes in MiB.
func mb(b uint64) string {
	v := float64(b) / (1 << 20)
	if v < 10 {
		return fmt.Sprintf("%.1f MiB", v)
	}
	return fmt.Sprintf("%.0f MiB", v)
}

// thousands formats n with thin separators: 5,000,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
