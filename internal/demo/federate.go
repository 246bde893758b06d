package demo

import (
	"context"
	"fmt"
	"maps"
	"os/exec"
	"reflect"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	mcv1alpha3 "github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
	"github.com/fedgen/fedgen/internal/rig/gitserver"
)

// State is what the walk-through observed once a step's expected state was
// reached.
type State struct {
	// Commits are the fleet branch's commit hashes, newest first.
	Commits []string
	// Service is bb-federated as applied in west.
	Service *corev1.Service
	// Endpoints are bb-federated's endpoint addresses by source cluster.
	Endpoints map[string][]string
	// Links holds each Link's fedgen entries of status.federatedServices.
	Links map[string][]mcv1alpha3.ServiceStatus
	// Status is what `fedgen status` printed (step 4 only).
	Status string
}

// Federate is step 4: the three bb Services labelled as members, fedgen
// started (with config/rbac's ServiceAccount), and the outcome: one commit,
// bb-federated applied by Flux with every cluster's endpoint, and both Links
// reporting bb Mirrored.
func (d *Demo) Federate(ctx context.Context) (*State, error) {
	d.heading(4, "Label bb as a federated member in every cluster and start fedgen")
	for _, c := range Clusters {
		if err := d.setMember(ctx, c, true); err != nil {
			return nil, fmt.Errorf("step 4: %w", err)
		}
	}
	if err := d.startFedgenAsServiceAccount(ctx); err != nil {
		return nil, fmt.Errorf("step 4: %w", err)
	}
	want := d.endpointsOf(Clusters...)
	st, err := d.await(ctx, "bb-federated applied in west with endpoints "+fmt.Sprint(want)+
		" and bb Mirrored=True on the Links east and north",
		func(s *State) bool {
			return reflect.DeepEqual(s.Endpoints, want) && mirrored(s, "east") && mirrored(s, "north")
		})
	if err != nil {
		return nil, err
	}
	d.show(st, []string{"east", "north"})
	d.say("")
	if st.Status, err = d.status(); err != nil {
		return nil, fmt.Errorf("step 4: %w", err)
	}
	return st, nil
}

// startFedgenAsServiceAccount applies config/rbac and starts fedgen with
// its ServiceAccount's permissions.
func (d *Demo) startFedgenAsServiceAccount(ctx context.Context) error {
	d.cmd("kubectl --context=west apply -k config/rbac   # fedgen's ServiceAccount and RBAC")
	if err := d.applyRBAC(ctx); err != nil {
		return err
	}
	if err := d.createReviewSecret(ctx); err != nil {
		return err
	}
	kc, err := d.serviceAccountKubeconfig(ctx)
	if err != nil {
		return err
	}
	return d.startFedgen(kc)
}

// Leave is step 5: north's bb loses the label; the next commit withdraws
// north's endpoint and north's Link status entry goes away.
func (d *Demo) Leave(ctx context.Context) (*State, error) {
	d.heading(5, "Remove north's bb from the federation")
	before, err := d.commits()
	if err != nil {
		return nil, fmt.Errorf("step 5: %w", err)
	}
	if err := d.setMember(ctx, "north", false); err != nil {
		return nil, fmt.Errorf("step 5: %w", err)
	}
	want := d.endpointsOf(Local, "east")
	st, err := d.await(ctx, "a new commit, bb-federated's endpoints "+fmt.Sprint(want)+
		", bb gone from north's Link status and still Mirrored on east's",
		func(s *State) bool {
			return len(s.Commits) == len(before)+1 && reflect.DeepEqual(s.Endpoints, want) &&
				len(s.Links["north"]) == 0 && mirrored(s, "east")
		})
	if err != nil {
		return nil, err
	}
	d.show(st, []string{"north", "east"})
	return st, nil
}

// mirrored reports whether link's entry for bb says Mirrored=True.
func mirrored(s *State, link string) bool {
	for _, e := range s.Links[link] {
		for _, c := range e.Conditions {
			if e.RemoteRef.Name == Service && c.Type == "Mirrored" && c.Status == metav1.ConditionTrue &&
				c.LocalRef != nil && c.LocalRef.Name == Federated {
				return true
			}
		}
	}
	return false
}

// await polls the observable state until done accepts it.
func (d *Demo) await(ctx context.Context, state string, done func(*State) bool) (*State, error) {
	var last *State
	err := d.waitFor(ctx, state, func(ctx context.Context) (bool, string) {
		s, err := d.observe(ctx)
		if err != nil {
			return false, err.Error()
		}
		last = s
		return done(s), s.String()
	})
	return last, err
}

