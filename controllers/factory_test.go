package controllers

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
)

func TestClientFactoryRefusesCredentialsInClear(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	for _, u := range []string{"http://api.sendblue.co", "http://10.1.2.3:8089", "ftp://x", "not a url"} {
		if _, err := NewClientFactory(u, sendblue.DefaultPath, sendblue.DefaultTimeout, m); err == nil {
			t.Errorf("NewClientFactory(%q) accepted it", u)
		} else if strings.Contains(u, "http://") && !strings.Contains(err.Error(), "plain http") {
			t.Errorf("NewClientFactory(%q): %v, want a message about plain http", u, err)
		}
	}
	for _, u := range []string{sendblue.DefaultBaseURL, "http://127.0.0.1:8089", "http://localhost:8089"} {
		if _, err := NewClientFactory(u, sendblue.DefaultPath, sendblue.DefaultTimeout, m); err != nil {
			t.Errorf("NewClientFactory(%q): %v", u, err)
		}
	}
}
