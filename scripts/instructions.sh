#!/usr/bin/env bash
# Instruction counts under callgrind: steady to a few hundred where wall time on this kind
# of machine swings ±15 %. For judging a change to the review or the request path.
#
#   scripts/instructions.sh review [FIXTURE.json ...]   per review, each endpoint and their mean
#   scripts/instructions.sh server [FIXTURE.json ...]   per HTTP/1.1 request, whole server
#
# review: admission-bench --endpoint E, marginal instructions per review (a 1 s run minus a
#         0.25 s run, divided by the difference in reviews: start-up cancels out).
# server: `serve` under callgrind on loopback, h2load --h1 POSTing the fixture (to /mutate
#         when its name says mutate, else /validate); marginal per request between 500 and
#         2,500 requests. Counts TLS, HTTP/1.1, the review, the decision line and metrics;
#         the kernel is not counted.
# Default fixtures: the load harness's (../shared/bench/fixtures/{valid,invalid,mutate}.json).
# POLICY=FILE passes --policy FILE to serve (the harness's runs use `credentials: keep`).
# Needs valgrind (apt-get install valgrind) and, for server, h2load (nghttp2-client).
# valgrind 3.19 cannot read clang's DWARF 5: the build goes to .build-prof with DWARF 4.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-review}
[[ $mode == review || $mode == server ]] || { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
shift || true
fixtures=("$@")
if ((${#fixtures[@]} == 0)); then
  for f in valid invalid mutate; do fixtures+=("../shared/bench/fixtures/$f.json"); done
fi
for f in "${fixtures[@]}"; do [[ -r $f ]] || { echo "instructions: cannot read $f" >&2; exit 2; }; done
command -v valgrind >/dev/null || { echo "instructions: valgrind is missing (apt-get install valgrind)" >&2; exit 2; }
[[ $mode == review ]] || command -v h2load >/dev/null || { echo "instructions: h2load is missing (apt-get install nghttp2-client)" >&2; exit 2; }

work=$(mktemp -d /tmp/wasmplugin-instructions.XXXXXX)
trap 'rm -rf "$work"' EXIT
scratch=.build-prof
product=$([[ $mode == review ]] && echo admission-bench || echo wasmplugin-webhook)
swift build -c release --product "$product" --scratch-path "$scratch" -Xcc -gdwarf-4 -Xswiftc -dwarf-version=4 >"$work/build.log" 2>&1 ||
  { cat "$work/build.log" >&2; exit 1; }
bin="$scratch/release/$product"

# Instructions callgrind collected, from its log.
collected() { grep -o "Collected : [0-9]*" "$1" | awk '{print $3}'; }

review() { # fixture endpoint
  local n ir0 ir1 r0 r1
  for n in 0.25 1.0; do
    valgrind --tool=callgrind --callgrind-out-file="$work/out" "$bin" --seconds $n --endpoint "$2" "$1" >"$work/reviews.$n" 2>"$work/log.$n"
  done
  ir0=$(collected "$work/log.0.25"); ir1=$(collected "$work/log.1.0")
  r0=$(awk 'NR > 1 {s += $4} END {print s}' "$work/reviews.0.25"); r1=$(awk 'NR > 1 {s += $4} END {print s}' "$work/reviews.1.0")
  echo $(((ir1 - ir0) / (r1 - r0)))
}

server() { # fixture endpoint
  local n pid ir=() port=9571 probe=9572
  if ss -ltn | grep -qE ":($port|$probe)\b"; then echo "instructions: port $port or $probe is taken" >&2; exit 1; fi
  for n in 500 2500; do
    valgrind --tool=callgrind --callgrind-out-file="$work/out" "$bin" serve --listen 127.0.0.1:$port --probe-listen 127.0.0.1:$probe \
      ${POLICY:+--policy "$POLICY"} >/dev/null 2>"$work/log.$n" &
    pid=$!
    for _ in $(seq 1 150); do ss -ltn | grep -q "127.0.0.1:$port " && break; sleep 0.2; done
    if ! h2load --h1 -n $n -c 4 -d "$1" -H 'content-type: application/json' "https://127.0.0.1:$port/$2" >"$work/h2load.$n" 2>&1 ||
      ! grep -q "$n succeeded" "$work/h2load.$n"; then
      kill -INT $pid; wait $pid || true
      echo "instructions: h2load did not complete $n requests:" >&2; tail -5 "$work/h2load.$n" >&2; exit 1
    fi
    kill -INT $pid; wait $pid || true
    ir+=("$(collected "$work/log.$n")")
  done
  echo $(((ir[1] - ir[0]) / 2000))
}

if [[ $mode == review ]]; then
  echo "instructions per review (admission-bench, marginal):  validate  mutate    mean"
  for f in "${fixtures[@]}"; do
    v=$(review "$f" validate); m=$(review "$f" mutate)
    printf '%-48s %9s %7s %7s\n' "$(basename "$f")" "$v" "$m" $(((v + m) / 2))
  done
else
  echo "instructions per HTTP/1.1 request (whole server, marginal over 2,000):"
  for f in "${fixtures[@]}"; do
    endpoint=validate
    [[ $(basename "$f") == *mutate* ]] && endpoint=mutate
    printf '%-48s /%-9s %9s\n' "$(basename "$f")" "$endpoint" "$(server "$f" $endpoint)"
  done
fi
