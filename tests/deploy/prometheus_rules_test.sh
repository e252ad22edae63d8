#!/usr/bin/env bash
# The Prometheus rules in deploy/prometheus/kakehashi-rules.yml: valid (promtool check rules),
# behaving as written (promtool test rules on prometheus_rules_test.yml), and in step with the
# gateway: every alert kind gateway/admin/alerts.hpp lists has a rule, and every kakehashi_*
# metric a rule reads is one the admin listener exports.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RULES="$ROOT/deploy/prometheus/kakehashi-rules.yml"
command -v promtool >/dev/null || { echo "promtool missing: install Debian's prometheus (deploy/common.sh)" >&2; exit 1; }
promtool check rules "$RULES"
promtool test rules "$ROOT/tests/deploy/prometheus_rules_test.yml"

rc=0
# The kinds the gateway evaluates and exports as kakehashi_alerts: kAlertKinds[] = {"parked", ...};
# (the list may start on the next line).
kinds="$(sed -n '/kAlertKinds\[\] = {/,/};/p' "$ROOT/gateway/admin/alerts.hpp" | grep -o '"[a-z-]*"' | tr -d '"')"
[ -n "$kinds" ] || { echo "no alert kinds found in gateway/admin/alerts.hpp" >&2; exit 1; }
for k in $kinds; do
  if ! grep -q "kind=\"$k\"" "$RULES"; then
    echo "alert kind $k (gateway/admin/alerts.hpp) has no rule in $RULES" >&2
    rc=1
  fi
done
for m in $(grep -o 'kakehashi_[a-z_]*' "$RULES" | sort -u); do
  if ! grep -q "\"$m\"" "$ROOT"/gateway/admin/*.cpp; then
    echo "$RULES reads $m, which the gateway does not export" >&2
    rc=1
  fi
done
[ "$rc" -eq 0 ] && echo "rules cover alert kinds: $(echo $kinds)"
exit "$rc"
