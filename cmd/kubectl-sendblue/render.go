package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/sendblue-operator/sendblue-operator/controllers/sendblue"
)

// Environment variables of the official Sendblue SDK.
const (
	envKeyID     = "SENDBLUE_API_API_KEY"
	envSecretKey = "SENDBLUE_API_API_SECRET"
	envBaseURL   = "SENDBLUE_API_BASE_URL"
)

// manifest is what export prints besides the adoption itself.
type manifest struct {
	Name, Namespace string
	// Credentials is the credentialsRef of the sets.
	Credentials credentialsRef
	// EnvCredentials are the credentials when they came from the
	// environment (their Secret is then printed or explained); nil when
	// they came from a Secret in the cluster.
	EnvCredentials *sendblue.Credentials
	DeletionPolicy string
	// SecretLabels go on the webhook-secrets Secret (for the manager's
	// --webhook-secret-selector).
	SecretLabels  map[string]string
	IncludeValues bool
	// Account is the account's display label (…0001), or "".
	Account string
}

type credentialsRef struct {
	Name, KeyIDKey, SecretKeyKey string
}

const (
	defaultKeyIDKey     = "apiKeyId"
	defaultSecretKeyKey = "apiSecretKey"
)

func (m manifest) secretsName() string { return m.Name + "-webhook-secrets" }

// setName is the name of the i-th set of the export.
func (m manifest) setName(i int) string {
	if i == 0 {
		return m.Name
	}
	return fmt.Sprintf("%s-%d", m.Name, i+1)
}

// yamlWriter writes YAML by hand so that fields keep the order of the spec
// and comments sit next to what they explain. Every string that comes from
// the account or the command line is written with quote (a YAML
// double-quoted scalar), so that no value can change the document's
// structure or be read as a number or a boolean.
type yamlWriter struct {
	w   io.Writer
	err error
}

func (y *yamlWriter) line(indent int, format string, args ...any) {
	if y.err != nil {
		return
	}
	_, y.err = fmt.Fprintf(y.w, "%s%s\n", strings.Repeat("  ", indent), fmt.Sprintf(format, args...))
}

func (y *yamlWriter) comment(format string, args ...any) {
	y.line(0, "%s", strings.TrimRight("# "+fmt.Sprintf(format, args...), " "))
}

// render prints the manifests of an adoption.
func render(w io.Writer, m manifest, a adoption) error {
	y := &yamlWriter{w: w}
	y.header(m, a)
	y.webhookSecrets(m, a)
	y.credentials(m, len(a.Sets))
	for i, s := range a.Sets {
		y.set(m, i, s)
	}
	return y.err
}

func (y *yamlWriter) header(m manifest, a adoption) {
	account := "the Sendblue account"
	if m.Account != "" {
		account = "Sendblue account " + m.Account
	}
	names := make([]string, len(a.Sets))
	for i := range a.Sets {
		names[i] = quote(m.setName(i))
	}
	y.comment("Exported by kubectl-sendblue from %s: %d webhook(s) declared as they are", account, a.HookCount())
	y.comment("by SendblueWebhookSet %s (policy Merge). Once applied, the operator adopts", strings.Join(names, ", "))
	y.comment("them and finds nothing to change: status.plan stays empty, nothing is written.")
	if a.LeftOut > 0 {
		y.comment("%d thing(s) on the account are not declared (see stderr); Merge leaves them as they are.", a.LeftOut)
	}
	if m.DeletionPolicy == "Orphan" {
		y.comment("deletionPolicy Orphan: deleting a set leaves its webhooks on the account.")
	}
}

func (y *yamlWriter) webhookSecrets(m manifest, a adoption) {
	if len(a.Secrets) == 0 {
		return
	}
	if !m.IncludeValues {
		y.webhookSecretsHint(m, a)
		return
	}
	y.line(0, "---")
	y.secretHead(m.secretsName(), m.Namespace, m.SecretLabels)
	for _, s := range a.Secrets {
		y.line(1, "# %s", s.What)
		y.line(1, "%s: %s", quote(s.Key), quote(s.Value))
	}
}

// webhookSecretsHint explains, in comments, the Secret that is not printed.
func (y *yamlWriter) webhookSecretsHint(m manifest, a adoption) {
	name := m.secretsName()
	y.line(0, "")
	y.comment("The webhook secrets are not printed (--include-secret-values prints them). Until")
	y.comment("the Secret %s exists, %s SecretNotFound and change%s nothing.", quote(name), theSets(len(a.Sets), "reports", "report"), plural(len(a.Sets), "s", ""))
	y.comment("Create it with the values the account holds, exactly: a value that differs is")
	y.comment("written to the account, replacing the webhook's secret.")
	width := 0
	for _, s := range a.Secrets {
		width = max(width, len(s.Key))
	}
	for _, s := range a.Secrets {
		y.comment("  %-*s  %s", width, s.Key, s.What)
	}
	y.comment("")
	y.comment("  kubectl create secret generic %s -n %s \\", name, m.Namespace)
	for i, s := range a.Secrets {
		end := " \\"
		if i == len(a.Secrets)-1 {
			end = ""
		}
		y.comment("    --from-literal=%s=...%s", s.Key, end)
	}
	if len(m.SecretLabels) > 0 {
		y.comment("  kubectl label secret %s -n %s %s", name, m.Namespace, strings.Join(labelPairs(m.SecretLabels), " "))
	}
}

