package reconciler_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fedgen/fedgen/internal/rig/localcluster"
	"github.com/fedgen/fedgen/reconciler"
)

// verifySignatures makes the test's GitRepository verify the head
// commit's signature against key's public half, as spec.verify does in
// production.
func (e *env) verifySignatures(key *openpgp.Entity) {
	e.t.Helper()
	var pub bytes.Buffer
	w, err := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := key.Serialize(w); err != nil {
		e.t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		e.t.Fatal(err)
	}
	c := e.cluster("west").Client()
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: e.repo + "-pgp", Namespace: localcluster.FluxNamespace},
		Data:       map[string][]byte{"fedgen.asc": pub.Bytes()},
	}
	if err := c.Create(e.ctx, secret); err != nil {
		e.t.Fatalf("creating the public key Secret: %v", err)
	}
	repo := &unstructured.Unstructured{}
	repo.SetAPIVersion("source.toolkit.fluxcd.io/v1")
	repo.SetKind("GitRepository")
	repo.SetNamespace(localcluster.FluxNamespace)
	repo.SetName(e.repo)
	patch := fmt.Sprintf(`{"spec":{"verify":{"mode":"HEAD","secretRef":{"name":%q}}}}`, secret.Name)
	if err := c.Patch(e.ctx, repo, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		e.t.Fatalf("turning on spec.verify: %v", err)
	}
}

// Signed commits end to end: a GitRepository verifying HEAD accepts
// fedgen's signed commits and Flux applies them; an unsigned commit on
// top (a fedgen without the key) is refused by Flux, and the member's
// status says so with Flux's words.
func TestSignedCommitsVerifiedByFlux(t *testing.T) {
	key, err := openpgp.NewEntity("fedgen", "test", "fedgen@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.verifySignatures(key)
	e.link("east")
	e.deploy("east", member{name: "api", ips: []string{"10.23.1.10"}})
	stop := e.start(func(o *reconciler.Options) { o.Git.SigningKey = key })

	e.waitReason("east", "api", "Mirrored", 60*time.Second)
	if out := e.bareGit("log", "-1", "--format=%G?%n%GK", "main"); !strings.HasPrefix(out, "E") && !strings.HasPrefix(out, "G") && !strings.HasPrefix(out, "U") {
		// E: signed, key not in the keyring here — still signed. N would
		// mean no signature at all.
		t.Fatalf("fedgen's commit is not signed: %q", out)
	}
	stop()

	// A fedgen without the key pushes an unsigned commit on top.
	e.setEndpoints("east", "api", nil, "10.23.1.10", "10.23.1.11")
	e.start()
	c := e.waitReason("east", "api", "ApplyFailed", 60*time.Second)
	if !strings.Contains(c.Message, "signature") {
		t.Errorf("ApplyFailed message %q does not carry Flux's verification error", c.Message)
	}
	if out := e.bareGit("log", "-1", "--format=%G?", "main"); out != "N" {
		t.Errorf("the second fedgen's commit has signature status %q, want N (unsigned)", out)
	}
	_, slices, err := e.federated("api")
	if err != nil {
		t.Fatal(err)
	}
	if got := endpointsByCluster(slices)["east"]; len(got) != 1 {
		t.Errorf("Flux applied the unsigned commit: east endpoints %v", got)
	}
}
