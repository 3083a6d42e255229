{{/* Names, labels and small helpers of the airoute chart. */}}

{{- define "airoute.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "airoute.fullname" -}}
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

{{/* "<fullname>-<suffix>" in at most 63 characters (a DNS label: Service names, label values):
the full name is shortened, never the suffix, so that the chart's names stay distinct.
Call with (dict "root" $ "suffix" "controller-metrics"). */}}
{{- define "airoute.nameWith" -}}
{{- $room := sub 62 (len .suffix) | int -}}
{{- printf "%s-%s" (include "airoute.fullname" .root | trunc $room | trimSuffix "-") .suffix -}}
{{- end -}}

{{- define "airoute.controller.fullname" -}}{{ include "airoute.nameWith" (dict "root" . "suffix" "controller") }}{{- end -}}
{{- define "airoute.gateway.fullname" -}}{{ include "airoute.nameWith" (dict "root" . "suffix" "gateway") }}{{- end -}}

{{/* The KopfPeering the controller replicas of this release share, in each served namespace:
named after the release and its namespace, so that two releases never share one. */}}
{{- define "airoute.peeringName" -}}
{{- printf "%s.%s" (include "airoute.fullname" .) .Release.Namespace | trunc 253 | trimSuffix "." -}}
{{- end -}}

{{- define "airoute.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "airoute.labels" -}}
helm.sh/chart: {{ include "airoute.chart" . }}
app.kubernetes.io/name: {{ include "airoute.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: airoute
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "airoute.selectorLabels" -}}
app.kubernetes.io/name: {{ include "airoute.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Labels of a component's objects: the common labels and its selector labels. */}}
{{- define "airoute.componentLabels" -}}
{{ include "airoute.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "airoute.controller.serviceAccountName" -}}
{{- if .Values.controller.serviceAccount.create -}}
{{- default (include "airoute.controller.fullname" .) .Values.controller.serviceAccount.name -}}
{{- else -}}
{{- required "controller.serviceAccount.name is required when controller.serviceAccount.create is false" .Values.controller.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "airoute.gateway.serviceAccountName" -}}
{{- if .Values.gateway.serviceAccount.create -}}
{{- default (include "airoute.gateway.fullname" .) .Values.gateway.serviceAccount.name -}}
{{- else -}}
{{- required "gateway.serviceAccount.name is required when gateway.serviceAccount.create is false" .Values.gateway.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* registry/repository:tag, or registry/repository@digest (Bitnami's convention: a global
registry, e.g. a mirror, wins over image.registry). */}}
{{- define "airoute.image" -}}
{{- $registry := default .Values.image.registry (.Values.global).imageRegistry -}}
{{- $repository := .Values.image.repository -}}
{{- if $registry }}{{ $repository = printf "%s/%s" $registry $repository }}{{ end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* imagePullSecrets of every pod: global.imagePullSecrets, then imagePullSecrets. */}}
{{- define "airoute.imagePullSecrets" -}}
{{- $secrets := concat ((.Values.global).imagePullSecrets | default list) (.Values.imagePullSecrets | default list) | uniq -}}
{{- with $secrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Whether to leave user and group ids to the platform (OpenShift's restricted SCC assigns
them per namespace): global.compatibility.openshift.adaptSecurityContext is "force", or "auto"
on a cluster that serves security.openshift.io/v1 (Bitnami's convention). */}}
{{- define "airoute.openshift" -}}
{{- $mode := ((((.Values.global).compatibility).openshift).adaptSecurityContext) | default "auto" -}}
{{- if or (eq $mode "force") (and (eq $mode "auto") (.Capabilities.APIVersions.Has "security.openshift.io/v1")) -}}
true
{{- end -}}
{{- end -}}

{{/* A component's pod (kind "pod") or container (kind "container") security context: the
chart-wide one with the component's merged over it; without fixed ids in OpenShift mode.
Call with (dict "root" $ "component" "gateway" "kind" "pod"). */}}
{{- define "airoute.securityContext" -}}
{{- $values := .root.Values -}}
{{- $shared := ternary $values.podSecurityContext $values.securityContext (eq .kind "pod") -}}
{{- $own := index $values .component (ternary "podSecurityContext" "securityContext" (eq .kind "pod")) -}}
{{- $context := mergeOverwrite (deepCopy ($shared | default dict)) ($own | default dict) -}}
{{- if include "airoute.openshift" .root -}}
{{- $context = omit $context "runAsUser" "runAsGroup" "fsGroup" "seLinuxOptions" -}}
{{- end -}}
{{- toYaml $context -}}
{{- end -}}

{{- define "airoute.gateway.apiKeysSecret" -}}
{{- default (include "airoute.nameWith" (dict "root" . "suffix" "gateway-api-keys")) .Values.gateway.auth.apiKeysSecret -}}
{{- end -}}

{{/* Default topology spread: prefer (never require) spreading a component's pods over zones,
counting only the pods of the same rollout (matchLabelKeys). */}}
{{- define "airoute.zoneSpread" -}}
- maxSkew: 1
  topologyKey: topology.kubernetes.io/zone
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "airoute.selectorLabels" . | nindent 6 }}
  matchLabelKeys: [pod-template-hash]
{{- end -}}

{{/* A PodDisruptionBudget spec that never blocks a drain: maxUnavailable (default) or a
minAvailable below the fewest replicas, and unhealthy pods always evictable (a crash-looping pod
must not hold a node). Call with (dict "root" $ "component" "gateway" "pdb" $values.pdb
"replicas" fewest). */}}
{{- define "airoute.pdbSpec" -}}
{{- $pdb := .pdb -}}
{{- $where := printf "%s.podDisruptionBudget" .component -}}
{{- $min := $pdb.minAvailable -}}
{{- $max := $pdb.maxUnavailable -}}
{{- $replicas := int .replicas -}}
{{- if and (not (kindIs "invalid" $min)) (not (kindIs "invalid" $max)) -}}
{{- fail (printf "%s: set minAvailable or maxUnavailable, not both" $where) -}}
{{- end -}}
{{- if not (kindIs "invalid" $min) -}}
{{- /* Kubernetes rounds a percentage of minAvailable up. */ -}}
{{- $needed := ternary (div (add (mul (int (trimSuffix "%" (toString $min))) $replicas) 99) 100) (int $min) (kindIs "string" $min) -}}
{{- if ge (int $needed) $replicas -}}
{{- fail (printf "%s.minAvailable %v keeps all %d %s replicas up: every node drain would block; lower it, or use maxUnavailable" $where $min $replicas .component) -}}
{{- end }}
minAvailable: {{ $min }}
{{- else -}}
{{- $max = ternary 1 $max (kindIs "invalid" $max) -}}
{{- if eq (int (trimSuffix "%" (toString $max))) 0 -}}
{{- fail (printf "%s.maxUnavailable %v would block every node drain" $where $max) -}}
{{- end }}
maxUnavailable: {{ $max }}
{{- end }}
unhealthyPodEvictionPolicy: {{ $pdb.unhealthyPodEvictionPolicy | default "AlwaysAllow" }}
selector:
  matchLabels:
    {{- include "airoute.selectorLabels" (dict "root" .root "component" .component) | nindent 4 }}
{{- end -}}

{{/* Default pod anti-affinity: prefer one replica per node. */}}
{{- define "airoute.spreadAffinity" -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "airoute.selectorLabels" . | nindent 12 }}
{{- end -}}

{{/* Where a component's pods run: priority class, node selector, tolerations, affinity
(default: prefer one per node) and topology spread (default: prefer spreading over zones).
Call with (dict "root" $ "component" "gateway"). */}}
{{- define "airoute.podPlacement" -}}
{{- $v := index .root.Values .component -}}
{{- with $v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
affinity:
  {{- if $v.affinity }}
  {{- toYaml $v.affinity | nindent 2 }}
  {{- else }}
  {{- include "airoute.spreadAffinity" . | nindent 2 }}
  {{- end }}
topologySpreadConstraints:
  {{- if $v.topologySpreadConstraints }}
  {{- toYaml $v.topologySpreadConstraints | nindent 2 }}
  {{- else }}
  {{- include "airoute.zoneSpread" . | nindent 2 }}
  {{- end }}
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The extension points of a component's main container (after its own env, ports, probes):
envFrom, lifecycle, extra volume mounts. Call with (dict "root" $ "component" "gateway"). */}}
{{- define "airoute.containerHooks" -}}
{{- $v := index .root.Values .component -}}
{{- with $v.envFrom }}
envFrom:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.lifecycle }}
lifecycle:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The egress rule (NetworkPolicyEgressRule) that reaches a URL: its port (explicit, or 80/443
by scheme), and, for an in-cluster Service name (<svc>.<namespace>.svc…), that namespace only;
an IPv4 address, that address only; any other host, any destination on that port. */}}
{{- define "airoute.egressRuleFor" -}}
{{- $url := urlParse . -}}
{{- $host := $url.host -}}
{{- $port := "" -}}
{{- if regexMatch ":[0-9]+$" $host -}}
{{- $port = regexFind "[0-9]+$" $host -}}
{{- $host = regexReplaceAll ":[0-9]+$" $host "" -}}
{{- else if eq $url.scheme "https" -}}{{- $port = "443" -}}
{{- else if eq $url.scheme "http" -}}{{- $port = "80" -}}
{{- end -}}
{{- if or (not $port) (not $host) -}}
{{- fail (printf "networkPolicy.egress.restrict: cannot tell the host and port %s needs: give an http(s) URL, or turn restrict off and list the rule in networkPolicy.egress.extra" .) -}}
{{- end -}}
{{- $service := "^[a-z0-9]([-a-z0-9]*[a-z0-9])?\\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\\.svc(\\..*)?$" -}}
{{- if regexMatch $service $host }}
to:
  - namespaceSelector:
      matchLabels:
        kubernetes.io/metadata.name: {{ regexReplaceAll $service $host "${2}" }}
{{- else if regexMatch "^[0-9]{1,3}(\\.[0-9]{1,3}){3}$" $host }}
to:
  - ipBlock:
      cidr: {{ $host }}/32
{{- end }}
ports:
  - port: {{ $port }}
    protocol: TCP
{{- end -}}
