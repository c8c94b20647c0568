{{- /*
The alert rules, scoped to this release: every selector names the release's namespace and the
`release` and `stage` labels the ServiceMonitor's relabelings put on each target (a Prometheus
without the operator needs the same relabelings: docs/operations.md). Each rule is correct when a
series is absent: stages are summed with `sum by (stage)` over a name regex (never `a + b`, which is
empty when one side never had a sample), a stage with no target at all is caught with `or vector(0)`,
and the cameras the network declares are recorded as series, so a camera that never delivered a
frame is missing from the delivering ones. Tests: tests/integration/test_alerts_rules.py (promtool).
*/ -}}
{{- define "gaitline.alertRules" -}}
{{- $sel := printf "namespace=%q,release=%q" .Release.Namespace .Release.Name }}
{{- $m := .Values.monitoring }}
{{- $t := $m.thresholds }}
{{- $runbooks := $m.runbookBaseUrl | trimSuffix "/" }}
{{- $stages := list "frames" "embed" "index" "track" }}
{{- if .Values.api.enabled }}{{ $stages = append $stages "api" }}{{ end }}
{{- $groupRe := printf "%sgaitline-(embed|index|track)" (ternary (printf "%s\\\\." (.Values.kafka.namespace | replace "." "\\\\.")) "" (ne .Values.kafka.namespace "")) }}
groups:
  - name: gaitline-{{ .Release.Namespace }}-{{ .Release.Name }}.records
    rules:
      # one series per camera the network declares: what GaitlineCameraSilent expects to deliver
      - record: gaitline:frames_camera_configured:info
        expr: >-
          {{- range $i, $c := .Values.network.cameras }}
          {{ if $i }}or {{ end }}label_replace(vector(1), "camera", {{ $c.id | quote }}, "", "")
          {{- end }}
        labels: {namespace: {{ .Release.Namespace | quote }}, release: {{ .Release.Name | quote }}}
  - name: gaitline-{{ .Release.Namespace }}-{{ .Release.Name }}
    rules:
      {{- range $stage := $stages }}
      - alert: GaitlineStageDown
        expr: (sum(up{ {{- $sel }},stage="{{ $stage }}"}) or vector(0)) == 0
        for: 2m
        labels: {severity: critical, stage: {{ $stage }}, namespace: {{ $.Release.Namespace | quote }}, release: {{ $.Release.Name | quote }}}
        annotations:
          summary: No {{ $stage }} process of {{ $.Release.Name }} answers on /metrics
          description: Every {{ $stage }} target is down or gone (a crash loop, an unschedulable pod, a deleted Deployment).
          runbook_url: {{ $runbooks }}/GaitlineStageDown.md
      {{- end }}
      - alert: GaitlineTargetDown
        expr: up{ {{- $sel }},stage=~"frames|embed|index|track|api"} == 0
        for: 5m
        labels: {severity: warning}
        annotations:
          summary: "A {{`{{ $labels.stage }}`}} process does not answer on /metrics ({{`{{ $labels.instance }}`}})"
          description: The process crashed or hangs; Kubernetes restarts it after its liveness probe fails.
          runbook_url: {{ $runbooks }}/GaitlineStageDown.md
      - alert: GaitlineCameraSilent
        expr: >-
          gaitline:frames_camera_configured:info{ {{- $sel }}}
          unless on (camera)
          (sum by (camera) (rate(gaitline_frames_frames_total{ {{- $sel }}}[5m])) > 0)
        for: 5m
        labels: {severity: critical}
        annotations:
          summary: "Camera {{`{{ $labels.camera }}`}} delivers no frames"
          description: The source stalled, keeps reconnecting, or never delivered a frame; see gaitline_frames_reconnects_total.
          runbook_url: {{ $runbooks }}/GaitlineCameraSilent.md
      - alert: GaitlineCameraReconnecting
        expr: sum by (camera) (increase(gaitline_frames_reconnects_total{ {{- $sel }}}[15m])) > 3
        labels: {severity: warning}
        annotations:
          summary: "Camera {{`{{ $labels.camera }}`}} reconnected {{`{{ $value }}`}} times in 15 minutes"
          description: The stream drops; its frames are lost while it reconnects.
          runbook_url: {{ $runbooks }}/GaitlineCameraSilent.md
      - alert: GaitlineWindowsMostlyDropped
        expr: >-
          sum by (camera) (rate(gaitline_frames_windows_dropped_total{ {{- $sel }}}[15m]))
          / (sum by (camera) (rate(gaitline_frames_windows_dropped_total{ {{- $sel }}}[15m]))
             + (sum by (camera) (rate(gaitline_frames_windows_published_total{ {{- $sel }}}[15m])) or sum by (camera) (rate(gaitline_frames_windows_dropped_total{ {{- $sel }}}[15m])) * 0))
          > 0.8
        for: 30m
        labels: {severity: warning}
        annotations:
          summary: "Camera {{`{{ $labels.camera }}`}} drops {{`{{ $value | humanizePercentage }}`}} of its windows"
          description: Its silhouettes are mostly rejected as low quality (lighting, a moved camera, crowds).
          runbook_url: {{ $runbooks }}/GaitlineWindowsMostlyDropped.md
      - alert: GaitlineConsumerLagHigh
        expr: sum by (stage) ({__name__=~"gaitline_(embed|index|track)_consumer_lag_records", {{- $sel }}}) > {{ $t.lagRecords }}
        for: 10m
        labels: {severity: warning}
        annotations:
          summary: "The {{`{{ $labels.stage }}`}} stage is falling behind ({{`{{ $value }}`}} records wait, its workers say)"
          description: Autoscaling may be at its maximum, or a worker is stuck.
          runbook_url: {{ $runbooks }}/GaitlineConsumerLagHigh.md
      {{- if $m.brokerLag }}
      - alert: GaitlineBrokerLagHigh
        expr: sum by (consumergroup) (kafka_consumergroup_lag{consumergroup=~"{{ $groupRe }}"}) > {{ $t.lagRecords }}
        for: 10m
        labels: {severity: warning, namespace: {{ .Release.Namespace | quote }}, release: {{ .Release.Name | quote }}}
        annotations:
          summary: "Group {{`{{ $labels.consumergroup }}`}} is {{`{{ $value }}`}} records behind (the broker says)"
          description: Counted by the broker, so it stays true when the stage's workers are dead or stuck.
          runbook_url: {{ $runbooks }}/GaitlineConsumerLagHigh.md
      - alert: GaitlineBrokerLagUnseen
        expr: absent(kafka_consumergroup_lag{consumergroup=~"{{ $groupRe }}"})
        for: 30m
        labels: {severity: info, namespace: {{ .Release.Namespace | quote }}, release: {{ .Release.Name | quote }}}
        annotations:
          summary: Prometheus sees no broker-side lag for gaitline's consumer groups
          description: kafka-exporter is not scraped (or the groups never committed); GaitlineBrokerLagHigh cannot fire.
          runbook_url: {{ $runbooks }}/GaitlineConsumerLagHigh.md
      {{- end }}
      - alert: GaitlineDeadLetters
        expr: sum by (stage) (rate({__name__=~"gaitline_(embed|index|track)_deadlettered_total", {{- $sel }}}[5m])) > {{ $t.deadLettersPerSecond }}
        for: 5m
        labels: {severity: warning}
        annotations:
          summary: "The {{`{{ $labels.stage }}`}} stage dead-letters {{`{{ $value | humanize }}`}} records per second"
          description: "Read deadletter.v1: each record names the stage and the reason."
          runbook_url: {{ $runbooks }}/GaitlineDeadLetters.md
      - alert: GaitlineNoSightingsStored
        expr: >-
          (sum(rate(gaitline_frames_windows_published_total{ {{- $sel }}}[15m])) > 0)
          unless (sum(rate(gaitline_track_sightings_stored_total{ {{- $sel }}}[15m])) > 0)
        for: 15m
        labels: {severity: critical}
        annotations:
          summary: Windows are published but no sighting reaches the store
          description: A stage between frames and the store drops or holds everything; follow the lag and dead letters.
          runbook_url: {{ $runbooks }}/GaitlineNoSightingsStored.md
      - alert: GaitlineEndToEndSlow
        expr: histogram_quantile(0.95, sum by (le) (rate(gaitline_track_end_to_end_seconds_bucket{ {{- $sel }}}[10m]))) > {{ $t.endToEndP95Seconds }}
        for: 15m
        labels: {severity: warning}
        annotations:
          summary: p95 window-closed to sighting-stored latency above {{ $t.endToEndP95Seconds }} s
          description: "p95 is {{`{{ $value | humanizeDuration }}`}}."
          runbook_url: {{ $runbooks }}/GaitlineEndToEndSlow.md
      - alert: GaitlineStoreWritesSlow
        expr: histogram_quantile(0.95, sum by (le) (rate(gaitline_track_store_write_seconds_bucket{ {{- $sel }}}[10m]))) > 1
        for: 10m
        labels: {severity: warning}
        annotations:
          summary: p95 of the track stage's store writes above 1 s
          description: "p95 is {{`{{ $value | humanizeDuration }}`}}; PostgreSQL is overloaded or far away."
          runbook_url: {{ $runbooks }}/GaitlineStoreWritesSlow.md
      - alert: GaitlineStoreUnavailable
        expr: sum(increase(gaitline_track_store_errors_total{kind="unavailable", {{- $sel }}}[5m])) > 0
        for: 5m
        labels: {severity: critical}
        annotations:
          summary: the track stage cannot reach the store
          description: "Sightings wait uncommitted on sightings.v1 (nothing is lost) until the store answers again."
          runbook_url: {{ $runbooks }}/GaitlineStoreUnavailable.md
      - alert: GaitlineGalleryRebuildStuck
        expr: max(gaitline_index_gallery_rebuilding_builds{ {{- $sel }}}) > 0
        for: 30m
        labels: {severity: warning}
        annotations:
          summary: An approximate gallery build has been running for over 30 minutes
          description: Search stays exact (slower) until it ends; the index may be short of CPU or memory.
          runbook_url: {{ $runbooks }}/GaitlineGalleryRebuildStuck.md
      {{- if .Values.api.enabled }}
      - alert: GaitlineApiSlow
        expr: histogram_quantile(0.95, sum by (le) (rate(gaitline_api_request_seconds_bucket{ {{- $sel }},route!="/static"}[10m]))) > {{ $t.apiP95Seconds }}
        for: 10m
        labels: {severity: warning}
        annotations:
          summary: The control room waits more than {{ $t.apiP95Seconds }} s for p95 of its answers
          description: "p95 is {{`{{ $value | humanizeDuration }}`}}; the store (PostgreSQL) is the usual cause."
          runbook_url: {{ $runbooks }}/GaitlineApiSlow.md
      - alert: GaitlineApiFailing
        expr: >-
          sum(rate(gaitline_api_requests_total{ {{- $sel }},code=~"5.."}[5m]))
          / sum(rate(gaitline_api_requests_total{ {{- $sel }}}[5m])) > 0.05
        for: 5m
        labels: {severity: critical}
        annotations:
          summary: "{{`{{ $value | humanizePercentage }}`}} of the control-room API's answers are server errors"
          description: The store is unreachable or a request failed; the API's log has the traceback.
          runbook_url: {{ $runbooks }}/GaitlineApiFailing.md
      - alert: GaitlineApiDenied
        expr: sum(rate(gaitline_api_denied_total{ {{- $sel }}}[5m])) > 1
        for: 10m
        labels: {severity: warning}
        annotations:
          summary: The API refuses more than one request per second
          description: Unknown tokens or missing roles; someone may be guessing tokens. The audit log names who searched.
          runbook_url: {{ $runbooks }}/GaitlineApiDenied.md
      - alert: GaitlineWatchlistWebhookFailing
        expr: sum(increase(gaitline_api_webhook_failures_total{ {{- $sel }}}[15m])) > 0
        for: 5m
        labels: {severity: warning}
        annotations:
          summary: Watchlist alerts do not reach the webhook
          description: "{{`{{ $value | humanize }}`}} alerts in 15 min were refused, timed out or found nobody at GAITLINE_API_WEBHOOK_URL; the control-room page still shows them."
          runbook_url: {{ $runbooks }}/GaitlineWatchlistWebhookFailing.md
      {{- end }}
{{- end -}}
