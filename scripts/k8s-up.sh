#!/usr/bin/env bash
# Builds (once) and starts a real Kubernetes 1.20.2 control plane on 127.0.0.1 for the integration tests:
# etcd, kube-apiserver (TLS, static admin token, RBAC), kube-controller-manager and kube-scheduler, and
# KWOK's simulated kubelets (scripts/kwok-up.sh builds it): there is no container runtime, but every Node
# annotated `kwok.x-k8s.io/node=fake` turns Ready and keeps its Lease, and the pods scheduled to it run and
# turn Ready, and go once deleted. Pods on other nodes stay Pending.
#
# Usage:
#   scripts/k8s-up.sh        # build if needed, start, wait until /readyz is ok, print the kubeconfig path
#   scripts/k8s-down.sh      # stop everything (reverse order) and wipe the etcd data
#   export KUBECONFIG=/tmp/medic-k8s/kubeconfig   # tests read $KUBECONFIG or this default path
#
# Idempotent: when the control plane already answers, it prints the kubeconfig path and exits 0.
#
# Where things live:
#   ${MEDIC_K8S_CACHE:-$HOME/.cache/medic/k8s-1.20.2}/bin   the three binaries; present => no build at all
#   ${MEDIC_K8S_STATE:-/tmp/medic-k8s}/                      kubeconfig, pki/, etcd/ (data), logs/*.log, run/*.pid
# Ports (all on 127.0.0.1): apiserver ${MEDIC_K8S_PORT:-16443}; etcd client 12379, peer 12380;
#   controller-manager healthz 16257, scheduler healthz 16259 (https, self-signed).
#
# The build (cold: ~13 CPU-minutes; 12m42s wall on this 2-core machine while cargo was also compiling) needs root for apt: it installs golang-go, etcd and two Go
# libraries, fetches Debian bookworm's `kubernetes` source package (1.20.5+really1.20.2, the upstream tree
# with vendor/) through a private apt configuration (the system's sources are not touched), and builds in
# GOPATH mode with two fixes:
#   - pkg/generated/openapi/zz_generated.openapi.go is missing from the tarball; it is generated with the
#     vendored openapi-gen, as upstream's Makefile.generated_files does;
#   - the vendored github.com/modern-go/reflect2 1.0.1 and github.com/json-iterator/go are replaced with
#     Debian's 1.0.2 / 1.1.12: built with Go 1.19, the old reflect2 makes the apiserver SIGSEGV on any JSON
#     response holding a map (labels), which breaks JSON clients such as kube-rs.
# Set MEDIC_K8S_KEEP_BUILD=1 to keep the build tree (gopath/, go-build cache) under the cache dir afterwards.
#
# Deliberate choices for a test cluster without container runtime:
#   - the ServiceAccount admission plugin is disabled, so a pod can be created the instant its namespace
#     exists (no race with the "default" ServiceAccount and its token); the controller-manager still gets
#     the signing key and root CA, so ServiceAccounts and token Secrets are created as in a real cluster;
#   - the controller-manager waits ${MEDIC_K8S_NODE_GRACE:-1h} (upstream: 40s) without node heartbeats
#     before marking a node Unknown and tainting it unreachable (then NoExecute-evicting its pods 5 min
#     later): a Node whose status a test set Ready, without KWOK, stays Ready. Ready=False set by a test
#     (on a node KWOK does not play: it would set it back) still taints the node not-ready at once. MEDIC_K8S_NODE_GRACE=40s restores the upstream behaviour;
#   - the "kubernetes" Service gets no Endpoints (--endpoint-reconciler-type=none): the only address is
#     127.0.0.1, which Endpoints validation rejects.
# Extra flags can be appended with MEDIC_K8S_APISERVER_ARGS, MEDIC_K8S_CM_ARGS, MEDIC_K8S_SCHEDULER_ARGS
# (split on spaces), e.g. MEDIC_K8S_CM_ARGS="--node-monitor-grace-period=10m".
set -euo pipefail

