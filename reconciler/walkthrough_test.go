package reconciler_test

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fedgen/fedgen/reconciler"
)

// The seed's walk-through: bb in west, east and north, labelled as members
// → one commit → Flux applies bb-federated in west with the three clusters'
// endpoints and the discovery annotations → both Links say Mirrored.
func TestWalkthroughFederatesThreeClusters(t *testing.T) {
	e := newEnv(t)
	e.link("east")
	e.link("north")
	e.deploy("west", member{name: "bb", ips: []string{"10.42.0.108"}})
	e.deploy("east", member{name: "bb", ips: []string{"10.23.1.43"}})
	e.deploy("north", member{name: "bb", ips: []string{"10.23.0.42"}})
	e.start()

	for _, link := range []string{"east", "north"} {
		c := e.waitReason(link, "bb", "Mirrored", 60*time.Second)
		if c.Status != metav1.ConditionTrue || c.LocalRef == nil || c.LocalRef.Name != "bb-federated" || c.LocalRef.Namespace != e.ns {
			t.Fatalf("Link %s: Mirrored condition %+v, want True with localRef %s/bb-federated", link, c, e.ns)
		}
	}
	svc, slices, err := e.federated("bb")
	if err != nil {
		t.Fatalf("bb-federated in west: %v", err)
	}
	if got := svc.Annotations["multicluster.linkerd.io/remote-discovery"]; got != "bb@east,bb@north" {
		t.Errorf("remote-discovery = %q", got)
	}
	if got := svc.Annotations["multicluster.linkerd.io/local-discovery"]; got != "bb" {
		t.Errorf("local-discovery = %q", got)
	}
	if svc.Spec.Selector != nil {
		t.Errorf("bb-federated has a selector: %v", svc.Spec.Selector)
	}
	want := map[string][]string{"west": {"10.42.0.108"}, "east": {"10.23.1.43"}, "north": {"10.23.0.42"}}
	if got := endpointsByCluster(slices); !reflect.DeepEqual(got, want) {
		t.Errorf("endpoints by cluster = %v, want %v", got, want)
	}
	commits := e.commits()
	if len(commits) != 1 {
		t.Fatalf("want exactly one commit, got %d:\n%s", len(commits), strings.Join(commits, "\n----\n"))
	}
	checkCommitMessage(t, commits[0], "east,north,west")
}

// checkCommitMessage holds a commit message to SPEC §4: a subject of at most
// 72 characters, a blank line, one line per changed service, trailers.
func checkCommitMessage(t *testing.T, msg, clusters string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	if len(lines) < 3 {
		t.Fatalf("commit message too short:\n%s", msg)
	}
	if len(lines[0]) > 72 || lines[0] == "" {
		t.Errorf("subject %q is empty or longer than 72 characters", lines[0])
	}
	if lines[1] != "" {
		t.Errorf("no blank line after the subject:\n%s", msg)
	}
	if last := lines[len(lines)-1]; last != "Fedgen-Clusters: "+clusters {
		t.Errorf("last line %q, want the trailer Fedgen-Clusters: %s", last, clusters)
	}
}

// A member joins, leaves (label removed) and is deleted; when the last
// member leaves, the file is deleted and Flux prunes the objects.
func TestMembersJoinLeaveAndLastLeaving(t *testing.T) {
	e := newEnv(t)
	e.link("east")
	e.link("north")
	e.deploy("east", member{name: "api", ips: []string{"10.23.1.10"}})
	e.start()
	e.waitReason("east", "api", "Mirrored", 60*time.Second)

	// north joins.
	e.deploy("north", member{name: "api", ips: []string{"10.23.0.10", "10.23.0.11"}})
	e.waitReason("north", "api", "Mirrored", 30*time.Second)
	e.eventually("north's endpoints in west", 30*time.Second, func() (bool, string) {
		_, slices, err := e.federated("api")
		got := endpointsByCluster(slices)
		return err == nil && len(got["north"]) == 2 && len(got["east"]) == 1, fmt.Sprint(got, err)
	})

	// north leaves: label removed.
	e.label("north", "api", "mirror.linkerd.io/federated", "")
	e.eventually("north's entry gone and its endpoints withdrawn", 30*time.Second, func() (bool, string) {
		_, slices, err := e.federated("api")
		got := endpointsByCluster(slices)
		_, present := e.condition("north", "api", "Mirrored")
		return err == nil && len(got["north"]) == 0 && !present, fmt.Sprint(got, err, present)
	})
	last := e.commits()[0]
	if !strings.Contains(last, "left north") {
		t.Errorf("commit after north left does not say so:\n%s", last)
	}

	// east, the last member, is deleted: the file goes, Flux prunes.
	if err := e.cluster("east").Clientset().CoreV1().Services(e.ns).Delete(e.ctx, "api", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually("api-federated pruned from west", 30*time.Second, func() (bool, string) {
		_, _, err := e.federated("api")
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	files := e.gitLog("%H")
	if len(files) < 3 {
		t.Fatalf("want at least 3 commits, got %d", len(files))
	}
	subjects := e.gitLog("%s")
	sort.Strings(subjects)
	if !strings.HasPrefix(e.gitLog("%s")[0], "Remove ") {
		t.Errorf("last subject %q does not say the service was removed", e.gitLog("%s")[0])
	}
}

// fedgen diff's preview: before fedgen runs it shows the file the first
// commit will add; once fedgen published, it shows nothing to change.
func TestPreviewShowsTheNextCommit(t *testing.T) {
	e := newEnv(t)
	e.link("east")
	e.deploy("east", member{name: "bb", ips: []string{"10.23.1.43"}})
	file := e.ns + "/bb-federated.yaml"

	p, err := reconciler.NewPreview(e.ctx, e.options(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Current) != 0 || p.Head != "" {
		t.Fatalf("an empty repository previewed as holding %d files at %q", len(p.Current), p.Head)
	}
	if !strings.Contains(string(p.Next.Files[file]), "10.23.1.43") {
		t.Fatalf("the preview lacks %s with east's endpoint; files: %v", file, keys(p.Next.Files))
	}
	if n := len(e.commits()); n != 0 {
		t.Fatalf("a preview made %d commits", n)
	}

	e.start()
	e.waitReason("east", "bb", "Mirrored", 60*time.Second)
	p, err = reconciler.NewPreview(e.ctx, e.options(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Current, p.Next.Files) {
		t.Fatalf("after fedgen published, the preview still differs: current %v, next %v", keys(p.Current), keys(p.Next.Files))
	}
}

func keys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
