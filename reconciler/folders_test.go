package reconciler

import (
	"fmt"
	"testing"
)

func TestFolderCacheKeepsTheLastCommitsOnly(t *testing.T) {
	c := newFolderCache()
	const commits = 10 * folderCacheSize
	for i := range commits {
		c.put(fmt.Sprint("commit-", i), map[string][]byte{"f.yaml": []byte(fmt.Sprint(i))})
		c.put(fmt.Sprint("commit-", i), map[string][]byte{"f.yaml": []byte(fmt.Sprint("again ", i))}) // the same commit put twice
	}
	if len(c.files) != folderCacheSize || len(c.order) != folderCacheSize {
		t.Fatalf("after %d commits the cache holds %d folders (%d in order), want %d", commits, len(c.files), len(c.order), folderCacheSize)
	}
	for i := range commits {
		f, ok := c.get(fmt.Sprint("commit-", i))
		recent := i >= commits-folderCacheSize
		if ok != recent {
			t.Errorf("commit %d kept %t, want %t", i, ok, recent)
		}
		if ok && string(f["f.yaml"]) != fmt.Sprint("again ", i) {
			t.Errorf("commit %d holds %q, want the last put", i, f["f.yaml"])
		}
	}
}
