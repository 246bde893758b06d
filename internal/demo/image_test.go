package demo

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedgen/fedgen/internal/rig/localcluster"
	"github.com/fedgen/fedgen/internal/rig/podman"
)

// ImageDirEnv points at what `make image` writes (oci/, image.json); the
// default is _out/image of the checkout.
const ImageDirEnv = "FEDGEN_IMAGE_DIR"

// imageLayout finds the OCI layout `make image` wrote and the tag of its
// image, or fails saying how to make it.
func imageLayout(t *testing.T) (dir, tag string) {
	t.Helper()
	root := os.Getenv(ImageDirEnv)
	if root == "" {
		bin, err := localcluster.BinDir()
		if err != nil {
			t.Fatal(err)
		}
		root = filepath.Join(filepath.Dir(bin), "_out", "image")
	}
	dir = filepath.Join(root, "oci")
	var idx ociIndex
	if err := readJSON(filepath.Join(dir, "index.json"), &idx); err != nil {
		t.Fatalf("no image: %v; run `make image` (it writes the OCI layout to %s; $%s overrides)", err, dir, ImageDirEnv)
	}
	if len(idx.Manifests) != 1 {
		t.Fatalf("%s/index.json holds %d entries, want the one image index", dir, len(idx.Manifests))
	}
	return dir, idx.Manifests[0].Annotations["org.opencontainers.image.ref.name"]
}

type ociDescriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations"`
	Platform    *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform"`
}

type ociIndex struct {
	MediaType   string            `json:"mediaType"`
	Manifests   []ociDescriptor   `json:"manifests"`
	Annotations map[string]string `json:"annotations"`
}

type ociManifest struct {
	MediaType   string            `json:"mediaType"`
	Config      ociDescriptor     `json:"config"`
	Layers      []ociDescriptor   `json:"layers"`
	Annotations map[string]string `json:"annotations"`
}

type ociConfig struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Created      string `json:"created"`
	Config       struct {
		User       string            `json:"User"`
		Entrypoint []string          `json:"Entrypoint"`
		Cmd        []string          `json:"Cmd"`
		Env        []string          `json:"Env"`
		Labels     map[string]string `json:"Labels"`
	} `json:"config"`
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// blob reads a blob of the layout and checks it against its digest and
// size, so what the test inspects is what a registry would serve.
func blob(t *testing.T, dir string, d ociDescriptor) []byte {
	t.Helper()
	hexDigest, ok := strings.CutPrefix(d.Digest, "sha256:")
	if !ok {
		t.Fatalf("digest %q is not sha256", d.Digest)
	}
	b, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", hexDigest))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != hexDigest || int64(len(b)) != d.Size {
		t.Fatalf("blob %s: content does not match its digest or size %d", d.Digest, d.Size)
	}
	return b
}

// TestImage checks the image `make image` built, as a registry client
// would read it: a multi-platform index of linux/amd64 and linux/arm64,
// each image running /usr/local/bin/fedgen (static, for its platform) as
// 65532:65532, labelled, with the base files a Pod needs and no shell.
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the image of make image; skipped by -short")
	}
	dir, tag := imageLayout(t)
	var layoutIndex ociIndex
	if err := readJSON(filepath.Join(dir, "index.json"), &layoutIndex); err != nil {
		t.Fatal(err)
	}
	var idx ociIndex
	if err := json.Unmarshal(blob(t, dir, layoutIndex.Manifests[0]), &idx); err != nil {
		t.Fatal(err)
	}
	if tag == "" || idx.MediaType != "application/vnd.oci.image.index.v1+json" {
		t.Errorf("layout entry: tag %q, index media type %q", tag, idx.MediaType)
	}
	var platforms []string
	for _, m := range idx.Manifests {
		if m.Platform == nil {
			t.Fatalf("index entry %s has no platform", m.Digest)
		}
		platform := m.Platform.OS + "/" + m.Platform.Architecture
		platforms = append(platforms, platform)
		t.Run(platform, func(t *testing.T) { checkPlatformImage(t, dir, m, idx.Annotations) })
	}
	slices.Sort(platforms)
	if !slices.Equal(platforms, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("index platforms %v, want linux/amd64 and linux/arm64", platforms)
	}
}

