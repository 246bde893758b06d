package demo

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	"code.gitea.io/sdk/gitea"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/fedgen/fedgen/internal/rig/forge"
)

// The review variant (Options.Review, `make demo-review`): the fleet
// repository lives on Gitea, fedgen runs with --push-branch and opens a
// pull request for what a reviewer decides (membership), and endpoints of
// approved members reach the followed branch without one (SPEC §4.1, §4.2).
const (
	// ReviewBranch is fedgen's --push-branch in the review variant.
	ReviewBranch = "fedgen/review"
	// gitSecret holds the forge token for git (username/password) and for
	// the pull requests (token); config/rbac lets fedgen read it.
	gitSecret = "fleet-git"
	// fluxSecret is the GitRepository's credentials in flux-system.
	fluxSecret = "fleet-auth"
)

// MovedPodIP is east's bb pod IP after the review variant moves the pod.
const MovedPodIP = "10.23.1.77"

// ReviewState is what the review variant observed.
type ReviewState struct {
	// PullRequest is the pull request fedgen opened for the join.
	PullRequest *gitea.PullRequest
	// PendingReview is the Links' state while it waited, and Status what
	// `fedgen status` printed then.
	PendingReview *State
	Status        string
	// Merged is the state once the merge reached Flux and the Links.
	Merged *State
	// MergeToMirrored is how long from the merge to both Links Mirrored.
	MergeToMirrored time.Duration
	// Moved is the state after east's pod moved; PullRequests counts the
	// repository's pull requests then (still only the merged one).
	Moved        *State
	PullRequests int
}

// startForgeRepo is step 1's repository in the review variant: the fleet
// repository on Gitea, and the credentials Flux fetches it with.
func (d *Demo) startForgeRepo(ctx context.Context) error {
	g := d.fleet.Forge()
	repo, err := g.CreateRepo(ctx, Repo)
	if err != nil {
		return err
	}
	_, err = g.CommitFiles(ctx, repo, "main", "", map[string][]byte{
		"README.md": []byte("# fleet\n\nWhat Flux applies to the clusters. fedgen owns " + Folder + "/.\n"),
	}, "Initial commit")
	if err != nil {
		return err
	}
	d.repo, d.url = &repo, repo.CloneURL
	d.say("Gitea %s, fleet repository %s (token made by `gitea admin user generate-access-token`)", g.URL(), repo.HTMLURL)
	d.cmd("kubectl --context=west -n flux-system create secret generic %s --from-literal=username=%s --from-literal=password=$TOKEN", fluxSecret, forge.Username)
	return d.createSecret(ctx, "flux-system", fluxSecret, map[string]string{"username": forge.Username, "password": g.Token()})
}

// reviewGitRepository adds the credentials to the GitRepository of
// examples/flux in the review variant.
func (d *Demo) reviewGitRepository(repo *unstructured.Unstructured) error {
	if d.repo == nil {
		return nil
	}
	return unstructured.SetNestedField(repo.Object, fluxSecret, "spec", "secretRef", "name")
}

// reviewArgs are fedgen's extra flags in the review variant.
func (d *Demo) reviewArgs() []string {
	if d.repo == nil {
		return nil
	}
	return []string{
		"--git-secret=" + fedgenNS + "/" + gitSecret,
		"--push-branch=" + ReviewBranch,
		"--pull-request-provider=gitea",
		"--pull-request-api=" + d.fleet.Forge().URL(),
		"--pull-request-secret=" + fedgenNS + "/" + gitSecret,
		// A merge is noticed within a second (the default polls every 30s).
		"--review-poll-interval=1s",
	}
}

// createReviewSecret is fedgen's Git and forge credentials.
func (d *Demo) createReviewSecret(ctx context.Context) error {
	if d.repo == nil {
		return nil
	}
	tok := d.fleet.Forge().Token()
	d.cmd("kubectl --context=west -n %s create secret generic %s --from-literal=username=%s --from-literal=password=$TOKEN --from-literal=token=$TOKEN",
		fedgenNS, gitSecret, forge.Username)
	return d.createSecret(ctx, fedgenNS, gitSecret, map[string]string{"username": forge.Username, "password": tok, "token": tok})
}

