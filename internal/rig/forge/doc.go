// Package forge runs Gitea on the loopback interface, a real forge with
// pull requests for fedgen's pull-request tests and the review demo. The
// product never imports it.
//
// Start runs `gitea web` with its sqlite database, repositories and logs
// in a folder of the caller's, an admin user and an API token made by
// Gitea's own CLI (the way an operator scripts a fresh install), and stops
// it by PID (also when the test binary dies: the process gets the kernel's
// parent-death signal). The binary and its templates come from `make tools`
// (bin/gitea, bin/gitea-static).
//
// Two habits of Gitea matter to tests (checked, see the project's notes):
// pushes are processed asynchronously, so a pull request for a branch just
// pushed can fail with 404 until Gitea has seen the branch (WaitBranch);
// and deleting a branch on merge, then reusing its name at once, can get
// the new pull request closed by Gitea's background queue.
package forge
