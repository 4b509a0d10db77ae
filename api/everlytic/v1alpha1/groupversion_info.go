// Package v1alpha1 contains the API of the everlytic.webhooks.dev group,
// version v1alpha1: the EverlyticSMSWebhook kind.
// +kubebuilder:object:generate=true
// +groupName=everlytic.webhooks.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: "everlytic.webhooks.dev", Version: "v1alpha1"}

	// SchemeBuilder adds this API's types to a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds this API's types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
