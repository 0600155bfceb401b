#!/usr/bin/env bash
# ensure-jaeger.sh - build Jaeger all-in-one (an OTLP receiver with a query API) from its Go module
# into a cache directory outside git, once; later runs find the binary and return at once.
# The observability tests export spans over OTLP/HTTP to it and read them back through its query API.
#
# Usage: ensure-jaeger.sh          prints the path of the jaeger binary on stdout
# Env:   XLAT64_CACHE (default ~/.cache/xlat64), JAEGER_VERSION (default v1.76.0)
set -euo pipefail
version=${JAEGER_VERSION:-v1.76.0}
cache=${XLAT64_CACHE:-$HOME/.cache/xlat64}
dir=$cache/jaeger-$version
bin=$dir/bin/jaeger
if [[ -x $bin ]]; then
  echo "$bin"
  exit 0
fi
command -v go >/dev/null 2>&1 || {
  echo "xlat64: 'go' is needed to build Jaeger $version (apt-get install golang-go, Go >= 1.24)" >&2
  exit 1
}
mkdir -p "$dir/bin"
# A lock so two test runs do not build at once; the build takes minutes on 2 cores.
exec 9>"$dir/.lock"
flock 9
if [[ ! -x $bin ]]; then
  echo "xlat64: building Jaeger $version from its Go module into $dir (once; takes minutes)" >&2
  # `go install module@version` refuses modules whose go.mod has replace directives (Jaeger's has
  # one), so the module's own source tree is the main module: download it, build cmd/jaeger there.
  export GOPATH=$cache/gopath GOCACHE=$cache/gocache GOFLAGS=-modcacherw GOTOOLCHAIN=local
  src=$(go mod download -json "github.com/jaegertracing/jaeger@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [[ -d $src ]] || { echo "xlat64: go mod download gave no source directory for jaeger@$version" >&2; exit 1; }
  (cd "$src" && go build -trimpath -o "$bin.tmp" ./cmd/jaeger) >&2
  mv "$bin.tmp" "$bin"
fi
echo "$bin"
