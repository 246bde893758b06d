// Package pullrequest keeps the pull request of fedgen's review branch on
// a forge (SPEC §4.2): one open pull request per review branch, its title
// and body rewritten on every push, closed with a comment when the branch
// no longer proposes anything, and a pull request closed without merging
// recognised as declined, so that the same proposal is not opened again.
//
// A Provider is one forge's API for one repository, through the forge's
// official Go client: Gitea (code.gitea.io/sdk/gitea), GitHub
// (github.com/google/go-github) and GitLab (gitlab.com/gitlab-org/api/client-go,
// merge requests). The Gitea provider is proven end to end against a live
// Gitea; GitHub and GitLab against their documented request and response
// shapes (see the tests).
//
// The title and body are pure functions of a Proposal (render.go). The
// body carries a hidden marker with the proposal's fingerprint, so a
// restarted fedgen still knows which proposal a closed pull request
// declined, and whether fedgen itself closed it.
package pullrequest
