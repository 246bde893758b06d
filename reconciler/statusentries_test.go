package reconciler

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/internal/rendercache"
	"github.com/fedgen/fedgen/reconciler/linkstatus"
)

// TestStatusEntriesFollowWhatChanged checks that entries decided again
// only where facts changed are, after every step, the entries
// linkstatus.Desired decides from scratch: renders of a few services,
// commits pushed and applied, a revert, federated Services vanishing
// locally, another writer, a cluster unreachable and withdrawn, Flux
// failing, a failed push, a namespace's first service leaving (its
// Namespace document moves to another service's file). Steps that change
// one service must decide fewer entries than there are members.
func TestStatusEntriesFollowWhatChanged(t *testing.T) {
	names := []string{"west", "east", "north", "south"}
	namespaces := []string{"ns-0", "ns-1", "ns-2"}
	in := generator.Input{Options: generator.Options{LocalCluster: "west", CreateNamespaces: true}, Namespaces: namespaces}
	for ci, name := range names {
		c := generator.Cluster{Name: name}
		if ci > 0 {
			c.Link = &generator.LinkInfo{Name: name, CreationTimestamp: time.Unix(int64(ci), 0)}
		}
		for s := range 12 {
			c.Members = append(c.Members, metricsMember(name, namespaces[s%3], fmt.Sprintf("svc-%02d", s), 2))
		}
		in.Clusters = append(in.Clusters, c)
	}
	members := len(names) * 12 // an upper bound: the local cluster's have no entry
	var e statusEntries
	c := rendercache.New()
	f, _, err := c.Render(in)
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(k rendercache.Key) (generator.ServiceInput, bool) {
		for _, g := range generator.Group(in) {
			if g.Namespace == k.Namespace && g.Name == k.Name {
				return g, true
			}
		}
		return generator.ServiceInput{}, false
	}
	update := func(ci, si int, m *generator.Member) {
		t.Helper()
		s := in.Clusters[ci].Members[si].Service
		k := rendercache.Key{Namespace: s.Namespace, Name: s.Name}
		if m == nil {
			in.Clusters[ci].Members[si].Service = nil
		} else {
			in.Clusters[ci].Members[si] = *m
		}
		if f, _, err = c.Update(in.Options, []rendercache.Key{k}, lookup); err != nil {
			t.Fatal(err)
		}
		e.sawRender(f) // as the loop does at every render
	}
	renderAll := func() {
		t.Helper()
		if f, _, err = c.Render(in); err != nil {
			t.Fatal(err)
		}
		e.sawRender(f)
	}
	change := func(ci, si, v int) {
		t.Helper()
		s := in.Clusters[ci].Members[si].Service
		m := metricsMember(names[ci], s.Namespace, s.Name, v)
		update(ci, si, &m)
	}
	rev := func(commit string) *linkstatus.Revision { return &linkstatus.Revision{Commit: commit, Files: f.Files} }
	local := func() sets.Set[string] {
		s := sets.New[string]()
		f.Services(func(_ rendercache.Key, o *generator.ServiceOutput) {
			if o.Service != nil {
				s.Insert(linkstatus.ServiceKey(o.Service.Namespace, o.Service.Name))
			}
		})
		return s
	}
	since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clusters := func(unreachable string, withdrawn bool) map[string]clusterFacts {
		out := map[string]clusterFacts{}
		for _, name := range names[1:] {
			cf := clusterFacts{link: "link-" + name, cluster: linkstatus.Cluster{Name: name}}
			if name == unreachable {
				cf.cluster.Unreachable = &linkstatus.Unreachable{Since: since, KeepUntil: since.Add(time.Minute), Message: "gone", Withdrawn: withdrawn}
				if withdrawn {
					for s := range 12 {
						cf.withdrawn = append(cf.withdrawn, fmt.Sprintf("%s/svc-%02d", namespaces[s%3], s))
					}
					slices.Sort(cf.withdrawn)
				}
			}
			out[name] = cf
		}
		return out
	}
	serving := linkstatus.Flux{Current: true, Ready: true}

	state := &linkstatus.State{Rendered: f.Files, Flux: serving, LocalServices: sets.New[string]()}
	facts := statusFacts{state: state, clusters: clusters("", false)}
	// next is the state of a step: the last one with the render's files,
	// and what edit changes.
	next := func(edit func(s *linkstatus.State)) {
		s := *state
		s.Rendered = f.Files
		edit(&s)
		state = &s
		facts = statusFacts{state: state, clusters: facts.clusters}
	}
	var first, applied *linkstatus.Revision
	var withdrawnOut []generator.Cluster
	steps := []struct {
		name string
		do   func()
		// few: the step concerns one service, so fewer entries than
		// there are members must be decided.
		few bool
	}{
		{"rendered, nothing pushed", func() {}, false},
		{"pushed", func() { next(func(s *linkstatus.State) { s.Pushed = rev("a") }) }, false},
		{"applied and served", func() {
			first = rev("a")
			applied = first
			next(func(s *linkstatus.State) {
				s.Flux.Applied, s.Flux.Attempted, s.LocalServices = applied, applied, local()
			})
		}, false},
		{"one member's endpoints change", func() {
			change(2, 3, 3)
			next(func(*linkstatus.State) {})
		}, true},
		{"its commit is pushed", func() { next(func(s *linkstatus.State) { s.Pushed = rev("b") }) }, true},
		{"another change while the first is not applied", func() {
			change(1, 4, 4)
			next(func(s *linkstatus.State) { s.Pushed = rev("c") })
		}, true},
		{"both applied", func() {
			applied = rev("c")
			next(func(s *linkstatus.State) { s.Flux.Applied, s.Flux.Attempted = applied, applied })
		}, true},
		{"Flux goes back to the first commit (someone reverted)", func() {
			next(func(s *linkstatus.State) { s.Flux.Applied, s.Flux.Attempted = first, first })
		}, true},
		{"and forward again", func() {
			next(func(s *linkstatus.State) { s.Flux.Applied, s.Flux.Attempted = applied, applied })
		}, true},
		{"a federated Service vanishes locally", func() {
			next(func(s *linkstatus.State) {
				s.LocalServices = local().Delete(linkstatus.ServiceKey("ns-1", "svc-04-federated"))
			})
		}, true},
		{"another controller writes a federated Service", func() {
			next(func(s *linkstatus.State) {
				s.ForeignWriters = map[string][]string{linkstatus.ServiceKey("ns-2", "svc-05-federated"): {`"mirror" (Update)`}}
			})
		}, true},
		{"and stops", func() { next(func(s *linkstatus.State) { s.ForeignWriters = nil }) }, true},
		{"a cluster is unreachable", func() { facts.clusters = clusters("north", false) }, false},
		{"a commit is pushed meanwhile", func() {
			change(2, 5, 7)
			change(1, 5, 7)
			next(func(s *linkstatus.State) { s.Pushed = rev("c2") })
		}, true},
		{"it answers again", func() { facts.clusters = clusters("", false) }, false},
		{"a cluster is withdrawn (a full render without it)", func() {
			withdrawnOut = in.Clusters
			in.Clusters = slices.Concat(in.Clusters[:3], in.Clusters[4:])
			renderAll()
			next(func(*linkstatus.State) {})
			facts.clusters = clusters("south", true)
		}, false},
		{"it is back", func() {
			in.Clusters = withdrawnOut
			renderAll()
			next(func(*linkstatus.State) {})
			facts.clusters = clusters("", false)
		}, false},
		{"a namespace's first service leaves every cluster: another file gets the Namespace", func() {
			for ci := range names {
				update(ci, 0, nil)
			}
			next(func(*linkstatus.State) {})
		}, true},
		{"a member that cannot join (headless) appears: no file changes", func() {
			m := metricsMember("east", "ns-1", "svc-99", 2)
			m.Service.Spec.ClusterIP = "None"
			in.Clusters[1].Members = append(in.Clusters[1].Members, m)
			update(1, len(in.Clusters[1].Members)-1, &m)
			next(func(*linkstatus.State) {})
		}, true},
		{"Flux fails on a new commit", func() {
			change(3, 7, 5)
			next(func(s *linkstatus.State) {
				s.Pushed = rev("e")
				s.Flux.Attempted, s.Flux.Failed, s.Flux.Ready, s.Flux.Reason, s.Flux.Message = rev("e"), true, false, "BuildFailed", "broken"
			})
		}, false}, // Flux no longer serving: everything moves
		{"a push fails", func() {
			change(3, 8, 6)
			next(func(s *linkstatus.State) { s.PushErr = errors.New("remote hung up") })
		}, true},
		{"its retry fails otherwise", func() {
			next(func(s *linkstatus.State) { s.PushErr = errors.New("connection refused") })
		}, true},
	}
	for _, step := range steps {
		step.do()
		e.update(f, facts)
		if step.few && e.decided >= members {
			t.Errorf("%s: %d entries decided again, want fewer than the %d members", step.name, e.decided, members)
		}
		out := f.Output()
		for name, cf := range facts.clusters {
			results := out.Members
			if cf.isWithdrawn() {
				results = withdrawnMembers(name, cf.withdrawn)
			}
			want := linkstatus.Desired(cf.cluster, results, facts.state)
			if got := e.list(name); !reflect.DeepEqual(got, want) && (len(got) != 0 || len(want) != 0) {
				t.Fatalf("%s: cluster %s:\ngot  %+v\nwant %+v", step.name, name, got, want)
			}
		}
	}
}
