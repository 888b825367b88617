#!/usr/bin/env bash
# 10,000 concurrent requests through weir's proxy (issue 16 item 4): upstream connections,
# file descriptors and resident memory of the proxy, during and after the burst.
#
# Upstream: a Python asyncio HTTP/1.1 server on 127.0.0.1 that answers after DELAY_MS and
# counts its open connections (and the most at once). Proxy: the weir-proxy example
# `standalone` (default pool: Envoy's 1,024 connections / 1,024 pending; --idle-timeout
# IDLE_S). Client: CONCURRENCY asyncio connections opened at once, one GET each.
# Prints: statuses, the most upstream connections at once, the proxy's fds and RSS before,
# at peak (sampled every 100 ms), right after the burst and after the idle timeout.
#
# Usage: bench/pool.sh
# Environment (all optional):
#   WEIR_PROXY_BIN   use this standalone binary (default: build it, release, in CARGO_TARGET_DIR)
#   CONCURRENCY      default 10000      DELAY_MS   default 200
#   IDLE_S           proxy's upstream idle timeout in seconds (default 10)
#   PORT_BASE        upstream PORT_BASE, proxy +1 (default 18180)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONCURRENCY=${CONCURRENCY:-10000}
DELAY_MS=${DELAY_MS:-200}
IDLE_S=${IDLE_S:-10}
PORT_BASE=${PORT_BASE:-18180}
UP_PORT=$PORT_BASE
PROXY_PORT=$((PORT_BASE + 1))

log() { printf '[pool %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
WORK=$(mktemp -d /tmp/weir-pool.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)"

if [[ -z ${WEIR_PROXY_BIN:-} ]]; then
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
    log "building the standalone example (release)"
    (cd "$REPO" && cargo build --release -q -p weir-proxy --example standalone)
    WEIR_PROXY_BIN=$CARGO_TARGET_DIR/release/examples/standalone
fi

cat >"$WORK/upstream.py" <<'EOF'
import asyncio, sys
port, delay = int(sys.argv[1]), int(sys.argv[2]) / 1000
open_now = most = 0
async def serve(reader, writer):
    global open_now, most
    open_now += 1
    most = max(most, open_now)
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(delay)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()
            if b"connection: close" in head.lower():
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        open_now -= 1
        writer.close()
async def report():
    while True:
        with open(sys.argv[3], "w") as f:
            f.write(f"{open_now} {most}\n")
        await asyncio.sleep(0.1)
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=4096)
    asyncio.create_task(report())
    async with server:
        await server.serve_forever()
asyncio.run(main())
EOF

cat >"$WORK/client.py" <<'EOF'
import asyncio, collections, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
async def one():
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 60)
        w.write(b"GET / HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n")
        await w.drain()
        data = await asyncio.wait_for(r.read(), 120)
        w.close()
        line = data.split(b"\r\n", 1)[0].split()
        return line[1].decode() if len(line) > 1 else "empty"
    except Exception as e:
        return type(e).__name__
async def main():
    results = await asyncio.gather(*(one() for _ in range(n)))
    print(" ".join(f"{k}:{v}" for k, v in sorted(collections.Counter(results).items())))
asyncio.run(main())
EOF

python3 "$WORK/upstream.py" "$UP_PORT" "$DELAY_MS" "$WORK/upstream.txt" &
PIDS+=($!)
"$WEIR_PROXY_BIN" --listen "127.0.0.1:$PROXY_PORT" --upstream "127.0.0.1:$UP_PORT" \
    --idle-timeout "$IDLE_S" 2>"$WORK/proxy.log" &
PROXY=$!
PIDS+=("$PROXY")
for _ in $(seq 100); do
    curl -sf -o /dev/null -H 'host: bench' "http://127.0.0.1:$PROXY_PORT/" && break
    sleep 0.1
done
sleep 1

fds() { find "/proc/$PROXY/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
rss_mib() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$PROXY/status"; }
hwm_mib() { awk '/^VmHWM:/ {printf "%.1f", $2 / 1024}' "/proc/$PROXY/status"; }
upstream_open() { cut -d' ' -f1 "$WORK/upstream.txt"; }

log "before: fds $(fds), RSS $(rss_mib) MiB"
before="fds $(fds), RSS $(rss_mib) MiB"
peak_fds=0
(
    while kill -0 "$PROXY" 2>/dev/null; do
        echo "$(fds)" >>"$WORK/fds.txt"
        sleep 0.1
    done
) &
SAMPLER=$!
PIDS+=("$SAMPLER")
start=$(date +%s.%N)
statuses=$(python3 "$WORK/client.py" "$PROXY_PORT" "$CONCURRENCY")
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
peak_fds=$(sort -n "$WORK/fds.txt" | tail -n1)
after="fds $(fds), RSS $(rss_mib) MiB, upstream connections open $(upstream_open)"
log "burst done in ${elapsed}s: $statuses"
sleep $((IDLE_S + 3))
idle="fds $(fds), RSS $(rss_mib) MiB, upstream connections open $(upstream_open)"

echo "weir proxy, $CONCURRENCY concurrent requests (upstream delay ${DELAY_MS} ms), $(date -u +%FT%TZ), $(nproc) CPUs"
echo "  statuses:                          $statuses (in ${elapsed} s)"
echo "  most upstream connections at once: $(cut -d' ' -f2 "$WORK/upstream.txt")"
echo "  proxy before:                      $before"
echo "  proxy peak:                        fds $peak_fds, RSS $(hwm_mib) MiB (VmHWM)"
echo "  proxy right after the burst:       $after"
echo "  proxy ${IDLE_S}+3 s later (idle timeout ${IDLE_S} s): $idle"
