#!/usr/bin/env bash
# Where the machine's CPU goes under HTTP/1.1 load, for our server, the Go peer and nginx
# (the harness's static-answer ceiling): wrk as compare.sh runs it (-t 2 -c 32, its
# post.lua), each fixture, and from /proc the server's CPU per request (user and system)
# and the whole machine's busy CPU per request. With wrk on the same cores, requests/s is
# the cores over the machine's CPU per request, so the summary also gives the rest (wrk,
# and the kernel's work done for it) and the server CPU per request that 3x the Go peer's
# requests/s would take.
#
#   scripts/cpu-share.sh [--rounds N] [--seconds S] [BIN]
#
# BIN: the webhook binary (default: a release build made here). The harness (../shared/bench
# and baselines) is copied to a temporary directory with fresh certificates. Needs wrk and
# go (the Go peer); the nginx rows need nginx and libnginx-mod-http-echo and are left out
# without them. Loopback only; each wrk run is bounded by `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 seconds=8 bin=
while (($#)); do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) bin=$1; shift ;;
  esac
done
for t in wrk go python3 timeout ss; do command -v $t >/dev/null || { echo "cpu-share: $t is missing" >&2; exit 2; }; done
[[ -d ../shared/bench && -d ../shared/baselines ]] || { echo "cpu-share: needs ../shared/bench and ../shared/baselines" >&2; exit 2; }
for port in 9443 9444 9445 9446; do
  if ss -ltn | grep -q "127.0.0.1:$port "; then echo "cpu-share: port $port is taken" >&2; exit 1; fi
done
if [[ -z $bin ]]; then
  swift build -c release --product wasmplugin-webhook >/dev/null
  bin=$(swift build -c release --show-bin-path)/wasmplugin-webhook
fi
bin=$(realpath "$bin")

work=$(mktemp -d /tmp/wasmplugin-cpu-share.XXXXXX)
pids= master=
stop() { kill $master $pids 2>/dev/null || true; wait 2>/dev/null || true; pids= master=; }
cleanup() { stop; rm -rf "$work"; }
trap cleanup EXIT
cp -r ../shared/bench ../shared/baselines "$work"/
bench=$work/bench
"$bench/certs.sh" --force >/dev/null
"$work/baselines/go-webhook/build.sh" >/dev/null
printf 'credentials: keep\n' >"$work/keep.yaml"  # as compare.sh's runs: two patch operations
servers=(ours go)
[[ -e /usr/lib/nginx/modules/ngx_http_echo_module.so ]] && command -v nginx >/dev/null && servers+=(nginx)

start() { # server: sets pids and port
  case $1 in
    ours)
      "$bin" serve --listen 127.0.0.1:9444 --probe-listen 127.0.0.1:9446 --tls-cert "$bench/certs/server.pem" \
        --tls-key "$bench/certs/server.key" --policy "$work/keep.yaml" >/dev/null 2>&1 &
      pids=$! port=9444 ;;
    go)
      "$work/baselines/go-webhook/bin/go-webhook" -addr 127.0.0.1:9443 -cert "$bench/certs/server.pem" \
        -key "$bench/certs/server.key" >/dev/null 2>&1 &
      pids=$! port=9443 ;;
    nginx)
      mkdir -p "$work/nginx/tmp" "$work/nginx/logs"
      nginx -p "$work/nginx/" -c "$bench/nginx/nginx.conf" -g 'daemon off;' >/dev/null 2>&1 &
      master=$! port=9445 ;;
  esac
  for _ in $(seq 1 100); do ss -ltn | grep -q "127.0.0.1:$port " && break; sleep 0.1; done
  # nginx's workers are the server (the master only starts them).
  if [[ -n $master ]]; then
    for _ in $(seq 1 50); do pids=$(pgrep -P "$master" | tr '\n' ' ') && break; sleep 0.1; done
  fi
}
# utime and stime of the server's processes, summed: "user system"
server_ticks() { local p; for p in $pids; do awk '{print $14, $15}' "/proc/$p/stat"; done | awk '{u += $1; s += $2} END {print u, s}'; }
load() { # port endpoint fixture seconds
  WRK_BODY_FILE=$bench/fixtures/$3.json timeout -k 5 $(($4 + 30)) wrk -t 2 -c 32 --timeout 5s -d "${4}s" -s "$bench/wrk/post.lua" \
    "https://127.0.0.1:$1/$2"
}

