package main

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// The base layer depends on nothing but the time it is given.
func TestBaseLayerIsReproducible(t *testing.T) {
	epoch := time.Unix(1700000000, 0)
	a, err := baseLayer(epoch)
	if err != nil {
		t.Fatal(err)
	}
	b, err := baseLayer(epoch)
	if err != nil {
		t.Fatal(err)
	}
	c, err := baseLayer(epoch.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	dc, _ := c.Digest()
	if da != db {
		t.Errorf("same input, digests %s and %s", da, db)
	}
	if da == dc {
		t.Errorf("another SOURCE_DATE_EPOCH, same digest %s: the time is not in the layer", da)
	}
}

func TestSBOMOfBuildInfo(t *testing.T) {
	info := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/fedgen/fedgen"},
		Deps: []*debug.Module{
			{Path: "github.com/spf13/cobra", Version: "v1.10.2", Sum: "h1:abc="},
			{Path: "k8s.io/api", Version: "v0.37.2"},
			{Path: "example.com/old", Version: "v1.0.0", Replace: &debug.Module{Path: "example.com/new", Version: "v1.1.0"}},
		},
	}
	m := metadata{version: "v1.2.3", commit: "abc", source: defaultSource, created: time.Unix(1700000000, 0)}
	doc := sbomOf(info, m, "linux-amd64", []byte("binary"))
	if doc.SPDXVersion != "SPDX-2.3" || doc.CreationInfo.Created != "2023-11-14T22:13:20Z" {
		t.Errorf("document header %+v", doc)
	}
	ids := map[string]string{}
	validID := regexp.MustCompile(`^SPDXRef-[A-Za-z0-9.-]+$`)
	for _, p := range doc.Packages {
		if !validID.MatchString(p.SPDXID) || ids[p.SPDXID] != "" {
			t.Errorf("package %s: SPDXID %q invalid or repeated", p.Name, p.SPDXID)
		}
		ids[p.SPDXID] = p.Name
		if len(p.ExternalRefs) != 1 || !strings.HasPrefix(p.ExternalRefs[0].ReferenceLocator, "pkg:golang/"+p.Name+"@") {
			t.Errorf("package %s: purl %+v", p.Name, p.ExternalRefs)
		}
	}
	for _, want := range []string{"github.com/fedgen/fedgen", "stdlib", "github.com/spf13/cobra", "k8s.io/api", "example.com/new"} {
		found := false
		for _, name := range ids {
			found = found || name == want
		}
		if !found {
			t.Errorf("no package %s in %v", want, ids)
		}
	}
	for _, r := range doc.Relationships {
		if (r.SPDXElementID != "SPDXRef-DOCUMENT" && ids[r.SPDXElementID] == "") || ids[r.RelatedSPDXElement] == "" {
			t.Errorf("relationship %+v names an unknown element", r)
		}
	}
	if len(doc.Relationships) != len(doc.Packages) {
		t.Errorf("%d relationships for %d packages: want DESCRIBES plus one DEPENDS_ON per dependency", len(doc.Relationships), len(doc.Packages))
	}
}

// TestBuildIsReproducibleAndPushes builds the image from this checkout
// and expects the digests and binaries of another build of the same
// commit: the one `make image` wrote when $FEDGEN_IMAGE_DIR names it (as
// `make test` does), else one more build. The second build is pushed to a
// registry (go-containerregistry's, in process) and its digest read back.
func TestBuildIsReproducibleAndPushes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds fedgen for two platforms; skipped by -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 14*time.Minute)
	defer cancel()
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer reg.Close()
	const tag = "v0.0.0-test"
	ref := strings.TrimPrefix(reg.URL, "http://") + "/fedgen:" + tag
	o := options{src: "../..", version: tag, epoch: -1, source: defaultSource, platforms: []string{"linux/amd64", "linux/arm64"}}

	var a *Result
	if dir := os.Getenv("FEDGEN_IMAGE_DIR"); dir != "" {
		a = &Result{Dir: dir}
		if err := readJSON(filepath.Join(dir, summaryFile), a); err != nil {
			t.Fatalf("the image of make image: %v", err)
		}
		o.version, o.commit, o.epoch = a.Version, a.Commit, a.Epoch
	} else {
		var err error
		if a, err = timedBuild(ctx, t, o, filepath.Join(t.TempDir(), "image")); err != nil {
			t.Fatal(err)
		}
	}
	o.push = ref
	b, err := timedBuild(ctx, t, o, filepath.Join(t.TempDir(), "image"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Index != b.Index {
		t.Errorf("two builds of one commit: index %s and %s", a.Index, b.Index)
	}
	for i := range a.Platforms {
		pa, pb := a.Platforms[i], b.Platforms[i]
		if pa.Manifest != pb.Manifest || pa.BinarySHA256 != pb.BinarySHA256 {
			t.Errorf("%s: manifests %s / %s, binaries %s / %s", pa.Platform, pa.Manifest, pb.Manifest, pa.BinarySHA256, pb.BinarySHA256)
		}
		sa, err1 := os.ReadFile(filepath.Join(a.Dir, pa.SBOM))
		sb, err2 := os.ReadFile(filepath.Join(b.Dir, pb.SBOM))
		if err1 != nil || err2 != nil || string(sa) != string(sb) {
			t.Errorf("%s: SBOMs differ or are missing (%v, %v)", pa.Platform, err1, err2)
		}
	}

	// The layout holds the index under its tag.
	p, err := layout.FromPath(filepath.Join(a.Dir, layoutDir))
	if err != nil {
		t.Fatal(err)
	}
	li, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := li.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Digest.String() != a.Index || im.Manifests[0].Annotations[refNameAnnotation] != a.Tag {
		t.Errorf("layout index.json: %+v", im.Manifests)
	}

	// The pushed index is the same.
	if b.Pushed != strings.TrimSuffix(ref, ":"+tag)+"@"+a.Index {
		t.Errorf("pushed %q", b.Pushed)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(r, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest.String() != a.Index {
		t.Errorf("registry serves %s for %s, built %s", desc.Digest, ref, a.Index)
	}
}

func timedBuild(ctx context.Context, t *testing.T, o options, out string) (*Result, error) {
	start := time.Now()
	o.out = out
	res, err := build(ctx, o)
	if err == nil {
		t.Logf("built %s in %s", res.Index, time.Since(start).Round(time.Millisecond))
	}
	return res, err
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
