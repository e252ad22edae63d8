#!/usr/bin/env bash
# The include boundaries of issue 15, checked on the source tree (tests/architecture):
#  (a) nothing under gateway/ includes a concrete network adapter (adapters/<network>/...) except
#      the one registration file, gateway/daemon/adapter_registry.cpp; adapters/common/ (shared
#      plumbing) is allowed everywhere;
#  (b) nothing under adapters/ includes the gateway's engine, store, registry, admin, daemon or
#      cli (adapters see the adapter API, config reading, pki loading and mapping only);
#  (c) the same line in CMake: only gateway/daemon/CMakeLists.txt (the registration file's
#      target) links a concrete adapter target (kakehashi::<network>_adapter).
# Usage: check_includes.sh ROOT      prints FILE:LINE: what crosses, exits 1 when anything does
#        check_includes.sh --self-test   plants violations in a temporary tree and checks that
#                                        each is reported (and a clean tree passes)
set -u

readonly kRegistration="gateway/daemon/adapter_registry.cpp"
readonly kForbidden="engine|store|registry|admin|daemon|cli"
readonly kRegistrationCMake="gateway/daemon/CMakeLists.txt"
readonly kInclude='^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]'

# Every include line of C++ sources under DIR whose path starts with PREFIX, as FILE:LINE:TEXT
# with FILE relative to the root.
includes_of() {
  local root="$1" dir="$2" prefix="$3"
  [[ -d "$root/$dir" ]] || return 0
  (cd "$root" && grep -rnE --include='*.cpp' --include='*.hpp' --include='*.h' --include='*.cc' \
    "${kInclude}${prefix}" "$dir")
}

check() {
  local root="$1" found=0 file line text target
  while IFS=: read -r file line text; do
    [[ -n "$file" ]] || continue
    [[ "$file" == "$kRegistration" ]] && continue
    target=$(sed -E 's/.*[<"](adapters\/[^>"]*)[>"].*/\1/' <<<"$text")
    [[ "$target" == adapters/common/* ]] && continue
    echo "$file:$line: includes the concrete adapter $target (only $kRegistration may)"
    found=1
  done < <(includes_of "$root" gateway 'adapters/')
  while IFS=: read -r file line text; do
    [[ -n "$file" ]] || continue
    target=$(sed -E 's/.*[<"](gateway\/[^>"]*)[>"].*/\1/' <<<"$text")
    echo "$file:$line: an adapter includes $target (the gateway's ${target#gateway/}; adapters" \
      "see gateway/adapter, gateway/config, gateway/pki and mapping only)"
    found=1
  done < <(includes_of "$root" adapters "gateway/(${kForbidden})/")
  while IFS=: read -r file line text; do
    [[ -n "$file" ]] || continue
    [[ "$file" == "$kRegistrationCMake" ]] && continue
    target=$(grep -oE 'kakehashi::[a-z0-9_]+_adapter\b' <<<"$text" | paste -sd' ' -)
    echo "$file:$line: links the concrete adapter $target (only $kRegistrationCMake may)"
    found=1
  done < <([[ -d "$root/gateway" ]] && cd "$root" &&
    grep -rnE --include='CMakeLists.txt' --include='*.cmake' 'kakehashi::[a-z0-9_]+_adapter\b' gateway)
  return "$found"
}

self_test() {
  local tmp out status failed=0
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  mkdir -p "$tmp/gateway/daemon" "$tmp/gateway/engine" "$tmp/gateway/admin" \
    "$tmp/adapters/national" "$tmp/adapters/common/http"
  # Allowed: the registration file, shared plumbing, an adapter using the adapter API and pki.
  printf '#include "adapters/national/national_adapter.hpp"\n' >"$tmp/$kRegistration"
  printf 'target_link_libraries(d PRIVATE kakehashi::adapter_api\n  kakehashi::national_adapter)\n' \
    >"$tmp/$kRegistrationCMake"
  printf 'target_link_libraries(a PUBLIC kakehashi::adapter_api kakehashi::adapter_intake)\n' \
    >"$tmp/gateway/admin/CMakeLists.txt"
  printf '#include <string>\n#include "adapters/common/http/message.hpp"\n' \
    >"$tmp/gateway/admin/api.hpp"
  printf '#include "gateway/adapter/adapter.hpp"\n#include "gateway/pki/key_file.hpp"\n' \
    >"$tmp/adapters/national/national_adapter.cpp"
  if ! out=$(check "$tmp"); then
    echo "self-test: a clean tree was refused:"; echo "$out"; failed=1
  fi
  # Planted: the engine reaching a concrete adapter; an adapter reaching the store.
  printf '#include <vector>\n\n  #  include "adapters/regional/regional_adapter.hpp"\n' \
    >"$tmp/gateway/engine/relay_engine.cpp"
  printf '#include "gateway/adapter/adapter.hpp"\n#include <gateway/store/store.hpp>\n' \
    >"$tmp/adapters/national/ncp_codec.hpp"
  # And the engine's target linking a network adapter.
  printf 'add_library(e STATIC x.cpp)\ntarget_link_libraries(e PRIVATE kakehashi::regional_adapter)\n' \
    >"$tmp/gateway/engine/CMakeLists.txt"
  out=$(check "$tmp")
  status=$?
  if [[ $status -ne 1 ]]; then
    echo "self-test: planted violations passed (status $status)"; failed=1
  fi
  for want in "gateway/engine/relay_engine.cpp:3: includes the concrete adapter adapters/regional/" \
              "adapters/national/ncp_codec.hpp:2: an adapter includes gateway/store/store.hpp" \
              "gateway/engine/CMakeLists.txt:2: links the concrete adapter kakehashi::regional_adapter"; do
    if ! grep -qF "$want" <<<"$out"; then
      echo "self-test: not reported: $want"; echo "got:"; echo "$out"; failed=1
    fi
  done
  if [[ $(wc -l <<<"$out") -ne 3 ]]; then
    echo "self-test: expected exactly three findings, got:"; echo "$out"; failed=1
  fi
  [[ $failed -eq 0 ]] && echo "self-test: clean tree passes, every planted violation reported"
  return "$failed"
}

case "${1:-}" in
  --self-test) self_test ;;
  "") echo "usage: $0 ROOT | --self-test" >&2; exit 2 ;;
  *)
    if check "$1"; then
      echo "boundaries hold (gateway -> concrete adapters, adapters -> gateway internals)"
    else
      exit 1
    fi
    ;;
esac
