package flux

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"
)

// waitTimeout bounds every wait for a callback; the fake client answers in
// milliseconds, so reaching it means the callback never came.
const waitTimeout = 10 * time.Second

// kustomizationWatch runs WatchKustomization in the background and hands
// out the states it reports.
type kustomizationWatch struct {
	t      *testing.T
	states chan *KustomizationState
	done   chan error
}

func startKustomizationWatch(t *testing.T, ctx context.Context, c *dynamicfake.FakeDynamicClient) *kustomizationWatch {
	t.Helper()
	w := &kustomizationWatch{t: t, states: make(chan *KustomizationState, 100), done: make(chan error, 1)}
	go func() {
		w.done <- WatchKustomization(ctx, c, "flux-system", "federation",
			func(s *KustomizationState) { w.states <- s })
	}()
	return w
}

// next returns the next reported state, failing the test after waitTimeout.
func (w *kustomizationWatch) next(what string) *KustomizationState {
	w.t.Helper()
	select {
	case s := <-w.states:
		return s
	case <-time.After(waitTimeout):
		w.t.Fatalf("no callback within %s; waiting for %s", waitTimeout, what)
		return nil
	}
}

func kustomization(t *testing.T, name, appliedHash string) *unstructured.Unstructured {
	t.Helper()
	u := object(t, kustomizationHead)
	u.SetName(name)
	if appliedHash != "" {
		if err := unstructured.SetNestedField(u.Object, "main@sha1:"+appliedHash, "status", "lastAppliedRevision"); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

func TestWatchKustomizationFollowsChanges(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := fakeClient(kustomization(t, "federation", sha1Hex), kustomization(t, "apps", sha1Hex))
	ks := c.Resource(KustomizationResource).Namespace("flux-system")
	w := startKustomizationWatch(t, ctx, c)

	if s := w.next("the initial state"); s == nil || s.Name != "federation" || s.AppliedHash != sha1Hex {
		t.Fatalf("initial state = %+v, want federation applied at %s", s, sha1Hex)
	}

	// Changes that leave the state as it was (a label), and changes of
	// another Kustomization, are not reported: the next report is the
	// applied revision moving on.
	update := func(u *unstructured.Unstructured) {
		t.Helper()
		if _, err := ks.Update(ctx, u, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	labelled := kustomization(t, "federation", sha1Hex)
	labelled.SetLabels(map[string]string{"touched": "yes"})
	update(labelled)
	update(kustomization(t, "apps", otherHex))
	update(kustomization(t, "federation", otherHex))
	if s := w.next("the new applied revision"); s == nil || s.Name != "federation" || s.AppliedHash != otherHex {
		t.Fatalf("after the update got %+v, want federation applied at %s", s, otherHex)
	}

	if err := ks.Delete(ctx, "federation", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if s := w.next("the deletion"); s != nil {
		t.Fatalf("after the deletion got %+v, want nil", s)
	}

	cancel()
	select {
	case err := <-w.done:
		if err != nil {
			t.Errorf("WatchKustomization returned %v after cancel, want nil", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("WatchKustomization did not return after its context was cancelled")
	}
}

func TestWatchKustomizationReportsAbsenceThenCreation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := fakeClient(kustomization(t, "apps", sha1Hex))
	w := startKustomizationWatch(t, ctx, c)

	if s := w.next("the report that the object is absent"); s != nil {
		t.Fatalf("first report = %+v, want nil (absent)", s)
	}
	_, err := c.Resource(KustomizationResource).Namespace("flux-system").
		Create(ctx, kustomization(t, "federation", sha1Hex), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := w.next("the created object"); s == nil || s.AppliedHash != sha1Hex {
		t.Fatalf("after creation got %+v, want federation applied at %s", s, sha1Hex)
	}
}

func TestWatchGitRepositoryReportsArtifact(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := fakeClient(object(t, gitRepositoryManifest))
	states := make(chan *GitRepositoryState, 10)
	go func() {
		_ = WatchGitRepository(ctx, c, "flux-system", "fleet", func(s *GitRepositoryState) { states <- s })
	}()
	select {
	case s := <-states:
		if s == nil || s.ArtifactHash != sha1Hex {
			t.Fatalf("got %+v, want the artifact at %s", s, sha1Hex)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("no callback within %s", waitTimeout)
	}
}

func TestDeduperHandsOutCopies(t *testing.T) {
	var got []*KustomizationState
	d := &deduper[KustomizationState]{deliver: func(s *KustomizationState) { got = append(got, s) }}
	d.observe(&KustomizationState{AppliedHash: sha1Hex})
	got[0].AppliedHash = "changed by the callback"
	d.observe(&KustomizationState{AppliedHash: sha1Hex})
	if len(got) != 1 {
		t.Errorf("an unchanged state was delivered %d times, want once", len(got))
	}
}

func TestWatchReportsListErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := fakeClient()
	c.PrependReactor("list", "kustomizations", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(KustomizationResource.GroupResource(), "", errors.New("no RBAC"))
	})
	errs := make(chan error, 100)
	states := make(chan *KustomizationState, 100)
	go func() {
		_ = WatchKustomization(ctx, c, "flux-system", "federation",
			func(s *KustomizationState) { states <- s },
			WithErrorHandler(func(err error) { errs <- err }))
	}()
	select {
	case err := <-errs:
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "kustomizations flux-system/federation") {
			t.Errorf("error = %v; want a Forbidden error naming the object", err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("no error reported within %s", waitTimeout)
	}
	select {
	case s := <-states:
		t.Errorf("a state (%+v) was reported although listing failed", s)
	default:
	}
}