K8S_VERSION=1.20.2
K8S_COMMIT=faecb196815e248d3ecfb03c680a4507229c2a56 # upstream v1.20.2 tag
CACHE="${MEDIC_K8S_CACHE:-$HOME/.cache/medic/k8s-$K8S_VERSION}"
BIN="$CACHE/bin"
STATE="${MEDIC_K8S_STATE:-/tmp/medic-k8s}"
API_PORT="${MEDIC_K8S_PORT:-16443}"
ETCD_CLIENT_PORT=12379
ETCD_PEER_PORT=12380
CM_PORT=16257
SCHED_PORT=16259
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler)
KWOK_NODES='kwok.x-k8s.io/node=fake' # the annotation of the nodes KWOK plays
HERE="$(cd "$(dirname "$0")" && pwd)"

PKI="$STATE/pki"
LOGS="$STATE/logs"
RUN="$STATE/run"
KUBECONFIG_OUT="$STATE/kubeconfig"

log() { echo "k8s-up: $*" >&2; } # stdout carries only the kubeconfig path
die() { echo "k8s-up: ERROR: $*" >&2; exit 1; }

# --- helpers -------------------------------------------------------------------------------------------

# Installs the given Debian packages that are not installed yet.
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}); run as root or install them first"
  log "installing ${missing[*]}"
  # A fresh machine may have no package lists yet: update once and retry.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
    die "apt-get install ${missing[*]} failed"
}

# curl against the apiserver as the admin.
api() {
  curl -sS --max-time 5 --cacert "$PKI/ca.crt" -H "Authorization: Bearer $(cat "$PKI/admin.token")" \
    "https://127.0.0.1:$API_PORT$1"
}

# shellcheck source=k8s-pids.sh
. "$HERE/k8s-pids.sh"

# True when the pid file names a live process whose command line contains the component's name.
alive() { [ -n "$(pid_of "$1")" ]; }

healthy() {
  [ -f "$PKI/admin.token" ] && [ -f "$KUBECONFIG_OUT" ] &&
    alive etcd && alive kube-apiserver && alive kube-controller-manager && alive kube-scheduler && alive kwok &&
    ready
}

