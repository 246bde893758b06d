#!/usr/bin/env bash
# Builds the programs the local test clusters run (kube-apiserver, etcd,
# Flux's source- and kustomize-controller, kube-proxy and CoreDNS for the pod
# network, and Gitea, the forge of the pull-request tests), and helm for the
# chart's tests, from the wrapper modules next to this script, and links them
# into bin/.
#
#   hack/tools/build.sh                  the cluster tools (what `make tools` runs)
#   hack/tools/build.sh controller-gen   only the named tools
#
# Binaries are built once into a cache outside the checkout, one folder per
# tool keyed by its version and a hash of its wrapper module (and the Go
# version), so a fresh clone reuses them and a warm run takes a second or two:
#
#   ${FEDGEN_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fedgen-tools}/<tool>-<version>-<hash>/
#
# bin/<tool> is a symlink into that cache; bin/flux-crds/ links to a copy of
# both Flux controllers' CRDs (config/crd/bases of their modules), so tests do
# not depend on the layout of the Go module cache; for the same reason
# bin/gitea-static/ links to a copy of the templates, locales and public
# files Gitea reads at start (its STATIC_ROOT_PATH: the binary is built
# without -tags bindata, which would need `go generate` in a copy of its
# source).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${FEDGEN_BIN_DIR:-$root/bin}"
cache="${FEDGEN_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fedgen-tools}"
go="${GO:-go}"

# The wrapper modules stand alone: never let a go.work pull them into
# another build list.
export GOWORK=off

# tool | wrapper folder | module whose version names the build | package | extra build flags | rough build time on 2 cores | version stamp | build environment
#
# A version stamp names a function that prints -ldflags for the tool, given
# the wrapper folder, the module and its version: Kubernetes' programs report
# the version their build scripts stamp in, "v0.0.0-master" without it. The
# build environment is a word list of VAR=value set for its go commands.
tools=(
	"kube-apiserver|kube-apiserver|k8s.io/kubernetes|k8s.io/kubernetes/cmd/kube-apiserver||~5 min|kube_version_ldflags"
	# Same wrapper module as kube-apiserver: the packages they share are
	# compiled once.
	"kube-proxy|kube-apiserver|k8s.io/kubernetes|k8s.io/kubernetes/cmd/kube-proxy||~2 min after kube-apiserver|kube_version_ldflags"
	"etcd|etcd|go.etcd.io/etcd/server/v3|.||~30 s"
	# CoreDNS with only the plugins the pod network's cluster DNS uses.
	"coredns|coredns|github.com/coredns/coredns|.||~2 min"
	# source-controller's go.sum cannot be tidied (a test-only dependency is
	# not served by the proxy), so its build list is completed with -mod=mod.
	"source-controller|source-controller|github.com/fluxcd/source-controller|github.com/fluxcd/source-controller|-mod=mod|~2.5 min"
	"kustomize-controller|kustomize-controller|github.com/fluxcd/kustomize-controller|github.com/fluxcd/kustomize-controller||~2.5 min"
	"controller-gen|controller-gen|sigs.k8s.io/controller-tools|sigs.k8s.io/controller-tools/cmd/controller-gen||~40 s"
	# helm lints and renders charts/fedgen in the tests and packages it in
	# `make release`.
	"helm|helm|helm.sh/helm/v3|helm.sh/helm/v3/cmd/helm||~2 min"
	# Gitea calls itself gitea.dev; the wrapper replaces it and its two
	# gitea.dev dependencies by the same tags under code.gitea.io, which the
	# checksum database does not list. Pure-Go sqlite: no cgo.
	"gitea|gitea|gitea.dev|gitea.dev||~4 min|gitea_version_ldflags|CGO_ENABLED=0 GONOSUMDB=code.gitea.io/sdk,code.gitea.io/actions-proto-go"
)
default_tools=(kube-apiserver kube-proxy etcd coredns source-controller kustomize-controller helm gitea)

log() { printf 'tools: %s\n' "$*" >&2; }

# module_version prints the version the wrapper's go.mod requires of a module.
module_version() {
	awk -v m="$2" '!/=>/ && (($1 == m) || ($1 == "require" && $2 == m)) { print ($1 == m ? $2 : $3); exit }' "$1/go.mod"
}

