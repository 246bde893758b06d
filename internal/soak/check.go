package soak

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/fedgen/fedgen/generator"
	mcv1alpha3 "github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
	"github.com/fedgen/fedgen/internal/gitrepo"
	"github.com/fedgen/fedgen/internal/rig/localcluster"
)

// Invariants, in the order of the report.
const (
	invFolder    = "folder at head = independent render"
	invFlux      = "Flux applied the head's folder"
	invStatus    = "Link status tells the truth"
	invNoEmpty   = "no empty commit"
	invTheirs    = "others' commits and files intact"
	invFsck      = "git fsck clean"
	invNoCrash   = "no fedgen crash"
	invNoLeak    = "no leak (heap, goroutines, fds)"
	invConverged = "converged in time"
)

var invariants = []string{invFolder, invFlux, invStatus, invNoEmpty, invTheirs, invFsck, invNoCrash, invConverged, invNoLeak}

// convergeTimeout bounds the wait for the invariants after a quiet period
// begins; Flux's and fedgen's backoffs after a long Git outage are the
// slowest part.
const convergeTimeout = 4 * time.Minute

// result is the outcome of the checks after one fault window.
type result struct {
	converged time.Duration // how long the state took to hold, after the quiet period began
	failed    map[string]string
}

// quietCheck waits, with no churn and no fault, for the state to converge
// (folder, Flux, status), then checks the history; every invariant that
// does not hold is in failed, with what was seen.
func (w *world) quietCheck(ctx context.Context, seenCommits map[string]bool) result {
	begin := time.Now()
	res := result{failed: map[string]string{}}
	var last map[string]string
	for {
		last = w.checkState(ctx)
		if len(last) == 0 {
			res.converged = time.Since(begin)
			break
		}
		if time.Since(begin) > convergeTimeout || ctx.Err() != nil {
			maps.Copy(res.failed, last)
			res.failed[invConverged] = fmt.Sprintf("not converged after %s", convergeTimeout)
			res.converged = time.Since(begin)
			break
		}
		time.Sleep(time.Second)
	}
	maps.Copy(res.failed, w.checkHistory(ctx, seenCommits))
	for _, r := range w.replicas {
		for _, e := range r.allExits() {
			if e.crash != "" {
				res.failed[invNoCrash] = e.process + ": " + e.crash
			}
		}
	}
	return res
}

// checkState checks the invariants that take time to hold.
func (w *world) checkState(ctx context.Context) map[string]string {
	failed := map[string]string{}
	out, links, err := w.expected(ctx)
	if err != nil {
		failed[invFolder] = "rendering the clusters' state: " + err.Error()
		return failed
	}
	_, files, err := w.headFolder()
	if err != nil {
		failed[invFolder] = err.Error()
		return failed
	}
	if d := diffFiles(files, out.Files); d != "" {
		failed[invFolder] = d
	}
	if msg := w.checkFlux(ctx, files, out); msg != "" {
		failed[invFlux] = msg
	}
	if msg := w.checkStatus(ctx, out, links); msg != "" {
		failed[invStatus] = msg
	}
	return failed
}

// headFolder reads fedgen's folder at the head of main on the server.
func (w *world) headFolder() (string, map[string][]byte, error) {
	repo, err := git.PlainOpen(w.git().RepoPath(repoName))
	if err != nil {
		return "", nil, err
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName("main"), true)
	if err != nil {
		return "", nil, err
	}
	files, err := folderAt(repo, ref.Hash())
	return ref.Hash().String(), files, err
}

// folderAt reads fedgen's folder at a commit.
func folderAt(repo *git.Repository, hash plumbing.Hash) (map[string][]byte, error) {
	commit, err := repo.CommitObject(hash)
	if err != nil {
		return nil, err
	}
	tree, err := commit.Tree()
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	sub, err := tree.Tree(fedgenFolder)
	if err == object.ErrDirectoryNotFound {
		return files, nil
	}
	if err != nil {
		return nil, err
	}
	err = sub.Files().ForEach(func(f *object.File) error {
		s, err := f.Contents()
		files[f.Name] = []byte(s)
		return err
	})
	return files, err
}

