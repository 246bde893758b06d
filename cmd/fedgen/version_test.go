package main

import (
	"debug/buildinfo"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionInfo(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	for _, tc := range []struct {
		name            string
		version, commit string
		info            *debug.BuildInfo
		want            buildVersion
	}{
		{
			name:    "stamped by the build wins over the build information",
			version: "v1.2.3", commit: "abc123",
			info: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs("def456", "true")},
			want: buildVersion{Version: "v1.2.3", Commit: "abc123", GoVersion: "go1.26.8"},
		},
		{
			name: "plain go build in a dirty checkout",
			info: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs("def456", "true")},
			want: buildVersion{Version: "dev", Commit: "def456", Modified: true, GoVersion: "go1.26.8"},
		},
		{
			name: "go install at a version, no VCS",
			info: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.4.0"}},
			want: buildVersion{Version: "v0.4.0", Commit: "unknown", GoVersion: "go1.26.8"},
		},
		{
			name: "no build information at all",
			want: buildVersion{Version: "dev", Commit: "unknown", GoVersion: runtime.Version()},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.Platform = runtime.GOOS + "/" + runtime.GOARCH
			if got := versionInfo(tc.version, tc.commit, tc.info); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestVersionStampedByTheBuild builds fedgen as the Makefile does and as a
// plain go build does, and runs `fedgen version` on each.
func TestVersionStampedByTheBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds fedgen twice; skipped by -short")
	}
	dir := t.TempDir()
	build := func(name string, args ...string) string {
		t.Helper()
		bin := filepath.Join(dir, name)
		cmd := exec.Command("go", append(append([]string{"build", "-o", bin}, args...), ".")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		return bin
	}
	run := func(bin string, args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, append([]string{"version"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s version: %v\n%s", bin, err, out)
		}
		return string(out)
	}

	stamped := build("stamped", "-ldflags", "-X main.version=v9.8.7 -X main.commit=0123456789abcdef")
	out := run(stamped, "-o", "json")
	var v buildVersion
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("fedgen version -o json: %v\n%s", err, out)
	}
	want := buildVersion{Version: "v9.8.7", Commit: "0123456789abcdef", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if v != want {
		t.Errorf("stamped build: %+v, want %+v", v, want)
	}
	if text := run(stamped); !strings.HasPrefix(text, "fedgen v9.8.7\ncommit:   0123456789abcdef\ngo:       "+runtime.Version()+"\n") {
		t.Errorf("stamped build prints:\n%s", text)
	}

	// A plain build still says something true: dev, and the revision Go
	// recorded (none with -buildvcs=false or outside a checkout).
	plain := build("plain")
	text := run(plain)
	if !strings.HasPrefix(text, "fedgen dev\ncommit:   ") || !strings.Contains(text, "go:       "+runtime.Version()) {
		t.Errorf("plain build prints:\n%s", text)
	}
	info, err := buildinfo.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	rev := "unknown"
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			rev = s.Value
		}
	}
	if !strings.Contains(text, "commit:   "+rev) {
		t.Errorf("plain build does not name the recorded revision %s:\n%s", rev, text)
	}
}