func (y *yamlWriter) credentials(m manifest, sets int) {
	if m.EnvCredentials == nil {
		return
	}
	ref := m.Credentials
	if !m.IncludeValues {
		y.line(0, "")
		y.comment("The credentials are not printed (--include-secret-values prints them); %s", theSets(sets, "reads", "read"))
		y.comment("them from the Secret %s. Create it from the same environment:", quote(ref.Name))
		y.comment("  kubectl create secret generic %s -n %s \\", ref.Name, m.Namespace)
		y.comment("    --from-literal=%s=\"$%s\" --from-literal=%s=\"$%s\"", ref.KeyIDKey, envKeyID, ref.SecretKeyKey, envSecretKey)
		return
	}
	y.line(0, "---")
	y.secretHead(ref.Name, m.Namespace, nil)
	y.line(1, "%s: %s", quote(ref.KeyIDKey), quote(m.EnvCredentials.KeyID))
	y.line(1, "%s: %s", quote(ref.SecretKeyKey), quote(m.EnvCredentials.SecretKey))
}

func (y *yamlWriter) secretHead(name, namespace string, labels map[string]string) {
	y.line(0, "apiVersion: v1")
	y.line(0, "kind: Secret")
	y.line(0, "metadata:")
	y.line(1, "name: %s", quote(name))
	y.line(1, "namespace: %s", quote(namespace))
	if len(labels) > 0 {
		y.line(1, "labels:")
		for _, k := range slices.Sorted(maps.Keys(labels)) {
			y.line(2, "%s: %s", quote(k), quote(labels[k]))
		}
	}
	y.line(0, "type: Opaque")
	y.line(0, "stringData:")
}

func (y *yamlWriter) set(m manifest, i int, s adoptedSet) {
	y.line(0, "---")
	if i > 0 {
		y.comment("A set declares at most %d webhooks, %d per type, each URL once per type (a", maxHooksPerSet, maxHooksPerType)
		y.comment("trailing slash does not make another URL): the account needs more than one.")
	}
	y.line(0, "apiVersion: sendblue.webhooks.dev/v1alpha1")
	y.line(0, "kind: SendblueWebhookSet")
	y.line(0, "metadata:")
	y.line(1, "name: %s", quote(m.setName(i)))
	y.line(1, "namespace: %s", quote(m.Namespace))
	y.line(0, "spec:")
	y.line(1, "credentialsRef:")
	y.line(2, "name: %s", quote(m.Credentials.Name))
	if m.Credentials.KeyIDKey != defaultKeyIDKey {
		y.line(2, "apiKeyIdKey: %s", quote(m.Credentials.KeyIDKey))
	}
	if m.Credentials.SecretKeyKey != defaultSecretKeyKey {
		y.line(2, "apiSecretKeyKey: %s", quote(m.Credentials.SecretKeyKey))
	}
	y.line(1, "policy: Merge")
	y.line(1, "deletionPolicy: %s", m.DeletionPolicy)
	if len(s.Hooks) > 0 {
		y.line(1, "webhooks:")
	}
	var list specList
	for _, h := range s.Hooks {
		if h.List != list {
			list = h.List
			y.line(2, "%s:", list.Field)
		}
		y.line(2, "- url: %s", quote(h.URL))
		if h.SecretKey != "" {
			y.secretRef(3, "secretRef", m.secretsName(), h.SecretKey)
		}
		if len(h.Numbers) > 0 {
			y.line(3, "sendblueNumbers:")
			for _, n := range h.Numbers {
				y.line(3, "- %s", quote(n))
			}
		}
	}
	if s.GlobalSecret != "" {
		y.secretRef(1, "globalSecretRef", m.secretsName(), s.GlobalSecret)
	}
	if s.LegacySecret != "" {
		y.secretRef(1, "legacySecretRef", m.secretsName(), s.LegacySecret)
	}
}

func (y *yamlWriter) secretRef(indent int, field, name, key string) {
	y.line(indent, "%s:", field)
	y.line(indent+1, "name: %s", quote(name))
	y.line(indent+1, "key: %s", quote(key))
}

// theSets is "the set VERB" or "the sets VERB".
func theSets(n int, one, many string) string {
	return "the set" + plural(n, " "+one, "s "+many)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func labelPairs(labels map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		out = append(out, k+"="+labels[k])
	}
	return out
}
