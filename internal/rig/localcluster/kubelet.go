package localcluster

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// No kubelet and no controller-manager run in a fleet. These helpers leave
// Nodes, Pods and EndpointSlices as those would, so that what reads them —
// kube-proxy, CoreDNS, Linkerd's destination controller looking Pods up by
// an endpoint's targetRef — finds what it expects.

// NodeName is the one node of a cluster, as the fleet names it.
func NodeName(cluster string) string { return cluster + "-node-1" }

// RegisterNode creates the Node a kubelet would register: its addresses as
// InternalIPs and condition Ready. An existing Node is left as it is.
func (c *Cluster) RegisterNode(ctx context.Context, name string, ips ...string) error {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			corev1.LabelHostname: name, corev1.LabelOSStable: "linux", corev1.LabelArchStable: "amd64",
		}},
	}
	created, err := c.clientset.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("registering node %s in cluster %s: %w", name, c.name, err)
	}
	now := metav1.Now()
	for _, ip := range ips {
		created.Status.Addresses = append(created.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip})
	}
	created.Status.Addresses = append(created.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: name})
	created.Status.Conditions = []corev1.NodeCondition{{
		Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
		Message: "kubelet is posting ready status", LastHeartbeatTime: now, LastTransitionTime: now,
	}}
	if _, err := c.clientset.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("setting the status of node %s in cluster %s: %w", name, c.name, err)
	}
	return nil
}

// PodSpec describes a pod for CreateRunningPod.
type PodSpec struct {
	Namespace, Name string
	Labels          map[string]string
	// Node is the node it runs on (see NodeName).
	Node string
	// IPs are the pod's addresses, IPv4 first as a kubelet reports them.
	IPs []string
	// HostNetwork marks a pod that uses its node's addresses (CoreDNS here).
	HostNetwork bool
	// Port is the container port it serves on, named "http" (0: none).
	Port int32
	// Image names what it runs, for kubectl's eyes only.
	Image string
}

// CreateRunningPod creates the Pod and gives it the status a kubelet would
// after starting it: phase Running, Ready, its pod IPs. The Pod's program,
// if any, is the caller's to run (see PodNetwork.RunPod).
func (c *Cluster) CreateRunningPod(ctx context.Context, spec PodSpec) (*corev1.Pod, error) {
	container := corev1.Container{Name: "app", Image: spec.Image}
	if spec.Port != 0 {
		container.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: spec.Port, Protocol: corev1.ProtocolTCP}}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: spec.Name, Namespace: spec.Namespace, Labels: spec.Labels},
		Spec: corev1.PodSpec{
			NodeName:    spec.Node,
			HostNetwork: spec.HostNetwork,
			Containers:  []corev1.Container{container},
		},
	}
	created, err := c.clientset.CoreV1().Pods(spec.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("creating pod %s/%s in cluster %s: %w", spec.Namespace, spec.Name, c.name, err)
	}
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	st := &created.Status
	st.Phase = corev1.PodRunning
	st.StartTime = &now
	for _, t := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		st.Conditions = append(st.Conditions, corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now})
	}
	for _, ip := range spec.IPs {
		st.PodIPs = append(st.PodIPs, corev1.PodIP{IP: ip})
	}
	if len(spec.IPs) > 0 {
		st.PodIP = spec.IPs[0]
	}
	st.ContainerStatuses = []corev1.ContainerStatus{{
		Name: container.Name, Image: spec.Image, ImageID: spec.Image, Ready: true, Started: ptr.To(true),
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
	}}
	updated, err := c.clientset.CoreV1().Pods(spec.Namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("setting the status of pod %s/%s in cluster %s: %w", spec.Namespace, spec.Name, c.name, err)
	}
	return updated, nil
}

// EndpointSlicesFor builds what the EndpointSlice controller makes for svc
// and its ready pods: one slice per address family the pods have, owned by
// the Service, each endpoint with its node and a targetRef to its Pod (UID
// included), and the Service's ports with their target port numbers.
// GenerateName is set: the apiserver names them, as the controller's are.
func EndpointSlicesFor(svc *corev1.Service, pods ...*corev1.Pod) []*discoveryv1.EndpointSlice {
	var ports []discoveryv1.EndpointPort
	for _, p := range svc.Spec.Ports {
		port := p.TargetPort.IntVal
		if port == 0 { // unset, or named: the pods here serve on the Service's port
			port = p.Port
		}
		ports = append(ports, discoveryv1.EndpointPort{Name: ptr.To(p.Name), Port: ptr.To(port), Protocol: ptr.To(p.Protocol)})
	}
	var slices []*discoveryv1.EndpointSlice
	for _, family := range []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6} {
		var endpoints []discoveryv1.Endpoint
		for _, pod := range pods {
			for _, ip := range pod.Status.PodIPs {
				a, err := netip.ParseAddr(ip.IP)
				if err != nil || a.Is4() != (family == discoveryv1.AddressTypeIPv4) {
					continue
				}
				endpoints = append(endpoints, discoveryv1.Endpoint{
					Addresses:  []string{ip.IP},
					Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)},
					NodeName:   ptr.To(pod.Spec.NodeName),
					TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
				})
			}
		}
		if len(endpoints) == 0 {
			continue
		}
		slices = append(slices, &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{
				GenerateName: svc.Name + "-",
				Namespace:    svc.Namespace,
				Labels: map[string]string{
					discoveryv1.LabelServiceName: svc.Name,
					discoveryv1.LabelManagedBy:   "endpointslice-controller.k8s.io",
				},
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID,
					Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
				}},
			},
			AddressType: family,
			Ports:       ports,
			Endpoints:   endpoints,
		})
	}
	return slices
}

// CreateEndpointSlices creates EndpointSlicesFor(svc, pods...).
func (c *Cluster) CreateEndpointSlices(ctx context.Context, svc *corev1.Service, pods ...*corev1.Pod) error {
	for _, s := range EndpointSlicesFor(svc, pods...) {
		if _, err := c.clientset.DiscoveryV1().EndpointSlices(s.Namespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating %s EndpointSlice of %s/%s in cluster %s: %w", s.AddressType, svc.Namespace, svc.Name, c.name, err)
		}
	}
	return nil
}
