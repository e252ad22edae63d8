#!/usr/bin/env bash
# Set everything up and run Kakehashi's main job against the bundled sample send units.
# Until the relay engine lands, the main job is `kakehashi inspect`: it groups the bundled
# sample files into send units, checks them against the care-plan standard and prints the result.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

kakehashi_install_packages
kakehashi_build "$KAKEHASHI_ROOT/build/release" RelWithDebInfo -DKAKEHASHI_BUILD_TESTS=ON
bin="$KAKEHASHI_ROOT/build/release/gateway/kakehashi"
samples="$KAKEHASHI_ROOT/tests/golden/samples"

echo
echo "== kakehashi inspect over the bundled valid sample units ($samples/valid)"
"$bin" inspect "$samples/valid"
echo
echo "== kakehashi inspect over bundled samples with deliberate faults ($samples/faulty)"
set +e
"$bin" inspect "$samples/faulty"
rc=$?
set -e
echo "(exit code $rc: 1 means some units were refused, as expected for the faulty samples)"
[ "$rc" -eq 1 ]
