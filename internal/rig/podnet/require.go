package podnet

import (
	"os"
	"testing"
)

// Require skips the test where a pod network cannot be built (see
// Available), except in CI (CI=true), where it fails it: CI runs as root
// and must run every test that needs one.
func Require(t testing.TB) {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must run the pod network tests: %v", err)
		}
		t.Skip(err)
	}
}
