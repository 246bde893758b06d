package pullrequest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/fedgen/fedgen/internal/rig/forge"
	"github.com/fedgen/fedgen/internal/rig/localcluster"
)

// forgeServer is a live Gitea for the package's tests, started once; each
// test makes its own repository.
var forgeServer *forge.Gitea

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	os.Exit(runWithForge(m))
}

func runWithForge(m *testing.M) int {
	bin, err := localcluster.BinDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "pullrequest-forge-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	begin := time.Now()
	forgeServer, err = forge.Start(ctx, forge.Options{Dir: dir, BinDir: bin})
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting Gitea: %v (files kept in %s)\n", err, dir)
		return 1
	}
	fmt.Fprintf(os.Stderr, "Gitea ready in %s at %s\n", time.Since(begin).Round(time.Millisecond), forgeServer.URL())
	code := m.Run()
	forgeServer.Stop()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "tests failed; Gitea's files and log kept in %s\n", dir)
	} else {
		os.RemoveAll(dir)
	}
	return code
}
