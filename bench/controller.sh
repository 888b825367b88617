#!/usr/bin/env bash
# `weir controller` at 1,000 canary Rollouts through the Kubernetes backend (issue 13,
# "Benchmark"): memory and API requests/s, next to Argo Rollouts' published ~1 MB per Rollout.
#
# `weir up --controllers none` is the cluster (store, API, node agent, mesh); the Rollouts, each
# with its own Service, DestinationRule and VirtualService (Istio subset routing), are applied
# before `weir controller --kubeconfig …` starts, as when a team replaces Argo's controller in a
# cluster that already runs its Rollouts. The controller reaches the API through a counting
# TCP proxy (a few lines of Python asyncio, below) that counts the HTTP requests it forwards.
#
# Prints: time from the controller's start until all Rollouts are Healthy; the controller's
# RSS (peak VmHWM and steady VmRSS, /proc/PID/status) and RSS per Rollout; API requests/s while
# converging and while idle; then a rollout wave (a new image on every Rollout: time until all
# are Healthy on it, requests/s, peak RSS). Figures only: nothing here asserts a time.
#
# Usage: bench/controller.sh
# Environment (all optional):
#   ROLLOUTS          how many Rollouts (default 1000)
#   REPLICAS          replicas per Rollout (default 0: no pod processes, so that the figures are
#                     the controller's, not 1,000 processes'; with >0 each pod runs `sleep`)
#   QPS, BURST        the controller's client-side limits (default 40, 80: Argo Rollouts')
#   STEADY_SECS       idle window measured after convergence (default 30)
#   WAVE              1: also roll a new image onto every Rollout (default 1)
#   WEIR_BIN          use this weir binary instead of building it (release)
#   CARGO_TARGET_DIR  where weir is built (default <repo>/target)
#   TIMEOUT_SECS      give up waiting for Healthy after this long (default 1800)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROLLOUTS=${ROLLOUTS:-1000}
REPLICAS=${REPLICAS:-0}
QPS=${QPS:-40}
BURST=${BURST:-80}
STEADY_SECS=${STEADY_SECS:-30}
WAVE=${WAVE:-1}
TIMEOUT_SECS=${TIMEOUT_SECS:-1800}
NS=bench

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

