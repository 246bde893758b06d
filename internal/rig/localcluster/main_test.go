package localcluster

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// fleet is started once for the package: three clusters, Flux on west, a
// Git server, and fedgen's Link CRD everywhere.
var fleet *Fleet

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		// `make unit` runs without the local clusters; every test that
		// needs them skips through needFleet.
		os.Exit(m.Run())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	var err error
	fleet, err = Start(ctx, Options{
		Clusters:  []string{"west", "east", "north"},
		Flux:      "west",
		GitServer: true,
		LinkCRD:   LinkCRDProject,
		Logf:      func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) },
	})
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the local clusters: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	if code != 0 {
		fleet.KeepDir()
		fmt.Fprintf(os.Stderr, "tests failed; fleet logs kept in %s\n", fleet.Dir())
	}
	fleet.Stop()
	os.Exit(code)
}

// needFleet skips the test under -short (make unit) and otherwise returns
// the package's fleet.
func needFleet(t *testing.T) *Fleet {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the local clusters; skipped by -short")
	}
	return fleet
}

// testContext is a context bounded by d that ends with the test.
func testContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// dumpLogsOnFailure prints the tail of every server log when t fails.
func dumpLogsOnFailure(t *testing.T, f *Fleet) {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			f.KeepDir()
			var b strings.Builder
			f.LogTails(&b, 15)
			t.Log(b.String())
		}
	})
}
