package reconciler

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/fedgen/fedgen/reconciler/members"
)

// Quota metric labels.
const (
	quotaMembers   = "members"
	quotaEndpoints = "endpoints"
)

// reportQuotas says, per linked cluster, how many members are beyond a
// quota: in fedgen_members_over_quota, and in an Event on the Link when
// that changes (once per render, not per member: a cluster labelling
// thousands of Services gets one Event, not thousands).
func (r *Reconciler) reportQuotas(states map[string]members.ClusterState) {
	r.opts.Metrics.OverQuota.Reset()
	seen := map[string]string{}
	for _, st := range states {
		q := st.Quota
		r.opts.Metrics.OverQuota.WithLabelValues(st.Name, quotaMembers).Set(float64(q.Members))
		r.opts.Metrics.OverQuota.WithLabelValues(st.Name, quotaEndpoints).Set(float64(len(q.Endpoints)))
		if st.Link == "" {
			continue // the local cluster has no Link to tell
		}
		if st.Withdrawn || st.NeverSynced {
			seen[st.Link] = r.quotaEvents[st.Link] // nothing known of it now
			continue
		}
		msg := quotaMessage(st.Name, q)
		seen[st.Link] = msg
		if msg == r.quotaEvents[st.Link] {
			continue
		}
		if msg != "" {
			r.opts.Log.Warn("members beyond a quota", "link", r.opts.LinkNamespace+"/"+st.Link, "message", msg)
			r.linkEvent(st.Link, corev1.EventTypeWarning, "QuotaExceeded", msg)
		} else {
			r.linkEvent(st.Link, corev1.EventTypeNormal, "WithinQuota", "every member Service of cluster "+st.Name+" is within the quotas again")
		}
	}
	r.quotaEvents = seen // a deleted Link is forgotten
}

// quotaMessage describes what of a cluster is beyond the quotas; "" when
// nothing is.
func quotaMessage(cluster string, q members.QuotaState) string {
	var parts []string
	if q.Members > 0 {
		parts = append(parts, fmt.Sprintf("%d member Services of cluster %s beyond --max-members-per-link (%d) are not served, the newest first",
			q.Members, cluster, q.MemberLimit))
	}
	if n := len(q.Endpoints); n > 0 {
		names := q.Endpoints
		if n > 5 {
			names = append(names[:5:5], fmt.Sprintf("and %d more", n-5))
		}
		parts = append(parts, fmt.Sprintf("%d member Services of cluster %s with more endpoints than --max-endpoints-per-member (%d) are not served: %s",
			n, cluster, q.EndpointLimit, strings.Join(names, ", ")))
	}
	return strings.Join(parts, "; ")
}
