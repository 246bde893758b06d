package gitrepo

import (
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// The functions below work on Git's object layer directly: a commit costs
// one blob per file of the folder (hashed, stored only when new), the
// folder's trees, and one tree per level from the folder up to the root.
// Every other subtree is reused by hash, untouched, so the cost follows the
// size of the folder and the depth of the path, not the repository.

// dirNode is a folder being built from a flat file map.
type dirNode struct {
	files map[string][]byte
	dirs  map[string]*dirNode
}

func newDirNode() *dirNode {
	return &dirNode{files: map[string][]byte{}, dirs: map[string]*dirNode{}}
}

// buildFolder writes files (paths relative to the folder) as blobs and trees
// and returns the folder's tree hash; ZeroHash for no files (Git has no
// empty folders).
func buildFolder(s storer.EncodedObjectStorer, files map[string][]byte) (plumbing.Hash, error) {
	if len(files) == 0 {
		return plumbing.ZeroHash, nil
	}
	root := newDirNode()
	for p, content := range files {
		if err := root.add(p, content); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	return root.write(s)
}

func (d *dirNode) add(p string, content []byte) error {
	if p == "" || path.Clean(p) != p || strings.HasPrefix(p, "/") {
		return fmt.Errorf("%w: %q is not a clean relative file path", ErrInvalidPath, p)
	}
	parts := strings.Split(p, "/")
	for _, c := range parts {
		if c == "." || c == ".." || strings.EqualFold(c, ".git") {
			return fmt.Errorf("%w: %q", ErrInvalidPath, p)
		}
	}
	for _, c := range parts[:len(parts)-1] {
		if _, isFile := d.files[c]; isFile {
			return fmt.Errorf("%w: %q needs %q to be a folder and a file", ErrInvalidPath, p, c)
		}
		next, ok := d.dirs[c]
		if !ok {
			next = newDirNode()
			d.dirs[c] = next
		}
		d = next
	}
	name := parts[len(parts)-1]
	if _, isDir := d.dirs[name]; isDir {
		return fmt.Errorf("%w: %q is both a file and a folder", ErrInvalidPath, p)
	}
	d.files[name] = content
	return nil
}

func (d *dirNode) write(s storer.EncodedObjectStorer) (plumbing.Hash, error) {
	entries := make([]object.TreeEntry, 0, len(d.files)+len(d.dirs))
	for name, content := range d.files {
		h, err := writeBlob(s, content)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: h})
	}
	for name, sub := range d.dirs {
		h, err := sub.write(s)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h})
	}
	return writeTree(s, entries)
}

// writeBlob stores content unless the store already has it.
func writeBlob(s storer.EncodedObjectStorer, content []byte) (plumbing.Hash, error) {
	h := plumbing.ComputeHash(plumbing.BlobObject, content)
	if s.HasEncodedObject(h) == nil {
		return h, nil
	}
	obj := s.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(content)))
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("writing blob: %w", err)
	}
	if _, err := w.Write(content); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("writing blob: %w", err)
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("writing blob: %w", err)
	}
	return s.SetEncodedObject(obj)
}

// writeTree sorts entries the way Git does and stores the tree unless the
// store already has it.
func writeTree(s storer.EncodedObjectStorer, entries []object.TreeEntry) (plumbing.Hash, error) {
	// Git orders entries by name, comparing a folder's name as if it ended
	// in "/"; a tree sorted otherwise fails git fsck.
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(entries, func(i, j int) bool { return key(entries[i]) < key(entries[j]) })
	obj := s.NewEncodedObject()
	if err := (&object.Tree{Entries: entries}).Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encoding tree: %w", err)
	}
	if s.HasEncodedObject(obj.Hash()) == nil {
		return obj.Hash(), nil
	}
	return s.SetEncodedObject(obj)
}

// treeEntries reads a tree's entries; a zero hash is the empty tree.
func treeEntries(s storer.EncodedObjectStorer, h plumbing.Hash) ([]object.TreeEntry, error) {
	if h.IsZero() {
		return nil, nil
	}
	t, err := object.GetTree(s, h)
	if err != nil {
		return nil, fmt.Errorf("reading tree %s: %w", h, err)
	}
	return t.Entries, nil
}

// subtree is the hash of the folder at parts below tree, ZeroHash if there
// is none. A file in the way is an ErrInvalidPath.
func subtree(s storer.EncodedObjectStorer, tree plumbing.Hash, parts []string) (plumbing.Hash, error) {
	for i, name := range parts {
		entries, err := treeEntries(s, tree)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		tree = plumbing.ZeroHash
		for _, e := range entries {
			if e.Name != name {
				continue
			}
			if e.Mode != filemode.Dir {
				return plumbing.ZeroHash, fmt.Errorf("%w: %q is a file, not a folder", ErrInvalidPath, strings.Join(parts[:i+1], "/"))
			}
			tree = e.Hash
		}
		if tree.IsZero() {
			return plumbing.ZeroHash, nil
		}
	}
	return tree, nil
}