func checkPlatformImage(t *testing.T, dir string, d ociDescriptor, indexLabels map[string]string) {
	var m ociManifest
	if err := json.Unmarshal(blob(t, dir, d), &m); err != nil {
		t.Fatal(err)
	}
	var cfg ociConfig
	if err := json.Unmarshal(blob(t, dir, m.Config), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.OS != d.Platform.OS || cfg.Architecture != d.Platform.Architecture {
		t.Errorf("config says %s/%s", cfg.OS, cfg.Architecture)
	}
	if cfg.Config.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532", cfg.Config.User)
	}
	if !slices.Equal(cfg.Config.Entrypoint, []string{"/usr/local/bin/fedgen"}) || len(cfg.Config.Cmd) != 0 {
		t.Errorf("entrypoint %q cmd %q, want [/usr/local/bin/fedgen] and no cmd", cfg.Config.Entrypoint, cfg.Config.Cmd)
	}
	for _, k := range []string{"org.opencontainers.image.source", "org.opencontainers.image.version", "org.opencontainers.image.revision"} {
		if cfg.Config.Labels[k] == "" || cfg.Config.Labels[k] != indexLabels[k] || m.Annotations[k] != indexLabels[k] {
			t.Errorf("label %s: config %q, manifest %q, index %q", k, cfg.Config.Labels[k], m.Annotations[k], indexLabels[k])
		}
	}
	// One time for everything: the commit's (SOURCE_DATE_EPOCH).
	if created, err := time.Parse(time.RFC3339, cfg.Created); err != nil || cfg.Created != indexLabels["org.opencontainers.image.created"] {
		t.Errorf("config created %q (%v), index label %q", cfg.Created, err, indexLabels["org.opencontainers.image.created"])
	} else {
		t.Logf("created %s", created)
	}

	files := map[string]*tar.Header{}
	bodies := map[string][]byte{}
	for _, l := range m.Layers {
		if l.MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" {
			t.Errorf("layer %s media type %q", l.Digest, l.MediaType)
		}
		zr, err := gzip.NewReader(bytes.NewReader(blob(t, dir, l)))
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(zr)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			name := "/" + strings.TrimSuffix(h.Name, "/")
			files[name] = h
			if b, err := io.ReadAll(tr); err == nil && len(b) > 0 {
				bodies[name] = b
			}
		}
	}
	var names []string
	for n, h := range files {
		names = append(names, n)
		if base := filepath.Base(n); base == "sh" || base == "bash" || base == "busybox" || h.Typeflag == tar.TypeSymlink {
			t.Errorf("image holds %s: no shell or links expected", n)
		}
	}
	slices.Sort(names)
	want := []string{"/etc", "/etc/group", "/etc/nsswitch.conf", "/etc/passwd", "/etc/ssl", "/etc/ssl/certs",
		"/etc/ssl/certs/ca-certificates.crt", "/home", "/home/nonroot", "/tmp", "/usr", "/usr/local", "/usr/local/bin", "/usr/local/bin/fedgen"}
	if !slices.Equal(names, want) {
		t.Errorf("image files:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	if h := files["/tmp"]; h == nil || h.Mode&0o7777 != 0o1777 {
		t.Errorf("/tmp: %+v, want mode 1777", h)
	}
	if h := files["/home/nonroot"]; h == nil || h.Uid != 65532 {
		t.Errorf("/home/nonroot: %+v, want owned by 65532", h)
	}
	if !strings.Contains(string(bodies["/etc/passwd"]), "nonroot:x:65532:65532:") || !strings.Contains(string(bodies["/etc/group"]), "nonroot:x:65532:") {
		t.Errorf("passwd/group lack nonroot 65532:\n%s%s", bodies["/etc/passwd"], bodies["/etc/group"])
	}
	if n := countCerts(t, bodies["/etc/ssl/certs/ca-certificates.crt"]); n < 100 {
		t.Errorf("CA bundle holds %d certificates", n)
	}
	for n, h := range files {
		if h.Uname != "" || h.Gname != "" || !h.ModTime.Equal(files["/etc"].ModTime) {
			t.Errorf("%s: owner names %q/%q or a time of its own %s: not reproducible", n, h.Uname, h.Gname, h.ModTime)
		}
	}

	bin := files["/usr/local/bin/fedgen"]
	if bin == nil || bin.Mode&0o111 == 0 || bin.Uid != 0 {
		t.Fatalf("fedgen binary: %+v, want an executable owned by root", bin)
	}
	f, err := elf.NewFile(bytes.NewReader(bodies["/usr/local/bin/fedgen"]))
	if err != nil {
		t.Fatalf("fedgen binary is not ELF: %v", err)
	}
	wantMachine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[cfg.Architecture]
	if f.Machine != wantMachine {
		t.Errorf("fedgen binary for %s, want %s", f.Machine, wantMachine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("fedgen binary is dynamically linked (%s): the image has no libc", p.Type)
		}
	}
}