ready() { [ "$(api /readyz 2>/dev/null)" = ok ]; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Starts a component in its own session (it survives this shell), logging to $LOGS/<name>.log.
start() {
  local name=$1; shift
  log "starting $name"
  [ -f "$LOGS/$name.log" ] && mv -f "$LOGS/$name.log" "$LOGS/$name.log.prev" # keep the previous run's log
  rm -f "$RUN/$name.pid"
  # (9>&-: the daemons must not inherit, and so hold, the lock taken below)
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$RUN/$name.pid" "$@" \
    </dev/null >"$LOGS/$name.log" 2>&1 9>&- &
  # Wait for the pid file (written by the child before exec).
  for _ in $(seq 1 50); do [ -s "$RUN/$name.pid" ] && return 0; sleep 0.1; done
  die "$name did not start (see $LOGS/$name.log)"
}

# Waits (up to $2 seconds) until command "$3..." succeeds; fails with the component's log tail if it died.
wait_for() {
  local name=$1 timeout=$2; shift 2
  local deadline=$((SECONDS + timeout))
  while ! "$@" >/dev/null 2>&1; do
    # Asked twice: a process caught in exec (the pid file is written just before it) can read as gone
    # for a moment, and a loaded machine made that fail a run whose KWOK was up and ready.
    if ! alive "$name" && { sleep 0.5; ! alive "$name"; }; then
      echo "k8s-up: ERROR: $name exited; last lines of $LOGS/$name.log:" >&2
      tail -n 40 "$LOGS/$name.log" >&2
      exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "k8s-up: ERROR: $name not ready after ${timeout}s; last lines of $LOGS/$name.log:" >&2
      tail -n 40 "$LOGS/$name.log" >&2
      exit 1
    fi
    sleep 0.5
  done
}

# --- build ---------------------------------------------------------------------------------------------

# Runs in a subshell: its GOPATH-mode environment (GO111MODULE=off, Debian's Go first on PATH) must not
# reach what this script starts afterwards — KWOK's module-mode build failed on it in CI.
build() (
  [ "$(id -u)" -eq 0 ] || die "building needs root (apt-get); binaries not found in $BIN"
  ensure_packages golang-go golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev
  # Debian's Go (1.19, the golang-go package) by its path: a newer Go that comes first on PATH
  # (/usr/local/go) does not build this 1.20 tree in GOPATH mode.
  local go=/usr/lib/go/bin/go
  [ -x "$go" ] || die "Debian's Go (golang-go) is not at $go"
  export PATH="/usr/lib/go/bin:$PATH"  # for the tools the build runs (openapi-gen) too
  unset GOROOT                         # one set for the newer Go would point Debian's at the wrong tree
  local t0=$SECONDS
  local work="$CACHE/gopath"
  local tree="$work/src/k8s.io/kubernetes"
  local apt="$CACHE/apt"

  # 1. The source package, through a private apt configuration: its own sources.list with a bookworm
  #    deb-src line (same mirror and keyring as the system's deb line), its own lists and archives dirs.
  local mirror
  mirror=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list 2>/dev/null |
    grep -E '^(URIs:|deb )' | grep -o -E 'https?://[^ ]+' | grep -E '/debian/?$' | head -n1 || true)
  mirror="${mirror:-http://deb.debian.org/debian}"
  mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$CACHE/src"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror%/} bookworm main" \
    >"$apt/sources.list"
  local aptopts=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache::archives=$apt/archives"
    -o "APT::Sandbox::User=root" -o "Debug::NoLocking=1")
  if ! ls "$CACHE"/src/kubernetes_*.orig.tar.gz >/dev/null 2>&1; then
    log "fetching the Debian bookworm 'kubernetes' source package from $mirror"
    apt-get "${aptopts[@]}" update -qq || die "apt-get update (private deb-src list) failed"
    (cd "$CACHE/src" && apt-get "${aptopts[@]}" source --download-only -qq kubernetes) ||
      die "apt-get source --download-only kubernetes failed"
  fi
  local orig
  orig=$(ls "$CACHE"/src/kubernetes_*.orig.tar.gz | head -n1)
  # Debian's own patches only touch kubectl's printers, so the pristine upstream tarball is used.

  # 2. A GOPATH tree: $work/src/k8s.io/kubernetes.
  log "extracting $(basename "$orig")"
  rm -rf "$work"
  mkdir -p "$work/src/k8s.io"
  tar -xzf "$orig" -C "$work/src/k8s.io"
  mv "$work/src/k8s.io/kubernetes-$K8S_VERSION" "$tree" || die "unexpected tarball layout in $orig"

  # 3. Fix: Debian's reflect2 / json-iterator instead of the vendored ones (SIGSEGV with Go >= 1.18).
  local lib
  for lib in github.com/modern-go/reflect2 github.com/json-iterator/go; do
    [ -d "/usr/share/gocode/src/$lib" ] || die "/usr/share/gocode/src/$lib missing (Debian -dev package?)"
    rm -rf "$tree/vendor/$lib"
    cp -r "/usr/share/gocode/src/$lib" "$tree/vendor/$lib"
  done

  export GO111MODULE=off GOPATH="$work" GOCACHE="$CACHE/go-build" CGO_ENABLED=0 GOFLAGS=
  cd "$tree"

  # 4. Fix: generate pkg/generated/openapi/zz_generated.openapi.go, with the inputs upstream's
  #    build/root/Makefile.generated_files uses: every directory (staging/src seen as vendor/, minus
  #    code-generator and sample-apiserver) holding a Go file with a `+k8s:` tag mentioning openapi-gen.
  log "building openapi-gen and generating pkg/generated/openapi"
  nice -n 10 "$go" build -o "$work/bin/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
  local dirs
  # (grep -l exits 1 for a batch without matches: pipefail is off for this pipeline)
  set +o pipefail
  dirs=$(find -H . \( -path ./vendor -o -path './_*' -o -path './.*' \) -prune -o -type f -name '*.go' -print |
    xargs grep -l '^// *+k8s:' | xargs grep -l '+k8s:openapi-gen=' | xargs -n1 dirname |
    sed -e 's|^\./staging/src/|vendor/|' -e 's|^\./||' |
    grep -v -e '^vendor/k8s\.io/code-generator/' -e '^vendor/k8s\.io/sample-apiserver/' |
    LC_ALL=C sort -u | sed 's|^|k8s.io/kubernetes/|' | paste -sd, -)
  set -o pipefail
  [ -n "$dirs" ] || die "found no +k8s:openapi-gen packages"
  nice -n 10 "$work/bin/openapi-gen" --logtostderr \
    -i "$dirs" -p k8s.io/kubernetes/pkg/generated/openapi -O zz_generated.openapi \
    -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt -r "$work/openapi-violations.report" \
    >"$work/openapi-gen.log" 2>&1 || { tail -n 30 "$work/openapi-gen.log" >&2; die "openapi-gen failed"; }
  [ -s pkg/generated/openapi/zz_generated.openapi.go ] || die "openapi-gen produced no zz_generated.openapi.go"

  # 5. The three binaries, with upstream's version stamps, into bin.partial then renamed (atomic).
  log "building ${BINARIES[*]} (several minutes)"
  local ld="" v
  for v in k8s.io/kubernetes/vendor/k8s.io/component-base/version k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version; do
    ld+=" -X $v.gitMajor=1 -X $v.gitMinor=20 -X $v.gitVersion=v$K8S_VERSION -X $v.gitCommit=$K8S_COMMIT"
    ld+=" -X $v.gitTreeState=dirty -X $v.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  done
  rm -rf "$CACHE/bin.partial"
  mkdir -p "$CACHE/bin.partial"
  local b pkgs=()
  for b in "${BINARIES[@]}"; do pkgs+=("./cmd/$b"); done
  nice -n 10 "$go" build -ldflags "-s -w$ld" -o "$CACHE/bin.partial/" "${pkgs[@]}" || die "go build failed"
  cd - >/dev/null
  rm -rf "$BIN"
  mv "$CACHE/bin.partial" "$BIN"

  if [ "${MEDIC_K8S_KEEP_BUILD:-0}" != 1 ]; then
    rm -rf "$work" "$CACHE/go-build"
  fi
  log "built $K8S_VERSION into $BIN in $((SECONDS - t0))s"
)

