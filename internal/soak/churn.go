package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	mcv1alpha3 "github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
)

// servicesPerNamespace is the pool of member names per namespace and
// cluster: the population stays small enough for Flux to apply it in
// seconds, and names recur across clusters so members federate.
const servicesPerNamespace = 8

// opTimeout bounds one churn operation: an apiserver that is down makes
// the operation fail, not wait.
const opTimeout = 5 * time.Second

// churn changes the clusters at a steady rate: members join and leave,
// endpoints move, Services change ports, Links are deleted and created
// again. Which operation, where and with what is drawn from its own
// random stream, so a seed replays the same sequence.
type churn struct {
	w   *world
	rng *rand.Rand
	ops map[string]int // operations done, by kind
	bad map[string]int // operations that failed (an apiserver down)
}

// portSets are the shapes a member's ports take; the first is the usual
// one, the others make PortConflicts.
var portSets = [][]corev1.ServicePort{
	{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}},
	{{Name: "http", Port: 9090, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9090)}},
	{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)},
		{Name: "grpc", Port: 9000, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9000)}},
}

func newChurn(w *world, seed uint64) *churn {
	return &churn{w: w, rng: rand.New(rand.NewPCG(seed, 1)), ops: map[string]int{}, bad: map[string]int{}}
}

// seed populates every cluster with about half of the pool.
func (c *churn) seed(ctx context.Context) error {
	for _, cl := range c.w.clusters {
		for _, ns := range namespaces {
			if ns == "soak-remote" && cl == localCluster {
				continue
			}
			for i := range servicesPerNamespace {
				if c.rng.IntN(2) == 0 {
					continue
				}
				if err := c.join(ctx, cl, ns, fmt.Sprintf("svc-%d", i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// run does one operation every ChurnEvery until ctx ends.
func (c *churn) run(ctx context.Context) {
	t := time.NewTicker(c.w.cfg.ChurnEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.step(ctx)
		}
	}
}

// step draws and does one operation. The draw never depends on the
// clusters' answers, only on the stream, so a replay draws the same.
func (c *churn) step(ctx context.Context) {
	cl := c.w.clusters[c.rng.IntN(len(c.w.clusters))]
	ns := namespaces[c.rng.IntN(len(namespaces))]
	if ns == "soak-remote" && cl == localCluster {
		ns = namespaces[0]
	}
	name := fmt.Sprintf("svc-%d", c.rng.IntN(servicesPerNamespace))
	roll := c.rng.IntN(100)
	arg := c.rng.Uint64()
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	var kind string
	var err error
	switch {
	case roll < 25:
		kind, err = "member joins or leaves", c.toggle(octx, cl, ns, name)
	case roll < 60:
		kind, err = "endpoints move", c.moveEndpoints(octx, cl, ns, name, arg)
	case roll < 70:
		kind, err = "ports change", c.changePorts(octx, cl, ns, name, arg)
	case roll < 80:
		kind, err = "label removed or added", c.relabel(octx, cl, ns, name)
	case roll < 86:
		kind, err = "Link deleted or created", c.toggleLink(octx, arg)
	default:
		kind, err = "Service deleted and created", c.recreate(octx, cl, ns, name)
	}
	if err != nil {
		c.bad[kind]++
		c.w.log.printf("churn %s %s %s/%s: failed: %v", kind, cl, ns, name, err)
		return
	}
	c.ops[kind]++
	c.w.log.printf("churn %s %s %s/%s", kind, cl, ns, name)
}

// toggle deletes the member if it exists, else creates it.
func (c *churn) toggle(ctx context.Context, cl, ns, name string) error {
	cs := c.w.cluster(cl).Clientset()
	err := cs.CoreV1().Services(ns).Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return c.join(ctx, cl, ns, name)
	}
	if err != nil {
		return err
	}
	// The EndpointSlice controller would delete the slices with it.
	err = cs.DiscoveryV1().EndpointSlices(ns).Delete(ctx, name+"-soak", metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// join creates the member Service with its EndpointSlice; one in twenty
// is headless (InvalidService).
func (c *churn) join(ctx context.Context, cl, ns, name string) error {
	ports := portSets[0]
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{memberLabel: "member", "app": name}},
		Spec:       corev1.ServiceSpec{Ports: ports, Selector: map[string]string{"app": name}},
	}
	if c.rng.IntN(20) == 0 {
		svc.Spec.ClusterIP = corev1.ClusterIPNone
	}
	cs := c.w.cluster(cl).Clientset()
	if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return err
	}
	return c.writeSlice(ctx, cl, ns, name, ports, c.rng.Uint64())
}

// moveEndpoints gives the member's slice new addresses.
func (c *churn) moveEndpoints(ctx context.Context, cl, ns, name string, arg uint64) error {
	svc, err := c.w.cluster(cl).Clientset().CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	return c.writeSlice(ctx, cl, ns, name, svc.Spec.Ports, arg)
}

// changePorts moves the member to another shape of ports, slice included.
func (c *churn) changePorts(ctx context.Context, cl, ns, name string, arg uint64) error {
	cs := c.w.cluster(cl).Clientset()
	svc, err := cs.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	svc.Spec.Ports = portSets[arg%uint64(len(portSets))]
	if _, err := cs.CoreV1().Services(ns).Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		return err
	}
	return c.writeSlice(ctx, cl, ns, name, svc.Spec.Ports, arg>>8)
}

// relabel removes the member label, or puts it back.
func (c *churn) relabel(ctx context.Context, cl, ns, name string) error {
	cs := c.w.cluster(cl).Clientset()
	svc, err := cs.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if _, ok := svc.Labels[memberLabel]; ok {
		delete(svc.Labels, memberLabel)
	} else {
		svc.Labels[memberLabel] = "member"
	}
	_, err = cs.CoreV1().Services(ns).Update(ctx, svc, metav1.UpdateOptions{})
	return err
}

// recreate deletes the member and creates it again at once, as a
// redeploy does: same name, new UID.
func (c *churn) recreate(ctx context.Context, cl, ns, name string) error {
	cs := c.w.cluster(cl).Clientset()
	if err := cs.CoreV1().Services(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return c.join(ctx, cl, ns, name)
}

// toggleLink deletes a Link, or creates the Link of an unlinked cluster;
// one linked cluster at least stays.
func (c *churn) toggleLink(ctx context.Context, arg uint64) error {
	local := c.w.cluster(localCluster).Client()
	var links mcv1alpha3.LinkList
	if err := local.List(ctx, &links); err != nil {
		return err
	}
	linked := map[string]*mcv1alpha3.Link{}
	for i := range links.Items {
		if links.Items[i].Namespace == linkNS {
			linked[links.Items[i].Spec.TargetClusterName] = &links.Items[i]
		}
	}
	remotes := c.w.remotes()
	target := remotes[arg%uint64(len(remotes))]
	if l, ok := linked[target]; ok {
		if len(linked) == 1 {
			return c.w.createLink(ctx, remotes[(arg+1)%uint64(len(remotes))])
		}
		return local.Delete(ctx, l)
	}
	return c.w.createLink(ctx, target)
}

// writeSlice creates or replaces the member's one EndpointSlice with one
// to three ready endpoints drawn from arg, in the cluster's own range.
func (c *churn) writeSlice(ctx context.Context, cl, ns, name string, ports []corev1.ServicePort, arg uint64) error {
	idx := 0
	for i, n := range clusterNames {
		if n == cl {
			idx = i
		}
	}
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-soak", Namespace: ns, Labels: map[string]string{
			discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io",
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for _, p := range ports {
		s.Ports = append(s.Ports, discoveryv1.EndpointPort{Name: ptr.To(p.Name), Port: ptr.To(p.TargetPort.IntVal), Protocol: ptr.To(p.Protocol)})
	}
	for i := range 1 + int(arg%3) {
		v := arg >> (8 * (i + 1))
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{fmt.Sprintf("10.%d.%d.%d", 10+idx, v>>8&255, 1+v&127)},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(arg>>60 != 0)},
		})
	}
	sl := c.w.cluster(cl).Clientset().DiscoveryV1().EndpointSlices(ns)
	cur, err := sl.Get(ctx, s.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = sl.Create(ctx, s, metav1.CreateOptions{})
	case err == nil:
		s.ResourceVersion = cur.ResourceVersion
		_, err = sl.Update(ctx, s, metav1.UpdateOptions{})
	}
	return err
}
