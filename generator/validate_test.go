package generator

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The checks below are the parts of the API server's validation of each
// kind that generated objects can get wrong, built from apimachinery's
// helpers (the API server's own validation packages are not importable).

func isDNSSubdomain(s string) bool { return len(validation.IsDNS1123Subdomain(s)) == 0 }

// validateMeta checks name, namespace, labels and annotations.
func validateMeta(m interface {
	GetName() string
	GetNamespace() string
	GetLabels() map[string]string
	GetAnnotations() map[string]string
}, nameFn apivalidation.ValidateNameFunc, namespaced bool) field.ErrorList {
	var errs field.ErrorList
	meta := field.NewPath("metadata")
	for _, msg := range nameFn(m.GetName(), false) {
		errs = append(errs, field.Invalid(meta.Child("name"), m.GetName(), msg))
	}
	if namespaced {
		for _, msg := range validation.IsDNS1123Label(m.GetNamespace()) {
			errs = append(errs, field.Invalid(meta.Child("namespace"), m.GetNamespace(), msg))
		}
	} else if m.GetNamespace() != "" {
		errs = append(errs, field.Forbidden(meta.Child("namespace"), "not namespaced"))
	}
	errs = append(errs, metav1validation.ValidateLabels(m.GetLabels(), meta.Child("labels"))...)
	errs = append(errs, apivalidation.ValidateAnnotations(m.GetAnnotations(), meta.Child("annotations"))...)
	return errs
}

var protocols = sets.New(corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP)

func validateService(s *corev1.Service) field.ErrorList {
	errs := validateMeta(s, apivalidation.NameIsDNS1035Label, true)
	spec := field.NewPath("spec")
	if s.Spec.Type != corev1.ServiceTypeClusterIP {
		errs = append(errs, field.NotSupported(spec.Child("type"), s.Spec.Type, []string{"ClusterIP"}))
	}
	if len(s.Spec.Ports) == 0 {
		errs = append(errs, field.Required(spec.Child("ports"), ""))
	}
	names := sets.New[string]()
	for i, p := range s.Spec.Ports {
		path := spec.Child("ports").Index(i)
		if len(s.Spec.Ports) > 1 && p.Name == "" {
			errs = append(errs, field.Required(path.Child("name"), "required with several ports"))
		}
		if p.Name != "" {
			for _, msg := range validation.IsDNS1123Label(p.Name) {
				errs = append(errs, field.Invalid(path.Child("name"), p.Name, msg))
			}
		}
		if names.Has(p.Name) {
			errs = append(errs, field.Duplicate(path.Child("name"), p.Name))
		}
		names.Insert(p.Name)
		for _, msg := range validation.IsValidPortNum(int(p.Port)) {
			errs = append(errs, field.Invalid(path.Child("port"), p.Port, msg))
		}
		if !protocols.Has(p.Protocol) {
			errs = append(errs, field.NotSupported(path.Child("protocol"), p.Protocol, sets.List(protocols)))
		}
	}
	return errs
}

func validateNamespace(ns *corev1.Namespace) field.ErrorList {
	return validateMeta(ns, apivalidation.ValidateNamespaceName, false)
}

