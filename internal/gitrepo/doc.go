// Package gitrepo writes one owned folder of one branch of a remote Git
// repository, with go-git and no git binary.
//
// A Repo keeps a single-branch clone (in memory or in a cache directory)
// of what it works with, not the history: the heads, the trees on the
// path to the folder, the folder, a few commits below each head and the
// commits waiting to be pushed (prune.go). Its size follows the folder,
// not the number of commits made.
//
// Publish makes the folder on the remote branch hold exactly the files it is
// given: it commits only when the folder's tree changes, writes blobs, trees
// and the commit straight into the object store (rebuilding only the trees
// from the folder up to the root and reusing every other subtree by hash),
// and pushes without ever forcing. A push that loses a race is retried on top
// of the new remote head, so other writers' files outside the folder are
// kept.
//
// Errors wrap one of the kinds ErrPushRejected, ErrAuthFailed, ErrHostKey,
// ErrUnreachable or ErrRepositoryNotFound when they apply; Reason turns them
// into condition reasons. Secrets never appear in error messages.
package gitrepo
