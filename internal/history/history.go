// Package history reads a federated Service's timeline back from the Git
// repository fedgen commits to: for each commit that changed its file,
// when, which members joined or left, endpoint counts per cluster and
// conflicts. It is `fedgen history`.
//
// Only the commits that touched the file are read in full: for every other
// commit the walk compares the hashes of the trees on the file's path with
// its parents', decoding each distinct tree once, so the cost follows the
// length of the history, not the size of the repository's files.
package history

import (
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/fedgen/fedgen/internal/fedfile"
)

// Entry is one commit that changed the federated Service's file.
type Entry struct {
	Commit  string    `json:"commit"`
	When    time.Time `json:"when"`
	Author  string    `json:"author"`
	Subject string    `json:"subject"`
	// Change is "created", "updated" or "deleted".
	Change string `json:"change"`
	// Members are the member clusters after the commit; Joined and Left
	// what changed.
	Members []string `json:"members"`
	Joined  []string `json:"joined,omitempty"`
	Left    []string `json:"left,omitempty"`
	// Endpoints counts endpoints per cluster after the commit;
	// EndpointsBefore before it.
	Endpoints       map[string]int `json:"endpoints"`
	EndpointsBefore map[string]int `json:"endpointsBefore,omitempty"`
	// Conflicts are the conflicts the commit message reports for the
	// Service ("<cluster>: <message>").
	Conflicts []string `json:"conflicts,omitempty"`
}

// Options narrow a Read.
type Options struct {
	// Since drops commits made before it (zero: none dropped).
	Since time.Time
	// LocalCluster names the local cluster among the members; when empty
	// it is inferred from the endpoints' source clusters, else "local".
	LocalCluster string
}

// FilePath is the path of the federated Service's file in the
// repository: <folder>/<namespace>/<service>-federated.yaml.
func FilePath(folder, namespace, service string) string {
	if !strings.HasSuffix(service, "-federated") {
		service += "-federated"
	}
	return path.Join(strings.Trim(folder, "/"), namespace, service+".yaml")
}

