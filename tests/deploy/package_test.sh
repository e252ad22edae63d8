#!/usr/bin/env bash
# The Debian package (issue 19): deploy/package.sh builds it; this checks what is in it with
# dpkg-deb -c/-I (binary stripped and its debug information in the dbgsym package, unit, sample
# config as conffiles, man pages, maintainer scripts creating the user and the state directory)
# and that lintian reports no errors.
#   package_test.sh --build-dir DIR --out DIR
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="" OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) BUILD="$2" ;; --out) OUT="$2" ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
[ -n "$BUILD" ] && [ -n "$OUT" ] || { echo "usage: package_test.sh --build-dir DIR --out DIR" >&2; exit 2; }
rm -rf "$OUT"
mkdir -p "$OUT"
start=$(date +%s)
bash "$ROOT/deploy/package.sh" --build-dir "$BUILD" --out "$OUT" >"$OUT/package.log" 2>&1 ||
  { tail -n 40 "$OUT/package.log"; exit 1; }
echo "== package built in $(( $(date +%s) - start )) s"
DEB="$(ls "$OUT"/kakehashi_*.deb)"
DBG="$(ls "$OUT"/kakehashi-dbgsym_*.ddeb)"
ls -l "$DEB" "$DBG"

rc=0
fail() { echo "FAIL: $*" >&2; rc=1; }
has() {  # has LISTING PATH
  grep -qE " \./${2#/}\$" <<<"$1" || fail "$(basename "$DEB") lacks $2"
}

contents="$(dpkg-deb -c "$DEB")"
for p in /usr/bin/kakehashi /lib/systemd/system/kakehashi.service /usr/lib/sysusers.d/kakehashi.conf \
  /etc/kakehashi/kakehashi.example.json /etc/kakehashi/registry-overrides.example.json \
  /usr/share/doc/kakehashi/copyright /usr/share/doc/kakehashi/changelog.gz \
  /usr/share/doc/kakehashi/README.md /usr/share/doc/kakehashi/config-README.md \
  /usr/share/kakehashi/prometheus/kakehashi-rules.yml \
  /usr/share/man/man1/kakehashi.1.gz /usr/share/man/man1/kakehashi-store.1.gz \
  /usr/share/man/man1/kakehashi-run.1.gz /usr/share/man/man1/kakehashi-audit.1.gz; do
  has "$contents" "$p"
done
# Everything root-owned; nothing under /var (the postinst makes the state directory).
grep -v ' root/root ' <<<"$contents" && fail "files not owned by root/root"
grep -q ' \./var/' <<<"$contents" && fail "the package ships files under /var"

info="$(dpkg-deb -I "$DEB")"
dpkg-deb -f "$DEB"
grep -q '^ Package: kakehashi$' <<<"$info" || fail "Package field"
grep -qE '^ Depends: .*adduser' <<<"$info" || fail "Depends lacks adduser"
grep -qE '^ Depends: .*libc6' <<<"$info" || fail "Depends lacks the shared libraries (shlibdeps)"
ctl="$OUT/control"
mkdir -p "$ctl"
dpkg-deb -e "$DEB" "$ctl"
for s in postinst prerm postrm; do
  [ -x "$ctl/$s" ] || fail "$s missing or not executable"
  sh -n "$ctl/$s" || fail "$s: syntax error"
done
diff <(sort "$ctl/conffiles") <(printf '%s\n' /etc/kakehashi/kakehashi.example.json \
  /etc/kakehashi/registry-overrides.example.json | sort) || fail "conffiles"
grep -q 'adduser --system' "$ctl/postinst" || fail "postinst does not create the system user"
grep -q 'install -d -m 0700 -o kakehashi -g kakehashi /var/lib/kakehashi' "$ctl/postinst" ||
  fail "postinst does not make /var/lib/kakehashi"
grep -q 'deb-systemd-helper enable' "$ctl/postinst" || fail "postinst does not enable the unit"
grep -q 'rm -rf /var/lib/kakehashi' "$ctl/postrm" || fail "postrm purge keeps the state"
grep -q 'deluser' "$ctl/postrm" || fail "postrm purge keeps the user"

# The files themselves: a stripped binary that runs, its debug information in the dbgsym
# package (found by build id), a unit that starts the packaged binary, a filled sample config.
root="$OUT/root"
dpkg-deb -x "$DEB" "$root"
file "$root/usr/bin/kakehashi" | grep -q ', stripped' || fail "/usr/bin/kakehashi is not stripped"
"$root/usr/bin/kakehashi" --version | grep -q '^kakehashi ' || fail "kakehashi --version"
"$root/usr/bin/kakehashi" store --help | grep -q 'backup --config' || fail "kakehashi store --help"
build_id="$(readelf -n "$root/usr/bin/kakehashi" | sed -n 's/.*Build ID: \([0-9a-f]*\)/\1/p')"
dpkg-deb -c "$DBG" | grep -q "usr/lib/debug/.build-id/${build_id:0:2}/${build_id:2}.debug" ||
  fail "the dbgsym package has no debug file for build id $build_id"
grep -q '^ExecStart=/usr/bin/kakehashi run --config /etc/kakehashi/kakehashi.json$' \
  "$root/lib/systemd/system/kakehashi.service" || fail "unit ExecStart"
grep -q '^User=kakehashi$' "$root/lib/systemd/system/kakehashi.service" || fail "unit User"
grep -v '^ *//' "$root/etc/kakehashi/kakehashi.example.json" | grep '@[A-Z_]*@' &&
  fail "placeholders left in the sample config"
zcat "$root/usr/share/man/man1/kakehashi-store.1.gz" | grep -q 'restore' || fail "store man page"
size=$(stat -c %s "$root/usr/bin/kakehashi")
echo "== /usr/bin/kakehashi: $size bytes stripped; build id $build_id"

command -v lintian >/dev/null || { echo "lintian missing: install it (deploy/common.sh)" >&2; exit 1; }
echo "== lintian"
lintian --fail-on error "$DEB" | tee "$OUT/lintian.txt" || fail "lintian reports errors"
exit "$rc"
