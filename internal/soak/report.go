package soak

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Report is what a run found.
type Report struct {
	Seed     uint64
	Duration time.Duration
	Clusters []string
	Dir      string
	// Injected counts the faults injected, by kind.
	Injected map[string]int
	// Churn and ChurnFailed count the churn operations by kind (failed:
	// refused by an apiserver that was down).
	Churn, ChurnFailed map[string]int
	// Checks count the invariant checks by invariant.
	Checks map[string]*Tally
	// Convergence is, per fault window, how long the state took to hold
	// after the quiet period began.
	Convergence []time.Duration
	Trends      []trend
	Exits       []exit
	Violations  []string
	Failed      bool
}

// Tally counts the checks of one invariant.
type Tally struct{ Passed, Failed int }

// Write prints the report as Markdown tables, then the violations and how
// to replay the run.
func (r *Report) Write(w io.Writer) {
	fmt.Fprintf(w, "### Soak: seed %d, %s, clusters %s, %d fault windows\n\n", r.Seed, r.Duration, strings.Join(r.Clusters, ", "), max(0, len(r.Convergence)-1))

	fmt.Fprintln(w, "| fault | injected |\n|---|---:|")
	total := 0
	for _, k := range faultKinds {
		fmt.Fprintf(w, "| %s | %d |\n", k, r.Injected[k])
		total += r.Injected[k]
	}
	fmt.Fprintf(w, "| **all** | **%d** |\n\n", total)

	fmt.Fprintln(w, "| churn | done | refused (apiserver down) |\n|---|---:|---:|")
	for _, k := range slices.Sorted(keys(r.Churn, r.ChurnFailed)) {
		fmt.Fprintf(w, "| %s | %d | %d |\n", k, r.Churn[k], r.ChurnFailed[k])
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "| invariant | passed | failed |\n|---|---:|---:|")
	for _, inv := range invariants {
		t := r.Checks[inv]
		fmt.Fprintf(w, "| %s | %d | %d |\n", inv, t.Passed, t.Failed)
	}
	fmt.Fprintln(w)

	p50, p99, worst := percentiles(r.Convergence)
	fmt.Fprintf(w, "| convergence after the quiet period began | p50 | p99 | max |\n|---|---:|---:|---:|\n| %d checks | %s | %s | %s |\n\n",
		len(r.Convergence), round(p50), round(p99), round(worst))

	fmt.Fprintln(w, "| fedgen process | resource | start | end | slope per hour | over | leak |\n|---|---|---:|---:|---:|---:|---|")
	for _, t := range r.Trends {
		leak, slope := "no", fmt.Sprintf("%+.1f%s", t.perHour, t.res.unit)
		switch {
		case t.leak:
			leak = "**YES**"
		case t.span < minTrend:
			// Extrapolating seconds of warm-up to an hour says nothing.
			leak, slope = "too short to judge", "–"
		}
		fmt.Fprintf(w, "| %s | %s | %.1f%s | %.1f%s | %s | %s | %s |\n", t.process, t.res.name,
			t.start, t.res.unit, t.end, t.res.unit, slope, t.span.Round(time.Second), leak)
	}
	if t := r.Checks[invNoLeak]; t.Passed+t.Failed == 0 {
		fmt.Fprintf(w, "\nNo leak judged: no fedgen process lived %s (the faults restart them).\n", minTrend)
	}
	fmt.Fprintln(w)

	if len(r.Exits) > 0 {
		expected := 0
		var other []string
		for _, e := range r.Exits {
			if e.expected && e.crash == "" {
				expected++
				continue
			}
			other = append(other, fmt.Sprintf("%s at %s: %s%s; its last line: `%s`", e.process, e.at.Format("15:04:05"), orOK(e.err), crashSuffix(e.crash), e.last))
		}
		fmt.Fprintf(w, "fedgen processes ended: %d by a fault; %d otherwise (restarted, as a Deployment would)\n", expected, len(other))
		for _, o := range other {
			fmt.Fprintf(w, "- %s\n", o)
		}
		fmt.Fprintln(w)
	}
	if r.Failed {
		fmt.Fprintf(w, "**FAILED**: %d violation(s); logs kept in %s\n", len(r.Violations), r.Dir)
		for _, v := range r.Violations {
			fmt.Fprintf(w, "- %s\n", v)
		}
		fmt.Fprintf(w, "\nReplay: make soak SEED=%d SOAK=%s\n", r.Seed, r.Duration)
		return
	}
	fmt.Fprintf(w, "passed (replay: make soak SEED=%d SOAK=%s)\n", r.Seed, r.Duration)
}

func keys(ms ...map[string]int) func(func(string) bool) {
	return func(yield func(string) bool) {
		seen := map[string]bool{}
		for _, m := range ms {
			for k := range m {
				if !seen[k] {
					seen[k] = true
					if !yield(k) {
						return
					}
				}
			}
		}
	}
}

// percentiles returns p50, p99 and the maximum (nearest rank).
func percentiles(ds []time.Duration) (p50, p99, worst time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return rank(0.5), rank(0.99), s[len(s)-1]
}

func round(d time.Duration) string { return d.Round(100 * time.Millisecond).String() }
