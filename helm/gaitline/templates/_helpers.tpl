{{- define "gaitline.name" -}}{{ .Release.Name | trunc 40 | trimSuffix "-" }}-gaitline{{- end -}}

{{- define "gaitline.labels" -}}
app.kubernetes.io/name: gaitline
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "gaitline.selector" -}}
app.kubernetes.io/name: gaitline
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .stage }}
{{- end -}}

{{- define "gaitline.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "gaitline.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ .Values.serviceAccount.name | default (include "gaitline.name" .) }}
{{- else -}}{{ .Values.serviceAccount.name | default "default" }}{{- end -}}
{{- end -}}

{{/* The topic declaration of streams/topics.py (files/topics.yaml, generated). */}}
{{- define "gaitline.topics" -}}
{{ .Files.Get "files/topics.yaml" }}
{{- end -}}

{{/* A topic or consumer group's name on the broker: the namespace prefixes it. */}}
{{- define "gaitline.prefixed" -}}
{{ if .root.Values.kafka.namespace }}{{ .root.Values.kafka.namespace }}.{{ end }}{{ .name }}
{{- end -}}

{{/* Is the autoscaler of a stage KEDA, a plain HPA, or none? ("keda", "hpa" or "") */}}
{{- define "gaitline.autoscaler" -}}
{{- $v := index .root.Values .stage -}}
{{- if and $v.autoscaling $v.autoscaling.enabled -}}
{{- if .root.Capabilities.APIVersions.Has "keda.sh/v1alpha1/ScaledObject" -}}keda{{- else -}}hpa{{- end -}}
{{- end -}}
{{- end -}}

{{/* The pod-level part every pod shares: service account, security context, pull secrets, placement. */}}
{{- define "gaitline.podSpec" -}}
{{- $v := index .root.Values .stage -}}
serviceAccountName: {{ include "gaitline.serviceAccountName" .root }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .root.Values.image.pullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
terminationGracePeriodSeconds: {{ .root.Values.terminationGracePeriodSeconds }}
{{- $gpu := and (eq .stage "embed") .root.Values.embed.gpu.enabled }}
{{- if and $gpu .root.Values.embed.gpu.runtimeClassName }}
runtimeClassName: {{ .root.Values.embed.gpu.runtimeClassName }}
{{- end }}
{{- $nodeSelector := merge (dict) (ternary .root.Values.embed.gpu.nodeSelector (dict) $gpu) ($v.nodeSelector | default .root.Values.nodeSelector) }}
{{- with $nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- $tolerations := concat ($v.tolerations | default .root.Values.tolerations) (ternary .root.Values.embed.gpu.tolerations (list) $gpu) }}
{{- with $tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with ($v.affinity | default .root.Values.affinity) }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The container-level part every container shares. */}}
{{- define "gaitline.container" -}}
image: {{ include "gaitline.image" .root | quote }}
imagePullPolicy: {{ .root.Values.image.pullPolicy }}
securityContext:
  {{- toYaml .root.Values.containerSecurityContext | nindent 2 }}
{{- end -}}

{{/* Environment every process shares: logs, HOME on the writable /tmp, where Kafka is and how to authenticate. */}}
{{- define "gaitline.env" -}}
- name: GAITLINE_LOG_FORMAT
  value: {{ .Values.logging.format | quote }}
- name: GAITLINE_LOG_LEVEL
  value: {{ .Values.logging.level | quote }}
- name: HOME
  value: /tmp
- name: GAITLINE_KAFKA_BOOTSTRAP
  value: {{ .Values.kafka.bootstrap | quote }}
- name: GAITLINE_KAFKA_NAMESPACE
  value: {{ .Values.kafka.namespace | quote }}
- name: GAITLINE_KAFKA_SECURITY_PROTOCOL
  value: {{ .Values.kafka.securityProtocol | quote }}
{{- if .Values.kafka.credentialsSecret }}
- name: GAITLINE_KAFKA_SASL_MECHANISM
  value: {{ .Values.kafka.saslMechanism | quote }}
- name: GAITLINE_KAFKA_SASL_USERNAME
  valueFrom: {secretKeyRef: {name: {{ .Values.kafka.credentialsSecret }}, key: username}}
- name: GAITLINE_KAFKA_SASL_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ .Values.kafka.credentialsSecret }}, key: password}}
{{- end }}
{{- if .Values.kafka.tls.caSecret }}
- name: GAITLINE_KAFKA_SSL_CAFILE
  value: /etc/gaitline/kafka/ca/ca.crt
{{- end }}
{{- if .Values.kafka.tls.clientCertSecret }}
- name: GAITLINE_KAFKA_SSL_CERTFILE
  value: /etc/gaitline/kafka/client/tls.crt
- name: GAITLINE_KAFKA_SSL_KEYFILE
  value: /etc/gaitline/kafka/client/tls.key
{{- end }}
{{- end -}}

{{/* Volumes every pod shares: the writable /tmp and the Kafka TLS material. */}}
{{- define "gaitline.volumes" -}}
- name: tmp
  emptyDir: {}
{{- if .Values.kafka.tls.caSecret }}
- name: kafka-ca
  secret: {secretName: {{ .Values.kafka.tls.caSecret }}, defaultMode: 0440, items: [{key: ca.crt, path: ca.crt}]}
{{- end }}
{{- if .Values.kafka.tls.clientCertSecret }}
- name: kafka-client
  secret: {secretName: {{ .Values.kafka.tls.clientCertSecret }}, defaultMode: 0440}
{{- end }}
{{- end -}}

{{- define "gaitline.volumeMounts" -}}
- {name: tmp, mountPath: /tmp}
{{- if .Values.kafka.tls.caSecret }}
- {name: kafka-ca, mountPath: /etc/gaitline/kafka/ca, readOnly: true}
{{- end }}
{{- if .Values.kafka.tls.clientCertSecret }}
- {name: kafka-client, mountPath: /etc/gaitline/kafka/client, readOnly: true}
{{- end }}
{{- end -}}

{{/* Liveness and readiness: the stage's metrics server answers while the process runs. */}}
{{- define "gaitline.probes" -}}
ports:
  - name: metrics
    containerPort: {{ .port }}
livenessProbe:
  httpGet: {path: /metrics, port: metrics}
  initialDelaySeconds: 20
  periodSeconds: 15
readinessProbe:
  httpGet: {path: /metrics, port: metrics}
  periodSeconds: 10
{{- end -}}

{{/* The metrics Service of a stage. */}}
{{- define "gaitline.metricsService" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "gaitline.name" .root }}-{{ .stage }}
  labels:
    {{- include "gaitline.labels" .root | nindent 4 }}
    app.kubernetes.io/component: {{ .stage }}
spec:
  {{- if .headless }}
  clusterIP: None
  {{- end }}
  selector: {{- include "gaitline.selector" . | nindent 4 }}
  ports:
    {{- if .httpPort }}
    - {name: http, port: {{ .httpPort }}, targetPort: http}
    {{- end }}
    - {name: metrics, port: {{ .port }}, targetPort: metrics}
{{- end -}}
