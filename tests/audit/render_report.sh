#!/usr/bin/env bash
# ctest evidence_report_browser: the evidence bundle's Japanese report (written by the evidence
# test into ARTIFACTS/evidence-report.html) rendered by headless Chromium to an A4 PDF and a PNG
# screenshot, both kept in ARTIFACTS. Fails when Chromium cannot render it, when the PDF is not
# A4, or when the page holds no Japanese text (missing fonts render as boxes, not text).
#   render_report.sh ARTIFACTS
set -euo pipefail
ARTIFACTS="$1"
CHROMIUM="${KAKEHASHI_CHROMIUM:-/usr/bin/chromium}"
HTML="$ARTIFACTS/evidence-report.html"
PDF="$ARTIFACTS/evidence-report.pdf"
PNG="$ARTIFACTS/evidence-report.png"
[ -s "$HTML" ] || { echo "no report at $HTML (the evidence test writes it)" >&2; exit 1; }
command -v "$CHROMIUM" >/dev/null 2>&1 || { echo "chromium is missing (deploy/common.sh installs it)" >&2; exit 1; }
rm -f "$PDF" "$PNG"
PROFILE="$(mktemp -d)"
trap 'rm -rf "$PROFILE"' EXIT
flags=(--headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$PROFILE"
       --no-pdf-header-footer --run-all-compositor-stages-before-draw)
timeout 120 "$CHROMIUM" "${flags[@]}" --print-to-pdf="$PDF" "file://$HTML" >/dev/null 2>&1 || true
timeout 120 "$CHROMIUM" "${flags[@]}" --window-size=1123,794 --screenshot="$PNG" "file://$HTML" \
  >/dev/null 2>&1 || true
[ -s "$PDF" ] || { echo "chromium wrote no PDF" >&2; exit 1; }
[ -s "$PNG" ] || { echo "chromium wrote no screenshot" >&2; exit 1; }
# A4 landscape is 842 x 595 points (the report's @page); Chromium writes the MediaBox in clear.
if ! grep -aEq 'MediaBox ?\[ ?0 0 84[12](\.[0-9]+)? 59[45](\.[0-9]+)? ?\]' "$PDF"; then
  echo "the PDF is not A4 landscape:" >&2
  grep -ao 'MediaBox[^]]*]' "$PDF" | head -3 >&2
  exit 1
fi
# The Japanese text is text in the PDF (a font was found and embedded), when pdftotext is there.
if command -v pdftotext >/dev/null 2>&1; then
  text="$(pdftotext -layout "$PDF" -)"
  for word in 送信日時 配信日時 差し戻し理由; do
    grep -q "$word" <<<"$text" || { echo "the PDF lacks the text $word" >&2; exit 1; }
  done
fi
size="$(stat -c %s "$PDF")"
echo "evidence report rendered: $PDF ($size bytes, A4 landscape), $PNG"
