{{/*
fedgen.args is `fedgen run`'s command line, one flag per value.

To add a value for a new flag: one line in the list below, the value in
values.yaml (commented) and values.schema.json. A test (cmd/fedgen
TestChartCoversRunFlags) fails while a flag of `fedgen run` is neither
here nor in its list of flags the chart sets another way.

How a value becomes a flag (fedgen.flag):
  null or ""   omitted: fedgen's default
  true         --flag            false: omitted
  a list       --flag=a,b        (an empty list: --flag=, e.g. exclude nothing)
  a map        --flag=key=a,b    once per key, sorted
  otherwise    --flag=value
*/}}
{{- define "fedgen.args" -}}
{{- $v := .Values -}}
{{- $gitSecret := "" -}}
{{- if $v.git.secretName }}{{ $gitSecret = printf "%s/%s" .Release.Namespace $v.git.secretName }}{{ end -}}
{{- $prSecret := "" -}}
{{- if $v.review.pullRequest.secretName }}{{ $prSecret = printf "%s/%s" .Release.Namespace $v.review.pullRequest.secretName }}{{ end -}}
{{- $pprofAddr := "" -}}
{{- if $v.pprof.port }}{{ $pprofAddr = printf "127.0.0.1:%v" $v.pprof.port }}{{ end -}}
{{- $gitCache := "" -}}
{{- if $v.git.cache.enabled }}{{ $gitCache = "/var/cache/fedgen" }}{{ end -}}
{{- $flags := list
  (list "cluster-name" $v.clusterName)
  (list "link-namespace" $v.linkNamespace)
  (list "local-selector" $v.localSelector)
  (list "member-selector" $v.memberSelector)
  (list "git-url" $v.git.url)
  (list "git-branch" $v.git.branch)
  (list "git-path" $v.git.path)
  (list "git-secret" $gitSecret)
  (list "git-username" $v.git.username)
  (list "git-cache-dir" $gitCache)
  (list "git-author-name" $v.git.author.name)
  (list "git-author-email" $v.git.author.email)
  (list "resync-interval" $v.git.resyncInterval)
  (list "flux-kustomization" $v.flux.kustomization)
  (list "flux-source" $v.flux.source)
  (list "namespaces" $v.members.namespaces)
  (list "exclude-namespaces" $v.members.excludeNamespaces)
  (list "allow-exec-credentials" $v.members.allowExecCredentials)
  (list "unreachable-grace" $v.members.unreachableGrace)
  (list "probe-interval" $v.members.probeInterval)
  (list "max-members-per-link" $v.members.maxMembersPerLink)
  (list "max-endpoints-per-member" $v.members.maxEndpointsPerMember)
  (list "endpoints" $v.generator.endpoints)
  (list "max-endpoints-per-slice" $v.generator.maxEndpointsPerSlice)
  (list "allowed-cidrs" $v.generator.allowedCIDRs)
  (list "create-namespaces" $v.generator.createNamespaces)
  (list "debounce" $v.debounce)
  (list "push-branch" $v.review.pushBranch)
  (list "review" $v.review.scope)
  (list "review-hook" $v.review.hook)
  (list "review-poll-interval" $v.review.pollInterval)
  (list "pull-request-provider" $v.review.pullRequest.provider)
  (list "pull-request-api" $v.review.pullRequest.api)
  (list "pull-request-secret" $prSecret)
  (list "signing-key-secret" $v.signingKeySecret)
  (list "leader-elect" $v.leaderElection.enabled)
  (list "leader-election-id" $v.leaderElection.id)
  (list "leader-election-lease-duration" $v.leaderElection.leaseDuration)
  (list "leader-election-renew-deadline" $v.leaderElection.renewDeadline)
  (list "leader-election-retry-period" $v.leaderElection.retryPeriod)
  (list "log-level" $v.logLevel)
  (list "kube-api-qps" $v.kubeAPI.qps)
  (list "kube-api-burst" $v.kubeAPI.burst)
  (list "pprof-addr" $pprofAddr)
-}}
- run
- {{ printf "--metrics-addr=:%v" $v.metrics.port | quote }}
- {{ printf "--health-addr=:%v" $v.health.port | quote }}
- {{ printf "--leader-election-namespace=%s" .Release.Namespace | quote }}
{{- range $flags }}
{{- include "fedgen.flag" . }}
{{- end }}
{{- range $v.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}

{{- define "fedgen.flag" -}}
{{- $name := index . 0 -}}
{{- $value := index . 1 -}}
{{- if kindIs "invalid" $value }}
{{- else if kindIs "bool" $value }}
{{- if $value }}
- {{ printf "--%s" $name | quote }}
{{- end }}
{{- else if kindIs "slice" $value }}
- {{ printf "--%s=%s" $name (join "," $value) | quote }}
{{- else if kindIs "map" $value }}
{{- range $key := keys $value | sortAlpha }}
- {{ printf "--%s=%s=%s" $name $key (join "," (index $value $key)) | quote }}
{{- end }}
{{- else if ne (toString $value) "" }}
- {{ printf "--%s=%v" $name $value | quote }}
{{- end }}
{{- end }}
