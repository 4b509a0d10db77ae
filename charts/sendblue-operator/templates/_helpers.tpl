{{/* The chart's name, or nameOverride. */}}
{{- define "sendblue-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: the prefix of every object it creates. */}}
{{- define "sendblue-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sendblue-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "sendblue-operator.labels" -}}
helm.sh/chart: {{ include "sendblue-operator.chart" . }}
{{ include "sendblue-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sendblue-operator
{{- end }}

{{/* Labels that select the manager's pods. */}}
{{- define "sendblue-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sendblue-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sendblue-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sendblue-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sendblue-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The manager's rules, generated from the +kubebuilder:rbac markers
(config/rbac/manager/role.yaml, copied by make manifests). */}}
{{- define "sendblue-operator.managerRules" -}}
{{- (.Files.Get "files/manager-role.yaml" | fromYaml).rules | toYaml }}
{{- end }}

{{/* The manager's arguments: leader election, addresses, config, extraArgs. */}}
{{- define "sendblue-operator.args" -}}
{{- $flags := dict
  "sendblueAPIURL" "sendblue-api-url"
  "sendblueAPIPath" "sendblue-api-path"
  "batchWindow" "batch-window"
  "maxConcurrentReconciles" "max-concurrent-reconciles"
  "maxConcurrentSyncs" "max-concurrent-syncs"
  "syncTimeout" "sync-timeout"
  "kubeAPIQPS" "kube-api-qps"
  "kubeAPIBurst" "kube-api-burst"
  "sendblueRequestTimeout" "sendblue-request-timeout"
  "rateLimitRetry" "rate-limit-retry"
  "stalledRetry" "stalled-retry"
  "readRetry" "read-retry"
  "releaseAfter" "release-after"
  "webhookSecretSelector" "webhook-secret-selector"
  "providers" "providers"
  "everlyticEndpoints" "everlytic-endpoints"
  "everlyticRequestTimeout" "everlytic-request-timeout"
  "everlyticMaxConcurrentReconciles" "everlytic-max-concurrent-reconciles"
  "everlyticEndpointPorts" "everlytic-endpoint-ports"
  "logLevel" "zap-log-level"
  "logEncoder" "zap-encoder" }}
- --leader-elect
- --health-probe-bind-address=:8081
{{- if .Values.metrics.enabled }}
- --metrics-bind-address=:{{ .Values.metrics.port }}
{{- else }}
- --metrics-bind-address=0
{{- end }}
{{- with .Values.watchNamespaces }}
- --watch-namespaces={{ join "," . }}
{{- end }}
{{- range $key := keys .Values.config | sortAlpha }}
{{- $flag := get $flags $key }}
{{- if not $flag }}
{{- fail (printf "config.%s is not a manager flag" $key) }}
{{- end }}
{{- $value := get $.Values.config $key }}
{{- if kindIs "slice" $value }}
{{- /* A list (providers, everlyticEndpoints, everlyticEndpointPorts) is the flag's comma-separated value. */}}
{{- $value = join "," $value }}
{{- end }}
- {{ printf "--%s=%v" $flag $value | quote }}
{{- end }}
{{- range .Values.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}
