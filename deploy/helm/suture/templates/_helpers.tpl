{{/* The chart's name, its resources' base name, and their labels. */}}
{{- define "suture.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "suture.fullname" -}}
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

{{- define "suture.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "suture.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component (web, worker, agent-worker, scheduler, migrate). */}}
{{- define "suture.selector" -}}
app.kubernetes.io/name: {{ include "suture.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "suture.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "suture.secretName" -}}
{{- default (printf "%s-secrets" (include "suture.fullname" .)) .Values.existingSecret -}}
{{- end -}}

{{- define "suture.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "suture.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Settings: the ConfigMap's variables, then the Secret's; neither is inlined in a pod. */}}
{{- define "suture.envFrom" -}}
- configMapRef:
    name: {{ include "suture.fullname" . }}-config
- secretRef:
    name: {{ include "suture.secretName" . }}
{{- end -}}

{{/* Pod-level settings every suture pod shares; `.seccomp` overrides the profile. */}}
{{- define "suture.podSpecCommon" -}}
serviceAccountName: {{ include "suture.serviceAccountName" . }}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Volumes: the read-only root needs writable /tmp, data and heartbeat folders. */}}
{{- define "suture.volumes" -}}
- name: tmp
  emptyDir: {}
- name: run
  emptyDir: {medium: Memory, sizeLimit: 1Mi}
- name: data
  emptyDir: {}
{{- if .Values.configToml }}
- name: config-toml
  configMap:
    name: {{ include "suture.fullname" . }}-config
    items: [{key: suture.toml, path: suture.toml}]
{{- end }}
{{- end -}}

{{- define "suture.volumeMounts" -}}
- {name: tmp, mountPath: /tmp}
- {name: run, mountPath: /var/run/suture}
- {name: data, mountPath: {{ .Values.dataDir }}}
{{- if .Values.configToml }}
- {name: config-toml, mountPath: /etc/suture, readOnly: true}
{{- end }}
{{- end -}}

{{/* The process's liveness: its heartbeat only (a database outage must not restart it). */}}
{{- define "suture.heartbeatProbes" -}}
startupProbe:
  exec: {command: [suture, health, --liveness]}
  periodSeconds: 5
  failureThreshold: 60
livenessProbe:
  exec: {command: [suture, health, --liveness]}
  periodSeconds: 30
  timeoutSeconds: 20
  failureThreshold: 3
readinessProbe:
  exec: {command: [suture, health]}
  periodSeconds: 30
  timeoutSeconds: 20
  failureThreshold: 3
{{- end -}}