func (d *Demo) createSecret(ctx context.Context, ns, name string, data map[string]string) error {
	cs := d.fleet.Cluster(Local).Clientset()
	if err := createNamespace(ctx, cs, ns); err != nil {
		return err
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: data}
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating Secret %s/%s: %w", ns, name, err)
	}
	return nil
}

// WalkReview runs the review variant's steps 2 to 6 on a demo started
// with Options.Review.
func (d *Demo) WalkReview(ctx context.Context) (*ReviewState, error) {
	if d.repo == nil {
		return nil, fmt.Errorf("the demo was not started with Options.Review")
	}
	if err := d.Link(ctx); err != nil {
		return nil, err
	}
	if err := d.Deploy(ctx); err != nil {
		return nil, err
	}
	rs := &ReviewState{}
	if err := d.Propose(ctx, rs); err != nil {
		return rs, err
	}
	if err := d.MergeProposal(ctx, rs); err != nil {
		return rs, err
	}
	return rs, d.MovePod(ctx, rs)
}

// Propose is step 4 of the review variant: bb labelled in every cluster,
// fedgen started in review mode, and the join shows up as a pull request
// on Gitea; the members wait, PendingReview, with its URL.
func (d *Demo) Propose(ctx context.Context, rs *ReviewState) error {
	d.heading(4, "Label bb as a federated member and start fedgen in review mode: the join becomes a pull request")
	for _, c := range Clusters {
		if err := d.setMember(ctx, c, true); err != nil {
			return fmt.Errorf("step 4: %w", err)
		}
	}
	if err := d.startFedgenAsServiceAccount(ctx); err != nil {
		return fmt.Errorf("step 4: %w", err)
	}
	err := d.waitFor(ctx, "an open pull request from "+ReviewBranch+" into main", func(ctx context.Context) (bool, string) {
		prs, err := d.pullRequests(ctx)
		if err != nil {
			return false, err.Error()
		}
		for _, pr := range prs {
			if pr.State == gitea.StateOpen && pr.Head != nil && pr.Head.Ref == ReviewBranch {
				rs.PullRequest = pr
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d pull request(s), none open from %s", len(prs), ReviewBranch)
	})
	if err != nil {
		return err
	}
	pr := rs.PullRequest
	d.say("pull request #%d: %s", pr.Index, pr.HTMLURL)
	d.say("  title: %s", pr.Title)
	d.say("%s", indent(pr.Body))
	rs.PendingReview, err = d.await(ctx, "bb PendingReview on the Links east and north, naming "+pr.HTMLURL,
		func(s *State) bool {
			return reasonWith(s, "east", "PendingReview", pr.HTMLURL) && reasonWith(s, "north", "PendingReview", pr.HTMLURL)
		})
	if err != nil {
		return err
	}
	d.cmd("kubectl --context=west -n %s get link east -o yaml | yq .status.federatedServices", LinkNamespace)
	d.say("%s", indent(linkYAML(rs.PendingReview, "east")))
	if rs.PendingReview.Service != nil {
		return fmt.Errorf("step 4: bb-federated is in west before anyone merged: %s", rs.PendingReview)
	}
	d.say("bb-federated is not in west: nothing is on main until a reviewer merges.")
	d.say("")
	if rs.Status, err = d.status(); err != nil {
		return fmt.Errorf("step 4: %w", err)
	}
	return nil
}

// MergeProposal is step 5: a reviewer merges the pull request (through
// Gitea's API, as the button would); Flux applies main and the Links turn
// Mirrored.
func (d *Demo) MergeProposal(ctx context.Context, rs *ReviewState) error {
	d.heading(5, "A reviewer merges the pull request")
	d.cmd("curl -X POST -H 'Authorization: token $TOKEN' %sapi/v1/repos/%s/%s/pulls/%d/merge -d '{\"Do\":\"merge\"}'",
		d.fleet.Forge().URL(), d.repo.Owner, d.repo.Name, rs.PullRequest.Index)
	merged := time.Now()
	if err := d.fleet.Forge().Merge(ctx, *d.repo, rs.PullRequest.Index, "merge"); err != nil {
		return fmt.Errorf("step 5: %w", err)
	}
	want := map[string][]string{}
	for _, c := range Clusters {
		want[c] = []string{PodIPs[c]}
	}
	var err error
	rs.Merged, err = d.await(ctx, "bb-federated applied in west with endpoints "+fmt.Sprint(want)+" and bb Mirrored=True on east and north",
		func(s *State) bool {
			return reflect.DeepEqual(s.Endpoints, want) && mirrored(s, "east") && mirrored(s, "north")
		})
	if err != nil {
		return err
	}
	rs.MergeToMirrored = time.Since(merged)
	d.say("merge → Mirrored on both Links in %s (fedgen polls main every second here)", rs.MergeToMirrored.Round(100*time.Millisecond))
	d.show(rs.Merged, []string{"east"})
	return nil
}

// MovePod is step 6: bb's pod in east gets a new IP. An approved member's
// endpoints are operational: fedgen commits them to main directly, and no
// pull request is opened.
func (d *Demo) MovePod(ctx context.Context, rs *ReviewState) error {
	d.heading(6, "bb's pod in east moves to "+MovedPodIP+": the new endpoint reaches west without a pull request")
	d.cmd("kubectl --context=east -n %s delete pod -l app=%s   # its replacement gets %s", Namespace, Service, MovedPodIP)
	slices := d.fleet.Cluster("east").Clientset().DiscoveryV1().EndpointSlices(Namespace)
	// The apiserver names the slices (generateName): find bb's IPv4 one.
	list, err := slices.List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + Service})
	if err != nil {
		return fmt.Errorf("step 6: listing bb's EndpointSlices in east: %w", err)
	}
	var sl *discoveryv1.EndpointSlice
	for i := range list.Items {
		if list.Items[i].AddressType == discoveryv1.AddressTypeIPv4 && len(list.Items[i].Endpoints) > 0 {
			sl = &list.Items[i]
		}
	}
	if sl == nil {
		return fmt.Errorf("step 6: bb has no IPv4 EndpointSlice with an endpoint in east")
	}
	sl.Endpoints[0].Addresses = []string{MovedPodIP}
	sl.Endpoints[0].TargetRef = &corev1.ObjectReference{Kind: "Pod", Namespace: Namespace, Name: Service + "-5c8b6f7d9-eam4r"}
	if _, err := slices.Update(ctx, sl, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("step 6: updating bb's EndpointSlice in east: %w", err)
	}
	want := map[string][]string{"west": {PodIPs["west"]}, "east": {MovedPodIP}, "north": {PodIPs["north"]}}
	if d.opts.DualStack {
		for c := range want {
			want[c] = append(want[c], PodIPv6s[c])
		}
	}
	rs.Moved, err = d.await(ctx, "bb-federated's endpoints "+fmt.Sprint(want)+" in west and bb Mirrored on east",
		func(s *State) bool { return reflect.DeepEqual(s.Endpoints, want) && mirrored(s, "east") })
	if err != nil {
		return err
	}
	prs, err := d.pullRequests(ctx)
	if err != nil {
		return fmt.Errorf("step 6: %w", err)
	}
	rs.PullRequests = len(prs)
	d.cmd("git log --oneline -3 main")
	if out, err := d.git("log", "--oneline", "-3", "main"); err == nil {
		d.say("%s", indent(out))
	}
	d.say("pull requests on the fleet repository: %d (the merged one); the endpoint went to main directly.", len(prs))
	if len(prs) != 1 {
		return fmt.Errorf("step 6: %d pull requests after the pod moved, want only the merged one", len(prs))
	}
	return nil
}

// pullRequests lists the fleet repository's pull requests, newest first.
func (d *Demo) pullRequests(ctx context.Context) ([]*gitea.PullRequest, error) {
	c, err := d.fleet.Forge().Client(ctx)
	if err != nil {
		return nil, err
	}
	prs, _, err := c.ListRepoPullRequests(d.repo.Owner, d.repo.Name, gitea.ListPullRequestsOptions{State: gitea.StateAll})
	if err != nil {
		return nil, fmt.Errorf("listing pull requests: %w", err)
	}
	return prs, nil
}

// reasonWith reports whether link's entry for bb has Mirrored with reason
// and a message containing text.
func reasonWith(s *State, link, reason, text string) bool {
	for _, e := range s.Links[link] {
		for _, c := range e.Conditions {
			if e.RemoteRef.Name == Service && c.Type == "Mirrored" && c.Reason == reason && strings.Contains(c.Message, text) {
				return true
			}
		}
	}
	return false
}
