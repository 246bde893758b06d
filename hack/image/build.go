package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
)

const (
	defaultSource = "https://github.com/fedgen/fedgen"
	// layoutDir is the OCI layout's folder inside the output folder.
	layoutDir = "oci"
	// summaryFile describes the build (digests, sizes) for scripts and tests.
	summaryFile = "image.json"
)

// options say what to build.
type options struct {
	src, out        string
	version, commit string
	epoch           int64
	source          string
	platforms       []string
	push            string
}

// Result is what a build wrote; image.json holds it.
type Result struct {
	Dir       string     `json:"-"`
	Version   string     `json:"version"`
	Commit    string     `json:"commit"`
	Epoch     int64      `json:"sourceDateEpoch"`
	Tag       string     `json:"tag"`
	Index     string     `json:"index"`
	Platforms []Platform `json:"platforms"`
	Pushed    string     `json:"pushed,omitempty"`
}

// Platform is one platform's image in the index.
type Platform struct {
	Platform       string `json:"platform"`
	Manifest       string `json:"manifest"`
	CompressedSize int64  `json:"compressedSize"`
	Binary         string `json:"binary"`
	BinarySHA256   string `json:"binarySha256"`
	SBOM           string `json:"sbom"`
}

func build(ctx context.Context, o options) (*Result, error) {
	src, err := filepath.Abs(o.src)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(src, "cmd", "fedgen")); err != nil {
		return nil, fmt.Errorf("-src %s is not a fedgen checkout: %w", src, err)
	}
	if err := o.fillFromGit(ctx, src); err != nil {
		return nil, err
	}
	out := o.out
	if !filepath.IsAbs(out) {
		out = filepath.Join(src, out)
	}
	// A fresh folder: a layout appended to would keep the last build's
	// blobs and index entries.
	if err := os.RemoveAll(out); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	meta := metadata{version: o.version, commit: o.commit, source: o.source, created: time.Unix(o.epoch, 0).UTC()}
	base, err := baseLayer(meta.created)
	if err != nil {
		return nil, err
	}
	res := &Result{Dir: out, Version: o.version, Commit: o.commit, Epoch: o.epoch, Tag: tagFor(o.version)}
	var images []platformImage
	for _, p := range o.platforms {
		goos, goarch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok || goos != "linux" {
			return nil, fmt.Errorf("platform %q: want linux/<arch>", p)
		}
		bin := filepath.Join(out, "fedgen-"+goos+"-"+goarch)
		if err := goBuild(ctx, src, bin, goos, goarch, o.version, o.commit); err != nil {
			return nil, err
		}
		img, err := platformImageFor(base, bin, goos, goarch, meta)
		if err != nil {
			return nil, err
		}
		sbom := bin + ".spdx.json"
		if err := writeSBOM(bin, sbom, meta, goos+"-"+goarch); err != nil {
			return nil, err
		}
		images = append(images, img)
		res.Platforms = append(res.Platforms, Platform{
			Platform: goos + "/" + goarch, Manifest: img.digest.String(), CompressedSize: img.compressedSize,
			Binary: filepath.Base(bin), BinarySHA256: img.binarySHA256, SBOM: filepath.Base(sbom),
		})
	}
	idx, err := indexOf(images, meta)
	if err != nil {
		return nil, err
	}
	d, err := idx.Digest()
	if err != nil {
		return nil, err
	}
	res.Index = d.String()
	p, err := layout.Write(filepath.Join(out, layoutDir), emptyLayoutIndex())
	if err != nil {
		return nil, fmt.Errorf("writing the OCI layout: %w", err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{refNameAnnotation: res.Tag})); err != nil {
		return nil, fmt.Errorf("writing the OCI layout: %w", err)
	}
	if o.push != "" {
		if res.Pushed, err = push(ctx, idx, o.push); err != nil {
			return nil, err
		}
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, err
	}
	return res, os.WriteFile(filepath.Join(out, summaryFile), append(b, '\n'), 0o644)
}

// fillFromGit completes the version, commit and epoch from the checkout's
// Git history where the flags and $SOURCE_DATE_EPOCH leave them open.
func (o *options) fillFromGit(ctx context.Context, src string) error {
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", src}, args...)...)
		b, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	var err error
	if o.version == "" {
		if o.version, err = git("describe", "--tags", "--always", "--dirty"); err != nil {
			return err
		}
	}
	if o.commit == "" {
		if o.commit, err = git("rev-parse", "HEAD"); err != nil {
			return err
		}
	}
	if o.epoch < 0 {
		if env := os.Getenv("SOURCE_DATE_EPOCH"); env != "" {
			if o.epoch, err = strconv.ParseInt(env, 10, 64); err != nil {
				return fmt.Errorf("$SOURCE_DATE_EPOCH: %w", err)
			}
		} else {
			s, err := git("log", "-1", "--format=%ct", o.commit)
			if err != nil {
				return err
			}
			if o.epoch, err = strconv.ParseInt(s, 10, 64); err != nil {
				return fmt.Errorf("the commit's time %q: %w", s, err)
			}
		}
	}
	return nil
}

// goBuild builds a static fedgen for one platform, stamped with the
// version and commit. -trimpath and the fixed flags make the binary
// depend only on the source and the Go toolchain.
func goBuild(ctx context.Context, src, out, goos, goarch, version, commit string) error {
	ldflags := fmt.Sprintf("-s -w -X main.version=%s -X main.commit=%s", version, commit)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", ldflags, "-o", out, "./cmd/fedgen")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch, "GOWORK=off")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building fedgen for %s/%s: %w", goos, goarch, err)
	}
	return nil
}

var notTagChar = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// tagFor is the version as an image tag (at most 128 characters of
// [A-Za-z0-9_.-], not starting with . or -).
func tagFor(version string) string {
	t := notTagChar.ReplaceAllString(version, "-")
	t = strings.TrimLeft(t, ".-")
	if len(t) > 128 {
		t = t[:128]
	}
	if t == "" {
		return "dev"
	}
	return t
}
