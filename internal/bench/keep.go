package bench

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// keptSections reads the report at path and returns the sections of the
// scenarios that are not run now, by scenario number. A run of some
// scenarios (-only) then updates their sections and keeps the others'
// from the earlier run, each with its own Machine line (date, load), so
// one slow scenario need not be run again to refresh the rest. A missing
// report keeps nothing.
func keptSections(path string, run func(n int) bool) (map[int]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the earlier report: %w", err)
	}
	kept := map[int]string{}
	for _, sec := range splitSections(string(data)) {
		n, ok := sectionNumber(sec)
		if ok && !run(n) {
			kept[n] = sec
		}
	}
	return kept, nil
}

// splitSections cuts a report into its "## " sections; the text before the
// first one (title and run line) is dropped, as writeMarkdown writes it anew.
func splitSections(doc string) []string {
	var out []string
	lines := strings.SplitAfter(doc, "\n")
	cur := -1
	for _, l := range lines {
		if strings.HasPrefix(l, "## ") {
			out = append(out, "")
			cur++
		}
		if cur >= 0 {
			out[cur] += l
		}
	}
	return out
}

// sectionNumber reads the scenario number of a section's "## N. Title".
func sectionNumber(sec string) (int, bool) {
	head, _, _ := strings.Cut(strings.TrimPrefix(sec, "## "), ".")
	n, err := strconv.Atoi(head)
	return n, err == nil
}
