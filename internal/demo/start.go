package demo

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/fedgen/fedgen/config"
	fluxexample "github.com/fedgen/fedgen/examples/flux"
	"github.com/fedgen/fedgen/internal/rig/localcluster"
)

// Start is step 1: the clusters, the Git server with the fleet repository,
// and Flux in west following clusters/west/federation, through the Flux
// objects of examples/flux.
func Start(ctx context.Context, opts Options) (*Demo, error) {
	d := &Demo{opts: opts, out: outOr(opts.Out)}
	d.heading(1, "Start the clusters west, east and north, a Git server, and Flux in west")
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	fo := localcluster.Options{
		Clusters:  Clusters,
		Flux:      Local,
		GitServer: !opts.Review,
		Forge:     opts.Review,
		LinkCRD:   localcluster.LinkCRDUpstream,
		Dir:       opts.Dir,
		BinDir:    opts.BinDir,
		DualStack: opts.DualStack,
	}
	if opts.Traffic {
		if opts.BB == "" {
			return nil, errors.New("step 1: Options.Traffic needs Options.BB, the pods' program")
		}
		fo.PodNetwork = Local
	}
	fleet, err := localcluster.Start(ctx, fo)
	if err != nil {
		return nil, fmt.Errorf("step 1: starting the local clusters: %w", err)
	}
	d.fleet = fleet
	d.say("clusters up in %s (one etcd, a kube-apiserver per cluster, Flux's source- and kustomize-controller in west)", fleet.StartedIn().Round(100*time.Millisecond))
	if pn := fleet.PodNetwork(); pn != nil {
		d.say("west's node is the network namespace %s: etcd, west's kube-apiserver, kube-proxy (nftables) and CoreDNS (cluster DNS %s) run inside; bb's pods will be namespaces joined to it", pn.Network().Node().Name(), pn.DNS())
	}
	d.cmd("export KUBECONFIG=%s   # contexts west, east, north", fleet.KubeconfigPath())

	if opts.Review {
		err = d.startForgeRepo(ctx)
	} else {
		d.url, err = fleet.Git().CreateRepoWithFiles(Repo, map[string][]byte{
			"README.md": []byte("# fleet\n\nWhat Flux applies to the clusters. fedgen owns " + Folder + "/.\n"),
		})
	}
	if err != nil {
		d.Stop()
		return nil, fmt.Errorf("step 1: creating the fleet repository: %w", err)
	}
	d.say("fleet repository: %s", d.url)

	d.cmd("kubectl --context=west apply -f examples/flux/   # GitRepository fleet (url: the repository above), Kustomization federation")
	if err := d.applyFlux(ctx); err != nil {
		d.Stop()
		return nil, fmt.Errorf("step 1: %w", err)
	}
	return d, nil
}

// applyFlux applies examples/flux in west, pointing the GitRepository at
// the local repository.
func (d *Demo) applyFlux(ctx context.Context) error {
	repo := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(fluxexample.GitRepository, &repo.Object); err != nil {
		return fmt.Errorf("reading examples/flux/gitrepository.yaml: %w", err)
	}
	if err := unstructured.SetNestedField(repo.Object, d.url, "spec", "url"); err != nil {
		return err
	}
	if err := d.reviewGitRepository(repo); err != nil {
		return err
	}
	manifest, err := yaml.Marshal(repo.Object)
	if err != nil {
		return err
	}
	west := d.fleet.Cluster(Local)
	if err := west.Apply(ctx, manifest); err != nil {
		return fmt.Errorf("applying the GitRepository: %w", err)
	}
	if err := west.Apply(ctx, fluxexample.Kustomization); err != nil {
		return fmt.Errorf("applying the Kustomization: %w", err)
	}
	return nil
}

// applyRBAC applies config/rbac in west, in the order of its
// kustomization.yaml.
func (d *Demo) applyRBAC(ctx context.Context) error {
	for _, f := range RBACFiles() {
		b, err := config.Files.ReadFile(f)
		if err != nil {
			return err
		}
		if err := d.fleet.Cluster(Local).Apply(ctx, b); err != nil {
			return fmt.Errorf("applying config/%s: %w", f, err)
		}
	}
	return nil
}

// RBACFiles are the files of config/rbac, in the order its
// kustomization.yaml lists them.
func RBACFiles() []string {
	var k struct {
		Resources []string `json:"resources"`
	}
	b, err := config.Files.ReadFile("rbac/kustomization.yaml")
	if err == nil {
		err = yaml.Unmarshal(b, &k)
	}
	if err != nil || len(k.Resources) == 0 {
		panic(errors.Join(errors.New("config/rbac/kustomization.yaml lists no resources"), err))
	}
	files := make([]string, len(k.Resources))
	for i, r := range k.Resources {
		files[i] = path.Join("rbac", r)
	}
	return files
}

// Stop is step 7: fedgen, Flux, the pods, kube-proxy, CoreDNS, the
// apiservers, etcd and the Git server, and the pod network's namespaces.
// It is safe to call more than once.
func (d *Demo) Stop() {
	if d.fleet == nil {
		return
	}
	d.heading(7, "Stop everything")
	if d.fedgen != nil {
		d.fedgen.stop()
		d.say("fedgen stopped")
		d.fedgen = nil
	}
	pods := d.fleet.PodNetwork() != nil
	d.fleet.Stop()
	if d.repo != nil {
		d.say("Flux, the kube-apiservers, etcd and Gitea stopped")
	} else {
		d.say("Flux, the kube-apiservers, etcd and the Git server stopped")
	}
	if pods {
		d.say("the pods, kube-proxy and CoreDNS stopped; the network namespaces are deleted")
	}
	d.fleet = nil
}
