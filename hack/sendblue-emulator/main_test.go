package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestServesOnLoopbackAndStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--account", "k1:s1"}, pw) }()

	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("first line %q: want listening on http://127.0.0.1:PORT", line)
	}
	req, _ := http.NewRequest("GET", base+"/api/account/webhooks", nil)
	req.Header.Set("sb-api-key-id", "k1")
	req.Header.Set("sb-api-secret-key", "s1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET with the account's credentials: %d, want 200", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run returned %v after its context ended, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop after its context ended")
	}
}

func TestRefusesBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--listen", "0.0.0.0:0"}, "only listens on loopback"},
		{[]string{"--listen", "192.168.1.10:8089"}, "only listens on loopback"},
		{[]string{"--listen", "nonsense"}, "--listen"},
		{[]string{"--listen", "127.0.0.1:0", "--account", "only-a-secret-value"}, "want KEYID:SECRET"},
		{[]string{"--listen", "127.0.0.1:0", "--account", "k:s", "--account", "k:t"}, "exists"},
		{[]string{"--listen", "127.0.0.1:0", "--everlytic-account", "only-a-secret-value"}, "want USER:APIKEY"},
		{[]string{"--listen", "127.0.0.1:0", "--everlytic-account", "u:k", "--everlytic-account", "u:l"}, "exists"},
	} {
		err := run(context.Background(), tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("run(%q) = %v, want an error containing %q", tc.args, err, tc.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "only-a-secret-value") {
			t.Errorf("run(%q) echoed the account value: %v", tc.args, err)
		}
	}
}

func TestServesBothProvidersOnOneListener(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--account", "k1:s1", "--everlytic-account", "u1:ak1"}, pw)
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))

	for _, tc := range []struct {
		name, method, path string
		header             map[string]string
		basic              [2]string
		wantStatus         int
		wantBody           string
	}{
		{"Sendblue's API", "GET", "/api/account/webhooks", map[string]string{"sb-api-key-id": "k1", "sb-api-secret-key": "s1"}, [2]string{}, 200, `"status":"OK"`},
		{"Everlytic's API", "GET", "/api/2.0/production/sms/webhooks", nil, [2]string{"u1", "ak1"}, 200, `"status":"success"`},
		{"Everlytic's API refuses a wrong key", "GET", "/api/2.0/production/sms/webhooks", nil, [2]string{"u1", "wrong"}, 401, `"Invalid credentials."`},
		{"Everlytic's control surface", "GET", "/_emulator/everlytic/accounts/u1/requests", nil, [2]string{}, 200, `"LIST":2`},
		{"Sendblue's control surface", "GET", "/_emulator/accounts/k1/requests", nil, [2]string{}, 200, `"GET":1`},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, nil)
		for k, v := range tc.header {
			req.Header.Set(k, v)
		}
		if tc.basic[0] != "" {
			req.SetBasicAuth(tc.basic[0], tc.basic[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.wantStatus || !strings.Contains(string(body), tc.wantBody) {
			t.Errorf("%s: %s %s: %d %s, want %d containing %s", tc.name, tc.method, tc.path, resp.StatusCode, body, tc.wantStatus, tc.wantBody)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run returned %v after its context ended, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop after its context ended")
	}
}
