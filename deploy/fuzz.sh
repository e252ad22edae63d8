#!/usr/bin/env bash
# deploy/fuzz.sh [--seconds N] [target...] — build the libFuzzer targets of tests/fuzz/ with
# clang (ASan + UBSan + libFuzzer) into build/fuzz and run each for N seconds (default 600), one
# after the other, each on a working copy of its seed corpus (build/fuzz/corpus/<target>/, which
# keeps growing across runs). Findings go to build/fuzz/crashes/<target>/, logs to
# build/fuzz/logs/. Exit status 1 when any target found something. Targets: file_name csv_file
# careplan_unit standard5_unit standard5_json national_json regional_json cms_signed
# cms_enveloped (default: all).
# Environment: KAKEHASHI_FUZZ_JOBS (build parallelism, default nproc), KAKEHASHI_FUZZ_NICE
# (niceness of the runs, default 19), KAKEHASHI_FUZZ_NO_BUILD=1 (run what is built).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ALL_TARGETS=(file_name csv_file careplan_unit standard5_unit standard5_json national_json
  regional_json cms_signed cms_enveloped)
seconds=600
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --seconds=*) seconds="${1#*=}"; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do
  if [[ ! " ${ALL_TARGETS[*]} " =~ " $t " ]]; then echo "unknown target $t" >&2; exit 2; fi
done

# clang and libFuzzer (libclang-rt-14-dev) besides the project's own packages; llvm for the
# symbolizer in reports.
KAKEHASHI_PACKAGES+=(clang libclang-rt-14-dev llvm)
kakehashi_install_packages

build="$KAKEHASHI_ROOT/build/fuzz"
if [ ! -f "$build/build.ninja" ]; then
  launcher=()
  if command -v ccache >/dev/null 2>&1; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
  # No CMAKE_BUILD_TYPE: -O1 -g without NDEBUG, so RapidJSON's and our asserts stay checks.
  CC=clang CXX=clang++ cmake -S "$KAKEHASHI_ROOT" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE= \
    -DCMAKE_CXX_FLAGS="-O1 -g" -DKAKEHASHI_FUZZ=ON -DKAKEHASHI_BUILD_BENCH=OFF "${launcher[@]}"
fi
if [ -z "${KAKEHASHI_FUZZ_NO_BUILD:-}" ]; then
  cmake --build "$build" --parallel "${KAKEHASHI_FUZZ_JOBS:-$(nproc)}" \
    --target "${targets[@]/#/fuzz_}"
fi

max_len() {
  case "$1" in
    file_name) echo 512 ;;
    national_json|regional_json) echo 16384 ;;
    *) echo 65536 ;;
  esac
}

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$KAKEHASHI_ROOT/tests/fuzz/ubsan.supp"
mkdir -p "$build/logs"
summary=()
status=0
for t in "${targets[@]}"; do
  seeds="$KAKEHASHI_ROOT/tests/fuzz/corpus/$t"
  work="$build/corpus/$t"
  crashes="$build/crashes/$t"
  log="$build/logs/$t.log"
  mkdir -p "$work" "$crashes"
  cp -n "$seeds"/* "$work"/ 2>/dev/null || true
  dict=()
  if [ -f "$KAKEHASHI_ROOT/tests/fuzz/dict/$t.dict" ]; then
    dict=(-dict="$KAKEHASHI_ROOT/tests/fuzz/dict/$t.dict")
  fi
  echo "== $t: ${seconds}s, corpus $work"
  rc=0
  nice -n "${KAKEHASHI_FUZZ_NICE:-19}" "$build/tests/fuzz/fuzz_$t" "$work" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 \
    -max_len="$(max_len "$t")" -use_value_profile=1 -print_final_stats=1 \
    -artifact_prefix="$crashes/" "${dict[@]}" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\) .*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\) .*/\1/p' <<<"$last")
  if [ "$rc" -eq 0 ]; then result=clean; else result="FOUND (exit $rc, see $log)"; status=1; fi
  summary+=("$(printf '%-15s %6ss  execs %-10s cov %-6s ft %-7s corpus %-12s %s' \
    "$t" "$seconds" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result")")
  echo "${summary[-1]}"
done
echo "== summary"
printf '%s\n' "${summary[@]}"
ls -1 "$build"/crashes/*/ 2>/dev/null | grep -E '^(crash|leak|timeout|oom|slow-unit)-' >/dev/null &&
  echo "artifacts under $build/crashes/"
exit "$status"