// diffFiles says how got and want differ ("" when equal).
func diffFiles(got, want map[string][]byte) string {
	var parts []string
	for _, p := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[p]
		switch {
		case !ok:
			parts = append(parts, "missing "+p)
		case !bytes.Equal(g, want[p]):
			parts = append(parts, "differs "+p+": "+firstDiff(g, want[p]))
		}
	}
	for _, p := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[p]; !ok {
			parts = append(parts, "extra "+p)
		}
	}
	return clip(strings.Join(parts, "; "))
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range max(len(g), len(w)) {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return fmt.Sprintf("line %d: %q, want %q", i+1, a, b)
		}
	}
	return "same lines"
}

// checkFlux checks that the Kustomization applied the head's folder (the
// head itself, or an older commit with the same folder: another writer's
// commit on top needs no apply, Flux fetches it at its interval) and that
// the local cluster holds exactly the federated Services rendered.
func (w *world) checkFlux(ctx context.Context, head map[string][]byte, out *generator.Output) string {
	k, err := w.fleet.Flux().Kustomization(ctx, repoName)
	if err != nil {
		return err.Error()
	}
	applied, _, _ := unstructured.NestedString(k.Object, "status", "lastAppliedRevision")
	observed, _, _ := unstructured.NestedInt64(k.Object, "status", "observedGeneration")
	if applied == "" {
		return "nothing applied yet"
	}
	repo, err := git.PlainOpen(w.git().RepoPath(repoName))
	if err != nil {
		return err.Error()
	}
	files, err := folderAt(repo, plumbing.NewHash(localcluster.RevisionHash(applied)))
	if err != nil {
		return fmt.Sprintf("reading the applied revision %s: %v", applied, err)
	}
	if d := diffFiles(files, head); d != "" {
		return fmt.Sprintf("applied %s, whose folder is not the head's: %s", applied, d)
	}
	if observed != k.GetGeneration() || !readyTrue(k) {
		return fmt.Sprintf("applied the head's folder but not Ready for generation %d (observed %d)", k.GetGeneration(), observed)
	}
	want := map[string]bool{}
	for _, s := range out.Services {
		want[s.Namespace+"/"+s.Name] = true
	}
	got := map[string]bool{}
	for _, ns := range namespaces[:2] {
		l, err := w.cluster(localCluster).Clientset().CoreV1().Services(ns).List(ctx, metav1.ListOptions{LabelSelector: generator.LabelManagedBy + "=" + generator.ManagedByValue})
		if err != nil {
			return err.Error()
		}
		for _, s := range l.Items {
			got[s.Namespace+"/"+s.Name] = true
		}
	}
	if !maps.Equal(got, want) {
		return fmt.Sprintf("the local cluster holds %d federated Services, the render %d", len(got), len(want))
	}
	return ""
}

func readyTrue(o *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		if c, ok := c.(map[string]any); ok && c["type"] == "Ready" {
			return c["status"] == "True"
		}
	}
	return false
}

// checkStatus checks that every Link's fedgen entries are exactly its
// cluster's members, each saying what the render decided: Mirrored when
// joined (everything is applied by now), else the render's reason; and
// Conflict while the ports differ.
func (w *world) checkStatus(ctx context.Context, out *generator.Output, links map[string]*mcv1alpha3.Link) string {
	var problems []string
	for cluster := range links {
		var l mcv1alpha3.Link
		if err := w.cluster(localCluster).Client().Get(ctx, objectKey(linkNS, cluster), &l); err != nil {
			return err.Error()
		}
		got := map[string]mcv1alpha3.ServiceStatus{}
		for _, s := range l.Status.FederatedServices {
			if s.ControllerName == "fedgen.io/reconciler" {
				got[s.RemoteRef.Namespace+"/"+s.RemoteRef.Name] = s
			}
		}
		want := 0
		for _, m := range out.Members {
			if m.Cluster != cluster {
				continue
			}
			want++
			key := m.Namespace + "/" + m.Name
			s, ok := got[key]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s %s: no entry", cluster, key))
				continue
			}
			mirrored, conflict := conditions(s)
			switch {
			case m.Joined && (mirrored.Status != metav1.ConditionTrue || mirrored.Reason != "Mirrored"):
				problems = append(problems, fmt.Sprintf("%s %s: joined, but %s/%s: %s", cluster, key, mirrored.Status, mirrored.Reason, mirrored.Message))
			case !m.Joined && (mirrored.Status != metav1.ConditionFalse || mirrored.Reason != m.Reason):
				problems = append(problems, fmt.Sprintf("%s %s: %s, but %s/%s", cluster, key, m.Reason, mirrored.Status, mirrored.Reason))
			}
			if (m.Conflict != nil) != (conflict != nil) {
				problems = append(problems, fmt.Sprintf("%s %s: conflict %v, but the condition is %v", cluster, key, m.Conflict != nil, conflict != nil))
			}
		}
		if len(got) != want {
			problems = append(problems, fmt.Sprintf("%s: %d entries for %d members", cluster, len(got), want))
		}
	}
	slices.Sort(problems)
	return clip(strings.Join(problems, "; "))
}