// Read returns the entries of file (a path from the repository root) in
// the history of head, newest first. A commit is listed when the file
// differs from every one of its parents (as `git log -- file` lists them:
// a merge that only brings in a change already listed on its side branch
// is not listed again).
func Read(s storer.EncodedObjectStorer, head plumbing.Hash, file string, opts Options) ([]Entry, error) {
	w := &walker{s: s, parts: strings.Split(file, "/"), trees: map[treeKey]plumbing.Hash{}, files: map[plumbing.Hash]plumbing.Hash{}}
	var touched []*object.Commit
	seen := map[plumbing.Hash]bool{head: true}
	stack := []plumbing.Hash{head}
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		c, err := object.GetCommit(s, h)
		if err != nil {
			return nil, fmt.Errorf("reading commit %s: %w", h, err)
		}
		mine, err := w.fileOf(c)
		if err != nil {
			return nil, err
		}
		differs := true
		for _, p := range c.ParentHashes {
			pc, err := object.GetCommit(s, p)
			if err != nil {
				return nil, fmt.Errorf("reading commit %s: %w", p, err)
			}
			theirs, err := w.fileOf(pc)
			if err != nil {
				return nil, err
			}
			if theirs == mine {
				differs = false
			}
			if !seen[p] {
				seen[p] = true
				stack = append(stack, p)
			}
		}
		if len(c.ParentHashes) == 0 && mine.IsZero() {
			differs = false
		}
		if differs && !c.Committer.When.Before(opts.Since) {
			touched = append(touched, c)
		}
	}
	sort.SliceStable(touched, func(i, j int) bool { return touched[i].Committer.When.After(touched[j].Committer.When) })

	out := make([]Entry, 0, len(touched))
	for _, c := range touched {
		e, err := w.entry(c, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

type treeKey struct {
	tree  plumbing.Hash
	depth int
}

// walker resolves the file's blob in commits, remembering every tree it
// decoded.
type walker struct {
	s     storer.EncodedObjectStorer
	parts []string
	trees map[treeKey]plumbing.Hash       // (tree at depth) → blob of the file below it
	files map[plumbing.Hash]plumbing.Hash // commit → blob
}

// fileOf is the blob hash of the file in commit c (ZeroHash: absent).
func (w *walker) fileOf(c *object.Commit) (plumbing.Hash, error) {
	if h, ok := w.files[c.Hash]; ok {
		return h, nil
	}
	h, err := w.resolve(c.TreeHash, 0)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	w.files[c.Hash] = h
	return h, nil
}

func (w *walker) resolve(tree plumbing.Hash, depth int) (plumbing.Hash, error) {
	key := treeKey{tree, depth}
	if h, ok := w.trees[key]; ok {
		return h, nil
	}
	t, err := object.GetTree(w.s, tree)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("reading tree %s: %w", tree, err)
	}
	var found plumbing.Hash
	if e, err := t.FindEntry(w.parts[depth]); err == nil {
		last := depth == len(w.parts)-1
		switch {
		case last && e.Mode.IsFile():
			found = e.Hash
		case !last && !e.Mode.IsFile():
			if found, err = w.resolve(e.Hash, depth+1); err != nil {
				return plumbing.ZeroHash, err
			}
		}
	}
	w.trees[key] = found
	return found, nil
}

// entry describes commit c, which changed the file.
func (w *walker) entry(c *object.Commit, opts Options) (Entry, error) {
	subject, _, _ := strings.Cut(c.Message, "\n")
	e := Entry{
		Commit: c.Hash.String(), When: c.Committer.When, Author: c.Author.Name,
		Subject: subject, Endpoints: map[string]int{},
	}
	after, err := w.summary(c)
	if err != nil {
		return e, err
	}
	var before *fedfile.Summary
	if len(c.ParentHashes) > 0 {
		p, err := object.GetCommit(w.s, c.ParentHashes[0])
		if err != nil {
			return e, fmt.Errorf("reading commit %s: %w", c.ParentHashes[0], err)
		}
		if before, err = w.summary(p); err != nil {
			return e, err
		}
	}
	switch {
	case before == nil:
		e.Change = "created"
	case after == nil:
		e.Change = "deleted"
	default:
		e.Change = "updated"
	}
	var oldMembers []string
	if before != nil {
		oldMembers = before.Members(localName(*before, opts.LocalCluster))
		e.EndpointsBefore = before.Endpoints
	}
	if after != nil {
		e.Members = after.Members(localName(*after, opts.LocalCluster))
		e.Endpoints = after.Endpoints
	}
	e.Joined, e.Left = minus(e.Members, oldMembers), minus(oldMembers, e.Members)
	e.Conflicts = conflicts(c.Message, strings.TrimSuffix(strings.Join(w.parts[len(w.parts)-2:], "/"), ".yaml"))
	return e, nil
}

// summary parses the file at commit c; nil when it is absent.
func (w *walker) summary(c *object.Commit) (*fedfile.Summary, error) {
	h, err := w.fileOf(c)
	if err != nil || h.IsZero() {
		return nil, err
	}
	b, err := object.GetBlob(w.s, h)
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", h, err)
	}
	rd, err := b.Reader()
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", h, err)
	}
	defer rd.Close()
	data, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", h, err)
	}
	s, err := fedfile.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s at %s: %w", strings.Join(w.parts, "/"), c.Hash, err)
	}
	return &s, nil
}

// localName is the local cluster's name in s: the one given, else the one
// source cluster of endpoints that is not a remote member.
func localName(s fedfile.Summary, given string) string {
	if given != "" {
		return given
	}
	remote := map[string]bool{}
	for _, r := range s.Remote {
		remote[r] = true
	}
	var candidates []string
	for c := range s.Endpoints {
		if !remote[c] && c != "" {
			candidates = append(candidates, c)
		}
	}
	if len(candidates) == 1 {
		return candidates[0]
	}
	return "local"
}

// conflicts extracts the conflicts the commit message's line of service
// ("<namespace>/<svc>-federated: ...; conflict east: ...") reports.
func conflicts(message, service string) []string {
	var out []string
	for _, line := range strings.Split(message, "\n") {
		rest, ok := strings.CutPrefix(line, service+": ")
		if !ok {
			continue
		}
		for _, part := range strings.Split(rest, "; ") {
			if c, ok := strings.CutPrefix(part, "conflict "); ok {
				out = append(out, c)
			}
		}
	}
	return out
}

func minus(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}
