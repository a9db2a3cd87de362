{{/* A Dask worker pod spec for one resource class: the labstream image (stage code), the same
     settings and credentials as the watchers, `--resources` for placement, requests for the node pool. */}}
{{- define "labstream.daskWorkerSpec" -}}
{{- $ := .root -}}
{{- $g := .group -}}
serviceAccountName: {{ include "labstream.fullname" $ }}
automountServiceAccountToken: false
securityContext:
  {{- include "labstream.podSecurity" $ | nindent 2 }}
{{- with $g.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $g.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
containers:
  - name: worker
    image: {{ $.Values.dask.image | default (include "labstream.image" $) }}
    imagePullPolicy: {{ $.Values.image.pullPolicy }}
    command: ["dask"]
    args:
      - worker
      - --name
      - $(DASK_WORKER_NAME)
      - --nthreads
      - {{ $g.threads | quote }}
      - --memory-limit
      - {{ $g.resources.memory | quote }}
      - --dashboard-address
      - "8788"
      {{- with $g.daskResources }}
      - --resources
      - {{ include "labstream.daskResources" . | quote }}
      {{- end }}
    ports:
      - name: http-dashboard
        containerPort: 8788
    {{- include "labstream.env" $ | nindent 4 }}
    readinessProbe:
      httpGet:
        path: /health
        port: http-dashboard
    livenessProbe:
      httpGet:
        path: /health
        port: http-dashboard
      periodSeconds: 20
    resources:
      {{- include "labstream.resources" $g.resources | nindent 6 }}
    securityContext:
      {{- include "labstream.containerSecurity" $ | nindent 6 }}
    volumeMounts:
      {{- include "labstream.volumeMounts" $ | nindent 6 }}
volumes:
  - name: home
    emptyDir: {}
  - name: tmp
    emptyDir: {}
  {{- if eq $.Values.stream.mode "strimzi" }}
  - name: kafka-ca
    secret:
      secretName: {{ include "labstream.kafkaCluster" $ }}-cluster-ca-cert
      items:
        - key: ca.crt
          path: ca.crt
  {{- end }}
{{- end -}}

{{- define "labstream.daskResources" -}}
{{- $parts := list -}}
{{- range $k, $v := . -}}
{{- $parts = append $parts (printf "%s=%v" $k $v) -}}
{{- end -}}
{{- join " " $parts -}}
{{- end -}}
