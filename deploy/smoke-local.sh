#!/usr/bin/env bash
# Local smoke test of the deploy files without Docker: three `tessera serve` processes on
# loopback forming a cluster (the 2nd and 3rd join by CLUSTER_JOIN), HAProxy in front with
# deploy/haproxy.cfg (its servers rewritten to the local ports), then checks that
#   - every node becomes ready (joiners receive the signing keys by replication),
#   - HAProxy round-robins over all three (X-Tessera-Node) and its health checks pass,
#   - `tessera cluster status` shows three voters,
#   - with one node killed, HAProxy keeps answering from the other two.
# Usage: deploy/smoke-local.sh [path/to/tessera]   (default: target/debug/tessera)
set -euo pipefail
BIN=${1:-${CARGO_TARGET_DIR:-target}/debug/tessera}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$WORK/haproxy.pid" ] && kill "$(cat "$WORK/haproxy.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

# Seven distinct free loopback ports, held open together while they are picked.
read -r LB H1 H2 H3 C1 C2 C3 < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(7)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
KEK=$(head -c 32 /dev/urandom | base64)
SECRET=$(head -c 24 /dev/urandom | base64)
HTTP=(x "$H1" "$H2" "$H3"); CL=(x "$C1" "$C2" "$C3")

node_env() { # i
  local i=$1
  echo DATA_DIR="$WORK/n$i" SERVER_HOST=127.0.0.1 SERVER_PORT="${HTTP[$i]}" \
    ISSUER="http://127.0.0.1:$LB" KEY_ENCRYPTION_KEY="$KEK" LOG_FORMAT=json RUST_LOG=warn \
    CLUSTER_BIND="127.0.0.1:${CL[$i]}" CLUSTER_SECRET="$SECRET" TRUSTED_PROXIES=127.0.0.1
}
start() { # i [join-port]
  local i=$1; mkdir -p "$WORK/n$i"
  local extra=""; [ $# -gt 1 ] && extra="CLUSTER_JOIN=127.0.0.1:$2"
  env -i PATH="$PATH" $(node_env "$i") $extra "$BIN" serve 2>"$WORK/n$i.log" &
  PIDS+=($!)
}
ready() { # port
  for _ in $(seq 300); do curl -fsS "http://127.0.0.1:$1/ready" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "not ready on $1"; return 1
}

start 1; ready "${HTTP[1]}"
start 2 "${CL[1]}"; start 3 "${CL[1]}"
ready "${HTTP[2]}"; ready "${HTTP[3]}"
echo "three nodes ready"

# deploy/haproxy.cfg with local servers instead of Docker DNS names.
sed -e "s#pidfile .*#pidfile $WORK/haproxy.pid#" \
    -e "s#bind :8080#bind 127.0.0.1:$LB#" \
    -e "s#^    log stdout format raw local0#    log stderr format raw local0#" \
    -e "/server-template/d" -e "s# resolvers docker init-addr last,libc,none##" \
    -e "s#server seed tessera-seed:3001 check#server n1 127.0.0.1:${HTTP[1]} check\n    server n2 127.0.0.1:${HTTP[2]} check\n    server n3 127.0.0.1:${HTTP[3]} check#" \
    "$HERE/haproxy.cfg" > "$WORK/haproxy.cfg"
haproxy -c -f "$WORK/haproxy.cfg" >/dev/null
haproxy -f "$WORK/haproxy.cfg" -D
sleep 3 # two health checks (inter 2s, rise 2)

seen=$(for _ in $(seq 9); do curl -fsS -D - -o /dev/null "http://127.0.0.1:$LB/ready" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-tessera-node"{print $2}'; done | sort -u | wc -l)
[ "$seen" -eq 3 ] || { echo "round-robin reached $seen nodes, want 3"; exit 1; }
echo "haproxy round-robins over 3 nodes"

voters=$(env -i PATH="$PATH" $(node_env 2) "$BIN" cluster status --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["members"]))')
[ "$voters" -eq 3 ] || { echo "cluster status shows $voters voters"; exit 1; }
echo "cluster status: 3 voters"

kill "${PIDS[2]}"; sleep 5
for _ in $(seq 6); do curl -fsS "http://127.0.0.1:$LB/ready" >/dev/null; done
echo "one node down: haproxy still answers"
echo "OK"
