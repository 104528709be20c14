{{/* Chart name, overridable. */}}
{{- define "securestack.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Resource name prefix: release-chart, or just the release when it already contains the chart name. */}}
{{- define "securestack.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Selector labels: stable across upgrades, so they must never include the version. */}}
{{- define "securestack.selectorLabels" -}}
app.kubernetes.io/name: {{ include "securestack.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "securestack.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "securestack.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: securestack
{{- end -}}

{{- define "securestack.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "securestack.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Image reference: a digest wins over a tag; the tag defaults to the chart's appVersion. */}}
{{- define "securestack.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The reports Service scan Jobs upload to: <fullname>-reports, a DNS-1035 label. */}}
{{- define "securestack.reportsServiceName" -}}
{{- printf "%s-reports" (include "securestack.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Image of the uploader step in scan Jobs: scanning.uploaderImage, else the operator's own image. */}}
{{- define "securestack.uploaderImage" -}}
{{- default (include "securestack.image" .) .Values.scanning.uploaderImage -}}
{{- end -}}

{{/* A list (or an already comma-separated string) as one comma-separated string. */}}
{{- define "securestack.csv" -}}
{{- if kindIs "string" . -}}
{{- . -}}
{{- else -}}
{{- join "," (default (list) .) -}}
{{- end -}}
{{- end -}}

{{/* The Service the API server calls for admission: the chart's main Service, port 443 -> webhook. */}}
{{- define "securestack.webhookServiceName" -}}
{{- include "securestack.fullname" . -}}
{{- end -}}

{{/* Name of the ValidatingWebhookConfiguration the leader keeps: webhook.configurationName, else the fullname. */}}
{{- define "securestack.webhookConfigurationName" -}}
{{- default (include "securestack.fullname" .) .Values.webhook.configurationName -}}
{{- end -}}

{{/* Names the cert-manager serving Certificate covers: how the API server reaches the Service. */}}
{{- define "securestack.webhookDnsNames" -}}
{{- $host := printf "%s.%s.svc" (include "securestack.webhookServiceName" .) .Release.Namespace -}}
{{- list $host (printf "%s.cluster.local" $host) | toJson -}}
{{- end -}}

{{/*
Fails the render on webhook values the operator would reject at start (where a template can
tell), so a bad value stops `helm install` instead of crash-looping the pods.
*/}}
{{- define "securestack.validateWebhook" -}}
{{- if not (has .Values.webhook.failurePolicy (list "Fail" "Ignore")) -}}
{{- fail (printf "webhook.failurePolicy must be Fail or Ignore, got %v" .Values.webhook.failurePolicy) -}}
{{- end -}}
{{- $timeout := .Values.webhook.timeoutSeconds | int -}}
{{- if or (lt $timeout 1) (gt $timeout 30) -}}
{{- fail (printf "webhook.timeoutSeconds must be between 1 and 30 (the API's limit), got %v" .Values.webhook.timeoutSeconds) -}}
{{- end -}}
{{- end -}}

{{/*
A Prometheus alert template action: "$value | humanize" becomes that expression between double
braces in the rendered rule. Built from brace codes (123, 125) so Helm does not read it as its own.
*/}}
{{- define "securestack.prom" -}}
{{- printf "%c%c %s %c%c" 123 123 . 125 125 -}}
{{- end -}}
