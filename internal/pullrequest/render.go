package pullrequest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Kind is what a reviewed change does.
type Kind string

// Kinds of reviewed changes (SPEC §4.1, the reviewed column).
const (
	// ServiceAdded: a federated Service appears.
	ServiceAdded Kind = "service added"
	// ServiceRemoved: a federated Service disappears.
	ServiceRemoved Kind = "service removed"
	// Joined: a member joins (Change.Cluster).
	Joined Kind = "joined"
	// Left: a member leaves by decision (Change.Cluster).
	Left Kind = "left"
	// PortsChanged: the federated Service's ports change.
	PortsChanged Kind = "ports changed"
	// LabelsChanged, AnnotationsChanged: the federated Service's own
	// labels or annotations change.
	LabelsChanged      Kind = "labels changed"
	AnnotationsChanged Kind = "annotations changed"
	// EndpointsChanged: endpoints change (reviewed with --review=all, or
	// those a member keeps serving while its leave waits).
	EndpointsChanged Kind = "endpoints changed"
)

// Change is one reviewed change.
type Change struct {
	// Service is the federated Service, "<namespace>/<name>".
	Service string
	// Cluster is the member's cluster; empty for changes of the federated
	// Service itself.
	Cluster string
	Kind    Kind
	// Detail says more, e.g. "http 80/TCP → http 8080/TCP".
	Detail string
}

// Commit is one commit of the review branch.
type Commit struct {
	// SHA is the full hash; Subject the first line of its message.
	SHA, Subject string
}

// Proposal is what the review branch proposes for a merge into the
// followed branch.
type Proposal struct {
	// Changes are the reviewed changes; none means the review branch no
	// longer differs from the followed branch.
	Changes []Change
	// Commits are the review branch's commits the followed branch lacks,
	// oldest first.
	Commits []Commit
	// Cluster is the local cluster fedgen federates for.
	Cluster string
	// Base is the followed branch, BaseCommit its head the proposal is
	// built on.
	Base, BaseCommit string
	// AllReviewed is true with --review=all: endpoint changes wait for a
	// review too.
	AllReviewed bool
	// ContentKey, when set, identifies the proposal's content beyond its
	// changes (with --review=all, the proposed files: which endpoints is
	// part of what is reviewed, and declined).
	ContentKey string
}

// maxTitle keeps titles short enough for forges' lists.
const maxTitle = 72

// sortedChanges orders changes by service, cluster, kind: the table and
// the fingerprint do not depend on the order they were found in.
func sortedChanges(cs []Change) []Change {
	out := slices.Clone(cs)
	slices.SortFunc(out, func(a, b Change) int {
		return strings.Compare(a.Service+"\x00"+a.Cluster+"\x00"+string(a.Kind)+"\x00"+a.Detail,
			b.Service+"\x00"+b.Cluster+"\x00"+string(b.Kind)+"\x00"+b.Detail)
	})
	return slices.Compact(out)
}

// Fingerprint identifies a proposal's content: its reviewed changes,
// whatever commits carry them. A declined proposal is recognised by it.
func Fingerprint(p Proposal) string {
	h := sha256.New()
	for _, c := range sortedChanges(p.Changes) {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\n", c.Service, c.Cluster, c.Kind, c.Detail)
	}
	if p.ContentKey != "" {
		fmt.Fprintf(h, "content\x00%s\n", p.ContentKey)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))[:32]
}

// Title says what the proposal federates, in at most maxTitle bytes:
// "Federate shop/web-federated (new): east and north join",
// "Federate shop/web-federated: east leaves, ports changed",
// "Federate shop/web-federated and 2 more: 5 changes".
func Title(p Proposal) string {
	cs := sortedChanges(p.Changes)
	var services []string
	for _, c := range cs {
		if !slices.Contains(services, c.Service) {
			services = append(services, c.Service)
		}
	}
	switch len(services) {
	case 0:
		return "Federate: no changes"
	case 1:
		if t := "Federate " + serviceSummary(services[0], cs); len(t) <= maxTitle {
			return t
		}
	}
	summary := fmt.Sprintf(": %d changes", len(cs))
	if len(cs) == 1 {
		summary = ": 1 change"
	}
	// As many services by name as fit, then how many more.
	for n := len(services); n > 1; n-- {
		t := "Federate " + strings.Join(services[:n], ", ")
		if n < len(services) {
			t += fmt.Sprintf(" and %d more", len(services)-n)
		}
		if t += summary; len(t) <= maxTitle {
			return t
		}
	}
	more := ""
	if len(services) > 1 {
		more = fmt.Sprintf(" and %d more", len(services)-1)
	}
	return truncate("Federate "+services[0]+more+summary, maxTitle)
}

