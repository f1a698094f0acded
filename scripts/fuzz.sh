#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS each (default 60): the HTTP/1 session (input split
# at arbitrary points), the HTTP/2 session, the JSON parser, the whole review (validate
# never patches, mutate patches apply and are idempotent) and the YAML path of `check`.
# Corpora are seeded from the test fixtures and kept in .build/fuzz/corpus across runs.
# A crash leaves its input in .build/fuzz/artifacts and fails the script: turn it into a
# regression test.   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
seconds=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(FuzzHTTP1 FuzzHTTP2 FuzzJSON FuzzReview FuzzYAML FuzzWatch)
work=.build/fuzz
mkdir -p "$work/artifacts"
python3 Fuzz/seeds.py "$PWD" "$work/corpus"
# -enable-testing: the HTTP targets drive the server's internal session types.
flags=(-Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing)
for target in "${targets[@]}"; do
  # A failed build must stop the run: fuzzing an old binary would report a false all-clear.
  status=0
  swift build --package-path Fuzz --product "$target" "${flags[@]}" >"$work/build.log" 2>&1 || status=$?
  if ((status != 0)); then
    # SwiftPM keeps the path dependency's old list of sources in its build description:
    # a source added or removed there fails the build until the description is rebuilt.
    rm -f Fuzz/.build/*/debug/description.json
    status=0
    swift build --package-path Fuzz --product "$target" "${flags[@]}" >"$work/build.log" 2>&1 || status=$?
  fi
  grep -v -e "Cannot export local symbol" -e "^\[" "$work/build.log" || true
  if ((status != 0)); then
    echo "fuzz: building $target failed" >&2
    exit 1
  fi
done
bin=$(swift build --package-path Fuzz --show-bin-path "${flags[@]}")
failed=()
# Swift's own crash handler misreads ASan's stack; libFuzzer reports crashes itself.
export SWIFT_BACKTRACE=enable=no
for target in "${targets[@]}"; do
  echo "fuzz: $target for ${seconds}s"
  # Memory is bounded per input (-rss_limit_mb, -malloc_limit_mb) and so is time (-timeout).
  if ! "$bin/$target" "$work/corpus/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -malloc_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$work/artifacts/$target-" >"$work/$target.log" 2>&1; then
    failed+=("$target")
    tail -n 40 "$work/$target.log"
  fi
  grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb)|^Done" "$work/$target.log" | sed "s/^/  $target: /" || true
done
if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]} (inputs in $work/artifacts)"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no crash"
