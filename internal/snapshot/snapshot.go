// Package snapshot reads a snapshot folder, the offline input of
// `fedgen render`, into the generator's Input.
//
// A snapshot folder holds one folder per cluster, DIR/<cluster>/*.yaml, with
// the cluster's Services, EndpointSlices and (for the local cluster)
// Namespaces as multi-document YAML or `v1 List`s, the way
// `kubectl get -o yaml` prints them; and optionally DIR/links.yaml with the
// Links of the local cluster, for member selection, order and exclusions.
//
// Membership follows the live controller: the local cluster's Services
// matching the local selector, a linked cluster's Services matching its
// Link's federatedServiceSelector. Every problem found is reported, each
// naming its file and object, so that a user fixes a snapshot in one go.
package snapshot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/fedgen/fedgen/generator"
)

const (
	// DefaultSelector selects member Services: the local cluster's (the
	// default of --local-selector) and, when the snapshot has no links.yaml,
	// every cluster's.
	DefaultSelector = "mirror.linkerd.io/federated=member"
	// LinksFile is the optional file of Links at the top of a snapshot folder.
	LinksFile = "links.yaml"
)

// Options say how to read a snapshot.
type Options struct {
	// LocalCluster names the local cluster (--cluster-name); the snapshot
	// must have a folder of that name.
	LocalCluster string
	// LocalSelector selects the local cluster's member Services
	// (--local-selector); nil means DefaultSelector.
	LocalSelector labels.Selector
	// MemberSelector, when set, selects the linked clusters' member
	// Services instead of their Links' federatedServiceSelector
	// (--member-selector).
	MemberSelector labels.Selector
}

// remote returns the selector of a linked cluster's members: MemberSelector
// when set, else the Link's (or the default) selector.
func (o Options) remote(linkSelector labels.Selector) labels.Selector {
	if o.MemberSelector != nil {
		return o.MemberSelector
	}
	return linkSelector
}

// Read reads the snapshot folder dir. The Input it returns has Namespaces
// and Clusters filled in, and of its Options only LocalCluster: the caller
// sets the others. Errors name the file and the object at fault; all that
// were found are returned at once, joined.
func Read(dir string, opts Options) (generator.Input, error) {
	if opts.LocalCluster == "" {
		return generator.Input{}, errors.New("no local cluster name given")
	}
	localSelector := opts.LocalSelector
	if localSelector == nil {
		localSelector = defaultSelector()
	}
	clusterNames, hasLinks, errs, err := listSnapshot(dir)
	if err != nil {
		return generator.Input{}, err
	}

	clusters := make(map[string]*clusterObjects, len(clusterNames))
	for _, name := range clusterNames {
		c, cerrs := readCluster(dir, name)
		errs = append(errs, cerrs...)
		clusters[name] = c
	}
	var links map[string]*link
	if hasLinks {
		var lerrs []error
		links, lerrs = readLinks(filepath.Join(dir, LinksFile), opts.LocalCluster)
		errs = append(errs, lerrs...)
	}

	in := generator.Input{Options: generator.Options{LocalCluster: opts.LocalCluster}}
	if local, ok := clusters[opts.LocalCluster]; ok {
		in.Namespaces = local.namespaces
		sort.Strings(in.Namespaces)
		if members := local.members(localSelector); len(members) > 0 {
			in.Clusters = append(in.Clusters, generator.Cluster{Name: opts.LocalCluster, Members: members})
		}
	} else {
		errs = append(errs, fmt.Errorf("%s: no folder for the local cluster %q (found: %s)",
			dir, opts.LocalCluster, listOrNone(clusterNames)))
	}

	for _, name := range clusterNames {
		if name == opts.LocalCluster {
			continue
		}
		c := clusters[name]
		if !hasLinks {
			// Without Links, every cluster is read the way Linkerd's guide
			// labels members, and the generator orders them by name.
			in.Clusters = append(in.Clusters, generator.Cluster{Name: name, Members: c.members(opts.remote(defaultSelector()))})
			continue
		}
		l, ok := links[name]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: no Link in %s targets cluster %q; add its Link or remove the folder",
				c.dir, filepath.Join(dir, LinksFile), name))
			continue
		}
		in.Clusters = append(in.Clusters, generator.Cluster{Name: name, Link: LinkInfo(l.Link), Members: c.members(opts.remote(l.selector))})
	}
	for name, l := range links {
		if _, ok := clusters[name]; !ok {
			// A Link whose cluster was not captured: a cluster without
			// members, which still takes its place in the order.
			in.Clusters = append(in.Clusters, generator.Cluster{Name: name, Link: LinkInfo(l.Link)})
		}
	}
	if len(errs) > 0 {
		return generator.Input{}, errors.Join(errs...)
	}
	sort.Slice(in.Clusters, func(i, j int) bool { return in.Clusters[i].Name < in.Clusters[j].Name })
	return in, nil
}

// listSnapshot returns the names of the cluster folders of dir, sorted,
// whether dir has a links.yaml, and the folders whose names are not cluster
// names. Hidden entries (.git, editors' files) and other files (a README)
// are not part of the snapshot.
func listSnapshot(dir string) (clusters []string, hasLinks bool, nameErrs []error, err error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil, fmt.Errorf("snapshot folder %s does not exist", dir)
	}
	if err != nil {
		return nil, false, nil, fmt.Errorf("read snapshot folder: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		info, err := os.Stat(filepath.Join(dir, e.Name())) // follows symlinks
		if err != nil {
			return nil, false, nil, fmt.Errorf("read snapshot folder: %w", err)
		}
		switch {
		case info.IsDir():
			clusters = append(clusters, e.Name())
			if msgs := validation.IsDNS1123Label(e.Name()); len(msgs) > 0 {
				// Cluster names become parts of object names and labels.
				nameErrs = append(nameErrs, fmt.Errorf("%s: a cluster folder's name must be a cluster name, a DNS-1123 label: %s",
					filepath.Join(dir, e.Name()), strings.Join(msgs, "; ")))
			}
		case e.Name() == LinksFile:
			hasLinks = true
		}
	}
	return clusters, hasLinks, nameErrs, nil
}

func defaultSelector() labels.Selector {
	s, err := labels.Parse(DefaultSelector)
	if err != nil {
		panic(fmt.Sprintf("snapshot: bad DefaultSelector: %v", err))
	}
	return s
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "no cluster folders"
	}
	return strings.Join(names, ", ")
}
