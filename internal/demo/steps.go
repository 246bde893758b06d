package demo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	mcv1alpha3 "github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
	"github.com/fedgen/fedgen/internal/rig/localcluster"
	"github.com/fedgen/fedgen/internal/rig/podnet"
)

// remoteUser is the ServiceAccount link-gen puts in the target's kubeconfig.
const remoteUser = "linkerd-service-mirror-remote-access-default"

// Link is step 2: east and north linked to west as `linkerd multicluster
// link-gen --gateway=false` does — a credentials Secret holding the
// kubeconfig of the target's remote-access user (in linkerd-multicluster,
// and the copy in linkerd that the destination controller reads) and a
// Link. The user has what Linkerd's multicluster chart grants that account
// (localcluster.LinkerdRemoteAccessRules: pods cluster-wide, Services,
// EndpointSlices, Servers, …), so the copy serves the destination
// controller as it would in a real installation; fedgen needs only the
// Services and EndpointSlices of it.
func (d *Demo) Link(ctx context.Context) error {
	d.heading(2, "Link east and north to west (link-gen --gateway=false)")
	west := d.fleet.Cluster(Local)
	for _, ns := range []string{LinkNamespace, "linkerd"} {
		if err := createNamespace(ctx, west.Clientset(), ns); err != nil {
			return fmt.Errorf("step 2: %w", err)
		}
	}
	for _, target := range Clusters[1:] {
		d.cmd("linkerd --context=%s multicluster link-gen --cluster-name=%s --gateway=false | kubectl --context=west apply -f -", target, target)
		kc, err := d.fleet.Cluster(target).UserKubeconfig(ctx, remoteUser, localcluster.LinkerdRemoteAccessRules...)
		if err != nil {
			return fmt.Errorf("step 2: minting %s's kubeconfig: %w", target, err)
		}
		if err := canListServices(ctx, kc); err != nil {
			return fmt.Errorf("step 2: the kubeconfig for %s does not reach it: %w", target, err)
		}
		secret := "cluster-credentials-" + target
		objs := []any{
			&corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: secret, Namespace: LinkNamespace},
				Type:       "mirror.linkerd.io/remote-kubeconfig",
				Data:       map[string][]byte{"kubeconfig": kc},
			},
			&corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{
					Name: secret, Namespace: "linkerd",
					Labels:      map[string]string{"multicluster.linkerd.io/cluster-name": target},
					Annotations: map[string]string{"multicluster.linkerd.io/cluster-domain": "cluster.local", "multicluster.linkerd.io/trust-domain": "cluster.local"},
				},
				Type: "mirror.linkerd.io/remote-kubeconfig",
				Data: map[string][]byte{"kubeconfig": kc},
			},
		}
		link := &mcv1alpha3.Link{
			TypeMeta:   metav1.TypeMeta{APIVersion: "multicluster.linkerd.io/v1alpha3", Kind: "Link"},
			ObjectMeta: metav1.ObjectMeta{Name: target, Namespace: LinkNamespace},
			Spec: mcv1alpha3.LinkSpec{
				TargetClusterName:             target,
				TargetClusterDomain:           "cluster.local",
				TargetClusterLinkerdNamespace: "linkerd",
				ClusterCredentialsSecret:      secret,
				FederatedServiceSelector:      &metav1.LabelSelector{MatchLabels: map[string]string{MemberLabel: "member"}},
				RemoteDiscoverySelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"mirror.linkerd.io/exported": "remote-discovery"}},
			},
		}
		for _, s := range objs {
			if err := west.Client().Create(ctx, s.(*corev1.Secret)); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("step 2: creating Secret %s: %w", secret, err)
			}
		}
		if err := west.Client().Create(ctx, link); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("step 2: creating Link %s: %w", target, err)
		}
		if target == Clusters[1] {
			// Create clears TypeMeta: name the kind as link-gen prints it.
			b, _ := yaml.Marshal(map[string]any{"apiVersion": "multicluster.linkerd.io/v1alpha3", "kind": "Link",
				"metadata": map[string]string{"name": link.Name, "namespace": link.Namespace}, "spec": link.Spec})
			d.say("%s", indent(string(b)))
		}
	}
	d.cmd("kubectl --context=west -n %s get links", LinkNamespace)
	var links mcv1alpha3.LinkList
	if err := west.Client().List(ctx, &links); err != nil {
		return fmt.Errorf("step 2: listing Links: %w", err)
	}
	d.say("%-8s %s", "NAME", "TARGET")
	for _, l := range links.Items {
		d.say("%-8s %s", l.Name, l.Spec.TargetClusterName)
	}
	if len(links.Items) != 2 {
		return fmt.Errorf("step 2: want the Links east and north in west, found %d", len(links.Items))
	}
	return nil
}

// canListServices proves a Link's kubeconfig reaches its cluster.
func canListServices(ctx context.Context, kubeconfig []byte) error {
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		return err
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	_, err = c.CoreV1().Services("").List(ctx, metav1.ListOptions{Limit: 1})
	return err
}

