package gitrepo

import (
	"bytes"
	"context"
	"fmt"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Commit replaces the owned folder's content at the local head with exactly
// files (paths relative to the folder; files not listed are removed, nothing
// outside the folder changes) and commits it, without pushing. When the
// folder already holds exactly files, no commit is made and Result.Changed
// is false.
func (r *Repo) Commit(ctx context.Context, files map[string][]byte, message MessageFunc) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res, err := r.commitOn(ctx, r.opts.Branch, files, message)
	if err != nil {
		return res, err
	}
	return res, r.maybePrune()
}

// commitOn commits files into the folder on top of the local head of
// branch and moves that head.
func (r *Repo) commitOn(ctx context.Context, branch string, files map[string][]byte, message MessageFunc) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	ref := r.localRef(branch)
	parent, err := r.refHash(ref)
	if err != nil {
		return Result{}, err
	}
	res := Result{Commit: parent}

	root, err := r.rootTree(parent)
	if err != nil {
		return res, err
	}
	oldFolder, err := subtree(r.storer, root, r.folder)
	if err != nil {
		return res, err
	}
	newFolder, err := buildFolder(r.storer, files)
	if err != nil {
		return res, err
	}
	if newFolder == oldFolder && !parent.IsZero() {
		return res, nil // nothing to commit
	}
	if newFolder.IsZero() && parent.IsZero() {
		return res, nil // an empty folder on a branch that does not exist yet
	}

	newRoot, err := replaceSubtree(r.storer, root, r.folder, newFolder)
	if err != nil {
		return res, err
	}
	if newRoot.IsZero() {
		// Everything is gone: Git still needs a (empty) root tree.
		if newRoot, err = writeTree(r.storer, nil); err != nil {
			return res, err
		}
	}
	var change Change
	if err := diffTrees(r.storer, oldFolder, newFolder, "", &change); err != nil {
		return res, err
	}
	sortChange(&change)

	msg := ""
	if message != nil {
		msg = message(change)
	}
	if msg == "" {
		msg = "Update " + r.opts.Path
	}
	h, err := r.writeCommit(newRoot, parent, msg)
	if err != nil {
		return res, err
	}
	if err := r.setRef(ref, h); err != nil {
		return res, err
	}
	r.sincePrune++
	return Result{Commit: h, Changed: true, Change: change}, nil
}

// writeCommit stores a commit of tree on parent (none if zero), signed
// when a signing key is configured.
func (r *Repo) writeCommit(tree, parent plumbing.Hash, message string) (plumbing.Hash, error) {
	now := r.opts.Now()
	c := &object.Commit{
		Author:    object.Signature{Name: r.opts.AuthorName, Email: r.opts.AuthorEmail, When: now},
		Committer: object.Signature{Name: r.opts.CommitterName, Email: r.opts.CommitterEmail, When: now},
		Message:   ensureNewline(message),
		TreeHash:  tree,
	}
	if !parent.IsZero() {
		c.ParentHashes = []plumbing.Hash{parent}
	}
	if r.opts.SigningKey != nil {
		sig, err := signCommit(c, r.opts.SigningKey)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		c.PGPSignature = sig
	}
	obj := r.storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encoding commit: %w", err)
	}
	h, err := r.storer.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("storing commit: %w", err)
	}
	return h, nil
}

// signCommit returns an armored detached OpenPGP signature over the commit
// as Git serializes it without its signature header, which is what
// `git verify-commit` and Flux check.
func signCommit(c *object.Commit, key *openpgp.Entity) (string, error) {
	payload := &plumbing.MemoryObject{}
	if err := c.EncodeWithoutSignature(payload); err != nil {
		return "", fmt.Errorf("encoding commit for signing: %w", err)
	}
	rd, err := payload.Reader()
	if err != nil {
		return "", fmt.Errorf("encoding commit for signing: %w", err)
	}
	defer rd.Close()
	var sig bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&sig, key, rd, nil); err != nil {
		return "", fmt.Errorf("signing commit: %w", err)
	}
	return sig.String(), nil
}

func ensureNewline(s string) string {
	if s == "" || s[len(s)-1] != '\n' {
		return s + "\n"
	}
	return s
}
