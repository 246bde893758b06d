package reconciler

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/fedgen/fedgen/internal/rendercache"
	"github.com/fedgen/fedgen/reconciler/members"
)

// foreignWriters are the local federated Services another controller
// writes besides Flux (SPEC §1), by "namespace/name", each writer as it is
// named in status and Events.
type foreignWriters map[string][]string

func describeWriters(in map[string][]members.Writer) foreignWriters {
	out := make(foreignWriters, len(in))
	for key, ws := range in {
		names := make([]string, len(ws))
		for i, w := range ws {
			names[i] = w.String()
		}
		out[key] = names
	}
	return out
}

// observeForeign returns the writers seen, described for the status, and
// reports what changed since the last pass: a Warning Event ForeignWriter
// on the Links of the federated Service's members when a writer appears
// (or the set of writers changes), a Normal Event ForeignWriterGone when
// the last one left, and the metric. The same state reports nothing again.
func (r *Reconciler) observeForeign(seen map[string][]members.Writer, f *rendercache.Folder,
	states map[string]members.ClusterState) foreignWriters {
	now := describeWriters(seen)
	if maps.EqualFunc(now, r.foreign, slices.Equal[[]string]) {
		return now
	}
	links := func(key string) []string { return serviceLinks(f, key, states) }
	for _, key := range slices.Sorted(maps.Keys(now)) {
		ws := now[key]
		if slices.Equal(ws, r.foreign[key]) {
			continue
		}
		msg := fmt.Sprintf("Service %s is also written by field manager %s, not only by Flux: the two overwrite each other",
			key, strings.Join(ws, ", "))
		r.opts.Log.Warn("another writer of a federated Service", "service", key, "writers", strings.Join(ws, ", "))
		for _, link := range links(key) {
			r.linkEvent(link, corev1.EventTypeWarning, "ForeignWriter", msg)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(r.foreign)) {
		if _, still := now[key]; still {
			continue
		}
		r.opts.Log.Info("federated Service written by Flux alone again", "service", key)
		for _, link := range links(key) {
			r.linkEvent(link, corev1.EventTypeNormal, "ForeignWriterGone",
				fmt.Sprintf("Service %s is written by Flux alone again", key))
		}
	}
	r.foreign = now
	r.opts.Metrics.observeForeign(seen)
	return now
}

// serviceLinks returns the Links of the joined remote members of the
// federated Service key ("namespace/name"), sorted: one service's
// members, read from the render, whatever the size of the federation.
func serviceLinks(f *rendercache.Folder, key string, states map[string]members.ClusterState) []string {
	ns, name, _ := strings.Cut(key, "/")
	o, ok := f.Service(federatedKey(ns, name))
	if !ok {
		return nil
	}
	var out []string
	for _, m := range o.Members {
		link := states[m.Cluster].Link
		if m.Joined && link != "" && m.FederatedName == name && !slices.Contains(out, link) {
			out = append(out, link)
		}
	}
	slices.Sort(out)
	return out
}
