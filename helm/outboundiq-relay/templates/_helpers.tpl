{{/*
Expand the name of the chart.
*/}}
{{- define "outboundiq-relay.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name.
We truncate at 63 chars because some Kubernetes name fields are limited to this (by the DNS naming spec).
If release name contains chart name it will be used as a full name.
*/}}
{{- define "outboundiq-relay.fullname" -}}
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

{{/*
Create chart name and version as used by the chart label.
*/}}
{{- define "outboundiq-relay.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels
*/}}
{{- define "outboundiq-relay.labels" -}}
helm.sh/chart: {{ include "outboundiq-relay.chart" . }}
{{ include "outboundiq-relay.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels
*/}}
{{- define "outboundiq-relay.selectorLabels" -}}
app.kubernetes.io/name: {{ include "outboundiq-relay.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Create the name of the service account to use
*/}}
{{- define "outboundiq-relay.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "outboundiq-relay.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Render-time checks: a wrong combination fails `helm install` with a message saying what to set.
*/}}
{{- define "outboundiq-relay.validate" -}}
{{- $backend := .Values.queue.backend -}}
{{- if eq $backend "sqlite" -}}
{{- if gt (int .Values.replicaCount) 1 -}}
{{- fail (printf "replicaCount=%d with queue.backend=sqlite: the SQLite queue file belongs to one pod. Set replicaCount=1, or use queue.backend=redis to run several replicas." (int .Values.replicaCount)) -}}
{{- end -}}
{{- if .Values.autoscaling.enabled -}}
{{- fail "autoscaling.enabled=true with queue.backend=sqlite: the SQLite queue file belongs to one pod. Use queue.backend=redis to autoscale." -}}
{{- end -}}
{{- else if eq $backend "redis" -}}
{{- if not (or .Values.queue.redis.url .Values.queue.redis.existingSecret.name) -}}
{{- fail "queue.backend=redis needs the Redis URL: set queue.redis.existingSecret.name (and .key) to a Secret holding it, or queue.redis.url (e.g. redis://:PASSWORD@redis-master:6379/0)." -}}
{{- end -}}
{{- else -}}
{{- fail (printf "queue.backend=%q: use sqlite or redis." $backend) -}}
{{- end -}}
{{- range .Values.ingress.hosts }}
{{- range .paths }}
{{- include "outboundiq-relay.publicPath" .path }}
{{- end }}
{{- end }}
{{- if .Values.httpRoute.enabled }}
{{- range .Values.httpRoute.rules }}
{{- range .matches }}
{{- include "outboundiq-relay.publicPath" (.path | default dict).value }}
{{- end }}
{{- end }}
{{- end }}
{{- if .Values.console.ingress.enabled }}
{{- if not (or .Values.admin.token .Values.admin.existingSecret.name) }}
{{- fail "console.ingress.enabled=true needs the console: set admin.existingSecret.name (or admin.token)." -}}
{{- end }}
{{- range .Values.ingress.hosts }}
{{- if eq .host $.Values.console.ingress.host }}
{{- fail (printf "console.ingress.host=%s is a host of the public ingress: serve the console on an internal host of its own." .host) -}}
{{- end }}
{{- end }}
{{- end }}
{{- $drain := add (int .Values.preStopSleepSeconds) (int .Values.relay.shutdownGraceSeconds) -}}
{{- if le (int .Values.terminationGracePeriodSeconds) (int $drain) -}}
{{- fail (printf "terminationGracePeriodSeconds=%d must exceed preStopSleepSeconds + relay.shutdownGraceSeconds (%d), or in-flight deliveries are killed." (int .Values.terminationGracePeriodSeconds) (int $drain)) -}}
{{- end -}}
{{- end }}

{{/*
A path the public Ingress or HTTPRoute routes: /hooks is what dialers need; /, /console, /admin
(or anything routing them) would put the operator's pages on the dialers' public host.
*/}}
{{- define "outboundiq-relay.publicPath" -}}
{{- $path := . | default "/" -}}
{{- if or (eq $path "/") (hasPrefix "/console" $path) (hasPrefix "/admin" $path) -}}
{{- fail (printf "path %s would route /console or /admin through the public ingress: route /hooks only; for the console use console.ingress (an internal host) or kubectl port-forward." $path) -}}
{{- end -}}
{{- end }}

{{/*
The chart's own Secret, and whether there is anything to put in it.
*/}}
{{- define "outboundiq-relay.secretName" -}}
{{- include "outboundiq-relay.fullname" . }}
{{- end }}

{{- define "outboundiq-relay.chartSecretNeeded" -}}
{{- $redis := and (eq .Values.queue.backend "redis") .Values.queue.redis.url (not .Values.queue.redis.existingSecret.name) -}}
{{- $key := and .Values.outboundiq.apiKey (not .Values.outboundiq.existingSecret.name) -}}
{{- $admin := and .Values.admin.token (not .Values.admin.existingSecret.name) -}}
{{- if or $redis $key $admin .Values.secretEnv.values }}true{{ end -}}
{{- end }}

{{/*
ConfigMap of custom mapping modules, if any.
*/}}
{{- define "outboundiq-relay.mappingsConfigMap" -}}
{{- if .Values.mappings.existingConfigMap -}}
{{- .Values.mappings.existingConfigMap -}}
{{- else if .Values.mappings.modules -}}
{{- printf "%s-mappings" (include "outboundiq-relay.fullname" .) -}}
{{- end -}}
{{- end }}
