package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// syncCache is a cache whose informers have (or have not) synced.
type syncCache struct {
	cache.Cache
	synced bool
}

func (c syncCache) WaitForCacheSync(ctx context.Context) bool {
	if !c.synced {
		<-ctx.Done() // as the informer cache does: it waits for the context
	}
	return c.synced
}

func TestReadinessWaitsForTheCaches(t *testing.T) {
	req := httptest.NewRequest("GET", "/readyz", nil)
	if err := cacheSynced(syncCache{synced: false})(req); err == nil || !strings.Contains(err.Error(), "not synced") {
		t.Errorf("unsynced caches: %v, want not ready", err)
	}
	if err := cacheSynced(syncCache{synced: true})(req); err != nil {
		t.Errorf("synced caches: %v, want ready", err)
	}
}

func TestNamespacesFlag(t *testing.T) {
	for _, tc := range []struct {
		list, one, want string
		bad             bool
	}{
		{"", "", "", false},
		{"team-a, team-b,", "", "team-a,team-b", false},
		{"", "solo", "solo", false},
		{"a", "b", "", true},
		{"Team_A", "", "", true},
		{"../kube-system", "", "", true},
	} {
		got, err := config{watchNamespaces: tc.list, watchNamespace: tc.one}.namespaces()
		if (err != nil) != tc.bad || strings.Join(got, ",") != tc.want {
			t.Errorf("namespaces(%q, %q) = %v, %v; want %q (error %v)", tc.list, tc.one, got, err, tc.want, tc.bad)
		}
	}
}

func TestProvidersFlag(t *testing.T) {
	for _, tc := range []struct {
		flag, want string
		bad        bool
	}{
		{"sendblue,everlytic", "everlytic sendblue", false},
		{" everlytic ", "everlytic", false},
		{"sendblue,,sendblue", "sendblue", false},
		{"", "", true},
		{"sendblue,twilio", "", true},
	} {
		got, err := config{providers: tc.flag}.providerSet()
		if (err != nil) != tc.bad {
			t.Errorf("--providers %q: error %v, want error %v", tc.flag, err, tc.bad)
			continue
		}
		var names []string
		for _, p := range []string{"everlytic", "sendblue"} {
			if got[p] {
				names = append(names, p)
			}
		}
		if strings.Join(names, " ") != tc.want {
			t.Errorf("--providers %q = %v, want %s", tc.flag, names, tc.want)
		}
	}
}

func TestEverlyticEndpointPortsFlag(t *testing.T) {
	for _, tc := range []struct {
		flag, want string
		bad        bool
	}{
		{"443", "[443]", false},
		{" 443, 8443,", "[443 8443]", false},
		{"", "", true},
		{"0", "", true},
		{"65536", "", true},
		{"https", "", true},
	} {
		got, err := config{everlyticPorts: tc.flag}.everlyticPortList()
		if (err != nil) != tc.bad || (!tc.bad && fmt.Sprint(got) != tc.want) {
			t.Errorf("--everlytic-endpoint-ports %q = %v, %v; want %s (error %v)", tc.flag, got, err, tc.want, tc.bad)
		}
	}
}
