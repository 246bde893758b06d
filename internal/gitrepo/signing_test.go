package gitrepo

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

const testPassphrase = "correct horse battery staple"

// newArmoredKey makes an OpenPGP key and returns its armored private key
// (encrypted with passphrase, if any) and armored public key.
func newArmoredKey(t *testing.T, passphrase string) (private, public []byte) {
	t.Helper()
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA}
	e, err := openpgp.NewEntity("fedgen test", "", "fedgen@example.com", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var pub bytes.Buffer
	w, _ := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()

	var priv bytes.Buffer
	w, _ = armor.Encode(&priv, openpgp.PrivateKeyType, nil)
	if passphrase == "" {
		err = e.SerializePrivate(w, nil)
	} else {
		if err := e.EncryptPrivateKeys([]byte(passphrase), nil); err != nil {
			t.Fatal(err)
		}
		err = e.SerializePrivateWithoutSigning(w, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	return priv.Bytes(), pub.Bytes()
}

func TestLoadSigningKey(t *testing.T) {
	encrypted, public := newArmoredKey(t, testPassphrase)
	plain, _ := newArmoredKey(t, "")
	tests := []struct {
		name       string
		armored    []byte
		passphrase string
		wantErr    string
	}{
		{name: "encrypted key, right passphrase", armored: encrypted, passphrase: testPassphrase},
		{name: "unencrypted key", armored: plain},
		{name: "encrypted key, no passphrase", armored: encrypted, wantErr: "passphrase is required"},
		{name: "encrypted key, wrong passphrase", armored: encrypted, passphrase: "hunter2-wrong", wantErr: "wrong passphrase"},
		{name: "public key only", armored: public, wantErr: "no private key"},
		{name: "not a key", armored: []byte("hello"), wantErr: "reading signing key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := LoadSigningKey(tt.armored, []byte(tt.passphrase))
			if tt.wantErr == "" {
				if err != nil || key == nil {
					t.Fatalf("LoadSigningKey: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
			if tt.passphrase != "" && strings.Contains(err.Error(), tt.passphrase) {
				t.Fatalf("error %q quotes the passphrase", err)
			}
		})
	}
}

// The signature must verify over the bytes git itself stores, as
// `git verify-commit` and Flux's GitRepository.spec.verify check them.
func TestSignedCommitVerifies(t *testing.T) {
	private, public := newArmoredKey(t, testPassphrase)
	key, err := LoadSigningKey(private, []byte(testPassphrase))
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t)
	url, _ := s.CreateRepo("fleet")
	r := openRepo(t, url, func(o *Options) { o.SigningKey = key })
	res := publish(t, r, bytesMap(generated))
	clone := cloneAndCheck(t, url, "main")

	raw := mustGit(t, clone, "cat-file", "commit", res.Commit.String())
	payload, sig := splitSignature(t, raw)
	ring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(public))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openpgp.CheckArmoredDetachedSignature(ring, strings.NewReader(payload), strings.NewReader(sig), nil); err != nil {
		t.Fatalf("signature does not verify over git's commit bytes: %v", err)
	}
	tampered := strings.Replace(payload, "update federation", "update federatiom", 1)
	if _, err := openpgp.CheckArmoredDetachedSignature(ring, strings.NewReader(tampered), strings.NewReader(sig), nil); err == nil {
		t.Fatal("signature verifies over a tampered commit")
	}

	// go-git's own verification agrees.
	repo, err := git.PlainOpen(clone)
	if err != nil {
		t.Fatal(err)
	}
	c, err := repo.CommitObject(plumbing.NewHash(res.Commit.String()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verify(string(public)); err != nil {
		t.Fatalf("go-git Verify: %v", err)
	}
}

// splitSignature separates a raw commit into the signed payload and the
// armored signature of its gpgsig header.
func splitSignature(t *testing.T, raw string) (payload, sig string) {
	t.Helper()
	var out, sigLines []string
	lines := strings.SplitAfter(raw, "\n")
	inHeaders, inSig := true, false
	for _, l := range lines {
		switch {
		case inHeaders && strings.HasPrefix(l, "gpgsig "):
			inSig = true
			sigLines = append(sigLines, strings.TrimPrefix(l, "gpgsig "))
		case inHeaders && inSig && strings.HasPrefix(l, " "):
			sigLines = append(sigLines, strings.TrimPrefix(l, " "))
		default:
			inSig = false
			if l == "\n" {
				inHeaders = false
			}
			out = append(out, l)
		}
	}
	if len(sigLines) == 0 {
		t.Fatalf("commit has no gpgsig header:\n%s", raw)
	}
	return strings.Join(out, ""), strings.Join(sigLines, "")
}
