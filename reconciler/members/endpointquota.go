package members

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	discoveryv1 "k8s.io/api/discovery/v1"
)

// omittedAnnotation marks a cached slice whose endpoints were not kept
// because its Service is over --max-endpoints-per-member; its value is
// how many there were. The annotation exists only in fedgen's cache
// (stripSlice drops the real ones).
const omittedAnnotation = "fedgen.io/endpoints-omitted"

// endpointCounts counts the endpoints of every watched member's slices as
// the informers receive them, before anything is cached: a member over
// --max-endpoints-per-member is known as such while its slices are being
// listed, and the slices that arrive after are cached without endpoints.
// A member with 20,000 endpoints costs its slices' names, not its
// endpoints.
type endpointCounts struct {
	mu      sync.Mutex
	owner   map[string]string       // "namespace/slice" → its member
	members map[string]*memberCount // "namespace/service" of the watched members
	overSet map[string]bool         // the members over the quota
}

type memberCount struct {
	endpoints int
	over      bool
	slices    map[string]int // "namespace/slice" → endpoints
}

func newEndpointCounts() *endpointCounts {
	return &endpointCounts{owner: map[string]string{}, members: map[string]*memberCount{}, overSet: map[string]bool{}}
}

// track starts counting the member's slices.
func (c *endpointCounts) track(member string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.members[member] == nil {
		c.members[member] = &memberCount{slices: map[string]int{}}
	}
}

// forget stops counting the member's slices (its watch ended).
func (c *endpointCounts) forget(member string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m := c.members[member]; m != nil {
		for slice := range m.slices {
			delete(c.owner, slice)
		}
		delete(c.members, member)
	}
	delete(c.overSet, member)
}

func (c *endpointCounts) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.owner)
	clear(c.members)
	clear(c.overSet)
}

// set records a slice's endpoints and reports whether its member is now
// over max (0: no limit) and whether that changed.
func (c *endpointCounts) set(slice, member string, endpoints, max int) (over, flipped bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.owner[slice]; ok && prev != member {
		// Relabelled to another Service (the EndpointSlice controller
		// never does it): it no longer counts for the first.
		if pm := c.members[prev]; pm != nil {
			pm.endpoints -= pm.slices[slice]
			delete(pm.slices, slice)
		}
		delete(c.owner, slice)
	}
	m := c.members[member]
	if m == nil {
		return false, false // not (or no longer) a watched member
	}
	m.endpoints += endpoints - m.slices[slice]
	m.slices[slice] = endpoints
	c.owner[slice] = member
	return c.flip(member, m, max)
}

// remove forgets a deleted slice; it returns its member and whether the
// member's quota state changed.
func (c *endpointCounts) remove(slice string, max int) (member string, flipped bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	member, ok := c.owner[slice]
	if !ok {
		return "", false
	}
	delete(c.owner, slice)
	m := c.members[member]
	if m == nil {
		return "", false
	}
	m.endpoints -= m.slices[slice]
	delete(m.slices, slice)
	_, flipped = c.flip(member, m, max)
	return member, flipped
}

func (c *endpointCounts) flip(member string, m *memberCount, max int) (over, flipped bool) {
	over = max > 0 && m.endpoints > max
	flipped = over != m.over
	m.over = over
	if over {
		c.overSet[member] = true
	} else {
		delete(c.overSet, member)
	}
	return over, flipped
}

// overMembers lists the members over the quota, sorted.
func (c *endpointCounts) overMembers() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Sorted(maps.Keys(c.overSet))
}

// over reports whether the member has more endpoints than the quota.
func (c *endpointCounts) over(member string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.members[member]
	return m != nil && m.over
}

// transform counts a slice and strips it before it is cached: what fedgen
// never reads always, the endpoints too when its member is over
// --max-endpoints-per-member.
//
// It must be idempotent: a watch-list transforms each object into the
// reflector's temporary store, then again as the informer's queue takes
// them all. A slice transformed before has no endpoints and says in its
// annotation how many it had; an annotation on a slice as the API server
// returns it is dropped by stripSlice (or, with endpoints, ignored), so a
// cluster cannot claim fewer than it has.
func (w *sliceWatcher) transform(obj any) (any, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return obj, nil
	}
	n := len(s.Endpoints)
	if v, seen := s.Annotations[omittedAnnotation]; seen && n == 0 {
		n, _ = strconv.Atoi(v)
	}
	if _, err := stripSlice(s); err != nil {
		return obj, err
	}
	member := s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]
	over, flipped := w.counts.set(s.Namespace+"/"+s.Name, member, n, w.maxEndpoints)
	if over {
		s.Annotations = map[string]string{omittedAnnotation: strconv.Itoa(n)}
		s.Endpoints = nil
	}
	if flipped {
		// Called from within the informer's queue: list again from
		// another goroutine.
		go w.refetch(member)
	}
	return s, nil
}

// omitted reports whether the slice was cached without its endpoints.
func omitted(s *discoveryv1.EndpointSlice) bool {
	_, ok := s.Annotations[omittedAnnotation]
	return ok
}

// refetch lists the chunk of member again, once its quota state changed:
// over the quota, the slices cached before are dropped; back within it,
// the slices cached without endpoints are fetched whole.
func (w *sliceWatcher) refetch(member string) {
	ns, name, _ := strings.Cut(member, "/")
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.chunks[ns] {
		if c.want[name] {
			w.scheduleLocked(c)
			return
		}
	}
}
