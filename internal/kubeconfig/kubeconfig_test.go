package kubeconfig

import (
	"errors"
	"strings"
	"testing"
)

const base = `apiVersion: v1
kind: Config
clusters:
- name: east
  cluster:
    server: https://127.0.0.1:6443
    insecure-skip-tls-verify: true
contexts:
- name: east
  context: {cluster: east, user: u}
current-context: east
users:
- name: u
  user:
`

func TestRESTConfig(t *testing.T) {
	cases := []struct {
		name      string
		user      string
		allowExec bool
		wantErr   string
	}{
		{name: "token is accepted", user: "    token: SECRET-TOKEN\n"},
		{name: "exec plugin is refused", user: "    exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh}\n", wantErr: "refused without --allow-exec-credentials"},
		{name: "exec plugin is accepted when allowed", user: "    exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/true}\n", allowExec: true},
		{name: "auth provider is refused", user: "    auth-provider: {name: oidc}\n", wantErr: "refused"},
		{name: "token file is refused", user: "    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token\n", wantErr: "tokenFile"},
		{name: "client key file is refused", user: "    client-key: /etc/key.pem\n", wantErr: "client-key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := RESTConfig([]byte(base+tc.user), Options{AllowExec: tc.allowExec})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if rc.Host != "https://127.0.0.1:6443" {
					t.Fatalf("host = %q", rc.Host)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
			}
			if strings.Contains(tc.wantErr, "refused") && !errors.Is(err, ErrExecRefused) {
				t.Fatalf("error %v is not ErrExecRefused", err)
			}
		})
	}
}

func TestRESTConfigErrorsNeverQuoteSecrets(t *testing.T) {
	bad := []string{
		"token: SECRET-TOKEN\n:::not yaml",
		base + "    token: SECRET-TOKEN\n" + "    client-key-data: !!binary SECRET-TOKEN\n",
	}
	for i, in := range bad {
		_, err := RESTConfig([]byte(in), Options{})
		if err == nil {
			t.Fatalf("case %d: expected an error", i)
		}
		if strings.Contains(err.Error(), "SECRET-TOKEN") {
			t.Fatalf("case %d: error quotes the secret: %v", i, err)
		}
	}
}

func TestRESTConfigRejectsEmptyAndMissingServer(t *testing.T) {
	if _, err := RESTConfig(nil, Options{}); err == nil {
		t.Fatal("empty kubeconfig accepted")
	}
	noServer := strings.Replace(base, "    server: https://127.0.0.1:6443\n", "", 1) + "    token: x\n"
	if _, err := RESTConfig([]byte(noServer), Options{}); err == nil || !strings.Contains(err.Error(), "no server") {
		t.Fatalf("error = %v", err)
	}
}