# wrapper_hash changes whenever the pinned build could: the wrapper's files,
# the Go toolchain, the tool's -ldflags and build environment (each left out
# when empty, so that the tools without any keep their cache folders).
wrapper_hash() {
	{
		"$go" env GOVERSION
		cat "$1"/go.mod "$1"/go.sum "$1"/*.go 2>/dev/null
		[ -z "${2:-}" ] || printf 'ldflags %s\n' "$2"
		[ -z "${3:-}" ] || printf 'env %s\n' "$3"
	} | sha256sum | cut -c1-10
}

# gitea_version_ldflags stamps Gitea's version as its Makefile does (API
# clients check it; unstamped it reports "development").
gitea_version_ldflags() {
	printf -- '-X=main.Version=%s\n' "${3#v}"
}

# kube_version_ldflags prints the -X flags Kubernetes' hack/lib/version.sh
# sets (for client-go's and component-base's version packages), so that
# `kubectl version` and clients see the release. The build date is the
# release's own time from the module proxy, which keeps builds reproducible.
kube_version_ldflags() {
	local wrapper="$1" mod="$2" version="$3" date major minor
	date="$(cd "$wrapper" && "$go" list -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' "$mod")"
	major="${version#v}"
	major="${major%%.*}"
	minor="${version#v*.}"
	minor="${minor%%.*}"
	local key val flags=() pkg
	for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
		for key in gitVersion gitMajor gitMinor buildDate; do
			case $key in
			gitVersion) val="$version" ;;
			gitMajor) val="$major" ;;
			gitMinor) val="$minor" ;;
			buildDate) val="${date:-1970-01-01T00:00:00Z}" ;;
			esac
			flags+=("-X=$pkg.$key=$val")
		done
	done
	printf '%s\n' "${flags[*]}"
}

# with_lock runs a command holding an exclusive lock on a file in the cache,
# so that two concurrent `make tools` do not build the same tool twice.
with_lock() {
	local lock="$1"
	shift
	if command -v flock >/dev/null; then
		(flock 9 && "$@") 9>"$lock"
	else
		"$@"
	fi
}

# build_tool builds one tool into its cache folder unless it is there already,
# then prints the folder.
build_tool() {
	local name="$1" dir="$2" mod="$3" pkg="$4" flags="$5" eta="$6" stamp="${7:-}" envs="${8:-}"
	local wrapper="$here/$dir" version hash dest ldflags=""
	version="$(module_version "$wrapper" "$mod")"
	[ -n "$version" ] || { log "no version of $mod in $wrapper/go.mod"; return 1; }
	[ -z "$stamp" ] || ldflags="$("$stamp" "$wrapper" "$mod" "$version")"
	hash="$(wrapper_hash "$wrapper" "$ldflags" "$envs")"
	dest="$cache/$name-$version-$hash"
	if [ ! -x "$dest/$name" ]; then
		with_lock "$cache/.$name.lock" build_into "$name" "$version" "$wrapper" "$mod" "$pkg" "$flags" "$eta" "$dest" "$ldflags" "$envs"
	fi
	printf '%s\n' "$dest"
}

build_into() {
	local name="$1" version="$2" wrapper="$3" mod="$4" pkg="$5" flags="$6" eta="$7" dest="$8" ldflags="${9:-}" envs="${10:-}"
	[ -x "$dest/$name" ] && return 0 # built by a concurrent run meanwhile
	log "building $name $version (not in cache $dest); takes $eta on 2 cores with a cold Go build cache, seconds with a warm one"
	local tmp start
	tmp="$(mktemp -d "$cache/.$name.XXXXXX")"
	chmod 755 "$tmp"
	start=$SECONDS
	# -buildvcs=false: the wrappers live in the fedgen checkout, whose commit
	# says nothing about the tool. $flags and $envs are word lists on purpose.
	# shellcheck disable=SC2086
	if ! (cd "$wrapper" && env $envs "$go" build -trimpath -buildvcs=false $flags -ldflags="$ldflags" -o "$tmp/$name" "$pkg"); then
		rm -rf "$tmp"
		log "building $name $version failed"
		return 1
	fi
	# Controllers ship their CRDs in the module: keep a copy with the binary.
	local moddir
	# shellcheck disable=SC2086
	moddir="$(cd "$wrapper" && env $envs "$go" list -m $flags -f '{{.Dir}}' "$mod")"
	if [ -d "$moddir/config/crd/bases" ]; then
		mkdir -p "$tmp/crds"
		cp "$moddir"/config/crd/bases/*.yaml "$tmp/crds/"
		chmod u+w "$tmp/crds"/*.yaml
	fi
	# Gitea reads its templates and locales from disk at start.
	if [ "$name" = gitea ]; then
		mkdir -p "$tmp/static"
		cp -R "$moddir/templates" "$moddir/options" "$moddir/public" "$tmp/static/"
		chmod -R u+w "$tmp/static"
	fi
	rm -rf "$dest"
	mv "$tmp" "$dest"
	log "built $name $version in $((SECONDS - start)) s"
}

link() {
	ln -sfn "$1" "$2.tmp" && mv -T "$2.tmp" "$2"
}

main() {
	local want=("$@")
	[ ${#want[@]} -gt 0 ] || want=("${default_tools[@]}")
	mkdir -p "$cache" "$bin"

	local -A dirs=()
	local entry name spec found
	for name in "${want[@]}"; do
		found=""
		for entry in "${tools[@]}"; do
			IFS='|' read -r -a spec <<<"$entry"
			[ "${spec[0]}" = "$name" ] || continue
			found="$(build_tool "${spec[@]}")"
		done
		[ -n "$found" ] || { log "unknown tool $name"; return 1; }
		dirs[$name]="$found"
		link "$found/$name" "$bin/$name"
		if [ -d "$found/static" ]; then
			link "$found/static" "$bin/$name-static"
		fi
	done

	# Flux's CRDs, both controllers' in one folder, once both are built.
	if [ -n "${dirs[source-controller]:-}" ] && [ -n "${dirs[kustomize-controller]:-}" ]; then
		local crds sc kc
		sc="$(basename "${dirs[source-controller]}")"
		kc="$(basename "${dirs[kustomize-controller]}")"
		crds="$cache/flux-crds-source-${sc#source-controller-}-kustomize-${kc#kustomize-controller-}"
		if [ ! -d "$crds" ]; then
			local tmp
			tmp="$(mktemp -d "$cache/.flux-crds.XXXXXX")"
			chmod 755 "$tmp"
			cp "${dirs[source-controller]}"/crds/*.yaml "${dirs[kustomize-controller]}"/crds/*.yaml "$tmp/"
			mv -T "$tmp" "$crds" 2>/dev/null || rm -rf "$tmp" # a concurrent run won
		fi
		link "$crds" "$bin/flux-crds"
	fi
	log "ready in $bin: ${want[*]}$([ -n "${dirs[source-controller]:-}" ] && echo ' flux-crds')"
}

main "$@"
