#!/usr/bin/env bash
# Set everything up and run the whole test suite (through ctest) on an ASan+UBSan build with
# warnings as errors.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

kakehashi_install_packages
build="$KAKEHASHI_ROOT/build/asan"
kakehashi_build "$build" Debug -DKAKEHASHI_SANITIZE=ON -DKAKEHASHI_WERROR=ON
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
cd "$build"
ctest --output-on-failure --parallel "$(nproc)" "$@"
