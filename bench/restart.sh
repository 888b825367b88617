#!/usr/bin/env bash
# Restarts of weir under load (issue 16 item 2, the full run of the CI restart soak in
# crates/cli/tests/rollouts_e2e/restart_soak.rs).
#
# One `weir up` (release build) with a Rollout `web` (2 replicas of `weir demo service`) behind
# a gateway-bound VirtualService, a background analysis on weir's own proxy statistics
# (success rate >= 95 % over 6 s, every 2 s, failureLimit 1), and a steady ~20 requests a
# second through the gateway for the whole run. RESTARTS times: a new version is rolled out as
# a canary paused at 50 % with its analysis running; weir is killed with SIGKILL and started
# again on the same data directory and ports; after SETTLE seconds the canary is checked
# (aborted or not) and promoted. Prints, per restart, the failed requests and the failed
# window (first to last failed request), and how many canaries weir's restarts aborted.
#
# Usage: bench/restart.sh
# Environment (all optional):
#   WEIR_BIN     the weir binary (default: <repo>/target/release/weir, built if missing)
#   RESTARTS     default 10
#   SETTLE       seconds after each restart before the canary is checked (default 15)
#   PORT_BASE    API PORT_BASE, gateway +1, mesh +2, metrics +3 (default 19170)
#   RESULTS      also write the per-restart results (TSV) to this file
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RESTARTS=${RESTARTS:-10}
SETTLE=${SETTLE:-15}
PORT_BASE=${PORT_BASE:-19170}
API_PORT=$PORT_BASE
GATEWAY_PORT=$((PORT_BASE + 1))
MESH_PORT=$((PORT_BASE + 2))
METRICS_PORT=$((PORT_BASE + 3))

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

BIN=${WEIR_BIN:-$REPO/target/release/weir}
if [[ ! -x $BIN ]]; then
    log "building $BIN (release)"
    (cd "$REPO" && cargo build --release -p weir-cli --bin weir) >&2
fi

WORK=$(mktemp -d /tmp/weir-restart.XXXXXX)
DATA=$WORK/data
WEIR_PID=
LOAD_PID=
cleanup() {
    [[ -n $LOAD_PID ]] && kill "$LOAD_PID" 2>/dev/null || true
    if [[ -n $WEIR_PID ]] && kill -0 "$WEIR_PID" 2>/dev/null; then
        kill -TERM "$WEIR_PID" 2>/dev/null || true
        for _ in $(seq 300); do
            kill -0 "$WEIR_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$WEIR_PID" 2>/dev/null || true
    fi
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

weir() { "$BIN" --data-dir "$DATA" "$@"; }

start_weir() {
    rm -f "$DATA/endpoints.json"
    WEIR_LOG=${WEIR_LOG:-warn} "$BIN" up --data-dir "$DATA" --port "$API_PORT" \
        --gateway-port "$GATEWAY_PORT" --mesh-port "$MESH_PORT" --metrics-port "$METRICS_PORT" \
        >>"$WORK/weir.out" 2>>"$WORK/weir.err" &
    WEIR_PID=$!
    for _ in $(seq 1200); do
        [[ -f $DATA/endpoints.json ]] && return 0
        sleep 0.05
    done
    die "weir up did not start (see $WORK/weir.err)"
}

# A field of the Rollout's status, by a Python expression over `s` (the status).
status() {
    weir get rollouts web -o json 2>/dev/null |
        python3 -c "import json,sys; s=json.load(sys.stdin).get('status',{}); print($1)" 2>/dev/null || true
}

wait_for() { # description, python condition over s
    local what=$1 cond=$2
    for _ in $(seq 600); do
        [[ $(status "$cond") == True ]] && return 0
        sleep 0.2
    done
    die "timed out waiting for $what"
}

rollout() { # version
    cat <<EOF
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  strategy:
    canary:
      scaleDownDelaySeconds: 2
      analysis:
        templates: [{templateName: success-rate}]
        startingStep: 1
        args:
        - name: canary-hash
          valueFrom: {podTemplateHashValue: Latest}
      trafficRouting:
        istio:
          virtualService: {name: web, routes: [primary]}
          destinationRule: {name: web, canarySubsetName: canary, stableSubsetName: stable}
      steps:
      - setWeight: 50
      - pause: {}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: web
        image: weir-demo-web:$1
        command: ["$BIN", demo, service, --name, web, --version, "$1"]
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
EOF
}

cat >"$WORK/objects.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {selector: {app: web}, ports: [{port: 8080, targetPort: 8080}]}
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: web, namespace: default}
spec:
  host: web
  subsets:
  - {name: stable, labels: {app: web}}
  - {name: canary, labels: {app: web}}
