// Package gitserver runs a real Git smart-HTTP server on the loopback
// interface, for tests and demos.
//
// It serves bare repositories with Git's own `git http-backend` behind
// net/http/cgi, so clients (go-git, the git command line, Flux's
// source-controller) talk to the same server implementation they meet in
// production. On top of that it adds what fault tests need: pushes refused on
// demand, the server taken down and brought back on the same port, an
// optional basic-auth requirement, and request counters.
//
// The git binary must be on PATH; nothing else is needed.
package gitserver
