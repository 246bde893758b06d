// Package rendercache renders the federation folder incrementally: it keeps
// the rendering of every federated Service and renders again only the
// services whose members changed since the last render.
//
// Two ways in. Render takes the whole input and compares every member with
// what its service was rendered from: a member is unchanged when its
// Service and every one of its EndpointSlices carry the same UID and
// resourceVersion as before (the API server gives every change a new
// resourceVersion), its cluster's Link says the same, and its namespace
// still exists or not as before. Update takes only the services the
// watches say changed, and reads their inputs one by one: nothing is done
// for the others, so a change costs what its service costs, not what the
// whole federation does. Objects without a resourceVersion (offline
// snapshots, hand-built inputs) are never trusted: their service is
// rendered every time it is looked at. Either way the folder is
// byte-for-byte what generator.Render returns for the same input.
package rendercache

import (
	"cmp"
	"errors"
	"maps"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/fedgen/fedgen/generator"
)

// Key names a federated Service by its members' namespace and name.
type Key struct{ Namespace, Name string }

// String is "namespace/name".
func (k Key) String() string { return k.Namespace + "/" + k.Name }

// Lookup returns the current input of one federated Service: its members
// in every cluster, in a stable order. It returns false when the service
// has no member left.
type Lookup func(Key) (generator.ServiceInput, bool)

// ErrNeedsFullRender is returned by Update when the cache cannot apply a
// change set: nothing was rendered yet, or the options changed (other
// options render other bytes). Render the whole input then.
var ErrNeedsFullRender = errors.New("the render cache needs a full render")

// Stats describe one Render or Update call.
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
	entries map[Key]*entry
	// files is the folder as last handed out; a Folder shares it, so it
	// is replaced, never modified.
	files map[string][]byte
	// first is, per namespace, the service whose file carries the
	// Namespace document (Options.CreateNamespaces).
	first map[string]Key
	// order are the entries' keys in generator.FileOrder (written or
	// not); written counts those with a file. The last Folder reads the
	// entries and order: kept, not copied, per change.
	order   []Key
	written int
}