---
apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata: {name: web-gateway, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [web.example]
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web.example]
  gateways: [web-gateway]
  http:
  - name: primary
    route:
    - {destination: {host: web, subset: stable}, weight: 100}
    - {destination: {host: web, subset: canary}, weight: 0}
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: success-rate, namespace: default}
spec:
  args:
  - name: canary-hash
  metrics:
  - name: success-rate
    interval: 2s
    failureLimit: 1
    successCondition: isNaN(result) || result >= 95
    provider:
      plugin:
        weir/builtin:
          metric: request-success-rate
          service: web
          namespace: default
          podTemplateHash: "{{args.canary-hash}}"
          window: 6s
EOF

# ~20 requests a second through the gateway: "<unix time> <1 ok | 0 failed>" per request.
cat >"$WORK/load.py" <<'EOF'
import http.client, sys, time
port = int(sys.argv[1])
out = open(sys.argv[2], "a", buffering=1)
while True:
    sent = time.time()
    ok = 0
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/", headers={"Host": "web.example"})
        ok = int(c.getresponse().status == 200)
        c.close()
    except Exception:
        pass
    out.write(f"{sent:.3f} {ok}\n")
    time.sleep(max(0.0, 0.05 - (time.time() - sent)))
EOF

log "weir: $BIN; work dir $WORK"
start_weir
weir apply -f "$WORK/objects.yaml" >/dev/null
rollout v1 >"$WORK/rollout.yaml"
weir apply -f "$WORK/rollout.yaml" >/dev/null
wait_for "v1 Healthy" "s.get('phase') == 'Healthy'"
python3 "$WORK/load.py" "$GATEWAY_PORT" "$WORK/load.log" &
LOAD_PID=$!
sleep 3

aborted=0
: >"$WORK/kills"
for i in $(seq "$RESTARTS"); do
    version=v$((i + 1))
    rollout "$version" >"$WORK/rollout.yaml"
    weir apply -f "$WORK/rollout.yaml" >/dev/null
    wait_for "$version paused at 50 %" \
        "s.get('phase') == 'Paused' and s.get('currentStepIndex') == 1 and bool((s.get('canary') or {}).get('currentBackgroundAnalysisRunStatus'))"
    sleep 4
    printf '%s\n' "$(date +%s.%N)" >>"$WORK/kills"
    kill -KILL "$WEIR_PID"
    wait "$WEIR_PID" 2>/dev/null || true
    start_weir
    sleep "$SETTLE"
    if [[ $(status "s.get('abort') is True or s.get('phase') == 'Degraded'") == True ]]; then
        aborted=$((aborted + 1))
        log "restart $i: the $version canary was aborted ($(status "s.get('message')"))"
        weir rollouts retry rollout web >/dev/null 2>&1 || true
        wait_for "$version paused again" "s.get('phase') == 'Paused'"
    fi
    weir rollouts promote web >/dev/null
    wait_for "$version Healthy" "s.get('phase') == 'Healthy'"
done
sleep 2
kill "$LOAD_PID" 2>/dev/null || true
LOAD_PID=

python3 - "$WORK/kills" "$WORK/load.log" "$SETTLE" "${RESULTS:-}" "$aborted" "$RESTARTS" <<'EOF'
import sys
kills = [float(l) for l in open(sys.argv[1]) if l.strip()]
reqs = [(float(t), int(ok)) for t, ok in (l.split() for l in open(sys.argv[2]) if l.strip())]
settle = float(sys.argv[3])
rows = []
for n, k in enumerate(kills, 1):
    span = [(t, ok) for t, ok in reqs if k - 1 <= t < k + settle]
    failed = [t for t, ok in span if not ok]
    window = (failed[-1] - failed[0] + 0.05) if failed else 0.0
    rows.append((n, len(failed), len(span), window))
    print(f"restart {n:2}: {len(failed):4} of {len(span):4} requests failed, failed window {window * 1000:7.0f} ms")
windows = sorted(r[3] for r in rows)
total_failed = sum(r[1] for r in rows)
print(f"failed requests per restart: mean {total_failed / len(rows):.1f}, "
      f"failed window median {windows[len(windows) // 2] * 1000:.0f} ms, max {windows[-1] * 1000:.0f} ms")
print(f"canaries aborted by weir's restarts: {sys.argv[5]} of {sys.argv[6]}")
if sys.argv[4]:
    with open(sys.argv[4], "w") as f:
        f.write("restart\tfailed\tsent\twindow_ms\n")
        for n, failed, sent, w in rows:
            f.write(f"{n}\t{failed}\t{sent}\t{w * 1000:.0f}\n")
EOF
