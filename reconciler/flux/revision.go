package flux

import (
	"strings"
)

// Lengths of the hex digests Flux writes for Git commits.
const (
	sha1HexLen   = 40
	sha256HexLen = 64
)

// ParseRevision returns the commit hash (lower-case hex) that a Flux
// revision names. It accepts the forms Flux has written over time:
//
//	main@sha1:<40 hex>              (Flux v2 GitRepository, v1 API)
//	refs/heads/main@sha1:<40 hex>   (a ref given as a full name)
//	sha1:<40 hex>                   (a commit given without a branch)
//	sha256:<64 hex>                 (SHA-256 repositories, either form above)
//	<40 or 64 hex>                  (a bare hash)
//	main/<40 hex>                   (the pre-v1 "branch/hash" form)
//
// ok is false when rev names no hash, or the digest does not have the
// length its algorithm says: such a revision must not be taken as "equal"
// to anything.
func ParseRevision(rev string) (hash string, ok bool) {
	rev = strings.TrimSpace(rev)
	// The ref may itself contain '@' (Git allows it, except "@{"), so the
	// digest is what follows the last one.
	if i := strings.LastIndex(rev, "@"); i >= 0 {
		return parseDigest(rev[i+1:])
	}
	if strings.Contains(rev, ":") {
		return parseDigest(rev)
	}
	if i := strings.LastIndex(rev, "/"); i >= 0 {
		// Legacy "<branch>/<hash>": only a SHA-1 hash was ever written so.
		h := rev[i+1:]
		if len(h) == sha1HexLen && isHex(h) {
			return strings.ToLower(h), true
		}
		return "", false
	}
	if (len(rev) == sha1HexLen || len(rev) == sha256HexLen) && isHex(rev) {
		return strings.ToLower(rev), true
	}
	return "", false
}

// SameRevision reports whether a and b, each a Flux revision or a bare
// hash, name the same commit. Two revisions that cannot be parsed are not
// the same, even when the strings are equal.
func SameRevision(a, b string) bool {
	ha, okA := ParseRevision(a)
	hb, okB := ParseRevision(b)
	return okA && okB && ha == hb
}

// parseDigest parses "<algorithm>:<hex>".
func parseDigest(d string) (string, bool) {
	algo, h, found := strings.Cut(d, ":")
	if !found || !isHex(h) {
		return "", false
	}
	switch strings.ToLower(algo) {
	case "sha1":
		if len(h) != sha1HexLen {
			return "", false
		}
	case "sha256":
		if len(h) != sha256HexLen {
			return "", false
		}
	default:
		return "", false
	}
	return strings.ToLower(h), true
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		default:
			return false
		}
	}
	return true
}
