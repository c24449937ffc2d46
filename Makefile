# pinpost - top-level build.  GNU make.
#
#   make deps     install missing Debian packages (a no-op when all are there)
#   make all      build libstsec, pinpostd, pinpost (CLI)
#   make run      start pinpostd on 127.0.0.1:2525 (working dir run/)
#   make test     build and run every test
#   make interop  the interop matrix against real MTAs (interop/RESULTS.md)
#   make postfix-patched  Debian's Postfix 3.7 + ext/patches/postfix-3.7,
#                 built into /var/cache/pinpost-postfix (cached)
#   make draft-check  the Internet-Draft's checks (rfc-draft/README.md)
#   make structure  the module layering check (tests/structure/)
#   make asan     the unit and integration tests under ASan + UBSan
#   make valgrind the unit tests under valgrind
#   make fuzz     each libFuzzer harness (tests/fuzz/) for FUZZ_SECONDS
#   make fuzz-check  the same for FUZZ_TEST_SECONDS each (part of `test`)
#   make bench    benchmarks against Postfix and OpenSSL (tests/bench/RESULTS.md)
#   make fresh-check  README's set-up (make test, make run) on a minimal
#                 Debian 12 made with debootstrap (tests/fresh/; root)
#   make install  PREFIX=/usr/local DESTDIR=
#   make clean

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
LIBDIR	?= $(PREFIX)/lib
INCDIR	?= $(PREFIX)/include
MANDIR	?= $(PREFIX)/share/man
DESTDIR	?=

CC	?= cc
B	?= build
PYTHON	:= /usr/bin/python3

# Debian packages every target needs.  `make deps` installs them with
# --no-install-recommends, so what a target takes from another package's
# Recommends is named here too (make fresh-check proves the list on a
# minimal Debian 12).
#   build, unit, asan
DEB_BUILD := gcc make pkg-config libssl-dev libevent-dev libtdb-dev \
	libunbound-dev libcmocka-dev libjansson-dev
#   integration: swaks --tls needs Net::SSLeay and IO::Socket::SSL (swaks
#   only recommends them); chattr (e2fsprogs), tdbtool, unbound, unshare
DEB_TEST := openssl tdb-tools python3 python3-pytest unbound swaks \
	libnet-ssleay-perl libio-socket-ssl-perl e2fsprogs util-linux mount
#   valgrind (its Recommends are not needed), fuzz, fuzz-check
DEB_CHECK := valgrind clang libclang-rt-14-dev
#   interop (interop/run): Postfix, msmtp, aiosmtpd, and the libraries the
#   unpacked Exim and OpenSMTPD link with
DEB_INTEROP := postfix msmtp python3-aiosmtpd libgnutls30 libgnutls-dane0 \
	libidn12 libidn2-0 libnsl2 libdb5.3 libpcre2-8-0 libcrypt1 \
	libevent-2.1-7 libpam0g libssl3 zlib1g
#   postfix-patched (ext/patches/postfix-3.7/build.sh): apt-get source
DEB_POSTFIX := dpkg-dev patch libdb-dev
#   bench (tests/bench/run): tshark, ip netns, strace, perf; git names the
#   measured revision
DEB_BENCH := tshark iproute2 strace linux-perf git
DEB_PKGS := $(DEB_BUILD) $(DEB_TEST) $(DEB_CHECK) $(DEB_INTEROP) \
	$(DEB_POSTFIX) $(DEB_BENCH)
PKGS	:= openssl libevent libevent_openssl tdb libunbound cmocka jansson

# Recursive on purpose: evaluated when a recipe runs, after `deps`.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS_EXT = $(shell pkg-config --libs openssl tdb)
PKG_LIBS_MTA = $(shell pkg-config --libs libevent_openssl libevent_pthreads libunbound \
	libevent openssl tdb jansson) -lpthread
CMOCKA_LIBS = $(shell pkg-config --libs cmocka)
JANSSON_LIBS = $(shell pkg-config --libs jansson)

WARN	:= -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral
OPT	?= -O2 -g
SAN	?=
CFLAGS_ALL = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(WARN) \
	$(OPT) $(SAN) $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(SAN) $(LDFLAGS)