results=$work/results.tsv
ticks_per_second=$(getconf CLK_TCK)
for round in $(seq 1 "$rounds"); do
  for server in "${servers[@]}"; do
    start "$server"
    for fixture in valid invalid mutate; do
      endpoint=validate; [[ $fixture == mutate ]] && endpoint=mutate
      load $port $endpoint $fixture 2 >/dev/null 2>&1 || { echo "cpu-share: $server does not answer on port $port" >&2; exit 1; }
      read -r u0 s0 < <(server_ticks); machine0=$(head -1 /proc/stat)
      load $port $endpoint $fixture "$seconds" >"$work/wrk.out" 2>&1 ||
        { echo "cpu-share: wrk failed against $server ($fixture):" >&2; tail -5 "$work/wrk.out" >&2; exit 1; }
      machine1=$(head -1 /proc/stat); read -r u1 s1 < <(server_ticks)
      requests=$(awk '/requests in/ {print $1}' "$work/wrk.out")
      ((${requests:-0} > 0)) || { echo "cpu-share: no requests answered by $server ($fixture)" >&2; exit 1; }
      failed=$(awk '/Non-2xx|Socket errors/' "$work/wrk.out" | tr '\n' ' ')
      [[ -z $failed ]] || echo "cpu-share: $server $fixture: $failed" >&2
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$server" "$fixture" "$requests" $((u1 - u0)) $((s1 - s0)) \
        "$machine0" "$machine1" "$ticks_per_second" >>"$results"
    done
    stop
  done
done

python3 - "$results" <<'EOF'
import statistics, sys
rows = {}
cpus = sum(1 for line in open("/proc/stat") if line.startswith("cpu") and line[3:4].isdigit())
for line in open(sys.argv[1]):
    rnd, server, fixture, n, u, s, m0, m1, tck = line.rstrip("\n").split("\t")
    n, u, s, tck = int(n), int(u), int(s), int(tck)
    a = [int(x) for x in m0.split()[1:]]; b = [int(x) for x in m1.split()[1:]]
    d = [y - x for x, y in zip(a, b)]
    total, idle, steal = sum(d), d[3] + d[4], d[7]
    seconds = total / tck / cpus
    us = lambda ticks: ticks / tck / n * 1e6
    rows.setdefault((server, fixture), []).append(dict(
        rps=n / seconds, user=us(u), sys=us(s), server=us(u + s), machine=us(total - idle), rest=us(total - idle - u - s),
        idle=100 * idle / total, steal=100 * steal / total))
med = lambda server, fixture, key: statistics.median(r[key] for r in rows[(server, fixture)])
print("Medians of %d rounds; CPU in us per request." % len(next(iter(rows.values()))))
print("%-7s %-8s %9s %8s %8s %8s %9s %7s %6s %6s" % ("fixture", "server", "req/s", "server", "user", "system", "machine", "rest", "idle%", "steal%"))
for fixture in ("valid", "invalid", "mutate"):
    for server in ("ours", "go", "nginx"):
        if (server, fixture) not in rows: continue
        print("%-7s %-8s %9.0f %8.1f %8.1f %8.1f %9.1f %7.1f %6.1f %6.1f" % (fixture, server, *(med(server, fixture, k) for k in
              ("rps", "server", "user", "sys", "machine", "rest", "idle", "steal"))))
    ours, go = med("ours", fixture, "rps"), med("go", fixture, "rps")
    need = med("go", fixture, "machine") / 3 - med("ours", fixture, "rest")
    print("%-7s ours/go %.2fx; 3x go takes a machine CPU per request of %.1f us: ours at %.1f us of server CPU (now %.1f)"
          % (fixture, ours / go, med("go", fixture, "machine") / 3, need, med("ours", fixture, "server")))
EOF
