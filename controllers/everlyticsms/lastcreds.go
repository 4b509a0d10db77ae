package everlyticsms

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"

	v1 "github.com/sendblue-operator/sendblue-operator/api/everlytic/v1alpha1"
)

// lastCredentials remembers, per object, the credentials of its last sync
// that Everlytic accepted, so that deleting the object can still delete its
// webhook once its credentials Secret is gone: a namespace's deletion
// deletes the Secret and the objects in no fixed order. In memory only,
// never written anywhere; an object's entry goes with the object. The zero
// value is ready to use.
type lastCredentials struct {
	mu       sync.Mutex
	byObject map[types.NamespacedName]remembered
}

// remembered are an object's last working inputs, valid for that object
// (uid) on that endpoint only.
type remembered struct {
	uid      types.UID
	endpoint string
	in       inputs
}

func (l *lastCredentials) remember(w *v1.EverlyticSMSWebhook, in inputs) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byObject == nil {
		l.byObject = map[types.NamespacedName]remembered{}
	}
	l.byObject[types.NamespacedName{Namespace: w.Namespace, Name: w.Name}] = remembered{uid: w.UID, endpoint: normalEndpoint(string(w.Spec.Endpoint)), in: in}
}

// get returns w's last working inputs, if the same object on the same
// endpoint had any.
func (l *lastCredentials) get(w *v1.EverlyticSMSWebhook) (inputs, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m, ok := l.byObject[types.NamespacedName{Namespace: w.Namespace, Name: w.Name}]
	if !ok || m.uid != w.UID || m.endpoint != normalEndpoint(string(w.Spec.Endpoint)) {
		return inputs{}, false
	}
	return m.in, true
}

func (l *lastCredentials) forget(k types.NamespacedName) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.byObject, k)
}
