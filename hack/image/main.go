// Command image builds fedgen's container image without a Docker daemon and
// without pulling a base image: static binaries per platform, a minimal base
// layer written here (CA certificates, passwd/group with nonroot 65532,
// nsswitch.conf, /tmp), assembled with go-containerregistry into a
// multi-platform OCI index, written as an OCI layout and, given -push,
// pushed. Beside the layout it writes each platform's binary and an SPDX
// SBOM of the Go modules built into it.
//
// Every timestamp is SOURCE_DATE_EPOCH (the commit's time by default), so
// the same commit gives the same digest on every build.
//
//	go -C hack/image run . -src ../.. -out _out/image              # what `make image` runs
//	go -C hack/image run . -src ../.. -push registry.example.com/fedgen:v1.2.3
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	var o options
	flag.StringVar(&o.src, "src", ".", "the fedgen checkout to build")
	flag.StringVar(&o.out, "out", "_out/image", "output folder (relative to -src): oci/ (the layout), binaries, SBOMs, image.json")
	flag.StringVar(&o.version, "version", "", "version to stamp (default: git describe --tags --always --dirty)")
	flag.StringVar(&o.commit, "commit", "", "commit to stamp (default: git rev-parse HEAD)")
	flag.Int64Var(&o.epoch, "source-date-epoch", -1, "time of every timestamp, in Unix seconds (default: $SOURCE_DATE_EPOCH, else the commit's time)")
	flag.StringVar(&o.source, "source-url", defaultSource, "org.opencontainers.image.source")
	platforms := flag.String("platforms", "linux/amd64,linux/arm64", "comma-separated platforms")
	flag.StringVar(&o.push, "push", "", "also push the index to this reference (registry/repo:tag); credentials from the Docker config")
	flag.Parse()
	o.platforms = strings.Split(*platforms, ",")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	res, err := build(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
	fmt.Printf("image: %s %s (%s) in %s\n", res.Tag, res.Index, filepath.Join(res.Dir, layoutDir), time.Since(start).Round(100*time.Millisecond))
	for _, p := range res.Platforms {
		fmt.Printf("  %-12s %s  %5.1f MB compressed\n", p.Platform, p.Manifest, float64(p.CompressedSize)/1e6)
	}
	if res.Pushed != "" {
		fmt.Printf("pushed: %s\n", res.Pushed)
	}
}
