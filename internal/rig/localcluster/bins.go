package localcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// BinDirEnv names the environment variable that points at the folder holding
// kube-apiserver, etcd, source-controller, kustomize-controller and
// flux-crds/ (what `make tools` links). When unset, BinDir looks for bin/ at
// the root of the checkout.
const BinDirEnv = "FEDGEN_BIN_DIR"

// moduleLine identifies the checkout's go.mod while walking up from the
// working directory (tests run in their package's folder).
const moduleLine = "module github.com/fedgen/fedgen\n"

// BinDir returns the folder the local-cluster binaries are taken from.
func BinDir() (string, error) {
	if dir := os.Getenv(BinDirEnv); dir != "" {
		return filepath.Abs(dir)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the checkout: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(mod), moduleLine) {
			return filepath.Join(dir, "bin"), nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no fedgen checkout above %s and $%s is not set; run `make tools` and set $%s to its bin/ folder", wd, BinDirEnv, BinDirEnv)
		}
	}
}

// binary returns the path of an executable in BinDir, or an error that says
// how to get it.
func binary(binDir, name string) (string, error) {
	path := filepath.Join(binDir, name)
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("%s not found in %s: run `make tools` (it builds the local-cluster binaries, once, into a cache)", name, binDir)
	case err != nil:
		return "", fmt.Errorf("checking %s: %w", path, err)
	case info.IsDir() || info.Mode()&0o111 == 0:
		return "", fmt.Errorf("%s is not an executable: run `make tools` again", path)
	}
	return path, nil
}

// fluxCRDFiles lists the Flux CRD manifests `make tools` copies to
// <bin>/flux-crds.
func fluxCRDFiles(binDir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(binDir, "flux-crds", "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("listing Flux CRDs: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no Flux CRDs in %s: run `make tools`", filepath.Join(binDir, "flux-crds"))
	}
	return files, nil
}

// BuildProgram builds a main package of this module (e.g.
// "github.com/fedgen/fedgen/internal/rig/bb") into dir with `go build`, and
// returns the binary's path. The Go build cache makes a rebuild quick.
func BuildProgram(dir, pkg string) (string, error) {
	bin := filepath.Join(dir, path.Base(pkg))
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building %s: %w: %s", pkg, err, out)
	}
	return bin, nil
}
