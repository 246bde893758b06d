package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

// armoredKey makes a fresh signing key, armored as gpg exports it.
func armoredKey(t *testing.T) []byte {
	t.Helper()
	e, err := openpgp.NewEntity("fedgen test", "", "fedgen@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PrivateKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLoadSigningKeyFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "git.asc")
	if err := os.WriteFile(file, armoredKey(t), 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(t.TempDir(), "garbage.asc")
	if err := os.WriteFile(garbage, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		flags   reviewFlags
		wantKey bool
		wantErr bool
	}{
		{name: "no key: unsigned commits", flags: reviewFlags{}},
		{name: "key from a file", flags: reviewFlags{signingKey: file}, wantKey: true},
		{name: "a file that holds no key", flags: reviewFlags{signingKey: garbage}, wantErr: true},
		{name: "a missing file", flags: reviewFlags{signingKey: file + ".missing"}, wantErr: true},
		{name: "file and Secret together", flags: reviewFlags{signingKey: file, signingKeySecret: "ns/name"}, wantErr: true},
		{name: "Secret reference without a namespace", flags: reviewFlags{signingKeySecret: "name"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := tt.flags.loadSigningKey(context.Background(), nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if (key != nil) != tt.wantKey {
				t.Fatalf("key = %v, want a key %v", key, tt.wantKey)
			}
		})
	}
}
