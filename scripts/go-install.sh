# Shared by prometheus-up.sh and kwok-up.sh (sourced): builds a Go command from the Go module proxy into a
# private build directory, with a recent Go toolchain.

# Prints a Go toolchain of 1.21 or newer: /usr/local/go/bin/go when present, else `go` on PATH (Debian's
# 1.19, which builds the test API server, is too old; a 1.2x fetches what a module asks for itself).
recent_go() {
  local candidate v
  for candidate in /usr/local/go/bin/go "$(command -v go || true)"; do
    [ -n "$candidate" ] && [ -x "$candidate" ] || continue
    v=$("$candidate" env GOVERSION 2>/dev/null) || continue
    if [[ "$v" =~ ^go1\.([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -ge 21 ]; then
      echo "$candidate"
      return 0
    fi
  done
  echo "a Go toolchain of 1.21 or newer is needed (found: $(go version 2>/dev/null || echo none))" >&2
  return 1
}

# Removes a build directory. Go writes its module cache (and a toolchain it fetches) read-only: it is made
# writable first, so a build that failed half-way is removed too.
remove_build() {
  chmod -R u+w "$1" 2>/dev/null || true
  rm -rf "$1"
}

# go_install BUILD PACKAGE@VERSION [go install flags…]: `go install` into BUILD/bin, with the module cache
# (BUILD/mod) and build cache (BUILD/cache) inside BUILD, at low CPU priority. Module mode is set here, not
# inherited: a caller's GOPATH-mode environment (GO111MODULE=off, GOPATH, GOFLAGS) would refuse `@version`.
go_install() {
  local build=$1 package=$2 go
  shift 2
  go=$(recent_go) || return 1
  remove_build "$build"
  mkdir -p "$build" || return 1
  echo "go-install: $package with $("$go" version) in $build" >&2
  GO111MODULE=on GOPATH="$build/gopath" GOBIN="$build/bin" GOMODCACHE="$build/mod" GOCACHE="$build/cache" \
    GOTOOLCHAIN=auto GOFLAGS=-modcacherw \
    nice -n 10 "$go" install "$@" "$package" >&2
}
