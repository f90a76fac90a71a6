#!/usr/bin/env bash
# Peak RSS and CPU of one ztproxy worker under V8 / allocator settings (issue 15, bench/MEMORY.md "Peak RSS").
#
#   bench/micro/peak-rss.sh LABEL [node flags...]      e.g.  peak-rss.sh ss8 --max-semi-space-size=8
#   PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 bench/micro/peak-rss.sh je
#
# Needs a finished `npm run bench` (its certificates in bench/out/certs) and its upstream nginx running on
# 127.0.0.1:19400 (bench/out/nginx-upstream; start it with
# `nginx -p bench/out/nginx-upstream -c $PWD/bench/out/nginx-upstream/nginx.conf -g 'daemon off;'`).
# ztproxy (NODE, default /opt/node24/package/bin/node) runs pinned to CPU 1, ab to CPU 0. After a 5000-request
# warm-up, three rounds of `ab -c 20 -n 3000` full mTLS handshakes and `ab -k -c 50 -n 30000` keep-alive
# requests; prints VmHWM, CPU ms per handshake and µs per keep-alive request (utime+stime of the process).
set -euo pipefail
LABEL=$1; shift
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
C="$ROOT/bench/out/certs"
NODE="${NODE:-/opt/node24/package/bin/node}"
PORT="${PORT:-19555}"
env ${PRELOAD:+LD_PRELOAD=$PRELOAD} taskset -c 1 "$NODE" "$@" "$ROOT/dist/main.js" serve --listen "127.0.0.1:$PORT" \
  --cert "$C/server/localhost.crt" --key "$C/server/localhost.key" --client-ca "$C/ca/ca.crt" \
  --upstream http://127.0.0.1:19400 --metrics-listen off --workers 1 --log-level warn >"/tmp/peak-rss-$LABEL.log" 2>&1 &
P=$!
trap 'kill $P 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sk -o /dev/null --cert "$C/client/client.pem" "https://127.0.0.1:$PORT/" && break; sleep 0.2; done
taskset -c 0 ab -q -k -c 50 -n 5000 -f TLS1.3 -E "$C/client/client.pem" "https://127.0.0.1:$PORT/" >/dev/null 2>&1
ticks() { awk '{print $14+$15}' "/proc/$P/stat"; }
hs=0; ka=0
for _ in 1 2 3; do
  c0=$(ticks)
  taskset -c 0 ab -q -c 20 -n 3000 -f TLS1.3 -E "$C/client/client.pem" "https://127.0.0.1:$PORT/" >/dev/null 2>&1
  c1=$(ticks)
  taskset -c 0 ab -q -k -c 50 -n 30000 -f TLS1.3 -E "$C/client/client.pem" "https://127.0.0.1:$PORT/" >/dev/null 2>&1
  c2=$(ticks)
  hs=$((hs + c1 - c0)); ka=$((ka + c2 - c1))
done
hz=$(getconf CLK_TCK)
awk -v l="$LABEL" -v hwm="$(awk '/VmHWM/{print $2}' "/proc/$P/status")" -v hs="$hs" -v ka="$ka" -v hz="$hz" -v f="$*" -v pre="${PRELOAD:-}" \
  'BEGIN { printf "%s peak=%.0fMB ms/handshake=%.3f us/ka-req=%.1f flags=%s%s\n", l, hwm/1024, hs/hz*1000/9000, ka/hz*1e6/90000, f, (pre ? " LD_PRELOAD=" pre : "") }'