EXT_SRC	:= $(wildcard ext/libstsec/*.c)
EXT_OBJ	:= $(EXT_SRC:%.c=$(B)/%.o)
LIBSTSEC := $(B)/libstsec.a

MTA_SRC	:= $(filter-out mta/pinpostd.c,$(wildcard mta/*.c mta/proto/*.c))
MTA_OBJ	:= $(MTA_SRC:%.c=$(B)/%.o)
LIBMTA	:= $(B)/libmta.a
PINPOSTD := $(B)/pinpostd

CLI_SRC	:= $(wildcard mta/cli/*.c)
CLI_OBJ	:= $(CLI_SRC:%.c=$(B)/%.o)
PINPOST	:= $(B)/pinpost
INC	:= -Iext/libstsec -Imta -Imta/proto

UNIT_SRC := $(filter-out tests/unit/testutil.c,$(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
TESTUTIL_OBJ := $(B)/tests/unit/testutil.o

.PHONY: all deps test unit structure integration interop asan valgrind install clean run \
	postfix-patched \
	fuzz fuzz-check fuzz-bin draft-deps draft-check bench fresh-check

all: $(LIBSTSEC) $(PINPOSTD) $(PINPOST)

# apt-get install as root (sudo otherwise), answering the packages that
# ask: no system Postfix (only private instances run here), no setuid
# dumpcap; a newly installed Postfix is not enabled either.
APT_INSTALL = SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	printf '%s\n' \
	    'postfix postfix/main_mailer_type select No configuration' \
	    'wireshark-common wireshark-common/install-setuid boolean false' | \
	    $$SUDO debconf-set-selections && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y \
	    -qq --no-install-recommends

deps:
	@missing=""; for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
		    grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		$(APT_INSTALL) $$missing || exit 1; \
		case " $$missing " in *" postfix "*) \
			$$SUDO systemctl disable postfix >/dev/null 2>&1; \
			$$SUDO update-rc.d postfix disable >/dev/null 2>&1; \
		esac; \
	fi; exit 0
	@# node and npm for the draft's ABNF check: by command, not by
	@# package name, since NodeSource's nodejs package ships npm too
	@if ! command -v node >/dev/null 2>&1 || \
	    ! command -v npm >/dev/null 2>&1; then \
		echo "deps: installing nodejs npm"; \
		$(APT_INSTALL) nodejs npm; \
	fi

$(B)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(INC) -MMD -MP -c -o $@ $<

$(LIBSTSEC): $(EXT_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(LIBMTA): $(MTA_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(PINPOSTD): $(B)/mta/pinpostd.o $(LIBMTA) $(LIBSTSEC)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(LIBMTA) $(LIBSTSEC) $(PKG_LIBS_MTA)

$(PINPOST): $(CLI_OBJ) $(LIBMTA) $(LIBSTSEC)
	$(CC) $(LDFLAGS_ALL) -o $@ $(CLI_OBJ) $(LIBMTA) $(LIBSTSEC) \
	    $(PKG_LIBS_MTA)

$(B)/tests/%: $(B)/tests/unit/%.o $(TESTUTIL_OBJ) $(LIBMTA) $(LIBSTSEC)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(TESTUTIL_OBJ) $(LIBMTA) $(LIBSTSEC) \
	    $(CMOCKA_LIBS) $(PKG_LIBS_MTA)

unit: $(UNIT_BIN)
	@PINPOST_BUILD=$(abspath $(B)) sh tests/run-unit $(UNIT_BIN)

# The module graph of ext/ and mta/: no cycles, no include or call from a
# lower floor to a higher one (tests/structure/layers.py).
structure:
	$(PYTHON) tests/structure/layers.py

integration: $(PINPOST)
	cd tests/integration && PINPOST_BUILD=$(abspath $(B)) \
	    $(PYTHON) -m pytest -q -p no:cacheprovider .

test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) structure
	$(MAKE) integration
	$(MAKE) draft-check
	$(MAKE) asan
	$(MAKE) valgrind
	$(MAKE) fuzz-check
	$(MAKE) interop

# The interop matrix: real Postfix, Exim, OpenSMTPD, aiosmtpd, swaks, msmtp,
# smtplib and smtp-source against pinpostd on loopback; interop/run
# installs what it needs and writes interop/RESULTS.md.
interop: $(PINPOSTD) $(PINPOST) postfix-patched
	PINPOST_BUILD=$(abspath $(B)) sh interop/run

# smtp(8) and smtpd(8) of Debian's postfix source package with our patch
# series, linked with libstsec (root: apt-get source).  Built here, outside
# interop/run's namespace (whose resolver is dead); the interop fixture
# (interop/postfix_patched.py) then finds the build in the cache.
postfix-patched: $(LIBSTSEC)
	sh ext/patches/postfix-3.7/build.sh $(LIBSTSEC)

asan: deps
	$(MAKE) B=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" \
	    all unit integration

valgrind: $(UNIT_BIN)
	@PINPOST_BUILD=$(abspath $(B)) \
	    VALGRIND="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --child-silent-after-fork=yes" \
	    sh tests/run-unit $(UNIT_BIN)

# libFuzzer harnesses: clang, ASan + UBSan, in their own build directory.
# Each links the pure modules it needs (no libevent): libstsec, mta/proto,
# the config parser.
FUZZ_B	:= build-fuzz
FUZZ_NAMES := smtp_cmd smtp_reply smtp_data ehlo record conf
FUZZ_SECONDS ?= 60
FUZZ_TEST_SECONDS ?= 10
FUZZ_SAN := -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all
FUZZ_SRC := $(EXT_SRC) $(wildcard mta/proto/*.c) mta/conf.c mta/route.c
FUZZ_OBJ = $(FUZZ_SRC:%.c=$(B)/%.o)
FUZZ_BIN = $(FUZZ_NAMES:%=$(B)/fuzz/fuzz_%)
FUZZ_HARNESS_OBJ = $(FUZZ_NAMES:%=$(B)/tests/fuzz/fuzz_%.o)

$(B)/fuzz/fuzz_%: $(B)/tests/fuzz/fuzz_%.o $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS_EXT)

fuzz-bin: $(FUZZ_BIN)

.SECONDARY: $(FUZZ_HARNESS_OBJ)

fuzz: deps
	$(MAKE) B=$(FUZZ_B) CC=clang OPT="-O1 -g -fno-omit-frame-pointer" \
	    SAN="$(FUZZ_SAN)" fuzz-bin
	sh tests/fuzz/run-fuzz $(FUZZ_B)/fuzz $(FUZZ_SECONDS) $(FUZZ_NAMES)

fuzz-check: deps
	$(MAKE) B=$(FUZZ_B) CC=clang OPT="-O1 -g -fno-omit-frame-pointer" \
	    SAN="$(FUZZ_SAN)" fuzz-bin
	sh tests/fuzz/run-fuzz $(FUZZ_B)/fuzz $(FUZZ_TEST_SECONDS) \
	    $(FUZZ_NAMES)

# Benchmarks (issue 9; not part of `test`): pinpostd beside Postfix,
# smtp-sink and the OpenSSL ceiling; tests/bench/run installs what it
# needs, prints the table and writes tests/bench/RESULTS.md.  Knobs:
# BENCH_RUNS, BENCH_SCALE, BENCH_ITEMS (tests/bench/bench.py).
BENCH_BIN := $(B)/bench/loader $(B)/bench/bench_store

$(B)/bench/loader: tests/bench/loader.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< \
	    $(shell pkg-config --libs openssl) -lpthread

$(B)/bench/bench_store: tests/bench/bench_store.c $(LIBSTSEC) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Iext/libstsec $(LDFLAGS_ALL) -o $@ $< $(LIBSTSEC) \
	    $(PKG_LIBS_EXT)

bench: all $(BENCH_BIN)
	PINPOST_BUILD=$(abspath $(B)) sh tests/bench/run

# The Internet-Draft: apg-js (pinned by package-lock.json) for its ABNF,
# then the checks of tests/draft against the build in $(B).
DRAFT_TOOLS := rfc-draft/tools
APG_STAMP := $(DRAFT_TOOLS)/node_modules/.package-lock.json

draft-deps: $(APG_STAMP)

$(APG_STAMP): $(DRAFT_TOOLS)/package.json $(DRAFT_TOOLS)/package-lock.json | deps
	cd $(DRAFT_TOOLS) && npm ci --no-audit --no-fund --loglevel=error

draft-check: $(LIBSTSEC) $(PINPOSTD) $(PINPOST) $(APG_STAMP)
	cd tests/draft && PINPOST_BUILD=$(abspath $(B)) \
	    $(PYTHON) -m pytest -q -p no:cacheprovider .

# README's set-up as a new user meets it (not part of `test`: it takes
# longer than CI's budget): a debootstrap'd minimal Debian 12 (cached in
# /var/cache/pinpost-fresh), a clean clone of HEAD in it, `apt-get install
# make`, `make test`, `make run` and one swaks --tls delivery.  Knobs:
# FRESH_MIRROR, FRESH_REV, FRESH_REBUILD=1 (tests/fresh/fresh-check).
fresh-check:
	sh tests/fresh/fresh-check

RUN_DIR	?= run

run: all
	sh mta/setup-run.sh $(RUN_DIR)
	@echo "pinpostd on 127.0.0.1:2525; mail lands in $(RUN_DIR)/mail/localhost/postmaster/new/"
	@echo "try: swaks --server 127.0.0.1:2525 --to postmaster@localhost --tls"
	exec $(PINPOSTD) -d -f $(RUN_DIR)/etc/pinpost.conf

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) \
	    $(DESTDIR)$(MANDIR)/man1
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8
	install -m 755 $(PINPOSTD) $(DESTDIR)$(PREFIX)/sbin/pinpostd
	install -m 755 $(PINPOST) $(DESTDIR)$(BINDIR)/pinpost
	install -m 644 $(LIBSTSEC) $(DESTDIR)$(LIBDIR)/libstsec.a
	install -m 644 ext/stsec.h $(DESTDIR)$(INCDIR)/stsec.h
	install -m 644 mta/cli/pinpost.1 $(DESTDIR)$(MANDIR)/man1/pinpost.1
	install -m 644 mta/pinpost.conf.5 $(DESTDIR)$(MANDIR)/man5/pinpost.conf.5
	install -m 644 mta/pinpostd.8 $(DESTDIR)$(MANDIR)/man8/pinpostd.8

clean:
	rm -rf build build-asan $(FUZZ_B)

-include $(EXT_OBJ:.o=.d) $(MTA_OBJ:.o=.d) $(B)/mta/pinpostd.d $(CLI_OBJ:.o=.d) $(UNIT_BIN:$(B)/tests/%=$(B)/tests/unit/%.d) $(FUZZ_HARNESS_OBJ:.o=.d)
