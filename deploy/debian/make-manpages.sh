#!/usr/bin/env bash
# make-manpages.sh BINARY OUTDIR VERSION: kakehashi.1 from `kakehashi --help` and kakehashi-CMD.1
# from each command's `--help`, gzipped (-n: reproducible). Run by the package build.
set -euo pipefail
bin="$1" out="$2" version="$3"
mkdir -p "$out"
rm -f "$out"/*.1 "$out"/*.1.gz
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# help2man calls PROGRAM --help and --version; a small wrapper per command gives it both.
page() {
  local name="$1" cmd="$2" desc="$3"
  cat >"$tmp/$name" <<WRAP
#!/bin/sh
case "\$1" in
  --version) echo "$name $version" ;;
  *) exec "$bin" $cmd --help ;;
esac
WRAP
  chmod +x "$tmp/$name"
  help2man --no-info --section=1 --source="Kakehashi $version" --name="$desc" \
    --output="$out/$name.1" "$tmp/$name"
  gzip -9n "$out/$name.1"
}

page kakehashi "" "care-plan data gateway between a regional care network and the national system"
# `kakehashi --help` lists the commands: "  NAME   summary".
"$bin" --help | awk '/^Commands:/{on=1; next} on && /^  [a-z]/{print}' |
  while read -r cmd summary; do
    page "kakehashi-$cmd" "$cmd" "$summary"
  done