# --- pki, token, kubeconfig ----------------------------------------------------------------------------

# Generated once per state dir and kept across down/up, so a kubeconfig read earlier stays valid.
ensure_pki() {
  mkdir -p "$PKI"
  [ -f "$PKI/ca.crt" ] && [ -f "$PKI/apiserver.crt" ] && [ -f "$PKI/sa.key" ] && [ -f "$PKI/admin.token" ] &&
    return 0
  log "generating a test CA, serving certificate and service-account keys in $PKI"
  (
    cd "$PKI"
    umask 077
    cat >openssl.cnf <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = medic-test-ca
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, IP:10.96.0.1
authorityKeyIdentifier = keyid
subjectKeyIdentifier = hash
EOF
    # (chained with &&: `set -e` does not apply inside a subshell followed by ||)
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -config openssl.cnf -extensions ca \
      -keyout ca.key -out ca.crt 2>/dev/null &&
      openssl req -new -newkey rsa:2048 -nodes -sha256 -subj /CN=kube-apiserver -config openssl.cnf \
        -keyout apiserver.key -out apiserver.csr 2>/dev/null &&
      openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 3650 \
        -extfile openssl.cnf -extensions server -out apiserver.crt 2>/dev/null &&
      openssl verify -CAfile ca.crt apiserver.crt >/dev/null &&
      openssl genrsa -out sa.key 2048 2>/dev/null &&
      openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null &&
      openssl rand -hex 24 >admin.token &&
      # Static token file: token,user,uid,"groups"
      echo "$(cat admin.token),medic-admin,medic-admin,\"system:masters\"" >tokens.csv &&
      rm -f apiserver.csr
  ) || { rm -f "$PKI/ca.crt"; die "certificate generation with openssl failed"; }
}

write_kubeconfig() {
  local tmp="$KUBECONFIG_OUT.tmp"
  cat >"$tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: medic
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
users:
- name: medic-admin
  user:
    token: $(cat "$PKI/admin.token")
contexts:
- name: medic
  context:
    cluster: medic
    user: medic-admin
    namespace: default
current-context: medic
EOF
  chmod 600 "$tmp"
  mv "$tmp" "$KUBECONFIG_OUT"
}

# --- main ----------------------------------------------------------------------------------------------

if healthy; then
  log "already running and ready on https://127.0.0.1:$API_PORT"
  echo "$KUBECONFIG_OUT"
  exit 0
fi

mkdir -p "$CACHE"
# One build/start at a time (a second caller waits here, then usually finds everything running).
exec 9>"$CACHE/.lock"
flock 9
if healthy; then
  log "already running and ready on https://127.0.0.1:$API_PORT"
  echo "$KUBECONFIG_OUT"
  exit 0
