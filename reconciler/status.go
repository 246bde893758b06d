package reconciler

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fedgen/fedgen/generator"
	mcv1alpha3 "github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
	"github.com/fedgen/fedgen/reconciler/linkstatus"
	"github.com/fedgen/fedgen/reconciler/members"
)

// statusResync is how often the status of every Link is written again even
// when fedgen's view did not change: another writer may have replaced the
// list (Linkerd's service mirror writes whole statuses too).
const statusResync = 5 * time.Minute

// statusWriter writes Link status and remembers what it last wrote, so an
// unchanged status costs no request.
type statusWriter struct {
	w        *linkstatus.Writer
	written  map[string][]mcv1alpha3.ServiceStatus
	resynced time.Time

	// changed holds the Links whose status someone changed since the
	// loop last looked (the watches set it, the loop takes it): what
	// fedgen wrote there may be gone.
	mu      sync.Mutex
	changed map[string]bool
}

// statusChanged notes that Link link's status changed; safe from any
// goroutine.
func (s *statusWriter) statusChanged(link string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed == nil {
		s.changed = map[string]bool{}
	}
	s.changed[link] = true
}

// forgetChanged drops what was written to the Links whose status changed,
// so the next pass reads them again (and writes only if fedgen's entries
// differ: its own writes come back as changes too).
func (s *statusWriter) forgetChanged() {
	s.mu.Lock()
	changed := s.changed
	s.changed = nil
	s.mu.Unlock()
	for link := range changed {
		delete(s.written, link)
	}
}

func newStatusWriter(cfg *rest.Config) (*statusWriter, error) {
	scheme := runtime.NewScheme()
	if err := mcv1alpha3.AddToScheme(scheme); err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("link status client: %w", err)
	}
	return &statusWriter{w: &linkstatus.Writer{Client: c}, written: map[string][]mcv1alpha3.ServiceStatus{}}, nil
}

// updateStatus moves every served Link's status toward what fedgen knows
// now: the last render, what was pushed, what Flux applied, which
// federated Services exist locally, and which clusters are reachable. In
// direct mode it decides again only the members whose facts changed
// (statusEntries) and writes only the Links whose entries changed; review
// mode decides every member (reviewStatus).
func (r *Reconciler) updateStatus(ctx context.Context) {
	if r.lastOut == nil {
		return // nothing rendered yet: nothing true to say
	}
	if err := r.mayWrite(); err != nil {
		r.opts.Log.Warn("skipping the Link status update", "error", err)
		return
	}
	now := r.opts.Now()
	if r.forget.Swap(false) || now.Sub(r.status.resynced) > statusResync {
		r.status.written = map[string][]mcv1alpha3.ServiceStatus{}
		r.status.resynced = now
	}
	r.status.forgetChanged()
	// Without the members: the status reads the last render's outcomes.
	snap := r.tracker.State(now)
	state := &linkstatus.State{
		Rendered:       r.lastOut.Files,
		PushErr:        r.pushErr,
		Flux:           r.fluxState(ctx),
		LocalServices:  sets.KeySet(snap.LocalFederated),
		ForeignWriters: r.observeForeign(snap.ForeignWriters, r.lastOut, snap.States),
	}
	if r.pushed != nil {
		state.Pushed = &linkstatus.Revision{Commit: r.pushed.commit, Files: r.pushed.files}
	}
	r.fillSource(state)
	r.fillReview(state)
	facts := statusFacts{state: state, clusters: map[string]clusterFacts{}}
	for name, st := range snap.States {
		if st.Link == "" {
			continue // the local cluster has no Link to report on
		}
		c := clusterFacts{link: st.Link, cluster: linkstatus.Cluster{Name: name}}
		if c.cluster.Unreachable = unreachable(st, r.opts.UnreachableGrace); c.cluster.Unreachable != nil {
			if st.Withdrawn {
				c.withdrawn = slices.Clone(st.Members)
			}
		}
		facts.clusters[name] = c
	}
	if r.reviewing() {
		r.reviewStatus(ctx, facts, now)
	} else {
		changed := r.statusEntries.update(r.lastOut, facts)
		for name, c := range facts.clusters {
			if _, written := r.status.written[c.link]; written && !changed[name] {
				continue // nothing to say that was not said
			}
			r.writeStatus(ctx, c.link, r.statusEntries.list(name), now)
		}
	}
	// A refused Link's members are withdrawn: its fedgen entries go too
	// (the Event and the log say why).
	for link := range snap.Refused {
		r.writeStatus(ctx, link, nil, now)
	}
}

