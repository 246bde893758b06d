// Package reviewscope splits fedgen's render in review mode by what a
// person decides (SPEC §4.1). Membership — which federated Services exist,
// which clusters serve them, the Services' own ports, labels and
// annotations — waits on the review branch for a merge; endpoints are
// operational and go straight to the branch Flux follows.
//
// The followed branch holds the approved membership (what its folder
// already has) with current endpoints: Approve computes the input of that
// render from the followed branch's folder and the current render. The
// review branch holds the full current render on top of it, so the pull
// request's diff is exactly the membership changes; Changes lists them.
//
// The package is pure: files and generator inputs in, generator inputs
// and descriptions out. The reconciler reads the branches, asks the
// clusters which departed members were deleted, renders and pushes.
package reviewscope
