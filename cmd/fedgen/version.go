package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Stamped by the build (the Makefile and hack/image):
//
//	-ldflags "-X main.version=v1.2.3 -X main.commit=<full hash>"
//
// A plain `go build` leaves them empty; versionInfo then falls back to
// what Go records in every binary: the module version (set by `go
// install …@v1.2.3`) and the VCS revision of the checkout.
var (
	version string
	commit  string
)

// buildVersion is what `fedgen version` prints.
type buildVersion struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// versionInfo combines the stamped values with the build information.
func versionInfo(stampedVersion, stampedCommit string, info *debug.BuildInfo) buildVersion {
	v := buildVersion{
		Version: stampedVersion, Commit: stampedCommit,
		GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
	}
	if info != nil {
		v.GoVersion = info.GoVersion
		if v.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if v.Commit == "" {
					v.Commit = s.Value
				}
			case "vcs.modified":
				// Only a stamp-less build says whether its checkout was
				// dirty; a stamped version says it itself (--dirty).
				v.Modified = stampedCommit == "" && s.Value == "true"
			}
		}
	}
	if v.Version == "" {
		v.Version = "dev"
	}
	if v.Commit == "" {
		v.Commit = "unknown"
	}
	return v
}

func (v buildVersion) write(w io.Writer) error {
	commit := v.Commit
	if v.Modified {
		commit += " (modified)"
	}
	_, err := fmt.Fprintf(w, "fedgen %s\ncommit:   %s\ngo:       %s\nplatform: %s\n", v.Version, commit, v.GoVersion, v.Platform)
	return err
}

func newVersionCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print fedgen's version, commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info, _ := debug.ReadBuildInfo()
			v := versionInfo(version, commit, info)
			switch output {
			case "":
				return v.write(cmd.OutOrStdout())
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			}
			return usageErr(fmt.Errorf("--output: want json or nothing, got %q", output))
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "json: the same as a JSON object")
	return cmd
}
