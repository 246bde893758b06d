package generator

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"
)

// KustomizationFile is the path of the kustomization at the folder's root.
const KustomizationFile = "kustomization.yaml"

// Render renders the whole folder from the current state. It fails only on
// invalid options; members that cannot join are reported in Output.Members.
func Render(in Input) (*Output, error) {
	if err := in.Options.Validate(); err != nil {
		return nil, err
	}
	groups := Group(in)
	outs := make([]*ServiceOutput, len(groups))
	// Federated Services are independent: render them on every core.
	forEach(len(groups), func(i int) { outs[i] = RenderService(in.Options, groups[i]) })
	return Assemble(in.Options, outs)
}

// ServiceOutput is the rendering of one federated Service.
type ServiceOutput struct {
	// Namespace and Name are the members' namespace and Service name.
	Namespace string
	Name      string
	// Service describes the federated Service written; nil when no member
	// joined, and then there is no file.
	Service *ServiceResult
	// Members are the outcomes of its members, sorted by cluster.
	Members []MemberResult
	// File is the content of Service.File: the header, the Service and its
	// EndpointSlices. Assemble adds the Namespace when one is due.
	File []byte
}

// RenderService renders one federated Service. It does not validate opts
// (Render does, once); it reads in and never modifies it. Cluster names are
// unique in a valid input; should one appear twice, only its first member
// in member order is rendered and reported.
func RenderService(opts Options, in ServiceInput) *ServiceOutput {
	opts = opts.withDefaults()
	maxPerSlice := opts.MaxEndpointsPerSlice
	if maxPerSlice < 1 || maxPerSlice > MaxEndpointsPerSliceLimit {
		maxPerSlice = DefaultMaxEndpointsPerSlice
	}
	fedName := federatedName(in.Name)
	file := in.Namespace + "/" + fedName + ".yaml"
	out := &ServiceOutput{Namespace: in.Namespace, Name: in.Name}

	members := sortedMembers(in.Members, opts.LocalCluster)
	results := make([]MemberResult, len(members))
	var joined []int
	for i, m := range members {
		r := &results[i]
		r.Cluster, r.Namespace, r.Name, r.FederatedName = m.Cluster, in.Namespace, in.Name, fedName
		r.Reason, r.Message = checkMember(m, in.NamespaceExists, opts)
		if r.Reason == "" {
			r.Joined, r.File = true, file
			joined = append(joined, i)
		}
	}
	if len(joined) == 0 {
		out.Members = byCluster(results)
		return out
	}

	// The source is the first member that joined, in member order.
	source := members[joined[0]]
	localJoined := isLocal(source, opts.LocalCluster)
	var remotes []string
	for _, i := range joined {
		if !isLocal(members[i], opts.LocalCluster) {
			remotes = append(remotes, members[i].Cluster)
		}
	}
	slices.Sort(remotes)
	svc := buildService(source, localJoined, remotes, !opts.BesideLinkerdMirror)

	result := &ServiceResult{
		Namespace:     in.Namespace,
		Name:          fedName,
		Member:        in.Name,
		File:          file,
		SourceCluster: source.Cluster,
		Endpoints:     make(map[string]int, len(joined)),
	}
	names := make(map[string]bool, len(svc.ports))
	for _, p := range svc.ports {
		names[p.name] = true
	}
	var fedSlices []fedSlice
	endpointCount := 0
	for _, i := range joined {
		m, r := members[i], &results[i]
		result.Clusters = append(result.Clusters, m.Cluster)
		if i != joined[0] {
			if msg := portConflict(svc.ports, m.Service, source.Cluster); msg != "" {
				r.Conflict = &Conflict{Reason: ReasonPortConflict, Message: msg}
			}
		}
		if opts.Endpoints == EndpointsSlices {
			var d drops
			groups := collectEndpoints(m, names, opts.AllowedCIDRs[m.Cluster], &d)
			for _, g := range groups {
				r.Endpoints += len(g.endpoints)
			}
			r.Dropped, r.DroppedMessage, r.DroppedBy = d.total, d.message(), d.byReason()
			fedSlices = append(fedSlices, chunk(fedName, m.Cluster, groups, maxPerSlice)...)
			endpointCount += r.Endpoints
		}
		result.Endpoints[m.Cluster] = r.Endpoints
	}
	out.Members = byCluster(results)
	slices.Sort(result.Clusters)
	slices.SortFunc(fedSlices, func(a, b fedSlice) int { return cmp.Compare(a.name, b.name) })

	// Sized from the typical shape of a document, to append without copies.
	b := make([]byte, 0, 1024+len(fedSlices)*512+endpointCount*128)
	b = append(b, Header...)
	b = appendService(b, svc)
	for i := range fedSlices {
		b = append(b, docSeparator...)
		b = appendSlice(b, in.Namespace, fedName, &fedSlices[i])
	}
	out.Service, out.File = result, b
	return out
}

