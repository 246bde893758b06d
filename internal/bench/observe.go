package bench

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
)

// record is one log line of the reconciler.
type record struct {
	at    time.Time
	msg   string
	attrs map[string]string
}

// recorder is a slog.Handler that keeps the reconciler's log lines with
// their timestamps: the stage breakdown of a change is read from them, as
// an operator would read it from fedgen's logs, without hooks in the code.
type recorder struct {
	mu      sync.Mutex
	records []record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	attrs := make(map[string]string, rec.NumAttrs())
	rec.Attrs(func(a slog.Attr) bool {
		attrs[a.Key] = a.Value.String()
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, record{at: rec.Time, msg: rec.Message, attrs: attrs})
	return nil
}

func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// first returns the first line with message msg logged at or after t for
// which match (when not nil) holds.
func (r *recorder) first(t time.Time, msg string, match func(record) bool) (record, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.records {
		if rec.msg == msg && !rec.at.Before(t) && (match == nil || match(rec)) {
			return rec, true
		}
	}
	return record{}, false
}

// last returns the time of the last line with message msg (zero when
// there is none).
func (r *recorder) last(msg string) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.records) - 1; i >= 0; i-- {
		if r.records[i].msg == msg {
			return r.records[i].at
		}
	}
	return time.Time{}
}

// count counts the lines with message msg logged in [from, to).
func (r *recorder) count(from, to time.Time, msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rec := range r.records {
		if rec.msg == msg && !rec.at.Before(from) && rec.at.Before(to) {
			n++
		}
	}
	return n
}

// errors returns the error lines, for a scenario's report when it fails.
func (r *recorder) errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.records {
		if e, ok := rec.attrs["error"]; ok {
			out = append(out, rec.msg+": "+e)
		}
	}
	return out
}

// waitFor watches objects of gvr in namespace (matching opts) and returns a
// channel that receives the time at which cond first held for one of them.
// The watch is established when waitFor returns, so a change made after it
// cannot be missed. It ends with ctx.
func waitFor(ctx context.Context, dyn dynamic.Interface, gvr schema.GroupVersionResource, namespace string, opts metav1.ListOptions,
	cond func(list []*unstructured.Unstructured) bool) (<-chan time.Time, error) {
	ri := dyn.Resource(gvr).Namespace(namespace)
	list, err := ri.List(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", gvr.Resource, err)
	}
	opts.ResourceVersion = list.GetResourceVersion()
	opts.AllowWatchBookmarks = false
	w, err := ri.Watch(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", gvr.Resource, err)
	}
	objs := map[string]*unstructured.Unstructured{}
	for i := range list.Items {
		objs[list.Items[i].GetName()] = &list.Items[i]
	}
	snapshot := func() []*unstructured.Unstructured {
		out := make([]*unstructured.Unstructured, 0, len(objs))
		for _, o := range objs {
			out = append(out, o)
		}
		return out
	}
	ch := make(chan time.Time, 1)
	if cond(snapshot()) {
		w.Stop()
		ch <- time.Now()
		return ch, nil
	}
	go func() {
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.ResultChan():
				if !ok {
					return
				}
				at := time.Now()
				o, isObj := ev.Object.(*unstructured.Unstructured)
				if !isObj {
					continue
				}
				switch ev.Type {
				case watch.Added, watch.Modified:
					objs[o.GetName()] = o
				case watch.Deleted:
					delete(objs, o.GetName())
				default:
					continue
				}
				if cond(snapshot()) {
					ch <- at
					return
				}
			}
		}
	}()
	return ch, nil
}

// await waits for a waitFor channel, up to d.
func await(ctx context.Context, ch <-chan time.Time, d time.Duration, what string) (time.Time, error) {
	select {
	case t := <-ch:
		return t, nil
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	case <-time.After(d):
		return time.Time{}, fmt.Errorf("timed out after %s waiting for %s", d, what)
	}
}