func conditions(s mcv1alpha3.ServiceStatus) (mirrored mcv1alpha3.LinkCondition, conflict *mcv1alpha3.LinkCondition) {
	for i, c := range s.Conditions {
		switch c.Type {
		case "Mirrored":
			mirrored = c
		case "Conflict":
			conflict = &s.Conditions[i]
		}
	}
	return mirrored, conflict
}

// checkHistory checks the repository: no empty commit of fedgen's (among
// those not checked before), the competing writer's commits ancestors of
// the head and its files as it left them, and git fsck.
func (w *world) checkHistory(ctx context.Context, seen map[string]bool) map[string]string {
	failed := map[string]string{}
	repo := w.git().RepoPath(repoName)
	log, err := gitOutput(ctx, repo, "log", "--format=%H%x00%T%x00%an%x00%P", "main")
	if err != nil {
		failed[invNoEmpty] = err.Error()
		return failed
	}
	trees := map[string]string{}
	type commit struct{ hash, tree, author, parent string }
	var commits []commit
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		f := strings.Split(line, "\x00")
		if len(f) < 4 {
			continue
		}
		c := commit{hash: f[0], tree: f[1], author: f[2]}
		if parents := strings.Fields(f[3]); len(parents) > 0 {
			c.parent = parents[0]
		}
		trees[c.hash] = c.tree
		commits = append(commits, c)
	}
	var empty []string
	for _, c := range commits {
		if seen[c.hash] {
			continue
		}
		seen[c.hash] = true
		if c.author == gitrepo.DefaultAuthorName && c.parent != "" && trees[c.parent] == c.tree {
			empty = append(empty, c.hash[:7])
		}
	}
	if len(empty) > 0 {
		failed[invNoEmpty] = "empty commits " + strings.Join(empty, ", ")
	}

	w.theirsMu.Lock()
	theirs, files := slices.Clone(w.theirs), maps.Clone(w.theirFiles)
	w.theirsMu.Unlock()
	var lost []string
	for _, c := range theirs {
		if _, err := gitOutput(ctx, repo, "merge-base", "--is-ancestor", c, "main"); err != nil {
			lost = append(lost, "commit "+c[:7]+" is not an ancestor of main")
		}
	}
	for path, content := range files {
		got, err := gitOutput(ctx, repo, "show", "main:"+path)
		if err != nil || got != string(content) {
			lost = append(lost, path+" changed")
		}
	}
	if len(lost) > 0 {
		failed[invTheirs] = clip(strings.Join(lost, "; "))
	}
	if out, err := gitOutput(ctx, repo, "fsck", "--strict", "--no-dangling"); err != nil {
		failed[invFsck] = clip(out + err.Error())
	}
	return failed
}

func gitOutput(ctx context.Context, repo string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"--git-dir", repo}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stderr.String(), fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// clip keeps a problem list readable in one line of the log.
func clip(s string) string {
	if len(s) > 600 {
		return s[:600] + " …"
	}
	return s
}

func objectKey(namespace, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: namespace, Name: name}
}