// observe reads the commits, bb-federated in west and the Links' status.
func (d *Demo) observe(ctx context.Context) (*State, error) {
	s := &State{Endpoints: map[string][]string{}, Links: map[string][]mcv1alpha3.ServiceStatus{}}
	var err error
	if s.Commits, err = d.commits(); err != nil {
		return nil, err
	}
	west := d.fleet.Cluster(Local).Client()
	svc := &corev1.Service{}
	if err := west.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: Federated}, svc); err == nil {
		s.Service = svc
	}
	var slicesList discoveryv1.EndpointSliceList
	if err := west.List(ctx, &slicesList, client.InNamespace(Namespace), client.MatchingLabels{discoveryv1.LabelServiceName: Federated}); err != nil {
		return nil, err
	}
	for _, sl := range slicesList.Items {
		c := sl.Labels["multicluster.kubernetes.io/source-cluster"]
		for _, e := range sl.Endpoints {
			s.Endpoints[c] = append(s.Endpoints[c], e.Addresses...)
		}
	}
	for _, ips := range s.Endpoints {
		slices.Sort(ips) // IPv4 ("10.…") before IPv6 ("fd00:…"), as podIPs lists them
	}
	var links mcv1alpha3.LinkList
	if err := west.List(ctx, &links, client.InNamespace(LinkNamespace)); err != nil {
		return nil, err
	}
	for _, l := range links.Items {
		for _, e := range l.Status.FederatedServices {
			if e.ControllerName == "fedgen.io/reconciler" {
				s.Links[l.Name] = append(s.Links[l.Name], e)
			}
		}
	}
	return s, nil
}

// String summarises a state for a timeout message.
func (s *State) String() string {
	reasons := map[string]string{}
	for link, entries := range s.Links {
		var r []string
		for _, e := range entries {
			for _, c := range e.Conditions {
				r = append(r, e.RemoteRef.Name+":"+c.Type+"="+string(c.Status)+"/"+c.Reason)
			}
		}
		reasons[link] = strings.Join(r, ",")
	}
	return fmt.Sprintf("%d commit(s), bb-federated present=%t, endpoints %v, Link status %v",
		len(s.Commits), s.Service != nil, s.Endpoints, reasons)
}

// commits lists the fleet branch's commits, newest first.
func (d *Demo) commits() ([]string, error) {
	out, err := d.git("log", "--format=%H", "main")
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}

// git runs git on the fleet repository (as a user's clone would show it).
func (d *Demo) git(args ...string) (string, error) {
	dir := ""
	if d.repo != nil {
		dir = d.fleet.Forge().RepoPath(*d.repo)
	} else {
		dir = d.fleet.Git().RepoPath(Repo)
	}
	cmd := exec.Command("git", append([]string{"--git-dir", dir}, args...)...)
	cmd.Env = gitserver.GitEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// show prints the last commit, the generated file, bb-federated, its
// endpoints and the Links' status entries.
func (d *Demo) show(s *State, links []string) {
	d.cmd("git log --stat -1   # in a clone of the fleet repository")
	if out, err := d.git("log", "--stat", "-1", "main"); err == nil {
		d.say("%s", indent(out))
	}
	file := Folder + "/" + Namespace + "/" + Federated + ".yaml"
	d.cmd("git show HEAD:%s", file)
	if out, err := d.git("show", "main:"+file); err == nil {
		d.say("%s", indent(out))
	}
	d.cmd("kubectl --context=west -n %s get svc %s", Namespace, Federated)
	if s.Service != nil {
		var ports []string
		for _, p := range s.Service.Spec.Ports {
			ports = append(ports, fmt.Sprintf("%d/%s", p.Port, p.Protocol))
		}
		d.say("  %-14s %-10s %-14s %s", "NAME", "TYPE", "CLUSTER-IP", "PORT(S)")
		d.say("  %-14s %-10s %-14s %s", s.Service.Name, s.Service.Spec.Type, s.Service.Spec.ClusterIP, strings.Join(ports, ","))
		for _, k := range []string{"multicluster.linkerd.io/remote-discovery", "multicluster.linkerd.io/local-discovery"} {
			d.say("  %s: %s", k, s.Service.Annotations[k])
		}
	}
	d.say("")
	d.cmd("linkerd --context=west diagnostics endpoints %s.%s.svc.cluster.local:8080   # here: bb-federated's EndpointSlices", Federated, Namespace)
	d.say("  %-8s %-10s %-13s %-6s %s", "CLUSTER", "NAMESPACE", "IP", "PORT", "SERVICE")
	for _, c := range slices.Sorted(maps.Keys(s.Endpoints)) {
		for _, ip := range s.Endpoints[c] {
			d.say("  %-8s %-10s %-13s %-6d %s", c, Namespace, ip, 8080, Federated)
		}
	}
	for _, l := range links {
		d.say("")
		d.cmd("kubectl --context=west -n %s get link %s -o yaml | yq .status.federatedServices", LinkNamespace, l)
		d.say("%s", indent(linkYAML(s, l)))
	}
}

// linkYAML is link's fedgen entries as `kubectl get -o yaml` shows them.
func linkYAML(s *State, link string) string {
	if len(s.Links[link]) == 0 {
		return "federatedServices: []   # no entry from fedgen: bb is not a member in " + link + "\n"
	}
	b, _ := yaml.Marshal(map[string]any{"federatedServices": s.Links[link]})
	return string(b)
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "  " + l
		}
	}
	return strings.Join(lines, "\n")
}