// Deploy is step 3: bb in mc-demo in every cluster — its Service, its Pod
// on the cluster's node (Running, with its pod IP) and the EndpointSlice
// the EndpointSlice controller would make, with a targetRef to the Pod. On
// a pod network the Pod is real: a network namespace with the pod's
// address, running bb's HTTP server.
func (d *Demo) Deploy(ctx context.Context) error {
	d.heading(3, "Deploy bb in mc-demo in every cluster")
	pn := d.fleet.PodNetwork()
	d.pods = map[string]*corev1.Pod{}
	for _, c := range Clusters {
		ips := d.podIPs(c)
		d.cmd("kubectl --context=%s apply -f bb.yaml   # Namespace mc-demo, Service bb, its pod (IP %s)", c, strings.Join(ips, ", "))
		cluster := d.fleet.Cluster(c)
		cs := cluster.Clientset()
		if err := createNamespace(ctx, cs, Namespace); err != nil {
			return fmt.Errorf("step 3: %w", err)
		}
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: Service, Namespace: Namespace, Labels: map[string]string{"app": Service}},
			Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": Service},
				Ports:    []corev1.ServicePort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}},
			},
		}
		if d.opts.DualStack {
			svc.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicyPreferDualStack)
		}
		svc, err := cs.CoreV1().Services(Namespace).Create(ctx, svc, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("step 3: creating Service bb in %s: %w", c, err)
		}
		node := localcluster.NodeName(c)
		if err := cluster.RegisterNode(ctx, node, nodeIP(c)); err != nil {
			return fmt.Errorf("step 3: %w", err)
		}
		spec := localcluster.PodSpec{
			Namespace: Namespace, Name: Service + "-5c8b6f7d9-" + c[:2] + "q4z", Labels: map[string]string{"app": Service},
			Node: node, IPs: ips, Port: 8080, Image: "bb",
		}
		var pod *corev1.Pod
		if pn != nil {
			p, err := pn.RunPod(ctx, cluster, spec, d.opts.BB, "serve", "--listen=:8080", "--text=hello from "+c)
			if err != nil {
				return fmt.Errorf("step 3: starting bb's pod in %s: %w", c, err)
			}
			pod = p.Pod
		} else if pod, err = cluster.CreateRunningPod(ctx, spec); err != nil {
			return fmt.Errorf("step 3: %w", err)
		}
		if err := cluster.CreateEndpointSlices(ctx, svc, pod); err != nil {
			return fmt.Errorf("step 3: %w", err)
		}
		d.pods[c] = pod
	}
	d.cmd("kubectl get pods -n %s -o wide   # in each cluster", Namespace)
	d.say("  %-8s %-22s %-8s %-28s %s", "CLUSTER", "NAME", "STATUS", "IP", "NODE")
	for _, c := range Clusters {
		p := d.pods[c]
		var ips []string
		for _, ip := range p.Status.PodIPs {
			ips = append(ips, ip.IP)
		}
		d.say("  %-8s %-22s %-8s %-28s %s", c, p.Name, p.Status.Phase, strings.Join(ips, ","), p.Spec.NodeName)
	}
	if pn != nil {
		d.say("each pod is a network namespace joined to west's node, running bb's HTTP server (\"hello from <cluster>\")")
	}
	return nil
}

// podIPs are bb's pod addresses in cluster c, IPv4 first.
func (d *Demo) podIPs(c string) []string {
	if d.opts.DualStack {
		return []string{PodIPs[c], PodIPv6s[c]}
	}
	return []string{PodIPs[c]}
}

// nodeIP is the address of cluster c's node: west's is the pod network's
// node (the pods' gateway), the others' say only where they would be.
func nodeIP(c string) string {
	if c == Local {
		return podnet.DefaultNodeIP
	}
	return fmt.Sprintf("10.99.%d.1", slices.Index(Clusters, c))
}

// setMember labels (or unlabels) bb in cluster as a federated member.
func (d *Demo) setMember(ctx context.Context, cluster string, member bool) error {
	value := `"member"`
	if member {
		d.cmd("kubectl --context=%s -n %s label svc/%s %s=member", cluster, Namespace, Service, MemberLabel)
	} else {
		value = "null"
		d.cmd("kubectl --context=%s -n %s label svc/%s %s-", cluster, Namespace, Service, MemberLabel)
	}
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%s}}}`, MemberLabel, value)
	_, err := d.fleet.Cluster(cluster).Clientset().CoreV1().Services(Namespace).Patch(ctx, Service, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("labelling bb in %s: %w", cluster, err)
	}
	return nil
}

func createNamespace(ctx context.Context, c kubernetes.Interface, name string) error {
	_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// waitFor polls check until it reports done, the step's timeout passes, or
// fedgen exits. On timeout the error names the awaited state and the last
// thing seen.
func (d *Demo) waitFor(ctx context.Context, state string, check func(context.Context) (bool, string)) error {
	deadline := time.Now().Add(d.timeout())
	seen := ""
	for {
		done, s := check(ctx)
		if done {
			return nil
		}
		seen = s
		if d.fedgen != nil {
			if err := d.fedgen.exited(); err != nil {
				return fmt.Errorf("step %d: waiting for %s: %w", d.step, state, err)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("step %d: timed out after %s waiting for %s; saw: %s", d.step, d.timeout(), state, seen)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("step %d: waiting for %s: %w (saw: %s)", d.step, state, ctx.Err(), seen)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