// serviceSummary is one federated Service's changes in a few words:
// "shop/web-federated (new): east and north join, west leaves".
func serviceSummary(service string, cs []Change) string {
	var joined, left, other []string
	status, endpoints := "", false
	for _, c := range cs {
		if c.Service != service {
			continue
		}
		switch c.Kind {
		case ServiceAdded:
			status = " (new)"
		case ServiceRemoved:
			status = " (removed)"
		case Joined:
			joined = append(joined, c.Cluster)
		case Left:
			left = append(left, c.Cluster)
		case EndpointsChanged:
			endpoints = true
		default:
			other = append(other, string(c.Kind))
		}
	}
	var parts []string
	if len(joined) > 0 {
		parts = append(parts, prose(joined)+verb(joined, " joins", " join"))
	}
	if len(left) > 0 {
		parts = append(parts, prose(left)+verb(left, " leaves", " leave"))
	}
	parts = append(parts, other...)
	if endpoints {
		parts = append(parts, string(EndpointsChanged))
	}
	if len(parts) == 0 {
		return service + status
	}
	return service + status + ": " + strings.Join(parts, ", ")
}

// prose lists names: "east", "east and north", "a, b and c".
func prose(names []string) string {
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func verb(names []string, one, many string) string {
	if len(names) == 1 {
		return one
	}
	return many
}

// truncate cuts s to at most n bytes, on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	const mark = "…"
	if len(s) <= n {
		return s
	}
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// marker is the hidden line of the body that carries the fingerprint;
// closedMarker replaces it when fedgen itself closes the pull request, so
// that closing is not mistaken for a person declining.
const (
	markerPrefix       = "<!-- fedgen:proposal "
	closedMarkerPrefix = "<!-- fedgen:closed-by-fedgen proposal "
	markerSuffix       = " -->"
)

var markerRE = regexp.MustCompile(`<!-- fedgen:(closed-by-fedgen )?proposal (sha256:[0-9a-f]+) -->`)

// BodyFingerprint reads the fingerprint a body carries, and whether
// fedgen closed the pull request; "" when the body has no marker (not
// fedgen's, or edited away).
func BodyFingerprint(body string) (fingerprint string, closedByFedgen bool) {
	m := markerRE.FindStringSubmatch(body)
	if m == nil {
		return "", false
	}
	return m[2], m[1] != ""
}

// MarkClosedByFedgen rewrites a body's marker to say fedgen closed it.
func MarkClosedByFedgen(body string) string {
	return markerRE.ReplaceAllString(body, closedMarkerPrefix+"$2"+markerSuffix)
}

// Body is the pull request's description: what merging changes, as a
// table of the reviewed changes, the commits, and what closing means.
func Body(p Proposal) string {
	var b strings.Builder
	base := p.Base
	if base == "" {
		base = "the followed branch"
	}
	cluster := ""
	if p.Cluster != "" {
		cluster = " of cluster " + p.Cluster
	}
	fmt.Fprintf(&b, "fedgen proposes these changes to the federated Services%s. Merging "+
		"(merge commit, squash or rebase) lets Flux apply them from `%s`.\n\n", cluster, base)
	b.WriteString("| federated service | cluster | change | detail |\n|---|---|---|---|\n")
	for _, c := range sortedChanges(p.Changes) {
		cl := c.Cluster
		if cl == "" {
			cl = "—"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", c.Service, cell(cl), c.Kind, cell(c.Detail))
	}
	if len(p.Commits) > 0 {
		b.WriteString("\n### Commits\n\n")
		for _, c := range p.Commits {
			sha := c.SHA
			if len(sha) > 12 {
				sha = sha[:12]
			}
			fmt.Fprintf(&b, "- `%s` %s\n", sha, cell(c.Subject))
		}
	}
	b.WriteString("\n")
	if !p.AllReviewed {
		b.WriteString("Endpoints of members already approved reach `" + base + "` without review. ")
	}
	b.WriteString("Closing this pull request without merging declines the proposal: fedgen " +
		"does not propose it again until its content changes (reopen the pull request to propose it again). " +
		"fedgen rewrites this description on every push.\n\n")
	b.WriteString(markerPrefix + Fingerprint(p) + markerSuffix + "\n")
	return b.String()
}

// cell keeps a value from breaking the Markdown table.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}