// replaceSubtree returns the hash of tree with the folder at parts set to
// sub (ZeroHash removes it, and with it the folders it leaves empty). Only
// the trees on the path are rewritten. The result is ZeroHash if the whole
// tree ends up empty.
func replaceSubtree(s storer.EncodedObjectStorer, tree plumbing.Hash, parts []string, sub plumbing.Hash) (plumbing.Hash, error) {
	if len(parts) == 0 {
		return sub, nil
	}
	entries, err := treeEntries(s, tree)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	name := parts[0]
	out := make([]object.TreeEntry, 0, len(entries)+1)
	child := plumbing.ZeroHash
	for _, e := range entries {
		if e.Name != name {
			out = append(out, e)
			continue
		}
		if e.Mode != filemode.Dir {
			// Never replace someone else's file to make room for the folder.
			return plumbing.ZeroHash, fmt.Errorf("%w: %q is a file in the repository, not a folder", ErrInvalidPath, name)
		}
		child = e.Hash
	}
	newChild, err := replaceSubtree(s, child, parts[1:], sub)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if !newChild.IsZero() {
		out = append(out, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: newChild})
	}
	if len(out) == 0 {
		return plumbing.ZeroHash, nil
	}
	return writeTree(s, out)
}

// diffTrees adds to c what changes from tree old to tree new, with paths
// under prefix. It only descends into subtrees whose hashes differ.
func diffTrees(s storer.EncodedObjectStorer, old, new plumbing.Hash, prefix string, c *Change) error {
	if old == new {
		return nil
	}
	oldEntries, err := treeEntries(s, old)
	if err != nil {
		return err
	}
	newEntries, err := treeEntries(s, new)
	if err != nil {
		return err
	}
	byName := make(map[string]object.TreeEntry, len(newEntries))
	for _, e := range newEntries {
		byName[e.Name] = e
	}
	for _, oe := range oldEntries {
		p := path.Join(prefix, oe.Name)
		ne, ok := byName[oe.Name]
		delete(byName, oe.Name)
		switch {
		case !ok:
			if err := collect(s, oe, p, c, true); err != nil {
				return err
			}
		case oe.Mode == filemode.Dir && ne.Mode == filemode.Dir:
			if err := diffTrees(s, oe.Hash, ne.Hash, p, c); err != nil {
				return err
			}
		case (oe.Mode == filemode.Dir) != (ne.Mode == filemode.Dir):
			if err := collect(s, oe, p, c, true); err != nil {
				return err
			}
			if err := collect(s, ne, p, c, false); err != nil {
				return err
			}
		case oe.Hash != ne.Hash || oe.Mode != ne.Mode:
			c.Modified = append(c.Modified, p)
			if err := keepOld(s, oe, p, c); err != nil {
				return err
			}
		}
	}
	for _, ne := range byName {
		if err := collect(s, ne, path.Join(prefix, ne.Name), c, false); err != nil {
			return err
		}
	}
	return nil
}

// collect records every file under entry e as deleted (with its content)
// or added.
func collect(s storer.EncodedObjectStorer, e object.TreeEntry, p string, c *Change, deleted bool) error {
	if e.Mode == filemode.Dir {
		entries, err := treeEntries(s, e.Hash)
		if err != nil {
			return err
		}
		for _, sub := range entries {
			if err := collect(s, sub, path.Join(p, sub.Name), c, deleted); err != nil {
				return err
			}
		}
		return nil
	}
	if !deleted {
		c.Added = append(c.Added, p)
		return nil
	}
	c.Deleted = append(c.Deleted, p)
	return keepOld(s, e, p, c)
}

func keepOld(s storer.EncodedObjectStorer, e object.TreeEntry, p string, c *Change) error {
	if e.Mode == filemode.Submodule {
		return nil // a commit of another repository: no content here
	}
	content, err := readBlob(s, e.Hash)
	if err != nil {
		return fmt.Errorf("reading old %s: %w", p, err)
	}
	if c.Old == nil {
		c.Old = map[string][]byte{}
	}
	c.Old[p] = content
	return nil
}

func readBlob(s storer.EncodedObjectStorer, h plumbing.Hash) ([]byte, error) {
	b, err := object.GetBlob(s, h)
	if err != nil {
		return nil, err
	}
	r, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// readTreeFiles returns every file below tree, by path relative to it.
func readTreeFiles(s storer.EncodedObjectStorer, tree plumbing.Hash) (map[string][]byte, error) {
	var c Change
	// Reading a tree is diffing it against nothing, keeping the "old" side.
	if err := diffTrees(s, tree, plumbing.ZeroHash, "", &c); err != nil {
		return nil, err
	}
	files := c.Old
	if files == nil {
		files = map[string][]byte{}
	}
	return files, nil
}

// sortChange puts the change's lists in a stable order.
func sortChange(c *Change) {
	sort.Strings(c.Added)
	sort.Strings(c.Modified)
	sort.Strings(c.Deleted)
}
