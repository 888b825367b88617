#!/usr/bin/env bash
# The dashboard with 1,000 Rollouts (issue 8, "Page weight and time to first render"): starts
# `weir up` in a temporary data directory, applies 1,000 canary Rollouts with `replicas: 0`
# (no processes), and loads the rollouts list in headless Chromium (Debian's chromium through
# playwright-core, crates/dashboard/browser/bench.mjs), printing the page weight and the time
# to first render (first contentful paint), median of RUNS cold loads.
#
# Usage: bench/dashboard.sh
# Environment (all optional):
#   WEIR        the weir binary (default: build it with `cargo build --release -p weir-cli`)
#   COUNT       how many Rollouts (default 1000)
#   RUNS        cold loads measured (default 5)
#   CHROMIUM    default /usr/bin/chromium
# Needs node and `npm ci` in crates/dashboard/browser.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COUNT=${COUNT:-1000}
RUNS=${RUNS:-5}
BROWSER_DIR="$REPO/crates/dashboard/browser"

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v node >/dev/null || die "node is missing"
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || die "chromium is missing (apt-get install -y chromium)"
[ -d "$BROWSER_DIR/node_modules/playwright-core" ] || die "run npm ci in $BROWSER_DIR"

if [ -z "${WEIR:-}" ]; then
  log "building weir (release)"
  (cd "$REPO" && cargo build --release --locked -p weir-cli >&2)
  WEIR="${CARGO_TARGET_DIR:-$REPO/target}/release/weir"
fi

WORK=$(mktemp -d)
WEIR_PID=
cleanup() {
  if [ -n "$WEIR_PID" ]; then
    kill -TERM "$WEIR_PID" 2>/dev/null || true
    wait "$WEIR_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

log "weir up in $WORK/data"
WEIR_LOG=warn "$WEIR" up --port 0 --gateway-port 0 --mesh-port 0 --metrics-port 0 \
  --data-dir "$WORK/data" >"$WORK/up.log" 2>&1 &
WEIR_PID=$!
for _ in $(seq 1 600); do
  [ -f "$WORK/data/endpoints.json" ] && break
  kill -0 "$WEIR_PID" 2>/dev/null || die "weir up stopped: $(cat "$WORK/up.log")"
  sleep 0.1
done
[ -f "$WORK/data/endpoints.json" ] || die "weir up did not start"
API=$(sed -n 's/.*"api": *"\([^"]*\)".*/\1/p' "$WORK/data/endpoints.json")
TOKEN=$(cat "$WORK/data/token")

log "generating and applying $COUNT Rollouts"
for i in $(seq 1 "$COUNT"); do
  cat <<YAML
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: bench-$i, namespace: default}
spec:
  replicas: 0
  selector: {matchLabels: {app: bench-$i}}
  strategy:
    canary:
      steps:
      - setWeight: 20
      - pause: {duration: 30s}
      - setWeight: 60
      - pause: {}
  template:
    metadata: {labels: {app: bench-$i}}
    spec:
      containers:
      - {name: app, image: "example.com/bench:1"}
YAML
done >"$WORK/rollouts.yaml"
start=$(date +%s%N)
"$WEIR" --data-dir "$WORK/data" apply -f "$WORK/rollouts.yaml" >/dev/null
log "applied in $(( ($(date +%s%N) - start) / 1000000 )) ms"

# Let the rollout controller write every status once before measuring.
for _ in $(seq 1 300); do
  healthy=$("$WEIR" --data-dir "$WORK/data" rollouts list rollouts | grep -c ' Healthy ' || true)
  [ "$healthy" -ge "$COUNT" ] && break
  sleep 1
done
log "$healthy of $COUNT Rollouts Healthy"

log "load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
WEIR_URL="$API" WEIR_TOKEN="$TOKEN" RUNS="$RUNS" EXPECT_ROWS="$COUNT" node "$BROWSER_DIR/bench.mjs"