fi

ensure_packages etcd-server etcd-client openssl curl

if ! { [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kube-controller-manager" ] && [ -x "$BIN/kube-scheduler" ]; }; then
  build
fi

# A half-running control plane (some component died) is stopped and started afresh.
if [ -d "$RUN" ] && ls "$RUN"/*.pid >/dev/null 2>&1; then
  log "a previous control plane is partly running or stale; stopping it first"
  MEDIC_K8S_STATE="$STATE" "$HERE/k8s-down.sh"
fi

for p in $ETCD_CLIENT_PORT $ETCD_PEER_PORT "$API_PORT" $CM_PORT $SCHED_PORT; do
  port_free "$p" || die "port 127.0.0.1:$p is already in use by another process (ss -ltnp 'sport = :$p')"
done

mkdir -p "$LOGS" "$RUN"
ensure_pki
write_kubeconfig
t0=$SECONDS

start etcd etcd --name medic --logger=zap --data-dir "$STATE/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "medic=http://127.0.0.1:$ETCD_PEER_PORT" \
  --unsafe-no-fsync
wait_for etcd 30 curl -sf --max-time 2 "http://127.0.0.1:$ETCD_CLIENT_PORT/health"

# shellcheck disable=SC2086 # the *_ARGS variables are split on purpose
start kube-apiserver "$BIN/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
  --secure-port="$API_PORT" --insecure-port=0 \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --token-auth-file="$PKI/tokens.csv" \
  --authorization-mode=Node,RBAC \
  --service-cluster-ip-range=10.96.0.0/16 \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" \
  --service-account-signing-key-file="$PKI/sa.key" \
  --disable-admission-plugins=ServiceAccount \
  --endpoint-reconciler-type=none \
  --allow-privileged=true \
  ${MEDIC_K8S_APISERVER_ARGS:-}
wait_for kube-apiserver 60 ready

# shellcheck disable=SC2086
start kube-controller-manager "$BIN/kube-controller-manager" \
  --kubeconfig="$KUBECONFIG_OUT" \
  --authentication-kubeconfig="$KUBECONFIG_OUT" --authorization-kubeconfig="$KUBECONFIG_OUT" \
  --leader-elect=false \
  --bind-address=127.0.0.1 --port=0 --secure-port=$CM_PORT --cert-dir="$STATE/controller-manager" \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --service-cluster-ip-range=10.96.0.0/16 \
  --node-monitor-grace-period="${MEDIC_K8S_NODE_GRACE:-1h}" --node-startup-grace-period="${MEDIC_K8S_NODE_GRACE:-1h}" \
  ${MEDIC_K8S_CM_ARGS:-}

# shellcheck disable=SC2086
start kube-scheduler "$BIN/kube-scheduler" \
  --kubeconfig="$KUBECONFIG_OUT" \
  --authentication-kubeconfig="$KUBECONFIG_OUT" --authorization-kubeconfig="$KUBECONFIG_OUT" \
  --leader-elect=false \
  --bind-address=127.0.0.1 --port=0 --secure-port=$SCHED_PORT --cert-dir="$STATE/scheduler" \
  ${MEDIC_K8S_SCHEDULER_ARGS:-}

wait_for kube-controller-manager 30 curl -skf --max-time 2 "https://127.0.0.1:$CM_PORT/healthz"
wait_for kube-scheduler 30 curl -skf --max-time 2 "https://127.0.0.1:$SCHED_PORT/healthz"

# The simulated kubelets, with node leases as a 1.20 kubelet renews them (40 s, its default).
kwok=$("$HERE/kwok-up.sh") || die "KWOK is not available (scripts/kwok-up.sh)"
start kwok "$kwok" --kubeconfig="$KUBECONFIG_OUT" --config="$(dirname "$kwok")/stages.yaml" \
  --manage-nodes-with-annotation-selector="$KWOK_NODES" --node-lease-duration-seconds=40
wait_for kwok 30 grep -q '"msg":"Watch nodes"' "$LOGS/kwok.log"

log "control plane $K8S_VERSION ready in $((SECONDS - t0))s on https://127.0.0.1:$API_PORT (logs in $LOGS)"
log "export KUBECONFIG=$KUBECONFIG_OUT"
echo "$KUBECONFIG_OUT"
