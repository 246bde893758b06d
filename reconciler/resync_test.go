package reconciler_test

import (
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedgen/fedgen/reconciler"
)

// Another writer pushes a commit that edits one of fedgen's files, deletes
// another, adds one of its own to fedgen's folder and adds a file outside
// it: with --resync-interval fedgen puts its folder back exactly, in one
// repair commit on top (their commit stays in the history, their file
// outside the folder stays), and commits nothing on the ticks after that,
// also when they change only files outside the folder.
func TestResyncRestoresFolderChangedOutside(t *testing.T) {
	e := newEnv(t)
	git := fleet.Git()
	e.link("east")
	e.deploy("east", member{name: "web", ips: []string{"10.23.1.80"}})
	e.deploy("east", member{name: "api", ips: []string{"10.23.1.81"}})
	checks := &logCounter{w: testWriter{t}, needle: "msg=\"folder checked\""}
	_, m, _ := e.startR(func(o *reconciler.Options) {
		o.ResyncInterval = 500 * time.Millisecond
		o.Log = slog.New(slog.NewTextHandler(checks, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})

	web := folder + "/" + e.ns + "/web-federated.yaml"
	api := folder + "/" + e.ns + "/api-federated.yaml"
	e.eventually("both federated Services committed", 60*time.Second, func() (bool, string) {
		return strings.Contains(e.gitShow(web), "10.23.1.80") && strings.Contains(e.gitShow(api), "10.23.1.81"),
			e.gitShow(folder + "/kustomization.yaml")
	})
	// The folder as fedgen rendered it, before anyone else touched it.
	want := e.folderTree()
	before := len(e.commits())

	theirs, err := git.CommitFiles(e.repo, "main", map[string][]byte{
		web:                                 []byte(strings.ReplaceAll(e.gitShow(web), "10.23.1.80", "192.0.2.66")),
		api:                                 nil,
		folder + "/" + e.ns + "/extra.yaml": []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n"),
		"apps/theirs.yaml":                  []byte("kind: ConfigMap\n"),
	}, "someone else's edit")
	if err != nil {
		t.Fatal(err)
	}
	e.eventually("fedgen's folder put back", 30*time.Second, func() (bool, string) {
		got := e.folderTree()
		return got == want, got
	})
	msgs := e.commits()
	if len(msgs) != before+2 {
		t.Fatalf("%d commits after theirs, want 1 (the repair):\n%s", len(msgs)-before-1, strings.Join(msgs[:len(msgs)-before], "\n---\n"))
	}
	subject := strings.SplitN(msgs[0], "\n", 2)[0]
	if subject != "restore "+folder+": 3 files changed outside fedgen" {
		t.Errorf("repair commit's subject %q", subject)
	}
	if err := exec.Command("git", "--git-dir", git.RepoPath(e.repo), "merge-base", "--is-ancestor", theirs, "main").Run(); err != nil {
		t.Errorf("their commit %s is not an ancestor of main: history was rewritten", theirs)
	}
	if got := e.gitShow("apps/theirs.yaml"); got != "kind: ConfigMap\n" {
		t.Errorf("their file outside the folder: %q", got)
	}
	// The metric counts once the push returned, just after the server
	// showed the commit.
	e.eventually("fedgen_folder_repairs_total = 1", 10*time.Second, func() (bool, string) {
		return value(m.FolderRepairs) == 1, fmt.Sprint(value(m.FolderRepairs))
	})
	ev := e.waitEvent("east", "FolderDrifted", 30*time.Second)
	if !strings.Contains(ev.Message, "3 files in "+folder) {
		t.Errorf("Event message %q", ev.Message)
	}

	// A change outside the folder only: checked, nothing committed.
	if _, err := git.CommitFiles(e.repo, "main", map[string][]byte{"apps/later.yaml": []byte("kind: Secret\n")}, "their later commit"); err != nil {
		t.Fatal(err)
	}
	after := len(e.commits())
	seen := checks.n.Load()
	e.eventually("three more drift checks", 30*time.Second, func() (bool, string) {
		return checks.n.Load() >= seen+3, fmt.Sprint(checks.n.Load() - seen)
	})
	if got := len(e.commits()); got != after {
		t.Errorf("%d commits on ticks where the folder matched", got-after)
	}
	if got := e.folderTree(); got != want {
		t.Errorf("folder tree %s, want %s", got, want)
	}
	if got := value(m.FolderRepairs); got != 1 {
		t.Errorf("fedgen_folder_repairs_total = %v after ticks without drift, want 1", got)
	}
	e.gitFsck()
}

// folderTree is the tree hash of fedgen's folder at the head of main: equal
// hashes, equal files and nothing else.
func (e *env) folderTree() string {
	e.t.Helper()
	out, err := exec.Command("git", "--git-dir", fleet.Git().RepoPath(e.repo), "rev-parse", "main:"+folder).CombinedOutput()
	if err != nil {
		return "error: " + strings.TrimSpace(string(out))
	}
	return strings.TrimSpace(string(out))
}

// logCounter passes log lines on to w and counts those holding needle.
type logCounter struct {
	w      testWriter
	needle string
	n      atomic.Int32
}

func (c *logCounter) Write(p []byte) (int, error) {
	c.n.Add(int32(strings.Count(string(p), c.needle)))
	return c.w.Write(p)
}

// A replica that may not write (its Lease not renewed) does not put the
// folder back; once it may write again, it does, in one commit.
func TestResyncOnlyWhenItMayWrite(t *testing.T) {
	e := newEnv(t)
	e.link("east")
	e.deploy("east", member{name: "web", ips: []string{"10.23.1.80"}})
	var fenced atomic.Bool
	skipped := &logCounter{w: testWriter{t}, needle: "msg=\"folder not checked\""}
	_, m, _ := e.startR(func(o *reconciler.Options) {
		o.ResyncInterval = 500 * time.Millisecond
		o.Log = slog.New(slog.NewTextHandler(skipped, &slog.HandlerOptions{Level: slog.LevelDebug}))
		o.CanWrite = func() error {
			if fenced.Load() {
				return fmt.Errorf("the Lease was not renewed")
			}
			return nil
		}
	})
	web := folder + "/" + e.ns + "/web-federated.yaml"
	e.eventually("the federated Service committed", 60*time.Second, func() (bool, string) {
		return strings.Contains(e.gitShow(web), "10.23.1.80"), e.gitShow(web)
	})
	want := e.folderTree()
	fenced.Store(true)
	if _, err := fleet.Git().CommitFiles(e.repo, "main", map[string][]byte{web: nil}, "someone else's delete"); err != nil {
		t.Fatal(err)
	}
	tampered := e.folderTree()
	seen := skipped.n.Load()
	e.eventually("three fenced drift checks", 30*time.Second, func() (bool, string) {
		return skipped.n.Load() >= seen+3, fmt.Sprint(skipped.n.Load() - seen)
	})
	if got := e.folderTree(); got != tampered || value(m.FolderRepairs) != 0 {
		t.Fatalf("a replica that may not write changed the folder: tree %s (theirs %s), repairs %v", got, tampered, value(m.FolderRepairs))
	}
	fenced.Store(false)
	e.eventually("fedgen's folder put back", 30*time.Second, func() (bool, string) {
		got := e.folderTree()
		return got == want, got
	})
	if subject := strings.SplitN(e.commits()[0], "\n", 2)[0]; subject != "restore "+folder+": 1 file changed outside fedgen" {
		t.Errorf("repair commit's subject %q", subject)
	}
	// The metric counts once the push returned, just after the server
	// showed the commit.
	e.eventually("fedgen_folder_repairs_total = 1", 10*time.Second, func() (bool, string) {
		return value(m.FolderRepairs) == 1, fmt.Sprint(value(m.FolderRepairs))
	})
}
