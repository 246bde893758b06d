package members

import (
	"context"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// departureRecheck is how often a departed member whose Service still
// existed is asked about again: deleted later, its endpoints go then.
const departureRecheck = time.Minute

// departureTimeout bounds one question to a cluster.
const departureTimeout = 10 * time.Second

// departures finds out why approved members are missing from the watches:
// a Service deleted in its cluster, or one the Link no longer selects. The
// watches cannot tell (a Service that stops matching the selector is a
// deletion to them), and review scope needs to (SPEC §4.1): a deleted
// member's endpoints go at once, a deselected one keeps serving until its
// leave is merged.
type departures struct {
	mu      sync.Mutex
	entries map[string]*departure // by "cluster/namespace/name"
}

type departure struct {
	deleted bool
}

// CheckDeparted is told the members the review scope found missing
// ("cluster/namespace/name"): it asks their clusters, in the background,
// whether their Services still exist (again every minute while they do),
// and forgets the members not listed. A member found deleted emits
// MemberDeleted; Deleted reports it from then on.
func (t *Tracker) CheckDeparted(keys []string) {
	t.departed.mu.Lock()
	defer t.departed.mu.Unlock()
	listed := make(map[string]bool, len(keys))
	for _, k := range keys {
		listed[k] = true
	}
	for k := range t.departed.entries {
		if !listed[k] {
			delete(t.departed.entries, k)
		}
	}
	if t.departed.entries == nil {
		t.departed.entries = map[string]*departure{}
	}
	for _, k := range keys {
		if _, ok := t.departed.entries[k]; !ok {
			d := &departure{}
			t.departed.entries[k] = d
			go t.checkDeparted(k, d)
		}
	}
}

// Deleted returns the members CheckDeparted found deleted.
func (t *Tracker) Deleted() map[string]bool {
	t.departed.mu.Lock()
	defer t.departed.mu.Unlock()
	out := map[string]bool{}
	for k, d := range t.departed.entries {
		if d.deleted {
			out[k] = true
		}
	}
	return out
}

// checkDeparted asks the member's cluster whether its Service exists.
// Nothing known (no client, the cluster does not answer) counts as "still
// there": the member keeps its approved endpoints, and the unreachable
// cluster's grace period deals with the rest.
func (t *Tracker) checkDeparted(key string, d *departure) {
	deleted := false
	cluster, ns, name := splitMemberKey(key)
	if client := t.clientOf(cluster); client != nil && t.ctx != nil {
		ctx, cancel := context.WithTimeout(t.ctx, departureTimeout)
		_, err := client.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		cancel()
		deleted = apierrors.IsNotFound(err)
		if err != nil && !deleted {
			t.opts.Log.Debug("asking whether a departed member still exists", "member", key, "error", err)
		}
	}
	t.departed.mu.Lock()
	current := t.departed.entries[key] == d // not forgotten meanwhile
	if current {
		d.deleted = deleted
	}
	t.departed.mu.Unlock()
	switch {
	case !current:
	case deleted:
		t.emit(Event{Kind: MemberDeleted, Cluster: cluster, Object: ns + "/" + name})
	case t.ctx != nil && t.ctx.Err() == nil:
		time.AfterFunc(departureRecheck, func() { t.checkDeparted(key, d) })
	}
}

// clientOf is the client of a cluster's watch: the local cluster's, or the
// Link's (nil when the Link selects nothing, or none names the cluster).
func (t *Tracker) clientOf(cluster string) kubernetes.Interface {
	if cluster == t.opts.LocalCluster {
		return t.local
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range t.remotes {
		if r.cluster == cluster {
			return r.watch.client
		}
	}
	return nil
}

func splitMemberKey(key string) (cluster, namespace, name string) {
	cluster, rest, _ := strings.Cut(key, "/")
	namespace, name, _ = strings.Cut(rest, "/")
	return cluster, namespace, name
}
