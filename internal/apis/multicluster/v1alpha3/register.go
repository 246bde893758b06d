package v1alpha3

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of Link.
var GroupVersion = schema.GroupVersion{Group: "multicluster.linkerd.io", Version: "v1alpha3"}

// LinkResource is the resource Links are served as.
var LinkResource = GroupVersion.WithResource("links")

var (
	// SchemeBuilder registers the types of this package.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds the types of this package to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Link{}, &LinkList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
