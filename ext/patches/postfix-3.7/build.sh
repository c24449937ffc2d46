#!/bin/sh
# build.sh - Debian's Postfix 3.7 with pinpost's PKP / STSEC patches.
#
#   sh ext/patches/postfix-3.7/build.sh LIBSTSEC_A   (make postfix-patched)
#
# 1. Makes sure apt has a deb-src entry for the Debian archive the machine
#    already uses (deb822 .sources stanzas or one-line sources.list
#    entries whose URI names debian are copied with Types: deb-src into
#    /etc/apt/sources.list.d/pinpost-deb-src.*), and the build tools.
# 2. Fetches the current source package with `apt-get source postfix`
#    (Debian's own patches applied by dpkg-source), applies the series in
#    this directory with patch -p1 (a patch that does not apply exactly
#    stops the build), builds the libraries, smtpd(8) and smtp(8) with TLS
#    (makedefs -DUSE_TLS), linking libstsec.a, -ltdb, -lssl and -lcrypto.
# 3. Keeps the two programs in a cache directory keyed by the source
#    version and a hash of the patches, this script and libstsec's
#    sources: $PINPOST_POSTFIX_CACHE (default /var/cache/pinpost-postfix)
#    /<version>-<hash>/{smtp,smtpd,VERSION}.  A later run with the same key
#    only prints the directory.
#
# Prints the cache directory on its last line.  Everything else of the
# patched Postfix (master, qmgr, cleanup, ...) is Debian's installed
# package of the same version: interop/postfix_patched.py points a private
# instance's daemon_directory at links to Debian's daemons and these two.
# Needs root (apt-get).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
LIBSTSEC=${1:-$ROOT/build/libstsec.a}
CACHE=${PINPOST_POSTFIX_CACHE:-/var/cache/pinpost-postfix}
export DEBIAN_FRONTEND=noninteractive

log() { echo "postfix-patched: $*" >&2; }

[ -f "$LIBSTSEC" ] || { log "$LIBSTSEC not built (make all)"; exit 1; }
LIBSTSEC=$(cd "$(dirname "$LIBSTSEC")" && pwd)/$(basename "$LIBSTSEC")
if [ "$(id -u)" != 0 ]; then
	log "must run as root (apt-get)"
	exit 1
fi

# ---- 1. deb-src and tools ------------------------------------------------
need=""
for p in dpkg-dev gcc make patch libssl-dev libdb-dev libtdb-dev postfix; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed' || need="$need $p"
done
updated=no
if ! apt-get source --print-uris -qq postfix >/dev/null 2>&1; then
	log "adding deb-src entries for the Debian archive in use"
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		case "$f" in *pinpost-deb-src*) continue;; esac
		# stanzas of Types: deb whose URIs name debian (mawk-safe)
		awk 'BEGIN { RS = "" } {
			n = split($0, l, "\n"); deb = 0; uri = 0
			for (i = 1; i <= n; i++) {
				if (l[i] ~ /^Types:/ && (l[i] " ") ~ /[ \t]deb[ \t]/)
					deb = 1
				if (l[i] ~ /^URIs:/ && l[i] ~ /debian/)
					uri = 1
			}
			if (!deb || !uri)
				next
			for (i = 1; i <= n; i++)
				print (l[i] ~ /^Types:/ ? "Types: deb-src" : l[i])
			print ""
		}' "$f"
	done >/etc/apt/sources.list.d/pinpost-deb-src.sources
	[ -s /etc/apt/sources.list.d/pinpost-deb-src.sources ] ||
	    rm -f /etc/apt/sources.list.d/pinpost-deb-src.sources
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
	    sed -n 's/^[[:space:]]*deb[[:space:]]\(.*debian.*\)$/deb-src \1/p' |
	    sort -u >/etc/apt/sources.list.d/pinpost-deb-src.list
	[ -s /etc/apt/sources.list.d/pinpost-deb-src.list ] ||
	    rm -f /etc/apt/sources.list.d/pinpost-deb-src.list
	apt-get update -qq
	updated=yes