// entry is the rendering of one federated Service and what it was made of.
type entry struct {
	members   []memberKey
	cacheable bool // every member had a resourceVersion
	nsExists  bool
	out       *generator.ServiceOutput
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
func New() *Cache {
	return &Cache{entries: map[Key]*entry{}, files: map[string][]byte{}, first: map[string]Key{}}
}

// Folder is the folder after one Render or Update, with every federated
// Service's rendering. Its Files are never modified: a later call returns
// a new map, so a folder handed to Git stays as it was. Its services
// (Service, Services, Len, Written, Output) are read from the cache and
// are those of the latest call: read them before the next one. Copying
// them for every change cost more than the change.
type Folder struct {
	// Files maps paths relative to the owned folder to their bytes, as in
	// generator.Output.
	Files map[string][]byte
	// Full is true when the call looked at every service (Render):
	// anything may have changed.
	Full bool
	// Changed are the services rendered again or gone in this call (the
	// same as before or not); with Full, every service may have changed.
	Changed []Key

	entries map[Key]*entry
	order   []Key
	written int
	// previous are the renderings of Changed before this call; a
	// service new in this call has none.
	previous map[Key]*generator.ServiceOutput
	out      *generator.Output
}

// Service returns the rendering of the federated Service of members k,
// with its members' outcomes; false when no member has that name.
func (f *Folder) Service(k Key) (*generator.ServiceOutput, bool) {
	if e, ok := f.entries[k]; ok {
		return e.out, true
	}
	return nil, false
}

// Services calls fn for every federated Service, in no order.
func (f *Folder) Services(fn func(Key, *generator.ServiceOutput)) {
	for k, e := range f.entries {
		fn(k, e.out)
	}
}

// Previous returns the rendering of k before this call, for a service
// in Changed; false when k had none (it is new) or did not change.
func (f *Folder) Previous(k Key) (*generator.ServiceOutput, bool) {
	o, ok := f.previous[k]
	return o, ok
}

// Len is the number of federated Services (written or not).
func (f *Folder) Len() int { return len(f.entries) }

// Written is the number of federated Services written: len(Output().Services).
func (f *Folder) Written() int { return f.written }

// Output is the folder as generator.Render returns it, with every
// member's outcome in one sorted list: it costs a pass over every member
// (made once per folder). Files is the folder's own map.
func (f *Folder) Output() *generator.Output {
	if f.out != nil {
		return f.out
	}
	outs := make([]*generator.ServiceOutput, len(f.order))
	services := make([]generator.ServiceResult, 0, f.written)
	for i, k := range f.order {
		outs[i] = f.entries[k].out
		if s := outs[i].Service; s != nil {
			services = append(services, *s)
		}
	}
	f.out = &generator.Output{Files: f.Files, Services: services, Members: generator.SortedMembers(outs)}
	return f.out
}

// setOptions starts afresh when opts differ from the cache's.
func (c *Cache) setOptions(opts generator.Options) error {
	if c.valid && reflect.DeepEqual(c.opts, opts) {
		return nil
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	c.opts, c.valid = opts, true
	clear(c.entries)
	return nil
}

// Render renders in, reusing the renderings of federated Services whose
// inputs did not change since the previous call.
func (c *Cache) Render(in generator.Input) (*Folder, Stats, error) {
	if err := c.setOptions(in.Options); err != nil {
		return nil, Stats{}, err
	}
	groups := generator.Group(in)
	outs := make([]*generator.ServiceOutput, len(groups))
	var todo []int
	for i := range groups {
		g := &groups[i]
		// Compared in place: building keys for every member on every
		// render cost more than the render of the one that changed.
		if e := c.entries[Key{Namespace: g.Namespace, Name: g.Name}]; e.matches(g) {
			outs[i] = e.out
			continue
		}
		todo = append(todo, i)
	}
	forEach(len(todo), func(j int) {
		i := todo[j]
		outs[i] = generator.RenderService(c.opts, groups[i])
	})
	live := make(map[Key]bool, len(groups))
	for i := range groups {
		live[Key{Namespace: groups[i].Namespace, Name: groups[i].Name}] = true
	}
	var changed []Key
	previous := map[Key]*generator.ServiceOutput{}
	for k := range c.entries {
		if !live[k] {
			previous[k] = c.entries[k].out
			c.remove(k)
			changed = append(changed, k)
		}
	}
	for _, i := range todo {
		g := &groups[i]
		k := Key{Namespace: g.Namespace, Name: g.Name}
		if e, ok := c.entries[k]; ok {
			previous[k] = e.out
		}
		c.entries[k] = newEntry(g, outs[i])
		changed = append(changed, k)
	}
	c.order = slices.SortedFunc(maps.Keys(c.entries), compareKeys)
	if err := c.assemble(); err != nil {
		return nil, Stats{}, err
	}
	f := c.folder(changed, previous)
	f.Full = true
	return f, Stats{Services: len(groups), Rendered: len(todo)}, nil
}

// Update renders again the services named in keys (in any order, repeats
// allowed), reading their inputs with lookup, and keeps every other
// rendering as it is: the caller vouches that nothing else changed since
// the last call. The options must be those of the last Render.
func (c *Cache) Update(opts generator.Options, keys []Key, lookup Lookup) (*Folder, Stats, error) {
	if !c.valid || !reflect.DeepEqual(c.opts, opts) {
		return nil, Stats{}, ErrNeedsFullRender
	}
	seen := make(map[Key]bool, len(keys))
	var gone []Key
	var inputs []generator.ServiceInput
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		in, ok := lookup(k)
		if !ok || !hasService(in.Members) {
			if c.entries[k] != nil {
				gone = append(gone, k)
			}
			continue
		}
		in.Namespace, in.Name = k.Namespace, k.Name
		if c.entries[k].matches(&in) {
			continue
		}
		inputs = append(inputs, in)
	}
	if len(gone) == 0 && len(inputs) == 0 {
		return c.folder(nil, nil), Stats{Services: len(c.entries)}, nil
	}
	outs := make([]*generator.ServiceOutput, len(inputs))
	forEach(len(inputs), func(i int) { outs[i] = generator.RenderService(c.opts, inputs[i]) })

	files := maps.Clone(c.files)
	listed := false                      // the set of files changed: kustomization.yaml too
	touched := map[string]map[Key]bool{} // namespace → its services whose file changed
	touch := func(k Key) {
		if touched[k.Namespace] == nil {
			touched[k.Namespace] = map[Key]bool{}
		}
		touched[k.Namespace][k] = true
	}
	changed := slices.Clone(gone)
	previous := make(map[Key]*generator.ServiceOutput, len(gone)+len(inputs))
	for _, k := range gone {
		if p := c.entries[k].file(); p != "" {
			delete(files, p)
			listed = true
			touch(k)
		}
		previous[k] = c.entries[k].out
		c.remove(k)
		if i, ok := slices.BinarySearchFunc(c.order, k, compareKeys); ok {
			c.order = slices.Delete(c.order, i, i+1)
		}
	}
	for i := range inputs {
		k := Key{Namespace: inputs[i].Namespace, Name: inputs[i].Name}
		e := newEntry(&inputs[i], outs[i])
		before, after := c.entries[k].file(), e.file()
		if old, ok := c.entries[k]; ok {
			previous[k] = old.out
		} else {
			c.order = insertKey(c.order, k)
		}
		c.setEntry(k, e)
		changed = append(changed, k)
		if before != after {
			listed = true
			delete(files, before)
		}
		if after != "" {
			files[after] = e.out.File
		}
		if before != "" || after != "" {
			touch(k)
		}
	}
	if c.opts.CreateNamespaces {
		for ns, keys := range touched {
			c.placeNamespace(files, ns, keys)
		}
	}
	if listed {
		if err := c.listFiles(files); err != nil {
			return nil, Stats{}, err
		}
	}
	c.files = files
	return c.folder(changed, previous), Stats{Services: len(c.entries), Rendered: len(inputs)}, nil
}

// setEntry keeps e as k's entry, counting the files written.
func (c *Cache) setEntry(k Key, e *entry) {
	if c.entries[k].file() != "" {
		c.written--
	}
	if e.file() != "" {
		c.written++
	}
	c.entries[k] = e
}

// remove forgets k; its place in order is the caller's: Render sorts
// order afresh, Update takes it out.
func (c *Cache) remove(k Key) {
	if c.entries[k].file() != "" {
		c.written--
	}
	delete(c.entries, k)
}

// compareKeys is generator.FileOrder for keys.
func compareKeys(a, b Key) int { return generator.FileOrder(a.Namespace, a.Name, b.Namespace, b.Name) }

// insertKey adds k to keys sorted by compareKeys.
func insertKey(keys []Key, k Key) []Key {
	i, found := slices.BinarySearchFunc(keys, k, compareKeys)
	if found {
		return keys
	}
	return slices.Insert(keys, i, k)
}

// Keys returns the services of namespace ns the cache knows (written or
// not): what a change of the namespace itself concerns.
func (c *Cache) Keys(ns string) []Key {
	var out []Key
	for k := range c.entries {
		if k.Namespace == ns {
			out = append(out, k)
		}
	}
	return out
}

func hasService(members []generator.ClusterMember) bool {
	for i := range members {
		if members[i].Service != nil {
			return true
		}
	}
	return false
}

// folder hands out the current state.
func (c *Cache) folder(changed []Key, previous map[Key]*generator.ServiceOutput) *Folder {
	return &Folder{Files: c.files, Changed: changed, entries: c.entries, order: c.order, written: c.written, previous: previous}
}

// assemble writes every file afresh from the entries.
func (c *Cache) assemble() error {
	files := make(map[string][]byte, len(c.entries)+1)
	clear(c.first)
	c.written = 0
	for k, e := range c.entries {
		if e.out.Service != nil {
			c.written++
			files[e.out.Service.File] = e.out.File
			if c.opts.CreateNamespaces {
				// First by federated name, the order of the files.
				if f, ok := c.first[k.Namespace]; !ok || c.entries[f].out.Service.Name > e.out.Service.Name {
					c.first[k.Namespace] = k
				}
			}
		}
	}
	for ns, k := range c.first {
		files[c.entries[k].out.Service.File] = generator.WithNamespace(c.entries[k].out.File, ns)
	}
	if err := c.listFiles(files); err != nil {
		return err
	}
	c.files = files
	return nil
}

// placeNamespace puts namespace ns's document into the first file of the
// namespace, and takes it out of the file that had it; touched are the
// services of ns whose file was just written afresh.
func (c *Cache) placeNamespace(files map[string][]byte, ns string, touched map[Key]bool) {
	var first *entry
	var firstKey Key
	// The namespace's services are together in order, by federated name.
	i, _ := slices.BinarySearchFunc(c.order, ns, func(k Key, ns string) int { return cmp.Compare(k.Namespace, ns) })
	for ; i < len(c.order) && c.order[i].Namespace == ns; i++ {
		if e := c.entries[c.order[i]]; e.out.Service != nil {
			first, firstKey = e, c.order[i]
			break
		}
	}
	prev, had := c.first[ns]
	if had && (first == nil || prev != firstKey) {
		if p := c.entries[prev].file(); p != "" {
			files[p] = c.entries[prev].out.File
		}
	}
	if first == nil {
		delete(c.first, ns)
		return
	}
	if had && prev == firstKey && !touched[firstKey] {
		return // the same file, unchanged, holds it already
	}
	c.first[ns] = firstKey
	files[first.out.Service.File] = generator.WithNamespace(first.out.File, ns)
}

// listFiles writes kustomization.yaml listing files.
func (c *Cache) listFiles(files map[string][]byte) error {
	delete(files, generator.KustomizationFile)
	k, err := generator.Kustomization(slices.Collect(maps.Keys(files)))
	if err != nil {
		return err
	}
	files[generator.KustomizationFile] = k
	return nil
}

// newEntry remembers a rendering and what it was made of.
func newEntry(in *generator.ServiceInput, out *generator.ServiceOutput) *entry {
	keys, ok := keysOf(in.Members)
	return &entry{members: keys, cacheable: ok, nsExists: in.NamespaceExists, out: out}
}

// file is the path of the entry's file; "" when it writes none (no
// member joined) or there is no entry.
func (e *entry) file() string {
	if e == nil || e.out.Service == nil {
		return ""
	}
	return e.out.Service.File
}

// keysOf returns the members' keys, or false when one of them lacks a
// resourceVersion and so cannot be recognised next time.
func keysOf(members []generator.ClusterMember) ([]memberKey, bool) {
	ks := make([]memberKey, len(members))
	for i := range members {
		m := &members[i]
		if m.Service == nil || m.Service.ResourceVersion == "" {
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

// matches reports whether in is what e was rendered from, members in the
// same order: the snapshot lists clusters and members in a stable order,
// and a different order only costs a render. A member without a
// resourceVersion never matches.
func (e *entry) matches(in *generator.ServiceInput) bool {
	if e == nil || !e.cacheable || e.nsExists != in.NamespaceExists || len(e.members) != len(in.Members) {
		return false
	}
	for i := range in.Members {
		k, m := &e.members[i], &in.Members[i]
		if m.Service == nil || k.cluster != m.Cluster || k.svcRV != m.Service.ResourceVersion || k.svcUID != string(m.Service.UID) ||
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