WORK=$(mktemp -d /tmp/weir-bench-controller.XXXXXX)
PIDS=()
cleanup() {
    local pid
    # The controller first, then the proxy, then weir up (which ends its pods' processes).
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        pid=${PIDS[$i]}
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do
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

# ---------------------------------------------------------------- build
if [[ -z ${WEIR_BIN:-} ]]; then
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
    export CARGO_INCREMENTAL=0
    log "building weir (release, CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
    (cd "$REPO" && cargo build --release -q -p weir-cli --bin weir)
    WEIR_BIN=$CARGO_TARGET_DIR/release/weir
fi
[[ -x $WEIR_BIN ]] || die "no weir binary at $WEIR_BIN"
command -v curl >/dev/null || die "curl is needed"
command -v python3 >/dev/null || die "python3 is needed"

# ---------------------------------------------------------------- the cluster
DATA=$WORK/data
mkdir -p "$DATA"
cat >"$DATA/config.yaml" <<'EOF'
images:
  bench/app:1: [/bin/sleep, "3600"]
  bench/app:2: [/bin/sleep, "3600"]
EOF
log "starting weir up --controllers none"
WEIR_LOG=warn "$WEIR_BIN" up --controllers none --data-dir "$DATA" --port 0 --gateway-port 0 \
    --mesh-port 0 --metrics-port 0 >"$WORK/up.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 600); do
    [[ -s $DATA/endpoints.json ]] && break
    sleep 0.2
done
[[ -s $DATA/endpoints.json ]] || die "weir up did not start (see $WORK/up.log)"
API=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api"])' "$DATA/endpoints.json")
TOKEN=$(tr -d '[:space:]' <"$DATA/token")
weir() { "$WEIR_BIN" --data-dir "$DATA" "$@"; }

# ---------------------------------------------------------------- the Rollouts
manifests() { # IMAGE_TAG
    python3 - "$ROLLOUTS" "$REPLICAS" "$1" "$NS" <<'EOF'
import sys
n, replicas, tag, ns = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
out = [f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n"]
for i in range(n):
    name = f"app-{i:04d}"
    out.append(f"""apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {ns}}}
spec: {{selector: {{app: {name}}}, ports: [{{port: 8080, targetPort: 8080}}]}}
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {{name: {name}, namespace: {ns}}}
spec:
  host: {name}
  subsets:
  - {{name: stable, labels: {{app: {name}}}}}
  - {{name: canary, labels: {{app: {name}}}}}
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {{name: {name}, namespace: {ns}}}
spec:
  hosts: [{name}]
  http:
  - name: primary
    route:
    - {{destination: {{host: {name}, subset: stable}}, weight: 100}}
    - {{destination: {{host: {name}, subset: canary}}, weight: 0}}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {{name: {name}, namespace: {ns}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - {{name: app, image: "bench/app:{tag}"}}
  strategy:
    canary:
      trafficRouting:
        istio:
          virtualService: {{name: {name}, routes: [primary]}}
          destinationRule: {{name: {name}, canarySubsetName: canary, stableSubsetName: stable}}
      steps:
      - setWeight: 20
      - pause: {{duration: 5}}
      - setWeight: 60
      - pause: {{duration: 5}}
""")
print("---\n".join(out))
EOF
}
log "applying $ROLLOUTS Rollouts (+ Service, DestinationRule, VirtualService each)"
manifests 1 >"$WORK/v1.yaml"
start=$(date +%s.%N)
weir apply -f "$WORK/v1.yaml" >/dev/null
log "applied in $(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')") s"

# ---------------------------------------------------------------- the counting proxy
cat >"$WORK/count_proxy.py" <<'EOF'
"""A TCP proxy that counts the HTTP/1.1 requests passing from client to server."""
import asyncio, json, re, sys, time

upstream_host, upstream_port = sys.argv[1].rsplit(":", 1)
port_file, stats_file = sys.argv[2], sys.argv[3]
REQUEST = re.compile(rb"(?:^|\r\n)(GET|POST|PUT|PATCH|DELETE) (\S+) HTTP/1\.1\r\n")
counts = {"requests": 0, "watches": 0, "verbs": {}}

def count(verb, path):
    counts["requests"] += 1
    watch = verb == "GET" and (b"watch=true" in path or b"watch=1" in path)
    key = "WATCH" if watch else verb
    if watch:
        counts["watches"] += 1
    counts["verbs"][key] = counts["verbs"].get(key, 0) + 1

async def pipe(reader, writer, counting):
    tail = b""
    try:
        while data := await reader.read(65536):
            if counting:
                buf = tail + data
                for m in REQUEST.finditer(buf):
                    if m.end() > len(tail):  # not counted with the previous read
                        count(m.group(1).decode(), m.group(2))
                tail = buf[-512:]
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()

async def handle(client_reader, client_writer):
    try:
        up_reader, up_writer = await asyncio.open_connection(upstream_host, int(upstream_port))
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(pipe(client_reader, up_writer, True), pipe(up_reader, client_writer, False))

async def dump():
    while True:
        with open(stats_file + ".tmp", "w") as f:
            json.dump(dict(counts, time=time.time()), f)
        import os
        os.replace(stats_file + ".tmp", stats_file)
        await asyncio.sleep(0.5)

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    with open(port_file, "w") as f:
        f.write(str(server.sockets[0].getsockname()[1]))
    asyncio.ensure_future(dump())
    async with server:
        await server.serve_forever()

asyncio.run(main())
EOF
python3 "$WORK/count_proxy.py" "${API#http://}" "$WORK/proxy.port" "$WORK/proxy.json" &
PIDS+=($!)
for _ in $(seq 100); do
    [[ -s $WORK/proxy.port && -s $WORK/proxy.json ]] && break
    sleep 0.1
done
[[ -s $WORK/proxy.port ]] || die "the counting proxy did not start"
cat >"$WORK/kubeconfig" <<EOF
apiVersion: v1
kind: Config
current-context: bench
clusters:
- name: bench
  cluster: {server: "http://127.0.0.1:$(cat "$WORK/proxy.port")"}
contexts:
- name: bench
  context: {cluster: bench, user: bench, namespace: default}
users:
- name: bench
  user: {token: "$TOKEN"}
EOF

# ---------------------------------------------------------------- measuring helpers
requests() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' "$WORK/proxy.json"; }
verbs() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(" ".join(f"{k}={v}" for k,v in sorted(d["verbs"].items())))' "$WORK/proxy.json"; }
rss_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
# Healthy Rollouts (on the image tag $1: their stable pod-template hash differs from the one
# recorded in $WORK/hashes.v1 when $1 is 2).
healthy() {
    curl -sf -H "Authorization: Bearer $TOKEN" "$API/apis/argoproj.io/v1alpha1/namespaces/$NS/rollouts" |
        python3 -c '
import json, sys
items = json.load(sys.stdin)["items"]
old = {}
if sys.argv[1] == "2":
    old = dict(l.split() for l in open(sys.argv[2]) if l.strip())
n = 0
for ro in items:
    s = ro.get("status") or {}
    name = ro["metadata"]["name"]
    ok = s.get("phase") == "Healthy" and s.get("stableRS") and s.get("stableRS") == s.get("currentPodHash")
    if ok and sys.argv[1] == "2":
        ok = s["stableRS"] != old.get(name)
    if ok and sys.argv[1] == "1" and len(sys.argv) > 3:
        print(name, s["stableRS"], file=open(sys.argv[3], "a"))
    n += ok
print(n)' "$@"
}
# Waits until all Rollouts are Healthy (on tag $1), sampling the controller's RSS; sets
# WAITED to the seconds it took (not printed: a command substitution would run the loop in a
# subshell that Ctrl-C / SIGTERM does not reach until it ends).
wait_healthy() {
    local tag=$1 from=$2 n
    while true; do
        n=$(healthy "$tag" "$WORK/hashes.v1" || echo 0)
        [[ $n -ge $ROLLOUTS ]] && break
        if ! kill -0 "$CONTROLLER" 2>/dev/null; then die "weir controller exited (see $WORK/controller.log)"; fi
        local elapsed
        elapsed=$(python3 -c "print(int($(date +%s.%N) - $from))")
        [[ $elapsed -lt $TIMEOUT_SECS ]] || die "only $n of $ROLLOUTS Healthy after $elapsed s"
        log "  $n/$ROLLOUTS Healthy after ${elapsed}s; controller RSS $(($(rss_kb "$CONTROLLER" VmRSS) / 1024)) MiB; $(requests) requests"
        sleep 5
    done
    WAITED=$(python3 -c "print(f'{$(date +%s.%N) - $from:.1f}')")
}

# ---------------------------------------------------------------- the controller
log "starting weir controller (--qps $QPS --burst $BURST) through the counting proxy"
t0=$(date +%s.%N)
r0=$(requests)
WEIR_LOG=warn "$WEIR_BIN" controller --kubeconfig "$WORK/kubeconfig" --data-dir "$WORK/ctl" \
    --port 0 --qps "$QPS" --burst "$BURST" >"$WORK/controller.log" 2>&1 &
CONTROLLER=$!
PIDS+=("$CONTROLLER")
wait_healthy 1 "$t0"
converge_secs=$WAITED
r1=$(requests)
converge_hwm=$(rss_kb "$CONTROLLER" VmHWM)
healthy 1 /dev/null "$WORK/hashes.v1" >/dev/null
log "all $ROLLOUTS Healthy after $converge_secs s; idle for $STEADY_SECS s"
sleep "$STEADY_SECS"
r2=$(requests)
steady_rss=$(rss_kb "$CONTROLLER" VmRSS)
verbs_converge=$(verbs)

if [[ $WAVE == 1 ]]; then
    log "wave: image bench/app:2 on every Rollout"
    manifests 2 | python3 -c '
import sys
docs = sys.stdin.read().split("---\n")
print("---\n".join(d for d in docs if "kind: Rollout" in d))' >"$WORK/v2.yaml"
    rw0=$(requests)
    tw=$(date +%s.%N)
    weir apply -f "$WORK/v2.yaml" >/dev/null
    wait_healthy 2 "$tw"
    wave_secs=$WAITED
    rw1=$(requests)
    wave_hwm=$(rss_kb "$CONTROLLER" VmHWM)
    wave_rss=$(rss_kb "$CONTROLLER" VmRSS)
fi

# ---------------------------------------------------------------- report
python3 - "$ROLLOUTS" "$REPLICAS" "$QPS" "$BURST" "$converge_secs" "$r0" "$r1" "$r2" "$STEADY_SECS" \
    "$converge_hwm" "$steady_rss" "$verbs_converge" "${wave_secs:-}" "${rw0:-0}" "${rw1:-0}" \
    "${wave_hwm:-0}" "${wave_rss:-0}" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" \
    "$("$WEIR_BIN" --version 2>/dev/null || echo weir)" "$(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo '?')" <<'EOF'
import sys, time
(n, replicas, qps, burst, conv, r0, r1, r2, steady, hwm, rss, verbs, wave, rw0, rw1, whwm, wrss,
 cpus, load, version, commit) = sys.argv[1:]
n, conv, steady = int(n), float(conv), float(steady)
r0, r1, r2, rw0, rw1 = map(int, (r0, r1, r2, rw0, rw1))
mib = lambda kb: int(kb) / 1024
print(f"weir controller at {n} canary Rollouts (Istio subset routing), {time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime())}")
print(f"{version} (commit {commit}), release build; {cpus} CPUs; load average at the end: {load}")
print(f"replicas per Rollout: {replicas}; controller --qps {qps} --burst {burst}; "
      "requests counted at a TCP proxy between controller and API")
print()
print("| figure | value |")
print("|---|---:|")
print(f"| time from controller start to all {n} Healthy | {conv:.1f} s |")
print(f"| API requests until then | {r1 - r0} ({(r1 - r0) / conv:.1f}/s) |")
print(f"| API requests/s while idle ({steady:.0f} s after) | {(r2 - r1) / steady:.2f} |")
print(f"| controller RSS, peak (VmHWM) | {mib(hwm):.1f} MiB |")
print(f"| controller RSS, steady (VmRSS, idle) | {mib(rss):.1f} MiB |")
print(f"| steady RSS per Rollout | {int(rss) / n:.1f} KiB |")
print(f"| Argo Rollouts, published | ~1 MB per Rollout (~{n} MB at {n}) |")
if wave:
    wave = float(wave)
    print(f"| wave: new image on all {n}, time to all Healthy | {wave:.1f} s |")
    print(f"| wave: API requests | {rw1 - rw0} ({(rw1 - rw0) / wave:.1f}/s) |")
    print(f"| wave: controller RSS peak / after | {mib(whwm):.1f} / {mib(wrss):.1f} MiB |")
print()
print(f"requests by verb until converged+idle: {verbs}")
EOF
