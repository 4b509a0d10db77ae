package controllers

import (
	"context"
	"net/http"
	"time"

	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
)

// SendblueAPI is what the controller needs of a Sendblue account.
type SendblueAPI interface {
	Get(ctx context.Context) (*sendblue.Config, error)
	Replace(ctx context.Context, cfg *sendblue.Config) (*sendblue.Config, error)
}

// ClientFactory returns a client for one account's credentials. known are
// secret values the account may store, kept out of the client's errors.
type ClientFactory func(creds sendblue.Credentials, known []string) (SendblueAPI, error)

// NewClientFactory returns a factory of real clients for baseURL and path,
// sharing one instrumented HTTP client (connections are pooled across
// accounts). It fails now, not at the first reconcile, if the URL is unsafe.
func NewClientFactory(baseURL, path string, timeout time.Duration, m *Metrics) (ClientFactory, error) {
	if _, err := sendblue.ValidateBaseURL(baseURL); err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	hc := &http.Client{Transport: m.instrument(transport)}
	return func(creds sendblue.Credentials, known []string) (SendblueAPI, error) {
		return sendblue.New(baseURL, creds, hc, sendblue.WithPath(path), sendblue.WithTimeout(timeout), sendblue.WithSecrets(known...))
	}, nil
}
