package reconciler_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/fedgen/fedgen/internal/history"
)

// history reads back what a real run of fedgen committed: east joins,
// north joins, north leaves — newest first, with endpoint counts.
func TestHistoryOfARealRun(t *testing.T) {
	e := newEnv(t)
	e.link("east")
	e.link("north")
	e.deploy("east", member{name: "api", ips: []string{"10.23.1.10"}})
	e.start()
	e.waitReason("east", "api", "Mirrored", 60*time.Second)
	e.deploy("north", member{name: "api", ips: []string{"10.23.0.10", "10.23.0.11"}})
	e.waitReason("north", "api", "Mirrored", 30*time.Second)
	e.label("north", "api", "mirror.linkerd.io/federated", "")
	e.eventually("north's entry gone", 30*time.Second, func() (bool, string) {
		_, present := e.condition("north", "api", "Mirrored")
		return !present, fmt.Sprint(present)
	})

	src, err := history.OpenLocal(fleet.Git().RepoPath(e.repo), "main")
	if err != nil {
		t.Fatal(err)
	}
	var entries []history.Entry
	e.eventually("three entries in the history", 10*time.Second, func() (bool, string) {
		entries, err = history.Read(src.Repo.Storer, src.Head, history.FilePath(folder, e.ns, "api"), history.Options{LocalCluster: "west"})
		return err == nil && len(entries) == 3, fmt.Sprint(len(entries), err)
	})
	type row struct {
		change       string
		joined, left []string
		endpoints    map[string]int
	}
	var got []row
	for _, en := range entries {
		got = append(got, row{en.Change, en.Joined, en.Left, en.Endpoints})
	}
	want := []row{
		{"updated", nil, []string{"north"}, map[string]int{"east": 1}},
		{"updated", []string{"north"}, nil, map[string]int{"east": 1, "north": 2}},
		{"created", []string{"east"}, nil, map[string]int{"east": 1}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("history:\n got  %+v\n want %+v", got, want)
	}
	if heads := e.gitLog("%H"); len(heads) != 3 || entries[0].Commit != heads[0] {
		t.Errorf("newest entry %s, want main's head (log %v)", entries[0].Commit, heads)
	}
}
