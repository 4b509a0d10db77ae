package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
)

const defaultCredentialsSecret = "sendblue-credentials"

type exportFlags struct {
	kube                                     kubeFlags
	credentialsSecret, credentialsSecretName string
	keyIDKey, secretKeyKey                   string
	includeValues                            bool
	apiURL, apiPath                          string
	requestTimeout                           time.Duration
	deletionPolicy                           string
	secretLabels                             string
}

func (f *exportFlags) bind(fs *flag.FlagSet, getenv func(string) string) {
	f.kube.bind(fs)
	defaultURL := sendblue.DefaultBaseURL
	if v := strings.TrimSpace(getenv(envBaseURL)); v != "" {
		defaultURL = v
	}
	fs.StringVar(&f.credentialsSecret, "credentials-secret", "", "Read the credentials from the Secret `SECRET` in the namespace, and reference it in credentialsRef. Without it they come from $"+envKeyID+" and $"+envSecretKey+".")
	fs.StringVar(&f.credentialsSecretName, "credentials-secret-name", defaultCredentialsSecret, "With credentials from the environment: the `NAME` of the Secret credentialsRef names (printed with --include-secret-values).")
	fs.StringVar(&f.keyIDKey, "api-key-id-key", defaultKeyIDKey, "The `KEY` of the credentials Secret that holds the API key id (credentialsRef.apiKeyIdKey).")
	fs.StringVar(&f.secretKeyKey, "api-secret-key-key", defaultSecretKeyKey, "The `KEY` of the credentials Secret that holds the API secret key (credentialsRef.apiSecretKeyKey).")
	fs.BoolVar(&f.includeValues, "include-secret-values", false, "Print the webhook-secrets Secret with its values (and, with credentials from the environment, the credentials Secret). Without it no secret value is printed.")
	fs.StringVar(&f.apiURL, "sendblue-api-url", defaultURL, "Sendblue API base `URL` (env "+envBaseURL+"). https only; http only for loopback hosts such as the emulator.")
	fs.StringVar(&f.apiPath, "sendblue-api-path", sendblue.DefaultPath, "`PATH` of the account-webhooks API (or "+sendblue.V2Path+"), as the manager's flag.")
	fs.DurationVar(&f.requestTimeout, "sendblue-request-timeout", sendblue.DefaultTimeout, "Timeout of the Sendblue request.")
	fs.StringVar(&f.deletionPolicy, "deletion-policy", "Orphan", "The set's deletionPolicy, `POLICY`: Orphan leaves the adopted webhooks on the account when the set is deleted; Delete removes them.")
	fs.StringVar(&f.secretLabels, "webhook-secret-labels", "", "`LABELS` for the webhook-secrets Secret, k=v[,k=v]: what the manager's --webhook-secret-selector requires, if it has one.")
}

// runExport reads the account once and prints the manifests that adopt it.
func runExport(ctx context.Context, args []string, stdout, stderr io.Writer, env environment) error {
	var f exportFlags
	fs := newFlagSet("export", stderr)
	f.bind(fs, env.getenv)
	positional, err := parseOrUsage(fs, args, stdout)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		return usageError(fs, "give the name of the SendblueWebhookSet to print, once")
	}
	m, err := f.manifest(fs, positional[0])
	if err != nil {
		return usageError(fs, "%v", err)
	}
	base, err := sendblue.ValidateBaseURL(f.apiURL)
	if err != nil {
		return fmt.Errorf("--sendblue-api-url: %w", err)
	}
	if m.Namespace, err = f.kube.resolveNamespace(); err != nil {
		return err
	}
	creds, err := f.credentials(ctx, env, &m)
	if err != nil {
		return err
	}
	client, err := sendblue.New(f.apiURL, creds, nil, sendblue.WithPath(f.apiPath), sendblue.WithTimeout(f.requestTimeout))
	if err != nil {
		return err
	}
	cfg, err := client.Get(ctx)
	var protocol *sendblue.ProtocolError
	if errors.As(err, &protocol) {
		return fmt.Errorf("reading the account at %s: %w (the operator reads it with the same client, so it cannot manage this account either until Sendblue serves a configuration it can read)", sendblue.SafeURL(base), err)
	}
	if err != nil {
		return fmt.Errorf("reading the account at %s: %w", sendblue.SafeURL(base), err)
	}
	if missing := cfg.MissingTypes(); len(missing) > 0 {
		return fmt.Errorf("the account as read lacks %v, which Sendblue lists in every configuration: the read cannot be the whole account (the operator would not write from it either); try again", missing)
	}
	a := adopt(cfg)
	m.Account = accountLabel(creds.KeyID)
	var out bytes.Buffer
	if err := render(&out, m, a); err != nil {
		return err
	}
	for _, n := range a.Notes {
		fmt.Fprintln(stderr, "warning:", n)
	}
	_, err = out.WriteTo(stdout)
	return err
}