// byCluster sorts outcomes kept in member order (which decides the source)
// by cluster, the order of Output.Members.
func byCluster(results []MemberResult) []MemberResult {
	slices.SortFunc(results, func(a, b MemberResult) int { return cmp.Compare(a.Cluster, b.Cluster) })
	return results
}

// Assemble builds the folder from the renderings of every federated
// Service (in any order): their files, the Namespaces when opts ask for
// them, and kustomization.yaml.
func Assemble(opts Options, outs []*ServiceOutput) (*Output, error) {
	sorted := slices.Clone(outs)
	slices.SortFunc(sorted, func(a, b *ServiceOutput) int { return FileOrder(a.Namespace, a.Name, b.Namespace, b.Name) })
	out := &Output{
		Files:    make(map[string][]byte, len(outs)+1),
		Services: make([]ServiceResult, 0, len(outs)),
	}
	files := make([]string, 0, len(outs))
	namespaced := make(map[string]bool)
	for _, o := range sorted {
		if o.Service == nil {
			continue
		}
		data := o.File
		if opts.CreateNamespaces && !namespaced[o.Namespace] {
			// Exactly once per namespace (kustomize refuses duplicates), in
			// the namespace's first file, after the Service and its slices.
			namespaced[o.Namespace] = true
			data = WithNamespace(o.File, o.Namespace)
		}
		out.Files[o.Service.File] = data
		files = append(files, o.Service.File)
		out.Services = append(out.Services, *o.Service)
	}
	out.Members = SortedMembers(sorted)
	k, err := Kustomization(files)
	if err != nil {
		return nil, err
	}
	out.Files[KustomizationFile] = k
	return out, nil
}

// WithNamespace returns a federated Service's file with the Namespace
// document added, as Assemble writes the first file of each namespace when
// Options.CreateNamespaces is set.
func WithNamespace(file []byte, namespace string) []byte {
	data := slices.Concat(file, []byte(docSeparator))
	return appendNamespace(data, namespace)
}

// FileOrder compares two federated Services, given by their members'
// namespace and name, in the order Assemble lists them: by namespace, then
// federated name (not the files' paths, where '/' and '.' sort apart).
func FileOrder(aNamespace, aName, bNamespace, bName string) int {
	return cmp.Or(cmp.Compare(aNamespace, bNamespace), cmp.Compare(federatedName(aName), federatedName(bName)))
}

// SortedMembers returns the outcomes of every member of outs (in FileOrder,
// which makes it cheap) sorted by cluster, namespace and name: Output.Members.
func SortedMembers(outs []*ServiceOutput) []MemberResult {
	n := 0
	for _, o := range outs {
		n += len(o.Members)
	}
	return appendMembersSorted(make([]MemberResult, 0, n), outs)
}

// appendMembersSorted appends the outcomes of every member of outs (in
// file order) sorted by cluster, namespace and name. Sorting the whole list
// cost most of an incremental render at 500,000 members; but each service
// lists its members by cluster, so bucketing by cluster leaves each bucket
// in file order, which is already (namespace, name) order but for names
// where "-federated" sorts differently: a check, and rarely a sort.
func appendMembersSorted(dst []MemberResult, outs []*ServiceOutput) []MemberResult {
	buckets := map[string][]*MemberResult{}
	var clusters []string
	for _, o := range outs {
		for i := range o.Members {
			m := &o.Members[i]
			b, ok := buckets[m.Cluster]
			if !ok {
				clusters = append(clusters, m.Cluster)
				b = make([]*MemberResult, 0, len(outs))
			}
			buckets[m.Cluster] = append(b, m)
		}
	}
	slices.Sort(clusters)
	// (namespace, name) is unique within a cluster: an unstable sort is
	// deterministic.
	byName := func(a, b *MemberResult) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	}
	for _, c := range clusters {
		b := buckets[c]
		if !slices.IsSortedFunc(b, byName) {
			slices.SortFunc(b, byName)
		}
		for _, m := range b {
			dst = append(dst, *m)
		}
	}
	return dst
}

// Kustomization renders kustomization.yaml listing files (in any order).
func Kustomization(files []string) ([]byte, error) {
	k := types.Kustomization{
		TypeMeta:  types.TypeMeta{APIVersion: types.KustomizationVersion, Kind: types.KustomizationKind},
		Resources: slices.Sorted(slices.Values(files)),
	}
	body, err := yaml.Marshal(k)
	if err != nil {
		return nil, fmt.Errorf("marshal %s: %w", KustomizationFile, err)
	}
	if len(files) == 0 {
		// kustomize refuses a kustomization with nothing in it ("is empty"),
		// and Flux would then fail instead of pruning the last federated
		// Service. An explicit empty list (omitempty drops it) is accepted.
		body = append(body, "resources: []\n"...)
	}
	return append([]byte(Header), body...), nil
}

// forEach calls f(0..n-1) on up to GOMAXPROCS goroutines.
func forEach(n int, f func(int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				f(i)
			}
		})
	}
	wg.Wait()
}
