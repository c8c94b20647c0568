{{- define "gaitline.name" -}}{{ .Release.Name }}-gaitline{{- end -}}

{{- define "gaitline.labels" -}}
app.kubernetes.io/name: gaitline
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "gaitline.selector" -}}
app.kubernetes.io/name: gaitline
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .stage }}
{{- end -}}

{{/* Environment every stage shares: where Kafka is and how to authenticate. */}}
{{- define "gaitline.kafkaEnv" -}}
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
