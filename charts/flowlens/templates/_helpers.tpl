{{/* Names, labels and image references shared by the templates. */}}

{{- define "flowlens.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: names the operator's Deployment, ServiceAccount, RBAC and Services. */}}
{{- define "flowlens.fullname" -}}
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

{{/* The operator's own names; the full name is cut, never the suffix (and "-metrics" still fits in 63). */}}
{{- define "flowlens.operatorName" -}}
{{- printf "%s-operator" (include "flowlens.fullname" . | trunc 46 | trimSuffix "-") -}}
{{- end -}}

{{- define "flowlens.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The recommended labels of what the chart itself creates. */}}
{{- define "flowlens.labels" -}}
helm.sh/chart: {{ include "flowlens.chart" . }}
app.kubernetes.io/name: {{ include "flowlens.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: flowlens
{{- end -}}

{{- define "flowlens.operatorSelectorLabels" -}}
app.kubernetes.io/name: {{ include "flowlens.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "flowlens.operatorLabels" -}}
{{ include "flowlens.labels" . }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "flowlens.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "flowlens.operatorName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* repository[:tag][@digest] of an image value; the tag defaults to the chart's appVersion. */}}
{{- define "flowlens.imageRef" -}}
{{- $tag := default .root.Chart.AppVersion .image.tag -}}
{{- if .image.digest -}}
{{- printf "%s:%s@%s" .image.repository $tag .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Where the operator's metrics Service and the monitors look for managed objects. */}}
{{- define "flowlens.watchNamespaces" -}}
{{- with .Values.operator.watchNamespaces -}}
matchNames:
  {{- toYaml . | nindent 2 }}
{{- else -}}
any: true
{{- end -}}
{{- end -}}
