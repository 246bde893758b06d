package members

import (
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fedgen/fedgen/generator"
)

// reportedOverQuota bounds how many members beyond --max-members-per-link
// a snapshot carries (the oldest of them, next in line): each becomes an
// entry of the Link's status, one object, and a cluster labelling a
// million Services must not make it too big to write. The metric and the
// Event count them all.
const reportedOverQuota = 100

// admission keeps a linked cluster's member Services in age order
// (generator.CompareAge) and says which are within --max-members-per-link:
// only those get slice watches. The Service informer's handler changes it;
// snapshots decide from the informer's own list (see members), so a
// handler running behind never makes a render count the wrong members.
type admission struct {
	mu    sync.Mutex
	limit int               // 0: no limit (the local cluster)
	order []*corev1.Service // stubs: namespace, name, creationTimestamp
}

func ageStub(svc *corev1.Service) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{
		Namespace: svc.Namespace, Name: svc.Name, CreationTimestamp: svc.CreationTimestamp,
	}}
}

// add records svc and reports whether it is admitted, and which member
// it pushed beyond the limit (nil when none).
func (a *admission) add(svc *corev1.Service) (admitted bool, bumped *corev1.Service) {
	a.mu.Lock()
	defer a.mu.Unlock()
	i, found := slices.BinarySearchFunc(a.order, svc, generator.CompareAge)
	if !found {
		a.order = slices.Insert(a.order, i, ageStub(svc))
		if a.limit > 0 && i < a.limit && len(a.order) > a.limit {
			bumped = a.order[a.limit]
		}
	}
	return a.limit == 0 || i < a.limit, bumped
}

// remove forgets svc and returns the member it lets within the limit
// (nil when none).
func (a *admission) remove(svc *corev1.Service) (promoted *corev1.Service) {
	a.mu.Lock()
	defer a.mu.Unlock()
	i, found := slices.BinarySearchFunc(a.order, svc, generator.CompareAge)
	if !found {
		return nil
	}
	a.order = slices.Delete(a.order, i, i+1)
	if a.limit > 0 && i < a.limit && len(a.order) >= a.limit {
		promoted = a.order[a.limit-1]
	}
	return promoted
}

// over reports whether some member is beyond the limit.
func (a *admission) over() bool { return a.beyond() > 0 }

// beyond is how many members are beyond the limit.
func (a *admission) beyond() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.limit == 0 {
		return 0
	}
	return max(0, len(a.order)-a.limit)
}

// position says whether svc is within the limit, and if not, whether it
// is among the oldest reportedOverQuota beyond it (rendered as over the
// quota). A Service not recorded yet is placed where it would go.
func (a *admission) position(svc *corev1.Service) (within, reported bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.limit == 0 {
		return true, false
	}
	i, _ := slices.BinarySearchFunc(a.order, svc, generator.CompareAge)
	return i < a.limit, i < a.limit+reportedOverQuota
}

// overMemberQuota splits one cluster's Services (as listed from its
// informer) into those within limit and those beyond it, oldest first;
// limit 0 admits all. The list is sorted only when it is over the limit.
func overMemberQuota(services []*corev1.Service, limit int) (within, beyond []*corev1.Service) {
	if limit == 0 || len(services) <= limit {
		return services, nil
	}
	sorted := slices.Clone(services)
	slices.SortFunc(sorted, generator.CompareAge)
	return sorted[:limit], sorted[limit:]
}

// QuotaState says how many of a cluster's members are beyond a quota.
type QuotaState struct {
	// Members counts the members beyond --max-members-per-link (only
	// the oldest reportedOverQuota of them are in the snapshot).
	Members int
	// MemberLimit is --max-members-per-link for this cluster (0: none).
	MemberLimit int
	// Endpoints lists the members ("namespace/name") with more endpoints
	// than --max-endpoints-per-member, sorted.
	Endpoints []string
	// EndpointLimit is --max-endpoints-per-member.
	EndpointLimit int
}

// Exceeded reports whether any member is beyond a quota.
func (q QuotaState) Exceeded() bool { return q.Members > 0 || len(q.Endpoints) > 0 }