func countCerts(t *testing.T, pemBytes []byte) int {
	n := 0
	for len(pemBytes) > 0 {
		var b *pem.Block
		if b, pemBytes = pem.Decode(pemBytes); b == nil {
			break
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			t.Errorf("CA bundle: %v", err)
		}
		n++
	}
	return n
}

// TestWalkthroughInImage runs the walk-through with every fedgen call
// inside the image, hardened as the chart's Pod is (host network, read-only
// root filesystem without tmpfs, UID 65532, no capabilities, no new
// privileges, the kubeconfig mounted read-only), loaded from the OCI
// layout (nothing pulled), and expects the same states as with the binary.
func TestWalkthroughInImage(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local clusters and podman; skipped by -short")
	}
	dir, tag := imageLayout(t)
	runner, err := podman.New(filepath.Join(t.TempDir(), "podman"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := runner.Close(); err != nil {
			t.Errorf("cleaning up podman: %v", err)
		}
		if left := runner.Leftovers(); len(left) > 0 {
			t.Errorf("podman left on the machine: %v", left)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	image, err := runner.Load(ctx, dir, tag)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %s:%s as %.12s in %s", dir, tag, image, time.Since(start).Round(time.Millisecond))

	var (
		mu      sync.Mutex
		n       int
		running string // the container of `fedgen run`
	)
	launch := func(args, files []string) (*exec.Cmd, error) {
		mu.Lock()
		defer mu.Unlock()
		n++
		name := fmt.Sprintf("fedgen-%s-%d", args[0], n)
		if args[0] == "run" {
			running = name
		}
		return runner.RunCommand(ctx, podman.Container{Name: name, Image: image, User: "65532:65532", Args: args, ReadOnlyFiles: files})
	}
	checkWalkthrough(t, Options{Launch: launch, StepTimeout: 90 * time.Second}, func(d *Demo) {
		mu.Lock()
		name := running
		mu.Unlock()
		st, err := runner.Inspect(ctx, name)
		if err != nil || !st.Running {
			t.Fatalf("container %s: %+v, %v", name, st, err)
		}
		checkConfined(t, st.Pid)
	})
}

// checkConfined reads, from the machine's side, how the container's
// fedgen process runs.
func checkConfined(t *testing.T, pid int) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(status), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	want := map[string]string{
		"Uid": "65532 65532 65532 65532", "Gid": "65532 65532 65532 65532",
		"CapEff": "0000000000000000", "CapPrm": "0000000000000000", "CapBnd": "0000000000000000",
		"NoNewPrivs": "1", "Seccomp": "2",
	}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("container process %d: %s %q, want %q", pid, k, fields[k], v)
		}
	}
	if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); !bytes.HasPrefix(cmdline, []byte("/usr/local/bin/fedgen\x00run\x00")) {
		t.Errorf("container process %d runs %q", pid, cmdline)
	}
	netns, err1 := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
	own, err2 := os.Readlink("/proc/self/ns/net")
	if err1 != nil || err2 != nil || netns != own {
		t.Errorf("container network namespace %s, want the host's %s (%v, %v)", netns, own, err1, err2)
	}
	mountinfo, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mountinfo), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		switch f[4] {
		case "/":
			if !slices.Contains(strings.Split(f[5], ","), "ro") {
				t.Errorf("root filesystem mounted %s, want ro", f[5])
			}
		case "/tmp":
			t.Errorf("/tmp is a mount of its own (%s): the image must run without one", line)
		}
	}
}