// validateEndpointSlice follows the API server's EndpointSlice validation:
// up to 1000 endpoints and 100 ports, 1..100 addresses of the slice's
// family each, DNS-label hostnames, unique DNS-label port names.
func validateEndpointSlice(s *discoveryv1.EndpointSlice) field.ErrorList {
	errs := validateMeta(s, apivalidation.NameIsDNSSubdomain, true)
	if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 {
		errs = append(errs, field.NotSupported(field.NewPath("addressType"), s.AddressType, []string{"IPv4", "IPv6"}))
	}
	if len(s.Endpoints) > MaxEndpointsPerSliceLimit {
		errs = append(errs, field.TooMany(field.NewPath("endpoints"), len(s.Endpoints), MaxEndpointsPerSliceLimit))
	}
	for i, e := range s.Endpoints {
		path := field.NewPath("endpoints").Index(i)
		if len(e.Addresses) == 0 || len(e.Addresses) > 100 {
			errs = append(errs, field.Invalid(path.Child("addresses"), len(e.Addresses), "must hold 1 to 100 addresses"))
		}
		seen := sets.New[string]()
		for j, a := range e.Addresses {
			ip, err := netip.ParseAddr(a)
			if err != nil || ip.String() != a || ip.Is4() != (s.AddressType == discoveryv1.AddressTypeIPv4) || ip.Is4In6() {
				errs = append(errs, field.Invalid(path.Child("addresses").Index(j), a, "must be a canonical "+string(s.AddressType)+" address"))
			}
			if seen.Has(a) {
				errs = append(errs, field.Duplicate(path.Child("addresses").Index(j), a))
			}
			seen.Insert(a)
		}
		if e.Hostname != nil {
			for _, msg := range validation.IsDNS1123Label(*e.Hostname) {
				errs = append(errs, field.Invalid(path.Child("hostname"), *e.Hostname, msg))
			}
		}
		if e.NodeName != nil || e.TargetRef != nil || e.Hints != nil {
			errs = append(errs, field.Forbidden(path, "fedgen never writes nodeName, targetRef or hints"))
		}
	}
	if len(s.Ports) > 100 {
		errs = append(errs, field.TooMany(field.NewPath("ports"), len(s.Ports), 100))
	}
	names := sets.New[string]()
	for i, p := range s.Ports {
		path := field.NewPath("ports").Index(i)
		if p.Name == nil {
			errs = append(errs, field.Required(path.Child("name"), "kube-proxy skips a port without a name"))
			continue
		}
		if *p.Name != "" {
			for _, msg := range validation.IsDNS1123Label(*p.Name) {
				errs = append(errs, field.Invalid(path.Child("name"), *p.Name, msg))
			}
		}
		if names.Has(*p.Name) {
			errs = append(errs, field.Duplicate(path.Child("name"), *p.Name))
		}
		names.Insert(*p.Name)
		if p.Port == nil || *p.Port < 1 || *p.Port > 65535 {
			errs = append(errs, field.Invalid(path.Child("port"), p.Port, "must be 1..65535"))
		}
		if p.Protocol == nil || !protocols.Has(*p.Protocol) {
			errs = append(errs, field.NotSupported(path.Child("protocol"), p.Protocol, sets.List(protocols)))
		}
		if p.AppProtocol != nil {
			for _, msg := range validation.IsQualifiedName(*p.AppProtocol) {
				errs = append(errs, field.Invalid(path.Child("appProtocol"), *p.AppProtocol, msg))
			}
		}
	}
	for _, managedBy := range []string{"endpointslice-controller.k8s.io", "endpointslicemirroring-controller.k8s.io"} {
		if s.Labels[discoveryv1.LabelManagedBy] == managedBy {
			errs = append(errs, field.Forbidden(field.NewPath("metadata", "labels"), "a built-in controller would take the slice over"))
		}
	}
	return errs
}

// validateEach validates every object of r, whatever the kinds present.
func validateEach(r rendered) field.ErrorList {
	var errs field.ErrorList
	if r.service != nil {
		errs = append(errs, validateService(r.service)...)
	}
	for _, s := range r.slices {
		errs = append(errs, validateEndpointSlice(s)...)
	}
	for _, ns := range r.namespaces {
		errs = append(errs, validateNamespace(ns)...)
	}
	return errs
}

// validateRendered validates a parsed federated Service file: its
// objects, and that it holds one Service and only that Service's slices.
func validateRendered(file string, r rendered) error {
	if r.service == nil {
		return fmt.Errorf("%s: no Service", file)
	}
	errs := validateEach(r)
	for _, s := range r.slices {
		if s.Namespace != r.service.Namespace || s.Labels[discoveryv1.LabelServiceName] != r.service.Name {
			errs = append(errs, field.Invalid(field.NewPath("metadata"), s.Name, "slice does not belong to the file's Service"))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: %w", file, errs.ToAggregate())
	}
	return nil
}
