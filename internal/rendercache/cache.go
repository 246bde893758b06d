// Package rendercache renders the federation folder incrementally: it keeps
// the rendering of every federated Service and renders again only the
// services whose members changed since the last render.
//
// A member is unchanged when its Service and every one of its
// EndpointSlices carry the same UID and resourceVersion as before (the API
// server gives every change a new resourceVersion), its cluster's Link
// says the same, and its namespace still exists or not as before. Objects
// without a resourceVersion (offline snapshots, hand-built inputs) are
// never trusted: their service is rendered every time. The result is
// byte-for-byte what generator.Render returns for the same input.
package rendercache

import (
	"reflect"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/fedgen/fedgen/generator"
)

// Stats describe one Render call.
type Stats struct {
	// Services is the number of federated Services (groups of members).
	Services int
	// Rendered is how many of them were rendered; the others came from
	// the cache.
	Rendered int
}

// Cache renders incrementally. It is not safe for concurrent use: the
// reconciler's loop is its only caller.
type Cache struct {
	opts    generator.Options
	valid   bool // opts were validated and entries rendered with them
	entries map[serviceKey]*entry
}

type serviceKey struct{ namespace, name string }

// entry is the rendering of one federated Service and what it was made of.
type entry struct {
	members  []memberKey
	nsExists bool
	out      *generator.ServiceOutput
}

// memberKey identifies the state of one member: equal keys render equal
// bytes.
type memberKey struct {
	cluster string
	link    *generator.LinkInfo
	svcUID  string
	svcRV   string
	slices  []objectKey
	// quota is the member's QuotaExceeded: another member coming or going
	// can put it beyond a quota with no change of its own.
	quota string
}

type objectKey struct{ uid, rv string }

// New returns an empty cache.
func New() *Cache { return &Cache{entries: map[serviceKey]*entry{}} }

// Render renders in, reusing the renderings of federated Services whose
// inputs did not change since the previous call.
func (c *Cache) Render(in generator.Input) (*generator.Output, Stats, error) {
	if !c.valid || !reflect.DeepEqual(c.opts, in.Options) {
		if err := in.Options.Validate(); err != nil {
			return nil, Stats{}, err
		}
		// Other options render other bytes: start afresh.
		c.opts, c.valid = in.Options, true
		clear(c.entries)
	}
	groups := generator.Group(in)
	outs := make([]*generator.ServiceOutput, len(groups))
	var todo []int
	for i := range groups {
		g := &groups[i]
		// Compared in place: building keys for every member on every
		// render cost more than the render of the one that changed.
		if e := c.entries[serviceKey{g.Namespace, g.Name}]; e != nil && e.nsExists == g.NamespaceExists && e.matches(g.Members) {
			outs[i] = e.out
			continue
		}
		todo = append(todo, i)
	}
	forEach(len(todo), func(j int) {
		i := todo[j]
		outs[i] = generator.RenderService(in.Options, groups[i])
	})
	// Forget services that are gone, remember the new renderings.
	if len(groups) != len(c.entries) || len(todo) > 0 {
		live := make(map[serviceKey]bool, len(groups))
		for i := range groups {
			live[serviceKey{groups[i].Namespace, groups[i].Name}] = true
		}
		for k := range c.entries {
			if !live[k] {
				delete(c.entries, k)
			}
		}
	}
	for _, i := range todo {
		g := &groups[i]
		k := serviceKey{g.Namespace, g.Name}
		keys, ok := keysOf(g.Members)
		if !ok {
			delete(c.entries, k) // not cacheable: render it every time
			continue
		}
		c.entries[k] = &entry{members: keys, nsExists: g.NamespaceExists, out: outs[i]}
	}
	out, err := generator.Assemble(in.Options, outs)
	if err != nil {
		return nil, Stats{}, err
	}
	return out, Stats{Services: len(groups), Rendered: len(todo)}, nil
}

// keysOf returns the members' keys, or false when one of them lacks a
// resourceVersion and so cannot be recognised next time.
func keysOf(members []generator.ClusterMember) ([]memberKey, bool) {
	ks := make([]memberKey, len(members))
	for i := range members {
		m := &members[i]
		if m.Service.ResourceVersion == "" {
			return nil, false
		}
		k := memberKey{cluster: m.Cluster, link: m.Link, svcUID: string(m.Service.UID), svcRV: m.Service.ResourceVersion, quota: m.QuotaExceeded}
		if len(m.Slices) > 0 {
			k.slices = make([]objectKey, len(m.Slices))
			for j, s := range m.Slices {
				if s == nil || s.ResourceVersion == "" {
					return nil, false
				}
				k.slices[j] = objectKey{string(s.UID), s.ResourceVersion}
			}
		}
		ks[i] = k
	}
	return ks, true
}

// matches reports whether members are the ones e was rendered from, in
// the same order: the snapshot lists clusters and members in a stable
// order, and a different order only costs a render. A member without a
// resourceVersion never matches (keysOf refused to cache it).
func (e *entry) matches(members []generator.ClusterMember) bool {
	if len(e.members) != len(members) {
		return false
	}
	for i := range members {
		k, m := &e.members[i], &members[i]
		if k.cluster != m.Cluster || k.svcRV != m.Service.ResourceVersion || k.svcUID != string(m.Service.UID) ||
			len(k.slices) != len(m.Slices) || k.quota != m.QuotaExceeded || !sameLink(k.link, m.Link) {
			return false
		}
		for j, s := range m.Slices {
			if s == nil || k.slices[j].rv != s.ResourceVersion || k.slices[j].uid != string(s.UID) {
				return false
			}
		}
	}
	return true
}

// sameLink compares what the generator reads of a Link. The tracker keeps
// one LinkInfo per Link generation, so equal pointers are the common case.
func sameLink(a, b *generator.LinkInfo) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	return a.Name == b.Name && a.CreationTimestamp.Equal(b.CreationTimestamp) &&
		slices.Equal(a.ExcludedLabels, b.ExcludedLabels) && slices.Equal(a.ExcludedAnnotations, b.ExcludedAnnotations)
}

// forEach calls f(0..n-1) on up to GOMAXPROCS goroutines.
func forEach(n int, f func(int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				f(i)
			}
		})
	}
	wg.Wait()
}
