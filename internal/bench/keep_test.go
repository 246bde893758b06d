package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOnlyKeepsTheOtherScenariosSections(t *testing.T) {
	out := filepath.Join(t.TempDir(), "benchmarks.md")
	earlier := "# fedgen benchmarks\n\nRun at scale \"full\" on an old day.\n\n" +
		"## 1. Render\n\nold render table\n\n" +
		"## 7. Memory over commits\n\nold commits table\n\n" +
		"## 9. Many writers\n\nold writers table\n"
	if err := os.WriteFile(out, []byte(earlier), 0o644); err != nil {
		t.Fatal(err)
	}
	tbl := &Table{Title: "7. Memory over commits", Machine: ThisMachine(), Elapsed: time.Second,
		Header: []string{"commits", "heap"}}
	tbl.AddRow(100, "2.8 MiB")
	opts := SuiteOptions{Out: out, Scale: "full", Only: "7"}
	if err := writeMarkdown(opts, ThisMachine(), time.Second, []*Table{tbl}, nil); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(got)
	for _, want := range []string{"old render table", "old writers table", "| 100 | 2.8 MiB |", "Scenarios 7 ran now"} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q:\n%s", want, doc)
		}
	}
	if strings.Contains(doc, "old commits table") {
		t.Errorf("scenario 7's old section was kept beside its new one:\n%s", doc)
	}
	r, m, w := strings.Index(doc, "## 1."), strings.Index(doc, "## 7."), strings.Index(doc, "## 9.")
	if !(r < m && m < w) {
		t.Errorf("sections out of order (1 at %d, 7 at %d, 9 at %d):\n%s", r, m, w, doc)
	}
}

func TestFullRunKeepsNothing(t *testing.T) {
	out := filepath.Join(t.TempDir(), "benchmarks.md")
	if err := os.WriteFile(out, []byte("# x\n\n## 9. Many writers\n\nold\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeMarkdown(SuiteOptions{Out: out, Scale: "full"}, ThisMachine(), time.Second, nil, nil); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	if strings.Contains(string(got), "old") {
		t.Errorf("a run of every scenario kept an earlier section:\n%s", got)
	}
}
