// Command fedgen federates Linkerd multicluster Services the GitOps way: it
// renders the federated Services and EndpointSlices, commits them to the Git
// repository Flux applies, and writes the outcome onto the Links.
package main

import (
	"errors"
	"fmt"
	"os"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "fedgen:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

// exitError carries the exit status a command asks for (2: bad input).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }
