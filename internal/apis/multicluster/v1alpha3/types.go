package v1alpha3

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Link is a link from the local cluster to a remote (target) cluster. fedgen
// reads its spec and writes status.federatedServices.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=links,singular=link,scope=Namespaced
// +kubebuilder:storageversion
type Link struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   LinkSpec   `json:"spec,omitempty"`
	Status LinkStatus `json:"status,omitempty"`
}

// LinkSpec is the part of a Link its author writes. fedgen uses
// TargetClusterName, ClusterCredentialsSecret, FederatedServiceSelector,
// ExcludedLabels and ExcludedAnnotations; the other fields exist so that a
// round trip through these types keeps them.
type LinkSpec struct {
	TargetClusterName             string `json:"targetClusterName,omitempty"`
	TargetClusterDomain           string `json:"targetClusterDomain,omitempty"`
	TargetClusterLinkerdNamespace string `json:"targetClusterLinkerdNamespace,omitempty"`
	ClusterCredentialsSecret      string `json:"clusterCredentialsSecret,omitempty"`
	GatewayAddress                string `json:"gatewayAddress,omitempty"`
	GatewayPort                   string `json:"gatewayPort,omitempty"`
	GatewayIdentity               string `json:"gatewayIdentity,omitempty"`
	// +optional
	ProbeSpec ProbeSpec `json:"probeSpec,omitempty"`
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// +optional
	RemoteDiscoverySelector *metav1.LabelSelector `json:"remoteDiscoverySelector,omitempty"`
	// FederatedServiceSelector selects the member Services in the target
	// cluster. Nil or empty selects nothing (upstream semantics).
	// +optional
	FederatedServiceSelector *metav1.LabelSelector `json:"federatedServiceSelector,omitempty"`
	// ExcludedAnnotations are annotation keys (or "prefix/*" globs) never
	// copied from this Link's members.
	// +optional
	ExcludedAnnotations []string `json:"excludedAnnotations,omitempty"`
	// ExcludedLabels are label keys (or "prefix/*" globs) never copied from
	// this Link's members.
	// +optional
	ExcludedLabels []string `json:"excludedLabels,omitempty"`
}

// ProbeSpec is the gateway probe configuration. fedgen does not use it.
type ProbeSpec struct {
	// +kubebuilder:default="3"
	// +optional
	FailureThreshold string `json:"failureThreshold,omitempty"`
	// +optional
	Path string `json:"path,omitempty"`
	// +kubebuilder:validation:Format=duration
	// +optional
	Period string `json:"period,omitempty"`
	// +optional
	Port string `json:"port,omitempty"`
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:Format=duration
	// +optional
	Timeout string `json:"timeout,omitempty"`
}

// LinkStatus is written by the controllers that serve a Link. The lists are
// atomic: whoever writes them writes them whole, so writers read the Link,
// change their own entries and update with the resourceVersion they read.
type LinkStatus struct {
	// +optional
	MirrorServices []ServiceStatus `json:"mirrorServices,omitempty"`
	// +optional
	FederatedServices []ServiceStatus `json:"federatedServices,omitempty"`
}

// ServiceStatus is the state of one remote Service as one controller sees it.
type ServiceStatus struct {
	// +optional
	Conditions []LinkCondition `json:"conditions,omitempty"`
	// ControllerName is DOMAIN/PATH of the controller that wrote the entry.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9\/\-._~%!$&'()*+,;=:]+$`
	ControllerName string `json:"controllerName"`
	// RemoteRef is the Service in the target cluster.
	RemoteRef ObjectReference `json:"remoteRef"`
}

// LinkCondition is metav1.Condition without observedGeneration and with a
// reference to the local object the condition is about.
type LinkCondition struct {
	// +kubebuilder:validation:MaxLength=316
	// +kubebuilder:validation:Pattern=`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$`
	Type string `json:"type"`
	// +kubebuilder:validation:Enum="True";"False";Unknown
	Status metav1.ConditionStatus `json:"status"`
	// +kubebuilder:validation:Format=date-time
	LastTransitionTime metav1.Time `json:"lastTransitionTime"`
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`
	Reason  string `json:"reason"`
	Message string `json:"message"`
	// LocalRef is the local object (the federated Service) the condition is
	// about, when there is one.
	// +optional
	LocalRef *ObjectReference `json:"localRef,omitempty"`
}

// ObjectReference names an object in a cluster.
type ObjectReference struct {
	// +kubebuilder:default=core
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	Group string `json:"group,omitempty"`
	// +kubebuilder:default=Service
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$`
	// +optional
	Kind string `json:"kind,omitempty"`
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace"`
}

// LinkList is a list of Links.
//
// +kubebuilder:object:root=true
type LinkList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Link `json:"items"`
}
