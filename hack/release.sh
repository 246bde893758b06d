#!/usr/bin/env bash
# A release of fedgen into one folder, _out/release/<version>/:
#
#   fedgen-<version>-linux-{amd64,arm64}           the binaries (those in the image)
#   fedgen-<version>-linux-*.spdx.json             SPDX SBOMs of their Go modules
#   fedgen-<version>.oci.tar                       the multi-platform image, an OCI layout as a tar
#                                                  (podman load -i …, skopeo copy oci-archive:…)
#   image.json                                     the index digest and each platform's manifest and size
#   fedgen-<chart version>.tgz                     the Helm chart, appVersion <version>; with IMAGE set,
#                                                  its values pin the pushed image by digest
#   SHA256SUMS                                     checksums of all of the above
#
#   make release                                   # VERSION from git describe
#   make release VERSION=v1.2.3 IMAGE=registry.example.com/fedgen:v1.2.3   # also pushes the image
#
# Nothing here needs a Docker daemon or network access other than the
# registry IMAGE names.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
go="${GO:-go}"
version="${VERSION:-$(git describe --tags --always --dirty)}"
commit="${COMMIT:-$(git rev-parse HEAD)}"
image="${IMAGE:-}"
out="$root/_out/release/$version"
build="$root/_out/release/.image-$version"

log() { printf 'release: %s\n' "$*" >&2; }

rm -rf "$out" "$build"
mkdir -p "$out"

log "image $version (commit $commit)${image:+, pushed to $image}"
GOWORK=off "$go" -C hack/image run . -src "$root" -out "$build" -version "$version" -commit "$commit" ${image:+-push "$image"}

for arch in amd64 arm64; do
	cp "$build/fedgen-linux-$arch" "$out/fedgen-$version-linux-$arch"
	cp "$build/fedgen-linux-$arch.spdx.json" "$out/fedgen-$version-linux-$arch.spdx.json"
done
cp "$build/image.json" "$out/image.json"
# The layout as a tar that depends only on its content.
epoch="$(git log -1 --format=%ct "$commit")"
tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
	-C "$build/oci" -cf "$out/fedgen-$version.oci.tar" .

# The chart: its version is the release's when that is SemVer (v1.2.3 →
# 1.2.3), else Chart.yaml's with a pre-release naming the commit.
hack/tools/build.sh helm >/dev/null
chart_version="$(awk '$1 == "version:" { print $2; exit }' charts/fedgen/Chart.yaml)"
if [[ "$version" =~ ^v?([0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?)$ ]]; then
	chart_version="${BASH_REMATCH[1]}"
else
	chart_version="$chart_version-dev.g${commit:0:12}"
fi
chart="$build/chart/fedgen"
mkdir -p "$(dirname "$chart")"
cp -r charts/fedgen "$chart"
if [ -n "$image" ]; then
	# Pin the pushed image by digest in the packaged chart's defaults.
	repo="${image%:*}"
	digest="$(sed -n 's/^  "index": "\(sha256:[0-9a-f]*\)",$/\1/p' "$build/image.json")"
	[ -n "$digest" ] || { log "no index digest in $build/image.json"; exit 1; }
	sed -i -e "s|^  repository: .*|  repository: $repo|" -e "s|^  digest: .*|  digest: \"$digest\"|" "$chart/values.yaml"
fi
HELM_CACHE_HOME="$build/helm" HELM_CONFIG_HOME="$build/helm" HELM_DATA_HOME="$build/helm" \
	bin/helm package "$chart" --version "$chart_version" --app-version "$version" --destination "$out" >/dev/null

(cd "$out" && sha256sum -- * >SHA256SUMS && sha256sum --quiet -c SHA256SUMS)
rm -rf "$build"
log "wrote $out:"
(cd "$out" && ls -l --time-style=+ | sed 1d | awk '{ printf "  %10d  %s\n", $5, $NF }') >&2
