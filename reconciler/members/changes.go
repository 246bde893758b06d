package members

import (
	"strings"
	"sync"

	"github.com/fedgen/fedgen/internal/rendercache"
)

// Changes say what changed in the inputs since the reconciler last took
// them: the member Services (by namespace and name, in any cluster) whose
// Service or slices changed, the Namespaces whose members may all have
// changed (a Namespace created or deleted, a slice watch swapped in), or
// — when a Link, a cluster's state, a member quota's cut or anything else
// that concerns every member changed — All. The reconciler renders again
// only what they name.
type Changes struct {
	All        bool
	Services   map[rendercache.Key]bool
	Namespaces map[string]bool
}

// Empty reports whether nothing changed.
func (c *Changes) Empty() bool { return !c.All && len(c.Services) == 0 && len(c.Namespaces) == 0 }

// Merge adds o's changes to c.
func (c *Changes) Merge(o Changes) {
	c.All = c.All || o.All
	for k := range o.Services {
		c.addService(k)
	}
	for ns := range o.Namespaces {
		c.addNamespace(ns)
	}
}

func (c *Changes) addService(k rendercache.Key) {
	if c.Services == nil {
		c.Services = map[rendercache.Key]bool{}
	}
	c.Services[k] = true
}

func (c *Changes) addNamespace(ns string) {
	if c.Namespaces == nil {
		c.Namespaces = map[string]bool{}
	}
	c.Namespaces[ns] = true
}

// Keys lists the services c names, those of a changed namespace as
// inNamespace lists them (the services rendered last time). With All it
// lists nothing: everything is to be rendered.
func (c *Changes) Keys(inNamespace func(string) []rendercache.Key) []rendercache.Key {
	if c.All {
		return nil
	}
	keys := make([]rendercache.Key, 0, len(c.Services))
	for k := range c.Services {
		keys = append(keys, k)
	}
	for ns := range c.Namespaces {
		keys = append(keys, inNamespace(ns)...)
	}
	return keys
}

// note records what event e changed. An event that names one member
// Service concerns that service; one that names a Namespace ("ns" for
// NamespacesChanged, "ns/*" for a slice watch), that namespace; any other
// event that can change the render concerns every service (a kind added
// later is safe by default).
func (c *Changes) note(e Event) {
	if !e.Kind.AffectsRender() {
		return
	}
	switch e.Kind {
	case MemberJoined, MemberUpdated, MemberLeft, EndpointsChanged, MemberDeleted:
		ns, name, ok := strings.Cut(e.Object, "/")
		switch {
		case !ok || ns == "" || name == "":
		case name == "*":
			c.addNamespace(ns)
			return
		default:
			c.addService(rendercache.Key{Namespace: ns, Name: name})
			return
		}
	case NamespacesChanged:
		if e.Object != "" && !strings.Contains(e.Object, "/") {
			c.addNamespace(e.Object)
			return
		}
	}
	c.All = true
}

// changeLog gathers the changes of the watches until the reconciler takes
// them. Its first take is All: nothing was rendered yet.
type changeLog struct {
	mu      sync.Mutex
	pending Changes
	taken   bool
}

func (l *changeLog) note(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending.note(e)
}

// everything records a change of every service.
func (l *changeLog) everything() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending.All = true
}

func (l *changeLog) take() Changes {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.pending
	c.All = c.All || !l.taken
	l.pending, l.taken = Changes{}, true
	return c
}

// TakeChanges returns what changed since the last call and forgets it;
// the first call returns All. Take the changes before reading the inputs
// they concern: a change made meanwhile is then in the next set, never
// lost (an informer updates its cache before it calls its handlers, and
// the handlers record the change).
func (t *Tracker) TakeChanges() Changes { return t.changes.take() }
