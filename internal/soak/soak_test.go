package soak

import (
	"context"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

var (
	soakDuration = flag.Duration("soak", 2*time.Minute, "how long TestSoak churns and injects faults")
	soakSeed     = flag.Uint64("soak-seed", 0, "the seed of TestSoak (default: a new one, logged)")
)

// TestSoak is the short soak of `make test`: two minutes of churn and
// overlapping faults (their durations scaled down), every invariant
// checked after each window.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the local clusters; skipped by -short")
	}
	ctrllog.SetLogger(logr.Discard())
	ctx, cancel := context.WithTimeout(context.Background(), *soakDuration+15*time.Minute)
	defer cancel()
	var out strings.Builder
	rep, err := Run(ctx, Config{
		Duration: *soakDuration,
		Seed:     *soakSeed,
		BinDir:   os.Getenv("FEDGEN_BIN_DIR"),
		Out:      testWriter{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	rep.Write(&out)
	t.Log("\n" + out.String())
	if rep.Failed {
		t.Errorf("the soak found %d violation(s); replay with -soak-seed %d", len(rep.Violations), rep.Seed)
	}
	if len(rep.Convergence) < 2 {
		t.Errorf("only %d checks: no fault window completed", len(rep.Convergence))
	}
	if sum(rep.Injected) == 0 {
		t.Error("no fault was injected")
	}
	if !rep.Failed {
		os.RemoveAll(rep.Dir)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
