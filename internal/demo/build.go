package demo

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// BuildFedgen builds the fedgen command into dir and returns the binary's
// path, saying so on out (the Go build cache makes later builds quick).
func BuildFedgen(out io.Writer, dir string) (string, error) {
	bin := filepath.Join(dir, "fedgen")
	fmt.Fprintf(outOr(out), "building fedgen (go build -o %s ./cmd/fedgen)\n", bin)
	cmd := exec.Command("go", "build", "-o", bin, "github.com/fedgen/fedgen/cmd/fedgen")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building fedgen: %w", err)
	}
	return bin, nil
}
