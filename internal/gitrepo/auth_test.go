package gitrepo

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/fedgen/fedgen/internal/rig/gitserver"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestAuthFromSecretHTTP(t *testing.T) {
	tests := []struct {
		name    string
		data    map[string]string
		want    any
		wantErr bool
	}{
		{name: "anonymous", data: nil, want: nil},
		{name: "basic auth", data: map[string]string{"username": "bot", "password": "pw"}, want: &githttp.BasicAuth{Username: "bot", Password: "pw"}},
		{name: "token as password", data: map[string]string{"password": "ghp_x"}, want: &githttp.BasicAuth{Username: "git", Password: "ghp_x"}},
		{name: "bearer token", data: map[string]string{"bearerToken": "tok"}, want: &githttp.TokenAuth{Token: "tok"}},
		{name: "token and password", data: map[string]string{"bearerToken": "tok", "password": "pw"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AuthFromSecret(bytesMap(tt.data), "https://git.example.com/fleet.git")
			if tt.wantErr {
				if err == nil {
					t.Fatalf("want an error, got %#v", got)
				}
				for _, v := range tt.data {
					if strings.Contains(err.Error(), v) {
						t.Fatalf("error %q quotes a secret value", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				if got != nil {
					t.Fatalf("got %#v, want nil", got)
				}
				return
			}
			assertEqual(t, "auth", got, tt.want)
		})
	}
}

func TestAuthFromSecretSSH(t *testing.T) {
	_, clientKey, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(clientKey, "")
	if err != nil {
		t.Fatal(err)
	}
	identity := pem.EncodeToMemory(block)
	block, err = ssh.MarshalPrivateKeyWithPassphrase(clientKey, "", []byte("key-pass"))
	if err != nil {
		t.Fatal(err)
	}
	lockedIdentity := pem.EncodeToMemory(block)
	hostPub, _ := newSSHPublicKey(t)
	otherPub, _ := newSSHPublicKey(t)
	knownHosts := knownhosts.Line([]string{"[git.example.com]:2222"}, hostPub) + "\n"
	const url = "ssh://flux@git.example.com:2222/org/fleet.git"

	t.Run("host key is checked against known_hosts", func(t *testing.T) {
		auth, err := AuthFromSecret(map[string][]byte{"identity": identity, "known_hosts": []byte(knownHosts)}, url)
		if err != nil {
			t.Fatal(err)
		}
		pk := auth.(*gitssh.PublicKeys)
		if pk.User != "flux" {
			t.Errorf("user = %q, want flux (from the URL)", pk.User)
		}
		addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2222}
		if err := pk.HostKeyCallback("git.example.com:2222", addr, hostPub); err != nil {
			t.Errorf("known host key refused: %v", err)
		}
		if err := pk.HostKeyCallback("git.example.com:2222", addr, otherPub); err == nil {
			t.Error("a different host key was accepted")
		}
		if err := pk.HostKeyCallback("elsewhere.example.com:22", addr, hostPub); err == nil {
			t.Error("an unknown host was accepted")
		}
		assertEqual(t, "host key algorithms", pk.HostKeyAlgorithms, []string{ssh.KeyAlgoED25519})
	})
	t.Run("passphrase-protected identity", func(t *testing.T) {
		_, err := AuthFromSecret(map[string][]byte{"identity": lockedIdentity, "password": []byte("key-pass"), "known_hosts": []byte(knownHosts)}, url)
		if err != nil {
			t.Fatal(err)
		}
	})

	failures := []struct {
		name string
		data map[string][]byte
	}{
		{"no known_hosts", map[string][]byte{"identity": identity}},
		{"no identity", map[string][]byte{"known_hosts": []byte(knownHosts)}},
		{"garbage identity", map[string][]byte{"identity": []byte("-----BEGIN SECRET-----sekrit"), "known_hosts": []byte(knownHosts)}},
		{"wrong key passphrase", map[string][]byte{"identity": lockedIdentity, "password": []byte("nope-pass"), "known_hosts": []byte(knownHosts)}},
		{"garbage known_hosts", map[string][]byte{"identity": identity, "known_hosts": []byte("host ssh-ed25519 !!!notbase64")}},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			auth, err := AuthFromSecret(tt.data, url)
			if err == nil {
				t.Fatalf("want an error, got %#v", auth)
			}
			for _, v := range []string{"sekrit", "nope-pass", "notbase64", string(identity[40:80])} {
				if strings.Contains(err.Error(), v) {
					t.Fatalf("error %q quotes secret material", err)
				}
			}
		})
	}
	t.Run("scp-like url", func(t *testing.T) {
		kh := knownhosts.Line([]string{"git.example.com"}, hostPub) + "\n"
		auth, err := AuthFromSecret(map[string][]byte{"identity": identity, "known_hosts": []byte(kh)}, "git@git.example.com:org/fleet.git")
		if err != nil {
			t.Fatal(err)
		}
		if err := auth.(*gitssh.PublicKeys).HostKeyCallback("git.example.com:22", &net.TCPAddr{}, hostPub); err != nil {
			t.Fatalf("known host key refused: %v", err)
		}
	})
}

func newSSHPublicKey(t *testing.T) (ssh.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sshPub, priv
}

// Against a server that wants basic auth: missing or wrong credentials are
// ErrAuthFailed and never leak the password; the right ones work.
func TestBasicAuthAgainstServer(t *testing.T) {
	const password = "s3cret-pass"
	s := startServer(t, gitserver.WithBasicAuth("fedgen", password))
	url, _ := s.CreateRepo("fleet")
	withCreds := func(user, pass string) string {
		return strings.Replace(url, "http://", "http://"+user+":"+pass+"@", 1)
	}
	failures := []struct {
		name   string
		url    string
		secret map[string]string
	}{
		{name: "no credentials", url: url},
		{name: "wrong password in secret", url: url, secret: map[string]string{"username": "fedgen", "password": "wrong-pass-1"}},
		{name: "wrong password in url", url: withCreds("fedgen", "wrong-pass-2")},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			auth, err := AuthFromSecret(bytesMap(tt.secret), tt.url)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Open(context.Background(), Options{URL: tt.url, Path: folder, Auth: auth})
			t.Logf("error: %v", err)
			if !errors.Is(err, ErrAuthFailed) || Reason(err) != "GitAuthFailed" {
				t.Fatalf("err = %v, want ErrAuthFailed", err)
			}
			for _, secret := range []string{"wrong-pass-1", "wrong-pass-2", password} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error %q leaks a password", err)
				}
			}
		})
	}
	t.Run("right credentials", func(t *testing.T) {
		auth, err := AuthFromSecret(map[string][]byte{"username": []byte("fedgen"), "password": []byte(password)}, url)
		if err != nil {
			t.Fatal(err)
		}
		r := openRepo(t, url, func(o *Options) { o.Auth = auth })
		if res := publish(t, r, bytesMap(generated)); !res.Pushed {
			t.Fatalf("Result = %+v, want pushed", res)
		}
	})
}