// reviewStatus decides every member's entry from scratch: review mode
// renders the whole input anyway, and its status reads the approved
// render and the members whose leave awaits review besides the render.
func (r *Reconciler) reviewStatus(ctx context.Context, facts statusFacts, now time.Time) {
	members := r.statusMembers()
	for name, c := range facts.clusters {
		results := members
		if c.isWithdrawn() {
			results = withdrawnMembers(name, c.withdrawn)
		}
		r.writeStatus(ctx, c.link, linkstatus.Desired(c.cluster, results, facts.state), now)
	}
}

func (r *Reconciler) writeStatus(ctx context.Context, link string, desired []mcv1alpha3.ServiceStatus, now time.Time) {
	if prev, ok := r.status.written[link]; ok && reflect.DeepEqual(prev, desired) {
		return
	}
	changed, err := r.status.w.Apply(ctx, r.opts.LinkNamespace, link, desired, now)
	if err != nil {
		r.opts.Log.Warn("writing Link status", "link", r.opts.LinkNamespace+"/"+link, "error", err)
		return
	}
	r.status.written[link] = desired
	if changed {
		r.opts.Metrics.StatusWrites.Inc()
		r.opts.Log.Debug("link status written", "link", r.opts.LinkNamespace+"/"+link, "entries", len(desired))
	}
}

// withdrawnMembers stands in for the render's results of a cluster whose
// members are no longer rendered, so their status can say why.
func withdrawnMembers(cluster string, keys []string) []generator.MemberResult {
	out := make([]generator.MemberResult, 0, len(keys))
	for _, k := range keys {
		ns, name, _ := strings.Cut(k, "/")
		out = append(out, generator.MemberResult{Cluster: cluster, Namespace: ns, Name: name, FederatedName: name + "-federated"})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name })
	return out
}

// fluxState reads what the followed Kustomization applied and attempted,
// with the folder's files at those revisions.
func (r *Reconciler) fluxState(ctx context.Context) linkstatus.Flux {
	k := r.kustom
	if k == nil {
		return linkstatus.Flux{}
	}
	return linkstatus.FluxFromKustomization(k, r.revision(ctx, k.AppliedHash), r.revision(ctx, k.AttemptedHash))
}

// revision returns the folder at commit hash, fetching when the commit is
// not known locally (someone else pushed after fedgen).
func (r *Reconciler) revision(ctx context.Context, hash string) *linkstatus.Revision {
	if hash == "" {
		return nil
	}
	if files, ok := r.folders.get(hash); ok {
		return &linkstatus.Revision{Commit: hash, Files: files}
	}
	h := plumbing.NewHash(hash)
	files, err := r.repo.ReadFolderAt(h)
	if err != nil {
		if ferr := r.repo.Fetch(ctx); ferr != nil {
			r.opts.Log.Warn("fetching to read an applied revision", "commit", hash, "error", ferr)
			return nil
		}
		if files, err = r.repo.ReadFolderAt(h); err != nil {
			r.opts.Log.Warn("reading the folder at an applied revision", "commit", hash, "error", err)
			return nil
		}
	}
	r.folders.put(hash, files)
	return &linkstatus.Revision{Commit: hash, Files: files}
}

// unreachable describes a cluster fedgen cannot serve from, or nil when it
// can. A cluster withdrawn without a known start (its watches never
// synced) gets no time at all: "since now" would change the message, and
// so the Link, at every pass.
func unreachable(st members.ClusterState, grace time.Duration) *linkstatus.Unreachable {
	if st.UnreachableSince.IsZero() && !st.Withdrawn {
		return nil
	}
	u := &linkstatus.Unreachable{Since: st.UnreachableSince, Withdrawn: st.Withdrawn, Message: st.Message}
	if !u.Since.IsZero() {
		u.KeepUntil = u.Since.Add(grace)
	}
	return u
}
