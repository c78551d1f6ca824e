{{/* Names follow the existing cardano-node chart (docs/compatibility.md §5.7). */}}
{{- define "cfm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cfm.fullname" -}}
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

{{- define "cfm.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: cardano-forge-manager
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{ include "cfm.selectorLabels" . }}
{{- end -}}

{{- define "cfm.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cfm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cfm.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "cfm.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Multi-tenant naming only when multiTenant.enabled AND a pool id is set (the old chart used the
     pool id for the CFC name even when multiTenant was off; docs/compatibility.md §7.18). */}}
{{- define "cfm.multiTenant" -}}
{{- if and .Values.forgeManager.multiTenant.enabled .Values.forgeManager.multiTenant.pool.id -}}true{{- end -}}
{{- end -}}

{{- define "cfm.poolShort" -}}
{{- $id := .Values.forgeManager.multiTenant.pool.id -}}
{{- if hasPrefix "pool1" $id -}}{{ trunc 10 $id }}{{- else if ge (len $id) 8 -}}{{ trunc 8 $id }}{{- else -}}{{ $id }}{{- end -}}
{{- end -}}

{{- define "cfm.network" -}}{{ .Values.cardanoNode.network }}{{- end -}}

{{- define "cfm.networkMagic" -}}
{{- $n := .Values.cardanoNode.network -}}
{{- if eq $n "mainnet" -}}764824073{{- else if eq $n "preprod" -}}1{{- else if eq $n "preview" -}}2{{- else -}}{{ .Values.cardanoNode.magic }}{{- end -}}
{{- end -}}

{{- define "cfm.leaseName" -}}
{{- if include "cfm.multiTenant" . -}}
{{- printf "cardano-leader-%s-%s" (include "cfm.network" .) (include "cfm.poolShort" .) | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- default (printf "%s-leader" (include "cfm.fullname" .)) .Values.forgeManager.legacy.lease.name -}}
{{- end -}}
{{- end -}}

{{- define "cfm.cardanoLeaderName" -}}
{{- if include "cfm.multiTenant" . -}}
{{- printf "cardano-leader-%s-%s" (include "cfm.network" .) (include "cfm.poolShort" .) | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- default (printf "%s-leader" (include "cfm.fullname" .)) .Values.forgeManager.legacy.crd.cardanoLeader.name -}}
{{- end -}}
{{- end -}}

{{- define "cfm.forgeClusterName" -}}
{{- if include "cfm.multiTenant" . -}}
{{- printf "%s-%s-%s" (include "cfm.network" .) (include "cfm.poolShort" .) .Values.forgeManager.clusterManagement.region | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- default (printf "%s-forge-cluster" (include "cfm.fullname" .)) .Values.forgeManager.legacy.crd.cardanoForgeCluster.name -}}
{{- end -}}
{{- end -}}

{{- define "cfm.globalLeaseName" -}}
{{- $cm := .Values.forgeManager.clusterManagement -}}
{{- if $cm.globalLeaseName -}}{{ $cm.globalLeaseName }}
{{- else if include "cfm.multiTenant" . -}}
{{- printf "cardano-forge-global-%s-%s" (include "cfm.network" .) (include "cfm.poolShort" .) | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "cardano-forge-global-%s" (include "cfm.network" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Presence lease of region `.region` (context: dict "root" $ "region" R), as the sidecar names it. */}}
{{- define "cfm.presenceLeaseName" -}}
{{- $root := .root -}}
{{- if include "cfm.multiTenant" $root -}}
{{- printf "cardano-forge-presence-%s-%s-%s" (include "cfm.network" $root) (include "cfm.poolShort" $root | lower) .region -}}
{{- else -}}
{{- printf "cardano-forge-presence-%s-legacy-%s" (include "cfm.network" $root) .region -}}
{{- end -}}
{{- end -}}

{{- define "cfm.secretName" -}}
{{- default (printf "%s-forging-keys" (include "cfm.fullname" .)) .Values.forgeManager.secretName -}}
{{- end -}}

{{- define "cfm.decoySecretName" -}}
{{- default (printf "%s-decoy-keys" (include "cfm.fullname" .)) .Values.forgeManager.decoy.secretName -}}
{{- end -}}

{{/* Configuration errors the sidecar would reject at start, caught at render time. */}}
{{- define "cfm.validate" -}}
{{- $fm := .Values.forgeManager -}}
{{- if not (has $fm.credentialMode (list "decoy" "copy")) -}}
{{- fail "forgeManager.credentialMode must be decoy or copy" -}}
{{- end -}}
{{- if and $fm.clusterManagement.enabled (not $fm.clusterManagement.region) -}}
{{- fail "forgeManager.clusterManagement.region is required when clusterManagement.enabled" -}}
{{- end -}}
{{- if and $fm.clusterManagement.healthCheck.enabled (not $fm.clusterManagement.healthCheck.endpoint) -}}
{{- fail "forgeManager.clusterManagement.healthCheck.endpoint is required when healthCheck.enabled" -}}
{{- end -}}
{{- if and $fm.multiTenant.enabled (not $fm.multiTenant.pool.id) -}}
{{- fail "forgeManager.multiTenant.pool.id is required when multiTenant.enabled" -}}
{{- end -}}
{{- end -}}

{{/* A duration for the CFC spec (`^[0-9]+[smh]$`): bare integers are seconds. */}}
{{- define "cfm.specDuration" -}}
{{- $d := toString . -}}
{{- if regexMatch "^[0-9]+$" $d -}}{{ $d }}s{{- else -}}{{ $d }}{{- end -}}
{{- end -}}