// manifest checks the names the flags give and returns what render needs
// of them.
func (f *exportFlags) manifest(fs *flag.FlagSet, name string) (manifest, error) {
	m := manifest{Name: name, DeletionPolicy: f.deletionPolicy, IncludeValues: f.includeValues,
		Credentials: credentialsRef{Name: f.credentialsSecret, KeyIDKey: f.keyIDKey, SecretKeyKey: f.secretKeyKey}}
	if errs := append(validation.IsDNS1123Subdomain(name), validation.IsDNS1123Subdomain(m.secretsName())...); len(errs) > 0 {
		return m, fmt.Errorf("NAME %q: the set and its Secret %q need DNS-1123 names: %s", name, m.secretsName(), strings.Join(errs, "; "))
	}
	if f.deletionPolicy != "Orphan" && f.deletionPolicy != "Delete" {
		return m, fmt.Errorf("--deletion-policy must be Orphan or Delete, not %q", f.deletionPolicy)
	}
	for flagName, key := range map[string]string{"--api-key-id-key": f.keyIDKey, "--api-secret-key-key": f.secretKeyKey} {
		if errs := validation.IsConfigMapKey(key); len(errs) > 0 {
			return m, fmt.Errorf("%s %q is not a Secret key: %s", flagName, key, strings.Join(errs, "; "))
		}
	}
	if f.keyIDKey == f.secretKeyKey {
		return m, errors.New("--api-key-id-key and --api-secret-key-key must differ")
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if f.credentialsSecret != "" && set["credentials-secret-name"] {
		return m, errors.New("--credentials-secret-name names the Secret of credentials from the environment; with --credentials-secret, that Secret is the one referenced")
	}
	if f.credentialsSecret == "" {
		m.Credentials.Name = f.credentialsSecretName
	}
	if errs := validation.IsDNS1123Subdomain(m.Credentials.Name); len(errs) > 0 {
		return m, fmt.Errorf("credentials Secret %q is not a Secret name: %s", m.Credentials.Name, strings.Join(errs, "; "))
	}
	if m.Credentials.Name == m.secretsName() {
		return m, fmt.Errorf("the credentials Secret cannot be %q, the Secret the webhook secrets are printed in", m.secretsName())
	}
	if f.secretLabels != "" {
		l, err := labels.ConvertSelectorToLabelsMap(f.secretLabels)
		if err != nil {
			return m, fmt.Errorf("--webhook-secret-labels: %w", err)
		}
		m.SecretLabels = l
	}
	return m, nil
}

// credentials reads the account's credentials from the Secret the flags
// name, or from the environment as the official SDK does (trimmed; empty
// counts as unset). Errors name where a value is, never the value.
func (f *exportFlags) credentials(ctx context.Context, env environment, m *manifest) (sendblue.Credentials, error) {
	if f.credentialsSecret == "" {
		id, secret := strings.TrimSpace(env.getenv(envKeyID)), strings.TrimSpace(env.getenv(envSecretKey))
		if id == "" || secret == "" {
			return sendblue.Credentials{}, fmt.Errorf("no credentials: give --credentials-secret SECRET, or set both %s and %s", envKeyID, envSecretKey)
		}
		for name, v := range map[string]string{envKeyID: id, envSecretKey: secret} {
			if p := valueProblem(v, true); p != "" {
				return sendblue.Credentials{}, fmt.Errorf("$%s %s: the operator would refuse it in a Secret", name, p)
			}
		}
		creds := sendblue.Credentials{KeyID: id, SecretKey: secret}
		m.EnvCredentials = &creds
		return creds, nil
	}
	c, err := env.connect(f.kube)
	if err != nil {
		return sendblue.Credentials{}, err
	}
	where := fmt.Sprintf("Secret %s/%s", m.Namespace, f.credentialsSecret)
	s, err := c.Secret(ctx, m.Namespace, f.credentialsSecret)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return sendblue.Credentials{}, fmt.Errorf("--credentials-secret: %s not found", where)
		}
		return sendblue.Credentials{}, fmt.Errorf("reading %s: %w", where, err)
	}
	values := make([]string, 2)
	for i, key := range []string{f.keyIDKey, f.secretKeyKey} {
		v, ok := s.Data[key]
		if !ok {
			return sendblue.Credentials{}, fmt.Errorf("%s has no key %q (see --api-key-id-key, --api-secret-key-key)", where, key)
		}
		if p := valueProblem(string(v), true); p != "" {
			return sendblue.Credentials{}, fmt.Errorf("key %q of %s %s: the operator would refuse it (InvalidSpec)", key, where, p)
		}
		values[i] = string(v)
	}
	return sendblue.Credentials{KeyID: values[0], SecretKey: values[1]}, nil
}

// accountLabel is the operator's status.account: the key id's last four
// characters, or "" when the key id is too short to show any.
func accountLabel(keyID string) string {
	if len(keyID) <= 4 {
		return ""
	}
	return "…" + keyID[len(keyID)-4:]
}
