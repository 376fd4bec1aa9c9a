#!/usr/bin/env bash
# The same `xrtc-client load` against XCtrl (with the test node: `xrtc-demo --serve`, XCtrl and node in one
# process) and against a stock FreeSWITCH mod_verto, printed side by side: calls, setup p50/p99, loss, and the
# server's memory per call (RSS growth of the server process at the peak of the run / calls up).
#
#   make bench-load-vs-modverto [LOAD_CALLS=20] [LOAD_RATE=5] [LOAD_DURATION=20s]
#
# FreeSWITCH is looked for in $FREESWITCH_PREFIX (default /usr/local/freeswitch), with the test configuration
# of freeswitch-for-tests.sh (users 1000-1019/1234 in domain 127.0.0.1, mod_verto on ws://127.0.0.1:8081, 9196
# echo). It is shared: the script takes /tmp/freeswitch.lock, starts it, and stops it at the end; a FreeSWITCH
# that is already running is left alone (the mod_verto side is skipped). Without FreeSWITCH it says so and
# runs the XCtrl side only.
set -euo pipefail
cd "$(dirname "$0")/../.."
CALLS=${LOAD_CALLS:-20}
RATE=${LOAD_RATE:-5}
DURATION=${LOAD_DURATION:-20s}
PREFIX=${FREESWITCH_PREFIX:-/usr/local/freeswitch}
BIN=${BIN:-bin}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

go build -o "$BIN/" ./tools/xrtc-client ./tools/xrtc-demo

rss() { awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$1/status" 2>/dev/null || echo 0; }

# load NAME URL LOGIN PASSWD PID: runs the load while sampling the RSS of PID; writes NAME.json and NAME.rss
# (baseline and peak bytes).
load() {
  local name=$1 url=$2 login=$3 passwd=$4 pid=$5 base peak=0 r
  base=$(rss "$pid")
  "$BIN/xrtc-client" load 9196 --url "$url" --login "$login" --passwd "$passwd" --ice-loopback -q --json \
    --calls "$CALLS" --rate "$RATE" --duration "$DURATION" >"$OUT/$name.json" || true &
  local lp=$!
  while kill -0 "$lp" 2>/dev/null; do
    r=$(rss "$pid"); [ "$r" -gt "$peak" ] && peak=$r
    sleep 0.5
  done
  wait "$lp" || true
  echo "$base $peak" >"$OUT/$name.rss"
}

# field NAME KEY: the first number after "KEY": in NAME.json (setup_ms's p50/p99 come before rtt_ms's).
field() { grep -o "\"$2\":[0-9.e+-]*" "$OUT/$1.json" 2>/dev/null | head -1 | cut -d: -f2; }

column() { # column NAME: the figures of one side, one a line
  local name=$1
  if [ ! -s "$OUT/$name.json" ]; then for _ in 1 2 3 4 5 6; do echo "n/a"; done; return; fi
  local base peak active
  read -r base peak <"$OUT/$name.rss"
  active=$(field "$name" peak_active_pcs)
  echo "$(field "$name" calls_succeeded)/$(field "$name" calls_attempted)"
  echo "$(field "$name" p50) ms"
  echo "$(field "$name" p99) ms"
  echo "$(field "$name" mean_loss_pct) %"
  echo "$((peak / 1048576)) MiB"
  if [ "${active:-0}" -gt 0 ] && [ "$peak" -gt "$base" ]; then echo "$(((peak - base) / active / 1024)) KiB"; else echo "n/a"; fi
}

# --- XCtrl + test node -------------------------------------------------------------------------------------
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
  echo $((20000 + RANDOM % 20000)); }
WS=$(port); NATS=$(port)
"$BIN/xrtc-demo" --serve --ws-listen "127.0.0.1:$WS" --nats-listen "127.0.0.1:$NATS" --load-users "$((CALLS * 4))" \
  >"$OUT/demo.log" 2>&1 &
DEMO=$!
for _ in $(seq 100); do grep -q "XCtrl ctrl_uuid" "$OUT/demo.log" && break; sleep 0.2; done
echo "XCtrl + test node (pid $DEMO) on ws://127.0.0.1:$WS: $CALLS calls at $RATE/s for $DURATION" >&2
load xctrl "ws://127.0.0.1:$WS/" 'load{n}@xswitch.cn' 1234 "$DEMO"
kill "$DEMO"; wait "$DEMO" 2>/dev/null || true

# --- stock mod_verto ---------------------------------------------------------------------------------------
FSNOTE=""
if [ ! -x "$PREFIX/bin/freeswitch" ]; then
  FSNOTE="FreeSWITCH not found in $PREFIX (set FREESWITCH_PREFIX): mod_verto side not run"
else
  exec 9>/tmp/freeswitch.lock
  echo "waiting for /tmp/freeswitch.lock" >&2
  flock -w 900 9 || { FSNOTE="could not take /tmp/freeswitch.lock in 15 min: mod_verto side not run"; }
  if [ -z "$FSNOTE" ] && pgrep -x freeswitch >/dev/null; then
    FSNOTE="a FreeSWITCH is already running (pid $(pgrep -x freeswitch | tr '\n' ' ')): left alone, mod_verto side not run"
  fi
  if [ -z "$FSNOTE" ]; then
    "$PREFIX/bin/freeswitch" -nc -nonat -nonatmap -np >/dev/null 2>&1
    for _ in $(seq 150); do "$PREFIX/bin/fs_cli" -x status 2>/dev/null | grep -q UP && break; sleep 0.2; done
    FS=$(cat "$PREFIX/run/freeswitch.pid")
    echo "FreeSWITCH mod_verto (pid $FS) on ws://127.0.0.1:8081: $CALLS calls at $RATE/s for $DURATION" >&2
    load modverto ws://127.0.0.1:8081 1000@127.0.0.1 1234 "$FS"
    "$PREFIX/bin/fs_cli" -x shutdown >/dev/null 2>&1 || true
    for _ in $(seq 150); do kill -0 "$FS" 2>/dev/null || break; sleep 0.2; done
  fi
  flock -u 9 || true
fi

# --- side by side ------------------------------------------------------------------------------------------
mapfile -t X < <(column xctrl)
mapfile -t M < <(column modverto)
printf '\n%-28s %-22s %-22s\n' "" "XCtrl + test node" "FreeSWITCH mod_verto"
i=0
for label in "calls succeeded" "setup p50" "setup p99" "mean loss" "server RSS at peak" "server memory per call"; do
  printf '%-28s %-22s %-22s\n' "$label" "${X[$i]}" "${M[$i]}"
  i=$((i + 1))
done
[ -n "$FSNOTE" ] && printf '\n%s\n' "$FSNOTE"
exit 0
