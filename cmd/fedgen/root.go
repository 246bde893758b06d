package main

import (
	"github.com/spf13/cobra"
)

// newRootCommand builds the command tree. Each subcommand lives in its own
// file with its option struct bound to its flags.
func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "fedgen",
		Short:         "Federate Linkerd multicluster Services through Git and Flux",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newVersionCommand())
	for _, add := range subcommands {
		root.AddCommand(add())
	}
	return root
}

// subcommands are registered by the files that define them (render.go,
// run.go, ...), so that adding a command touches one file.
var subcommands []func() *cobra.Command