fi
if [ -n "$need" ]; then
	log "installing$need"
	[ "$updated" = yes ] || apt-get update -qq
	echo "postfix postfix/main_mailer_type select No configuration" |
	    debconf-set-selections
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $need >&2
	case " $need " in *" postfix "*)
		# only private instances run here: no system Postfix
		if command -v systemctl >/dev/null 2>&1; then
			systemctl disable --now postfix >/dev/null 2>&1 || true
		fi
		update-rc.d postfix disable >/dev/null 2>&1 || true
	esac
fi

# ---- 2. the cache key ----------------------------------------------------
# The patched smtp and smtpd run beside Debian's other daemons: the source
# must be the installed version.  If the archive no longer has that
# version's source, upgrade postfix to the candidate, whose source it has.
src_version() {
	apt-get source --print-uris -qq "$1" 2>/dev/null |
	    sed -n "s/^'[^']*' postfix_\([^ ]*\)\.dsc .*/\1/p" | head -n 1
}
inst=$(dpkg-query -W -f='${Version}' postfix)
ver=$(src_version "postfix=$inst")
if [ -z "$ver" ]; then
	ver=$(src_version postfix)
	[ -n "$ver" ] || { log "no postfix source package found"; exit 1; }
	log "no source for the installed postfix $inst: upgrading to $ver"
	apt-get install -y -qq --no-install-recommends "postfix=$ver" >&2
fi
hash=$( (cd "$HERE" && cat series $(cat series) build.sh;
	cat "$ROOT"/ext/libstsec/stsec.h "$ROOT"/ext/libstsec/*.c) | sha256sum | cut -c1-12)
out="$CACHE/$(echo "$ver" | tr ':~+' '___')-$hash"
if [ -f "$out/.done" ]; then
	log "cached: $out"
	echo "$out"
	exit 0
fi

# ---- 3. fetch, patch, build ----------------------------------------------
mkdir -p "$CACHE"
work=$(mktemp -d "$CACHE/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
log "fetching postfix $ver source"
(cd "$work" && apt-get -o APT::Sandbox::User=root source -qq \
    "postfix=$ver" >&2)
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'postfix-*' | head -n 1)
[ -n "$src" ] || { log "apt-get source left no postfix-* directory"; exit 1; }
for p in $(cat "$HERE/series"); do
	log "applying $p"
	if ! patch -d "$src" -p1 --batch --forward --no-backup-if-mismatch \
	    -F 0 <"$HERE/$p" >&2; then
		log "$p does not apply to postfix $ver"
		exit 1
	fi
done
log "building (make makefiles; libraries, smtpd, smtp)"
(
	cd "$src"
	make makefiles \
	    CCARGS="-DUSE_TLS -DNO_NIS -DNO_EAI -DNO_PCRE -DNO_LMDB -DNO_CDB -I$ROOT/ext/libstsec" \
	    AUXLIBS="$LIBSTSEC -ltdb -lssl -lcrypto" OPT="-O2" >build.log 2>&1
	jobs=$(nproc 2>/dev/null || echo 2)
	for d in src/util src/global src/dns src/tls src/xsasl src/master \
	    src/milter src/smtpd src/smtp; do
		make -C "$d" -j"$jobs" update >>build.log 2>&1
	done
) || { tail -n 40 "$src/build.log" >&2; log "build failed"; exit 1; }
rm -rf "$out"
mkdir -p "$out.tmp"
install -m 755 "$src/libexec/smtpd" "$src/libexec/smtp" "$out.tmp/"
echo "$ver" >"$out.tmp/VERSION"
(cd "$HERE" && cat series) >"$out.tmp/PATCHES"
echo "$(( $(date +%s) - start ))" >"$out.tmp/BUILD_SECONDS"
touch "$out.tmp/.done"
mv "$out.tmp" "$out"
# older builds
for old in "$CACHE"/*; do
	[ "$old" = "$out" ] || [ ! -f "$old/.done" ] || rm -rf "$old"
done
log "built in $(cat "$out/BUILD_SECONDS")s: $out"
echo "$out"
