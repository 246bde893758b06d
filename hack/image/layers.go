package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/pem"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// The user fedgen runs as, as distroless names it.
const (
	nonrootUID  = 65532
	nonrootName = "nonroot"
	binaryPath  = "usr/local/bin/fedgen"
	caBundle    = "etc/ssl/certs/ca-certificates.crt"
)

// entry is one file or folder of a layer.
type entry struct {
	name     string // relative, no leading slash; folders end without slash
	mode     int64  // permission bits, with sticky
	uid, gid int
	dir      bool
	body     []byte
}

func dir(name string, mode int64) entry { return entry{name: name, mode: mode, dir: true} }
func file(name string, mode int64, body []byte) entry {
	return entry{name: name, mode: mode, body: body}
}

// baseFiles are the base layer: what a static Go program needs from a
// root filesystem (user names for its UID, a CA bundle for TLS, name
// service order, a writable /tmp where a volume is mounted).
func baseFiles() ([]entry, error) {
	ca, err := caCertificates()
	if err != nil {
		return nil, err
	}
	home := dir("home/"+nonrootName, 0o700)
	home.uid, home.gid = nonrootUID, nonrootUID
	return []entry{
		dir("etc", 0o755),
		file("etc/group", 0o644, fmt.Appendf(nil, "root:x:0:\n%[1]s:x:%[2]d:\n", nonrootName, nonrootUID)),
		file("etc/nsswitch.conf", 0o644, []byte("hosts: files dns\n")),
		file("etc/passwd", 0o644, fmt.Appendf(nil,
			"root:x:0:0:root:/root:/sbin/nologin\n%[1]s:x:%[2]d:%[2]d:%[1]s:/home/%[1]s:/sbin/nologin\n", nonrootName, nonrootUID)),
		dir("etc/ssl", 0o755),
		dir("etc/ssl/certs", 0o755),
		file(caBundle, 0o644, ca),
		dir("home", 0o755),
		home,
		dir("tmp", 0o1777),
	}, nil
}

// caCertificates is the NSS root store that golang.org/x/crypto pins
// (x509roots/fallback), as a PEM bundle: the same bytes for a given module
// version on every machine, unlike the build host's bundle. Roots that
// carry constraints X.509 cannot express (distrust after a date) are left
// out rather than trusted without them.
func caCertificates() ([]byte, error) {
	var buf bytes.Buffer
	n := 0
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			continue
		}
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate}); err != nil {
			return nil, err
		}
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("the pinned CA bundle holds no roots")
	}
	return buf.Bytes(), nil
}

func baseLayer(created time.Time) (v1.Layer, error) {
	files, err := baseFiles()
	if err != nil {
		return nil, err
	}
	return layerOf(files, created)
}

// appLayer holds the fedgen binary.
func appLayer(binary []byte, created time.Time) (v1.Layer, error) {
	return layerOf([]entry{
		dir("usr", 0o755),
		dir("usr/local", 0o755),
		dir("usr/local/bin", 0o755),
		file(binaryPath, 0o755, binary),
	}, created)
}

// layerOf writes entries as a gzipped tar that depends on nothing but its
// input: every mtime is created, owners are numeric, no user or group
// names, the gzip header carries no time or name.
func layerOf(entries []entry, created time.Time) (v1.Layer, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := &tar.Header{
			Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.gid,
			ModTime: created, Format: tar.FormatPAX,
		}
		if e.dir {
			h.Typeflag, h.Name = tar.TypeDir, e.name+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	compressed := buf.Bytes()
	// Already compressed: go-containerregistry keeps these bytes as they
	// are, so the layer's digest is the digest of what was written here.
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(compressed)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
