package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// OCI annotation and label keys.
const (
	refNameAnnotation  = "org.opencontainers.image.ref.name"
	sourceAnnotation   = "org.opencontainers.image.source"
	versionAnnotation  = "org.opencontainers.image.version"
	revisionAnnotation = "org.opencontainers.image.revision"
	createdAnnotation  = "org.opencontainers.image.created"
	titleAnnotation    = "org.opencontainers.image.title"
)

// metadata is what every image of a build is labelled with.
type metadata struct {
	version, commit, source string
	created                 time.Time
}

func (m metadata) labels() map[string]string {
	return map[string]string{
		titleAnnotation:    "fedgen",
		sourceAnnotation:   m.source,
		versionAnnotation:  m.version,
		revisionAnnotation: m.commit,
		createdAnnotation:  m.created.Format(time.RFC3339),
	}
}

// platformImage is one platform's image of the index.
type platformImage struct {
	img            v1.Image
	platform       v1.Platform
	digest         v1.Hash
	compressedSize int64
	binarySHA256   string
}

// platformImageFor puts the base layer and the binary into an OCI image
// that runs fedgen as nonroot.
func platformImageFor(base v1.Layer, binPath, goos, goarch string, m metadata) (platformImage, error) {
	bin, err := os.ReadFile(binPath)
	if err != nil {
		return platformImage{}, err
	}
	app, err := appLayer(bin, m.created)
	if err != nil {
		return platformImage{}, err
	}
	created := v1.Time{Time: m.created}
	start := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(start,
		mutate.Addendum{Layer: base, History: v1.History{Created: created,
			CreatedBy: "fedgen base: CA certificates, passwd/group with nonroot 65532, nsswitch.conf, /tmp"}},
		mutate.Addendum{Layer: app, History: v1.History{Created: created,
			CreatedBy: "fedgen " + m.version + " " + goos + "/" + goarch + " (CGO_ENABLED=0, -trimpath)"}},
	)
	if err != nil {
		return platformImage{}, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return platformImage{}, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Created = goos, goarch, created
	cfg.Config = v1.Config{
		Entrypoint: []string{"/" + binaryPath},
		User:       fmt.Sprintf("%d:%d", nonrootUID, nonrootUID),
		WorkingDir: "/home/" + nonrootName,
		Env: []string{
			"PATH=/usr/local/bin",
			"SSL_CERT_FILE=/" + caBundle,
			"HOME=/home/" + nonrootName,
		},
		Labels: m.labels(),
	}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return platformImage{}, err
	}
	img = mutate.Annotations(img, m.labels()).(v1.Image)
	pi := platformImage{img: img, platform: v1.Platform{OS: goos, Architecture: goarch}}
	if pi.digest, err = img.Digest(); err != nil {
		return platformImage{}, err
	}
	layers, err := img.Layers()
	if err != nil {
		return platformImage{}, err
	}
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			return platformImage{}, err
		}
		pi.compressedSize += n
	}
	sum := sha256.Sum256(bin)
	pi.binarySHA256 = hex.EncodeToString(sum[:])
	return pi, nil
}

// indexOf is the multi-platform index of the images.
func indexOf(images []platformImage, m metadata) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, pi := range images {
		p := pi.platform
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: pi.img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	idx, ok := mutate.Annotations(idx, m.labels()).(v1.ImageIndex)
	if !ok {
		return nil, fmt.Errorf("annotating the index")
	}
	return idx, nil
}

// emptyLayoutIndex is the layout's own index.json before the image index
// is added to it.
func emptyLayoutIndex() v1.ImageIndex { return mutate.IndexMediaType(empty.Index, types.OCIImageIndex) }

// push writes the index and its images to ref and returns ref pinned by
// digest.
func push(ctx context.Context, idx v1.ImageIndex, ref string) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("-push %q: %w", ref, err)
	}
	if err := remote.WriteIndex(r, idx, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return "", fmt.Errorf("pushing %s: %w", r, err)
	}
	d, err := idx.Digest()
	if err != nil {
		return "", err
	}
	return r.Context().Digest(d.String()).String(), nil
}
