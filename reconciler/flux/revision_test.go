package flux

import "testing"

const (
	sha1Hex   = "0123456789abcdef0123456789abcdef01234567"
	sha256Hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

func TestParseRevision(t *testing.T) {
	tests := []struct {
		name     string
		rev      string
		wantHash string
		wantOK   bool
	}{
		{"branch at sha1", "main@sha1:" + sha1Hex, sha1Hex, true},
		{"full ref name at sha1", "refs/heads/main@sha1:" + sha1Hex, sha1Hex, true},
		{"tag at sha1", "v1.2.3@sha1:" + sha1Hex, sha1Hex, true},
		{"branch with slashes", "feature/fedgen@sha1:" + sha1Hex, sha1Hex, true},
		{"sha1 without ref", "sha1:" + sha1Hex, sha1Hex, true},
		{"branch at sha256", "main@sha256:" + sha256Hex, sha256Hex, true},
		{"sha256 without ref", "sha256:" + sha256Hex, sha256Hex, true},
		{"bare sha1", sha1Hex, sha1Hex, true},
		{"bare sha256", sha256Hex, sha256Hex, true},
		{"upper-case hex is lowered", "main@sha1:" + "0123456789ABCDEF0123456789ABCDEF01234567", sha1Hex, true},
		{"legacy branch slash hash", "main/" + sha1Hex, sha1Hex, true},
		{"surrounding spaces", " main@sha1:" + sha1Hex + "\n", sha1Hex, true},
		{"empty", "", "", false},
		{"branch without hash", "main", "", false},
		{"empty digest", "main@sha1:", "", false},
		{"short sha1", "main@sha1:0123456", "", false},
		{"sha1 label on a sha256 digest", "main@sha1:" + sha256Hex, "", false},
		{"sha256 label on a sha1 digest", "sha256:" + sha1Hex, "", false},
		{"unknown algorithm", "main@md5:" + sha1Hex, "", false},
		{"not hex", "main@sha1:" + "g123456789abcdef0123456789abcdef01234567", "", false},
		{"bare short hash", "0123456", "", false},
		{"legacy form with short hash", "main/0123456", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hash, ok := ParseRevision(tt.rev)
			if hash != tt.wantHash || ok != tt.wantOK {
				t.Errorf("ParseRevision(%q) = %q, %v; want %q, %v", tt.rev, hash, ok, tt.wantHash, tt.wantOK)
			}
		})
	}
}

func TestSameRevision(t *testing.T) {
	other := "fedcba9876543210fedcba9876543210fedcba98"
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"branch form and bare hash", "main@sha1:" + sha1Hex, sha1Hex, true},
		{"branch form and full ref form", "main@sha1:" + sha1Hex, "refs/heads/main@sha1:" + sha1Hex, true},
		{"different branches, same commit", "main@sha1:" + sha1Hex, "review@sha1:" + sha1Hex, true},
		{"different commits", "main@sha1:" + sha1Hex, "main@sha1:" + other, false},
		{"equal strings that name no commit", "main", "main", false},
		{"one side empty", "", sha1Hex, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SameRevision(tt.a, tt.b); got != tt.want {
				t.Errorf("SameRevision(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}
