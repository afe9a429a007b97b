{{/* The chart name, overridable. */}}
{{- define "gatehouse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release-qualified name of every object (63 characters at most). */}}
{{- define "gatehouse.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "gatehouse.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The Redis objects' name. */}}
{{- define "gatehouse.redisName" -}}
{{- printf "%s-redis" (include "gatehouse.fullname" . | trunc 57 | trimSuffix "-") -}}
{{- end -}}

{{/* The Secret the pods read environment variables from. */}}
{{- define "gatehouse.secretName" -}}
{{- .Values.secret.existingSecret | default (include "gatehouse.fullname" .) -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "gatehouse.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "gatehouse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of gatehouse's pods (the Redis pods have their own). */}}
{{- define "gatehouse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gatehouse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gatehouse
{{- end -}}

{{- define "gatehouse.redisSelectorLabels" -}}
app.kubernetes.io/name: {{ include "gatehouse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end -}}

{{/*
gatehouse.yaml: .Values.config verbatim, with server.listen set to
":<containerPort>" and, with redis.enabled, the session store pointed at the
chart's Redis.
*/}}
{{- define "gatehouse.config" -}}
{{- $cfg := deepCopy (.Values.config | default (dict)) -}}
{{- $server := get $cfg "server" | default (dict) -}}
{{- $_ := set $server "listen" (printf ":%d" (int .Values.containerPort)) -}}
{{- $_ := set $cfg "server" $server -}}
{{- if .Values.redis.enabled -}}
{{- $session := get $cfg "session" | default (dict) -}}
{{- $redis := get $session "redis" | default (dict) -}}
{{- $_ := set $redis "url" (printf "redis://%s:6379/0" (include "gatehouse.redisName" .)) -}}
{{- $_ := set $redis "password" "${REDIS_PASSWORD}" -}}
{{- $_ := set $session "store" "redis" -}}
{{- $_ := set $session "redis" $redis -}}
{{- $_ := set $cfg "session" $session -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}
