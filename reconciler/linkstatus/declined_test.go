package linkstatus

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
)

// declinedRuleCases are the rules of a declined pull request (SPEC §4.2):
// the members of the declined proposal are ReviewDeclined, with the URL.
func declinedRuleCases() []ruleCase {
	const url = "https://git.example.com/fleet/pulls/7"
	declined := func(approved, proposed []byte) func(*State) {
		return func(s *State) {
			scopeState(approved, proposed)(s)
			s.Declined = true
		}
	}
	return []ruleCase{
		{
			name: "declined: a member whose join was declined is ReviewDeclined with the pull request",
			state: func(s *State) {
				declined(scopeFile("web@north", "", "[]"), scopeFile("web@east,web@north", "", "[10.1.0.1]"))(s)
				s.LocalServices = sets.New(ServiceKey("shop", "web-federated"))
			},
			want: []v1alpha3.LinkCondition{mirroredCond(metav1.ConditionFalse, ReasonReviewDeclined,
				"its join was declined: pull request "+url+" was closed without merging; "+
					"fedgen proposes it again when the proposal changes, or when the pull request is reopened")},
		},
		{
			name: "declined: a member whose leave was declined is ReviewDeclined, and says it is still served",
			state: func(s *State) {
				declined(scopeFile("web@east,web@north", "", "[10.1.0.1]"), scopeFile("web@north", "", "[]"))(s)
				s.Leaving = map[string]string{MemberKey("east", "shop", "web"): "it is no longer selected"}
			},
			want: []v1alpha3.LinkCondition{mirroredCond(metav1.ConditionFalse, ReasonReviewDeclined,
				"its leave was declined (it is no longer selected): pull request "+url+" was closed without merging; "+
					"fedgen proposes it again when the proposal changes, or when the pull request is reopened; it is served as approved")},
		},
		{
			name:  "declined: a member with nothing in the declined proposal stays Mirrored",
			state: declined(scopeFile("web@east", "", "[10.1.0.1]"), scopeFile("web@east,web@north", "", "[10.1.0.1]")),
			want: []v1alpha3.LinkCondition{func() v1alpha3.LinkCondition {
				c := mirroredCond(metav1.ConditionTrue, ReasonMirrored, "")
				c.LocalRef = localRef
				return c
			}()},
		},
	}
}
