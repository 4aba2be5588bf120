# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# op25b: the datapath (bpf/) is compiled for the BPF target, turned into a
# skeleton header, and embedded in the controller (user/), so op25bctl is a
# single self-contained binary. Tests link against the same skeleton.

CLANG    ?= clang
BPFTOOL  ?= bpftool
CC       ?= gcc
PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    := build

ARCH     := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)

BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	      -I/usr/include/$(MULTIARCH) -Ibpf $(BPF_EXTRA)
# CPPFLAGS, CFLAGS and LDFLAGS from the environment are honoured, as
# dpkg-buildflags sets them (fortify, stack protector, relro, bind-now).
CFLAGS   ?= -O2 -g
CFLAGS   += -Wall -Wextra -Wno-unused-parameter -std=gnu11 -Ibpf -I$(BUILD) \
	    $(shell pkg-config --cflags libnl-3.0 libnl-route-3.0 2>/dev/null)
LDLIBS   := -lbpf -lelf -lz -lm \
	    $(shell pkg-config --libs libnl-3.0 libnl-route-3.0 2>/dev/null)
# op25bctl log writes to the journal (sd_journal_sendv) where libsystemd
# is there to build with; without it (OpenWrt) log has syslog and files.
# Only its headers: libsystemd is loaded by the commands that use the
# journal, when they do (user/journal.c), not linked into every command.
ifneq ($(shell pkg-config --exists libsystemd 2>/dev/null && echo y),)
CTL_CFLAGS := -DOP25B_JOURNAL $(shell pkg-config --cflags libsystemd)
endif
# Sharing a device through libxdp's dispatcher (user/dispatcher.c) where
# libxdp is there to build with; without it, chained mode alone.
ifneq ($(shell pkg-config --exists libxdp 2>/dev/null && echo y),)
CTL_LIBS += $(shell pkg-config --libs libxdp)
CTL_CFLAGS += -DOP25B_LIBXDP
CTL_SKEL := $(BUILD)/op25b_ext.skel.h
endif

USER_SRC := $(wildcard user/*.c)
USER_HDR := $(wildcard user/*.h) bpf/op25b.h bpf/decide.h
BPF_SRC  := bpf/op25b.bpf.c $(wildcard bpf/*.h)

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.PHONY: all deps test demo install clean fuzz bench stress deb cross-test FORCE

all: $(BUILD)/op25bctl

deps:
	$(Q)CLANG=$(CLANG) EXTRA_PKGS="$(EXTRA_PKGS)" scripts/deps.sh

# The unit tests also run against objects built by these compilers.
test: EXTRA_PKGS := clang-14 clang-16 clang-19 debhelper lintian dpkg-dev nftables \
	busybox prometheus
# test_share runs xdp-filter beside op25b (chained mode, doc/DESIGN.md)
test: EXTRA_PKGS += xdp-tools

$(BUILD):
	$(Q)mkdir -p $@

# The datapath object and its skeleton, rebuilt when the compiler changes
# (make test CLANG=clang-19): bpf-cc only changes when CLANG does.
$(BUILD)/bpf-cc: FORCE | $(BUILD)
	$(Q)echo '$(CLANG)' | cmp -s - $@ || echo '$(CLANG)' > $@

$(BUILD)/op25b.bpf.o: $(BPF_SRC) $(BUILD)/bpf-cc | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c bpf/op25b.bpf.c -o $@

# Every BPF object's skeleton: op25b's, and the bench's gen and probe.
$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

# The controller: one file per concern, the skeleton embedded.
$(BUILD)/op25bctl: $(USER_SRC) $(USER_HDR) $(BUILD)/op25b.skel.h
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(CTL_CFLAGS) $(USER_SRC) -o $@ $(LDFLAGS) $(LDLIBS) $(CTL_LIBS)

# Whether the kernel allows libxdp's dispatcher (freplace): a probe object,
# embedded as op25b's is (user/dispatcher.c).
$(BUILD)/dispatcher_probe.bpf.o: bpf/dispatcher_probe.bpf.c $(BUILD)/bpf-cc | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
$(BUILD)/op25bctl: $(BUILD)/dispatcher_probe.skel.h $(CTL_SKEL)

# op25b's XDP program as libxdp's dispatcher runs it (user/dispatcher.c):
# the same source, built with OP25B_XDP_EXT (no RST: no packet resized).
$(BUILD)/op25b_ext.bpf.o: $(BPF_SRC) $(BUILD)/bpf-cc | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -DOP25B_XDP_EXT -c bpf/op25b.bpf.c -o $@

# Tests: unit (BPF_PROG_TEST_RUN), differential fuzzer, then shell suites.
# They build policies with the controller's own engine.
# The engine is user/engine*.c behind user/engine.h (user/engine_int.h
# is what its files share); every program that builds policies links all of it.
ENGINE_SRC := $(wildcard user/engine*.c) user/names.c
ENGINE   := $(ENGINE_SRC) user/engine.h user/engine_int.h bpf/decide.h
TEST_COMMON := tests/unit/testlib.h bpf/op25b.h $(BUILD)/op25b.skel.h $(ENGINE)
TEST_CFLAGS = $(CPPFLAGS) $(CFLAGS) -Iuser -Itests/unit

# test_datapath includes every tests/unit/dp_*.c, listed here from their
# names (rewritten only when the list changes): a new file cannot be left
# out, and its DP_AREA registers the area it holds.
DP_FILES := $(sort $(notdir $(wildcard tests/unit/dp_*.c)))
$(BUILD)/dp_files.h: FORCE | $(BUILD)
	$(Q)printf '#include "%s"\n' $(DP_FILES) | cmp -s - $@ || \
		printf '#include "%s"\n' $(DP_FILES) > $@

$(BUILD)/test_datapath: tests/unit/test_datapath.c $(wildcard tests/unit/dp_*) \
		$(BUILD)/dp_files.h $(TEST_COMMON) user/evlog.c
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $< $(ENGINE_SRC) user/evlog.c -o $@ $(LDLIBS)

# test_engine.c includes its harness and the test_engine_*.c files: one
# translation unit, as test_datapath is.
$(BUILD)/test_engine: tests/unit/test_engine.c $(wildcard tests/unit/test_engine_*.c) \
		tests/unit/engine_harness.h $(TEST_COMMON)
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $< $(ENGINE_SRC) -o $@ $(LDLIBS) -lpthread

FUZZ_SRC := tests/fuzz/fuzz.c tests/fuzz/policy.c tests/fuzz/oracle.c tests/fuzz/gen.c
$(BUILD)/fuzz: $(FUZZ_SRC) $(wildcard tests/fuzz/*.h) $(TEST_COMMON)
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) -Itests/fuzz $(FUZZ_SRC) $(ENGINE_SRC) -o $@ $(LDLIBS)

TEST_BINS := $(BUILD)/op25bctl $(BUILD)/test_datapath $(BUILD)/test_engine \
	     $(BUILD)/fuzz $(BUILD)/flood

test: deps
	$(Q)$(MAKE) --no-print-directory $(TEST_BINS)
	$(Q)BUILD=$(abspath $(BUILD)) MAIN_CLANG=$(CLANG) tests/run.sh

N    ?= 1000000
SEED ?= 1
fuzz: deps
	$(Q)$(MAKE) --no-print-directory $(BUILD)/fuzz
	$(Q)$(BUILD)/fuzz -n $(N) -s $(SEED)

$(BUILD)/bench: tests/bench/bench.c $(TEST_COMMON)
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $< $(ENGINE_SRC) -o $@ $(LDLIBS)

$(BUILD)/bench_policy: tests/bench/bench_policy.c $(BUILD)/probe.skel.h $(TEST_COMMON)
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $< $(ENGINE_SRC) -o $@ $(LDLIBS)

# The bench's own BPF programs: gen, the flood's generator (live frames
# sent back out with XDP_TX); probe, the decision cost's yardstick
# (dependent loads and nothing else).
$(BUILD)/%.bpf.o: tests/bench/%.bpf.c $(BUILD)/bpf-cc | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# Kept, as op25b.bpf.o is: objects to read with bpftool, not intermediates.
.PRECIOUS: $(BUILD)/%.bpf.o

$(BUILD)/flood: tests/bench/flood.c $(BUILD)/gen.skel.h $(BUILD)/probe.skel.h $(TEST_COMMON)
	$(call msg,CC,$@)
	$(Q)$(CC) $(TEST_CFLAGS) $< -o $@ $(LDLIBS) -lpthread

# Speed is measured here, never asserted in tests. The peers it is measured
# against come from Debian too; BENCH_QUICK=1 for a short run.
bench: EXTRA_PKGS := nftables iptables gnuplot-nox time xdp-tools
bench: deps
	$(Q)$(MAKE) --no-print-directory $(BUILD)/op25bctl $(BUILD)/bench \
		$(BUILD)/bench_policy $(BUILD)/flood
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/decision-only \
		BPF_EXTRA=-DOP25B_BENCH_DECISION_ONLY $(BUILD)/decision-only/op25bctl
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/no-walk \
		BPF_EXTRA=-DOP25B_BENCH_NO_WALK $(BUILD)/no-walk/op25bctl
	$(Q)python3 tests/bench/run.py $(BUILD) $(if $(BENCH_QUICK),--quick)

demo: deps
	$(Q)$(MAKE) --no-print-directory $(BUILD)/op25bctl
	$(Q)BUILD=$(abspath $(BUILD)) scripts/demo.sh

# systemd units go under the prefix's lib (/usr/lib/systemd/system for
# PREFIX=/usr); the example policy never replaces one already there.
UNITDIR  ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc

# The PPP hooks name where they and op25bctl are installed.
PPP_SED = sed 's|/usr/sbin/op25bctl|$(PREFIX)/sbin/op25bctl|; s|/usr/lib/op25b/|$(PREFIX)/lib/op25b/|g; s|/etc/op25b/|$(SYSCONFDIR)/op25b/|g'

install: $(BUILD)/op25bctl
	install -D -m 0755 $(BUILD)/op25bctl $(DESTDIR)$(PREFIX)/sbin/op25bctl
	install -D -m 0644 doc/op25bctl.8 $(DESTDIR)$(PREFIX)/share/man/man8/op25bctl.8
	install -D -m 0644 doc/op25b.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/op25b.conf.5
	install -D -m 0644 contrib/op25bctl.bash-completion \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/op25bctl
	sed 's|/usr/sbin/op25bctl|$(PREFIX)/sbin/op25bctl|; s|/etc/op25b/|$(SYSCONFDIR)/op25b/|g' \
		contrib/op25b.service > $(BUILD)/op25b.service
	install -D -m 0644 $(BUILD)/op25b.service $(DESTDIR)$(UNITDIR)/op25b.service
	sed 's|/usr/sbin/op25bctl|$(PREFIX)/sbin/op25bctl|; s|/etc/op25b/|$(SYSCONFDIR)/op25b/|g' \
		contrib/op25b-watch.service > $(BUILD)/op25b-watch.service
	install -D -m 0644 $(BUILD)/op25b-watch.service $(DESTDIR)$(UNITDIR)/op25b-watch.service
	sed 's|/usr/sbin/op25bctl|$(PREFIX)/sbin/op25bctl|' \
		contrib/op25b-log.service > $(BUILD)/op25b-log.service
	install -D -m 0644 $(BUILD)/op25b-log.service $(DESTDIR)$(UNITDIR)/op25b-log.service
	sed 's|/usr/sbin/op25bctl|$(PREFIX)/sbin/op25bctl|' \
		contrib/prometheus/op25b-metrics.service > $(BUILD)/op25b-metrics.service
	install -D -m 0644 $(BUILD)/op25b-metrics.service $(DESTDIR)$(UNITDIR)/op25b-metrics.service
	install -D -m 0644 contrib/prometheus/op25b-metrics.timer $(DESTDIR)$(UNITDIR)/op25b-metrics.timer
	install -D -m 0644 contrib/prometheus/op25b-grafana-dashboard.json \
		$(DESTDIR)$(PREFIX)/share/op25b/op25b-grafana-dashboard.json
	install -d -m 0755 $(DESTDIR)$(PREFIX)/lib/op25b/ppp \
		$(DESTDIR)$(SYSCONFDIR)/ppp/ip-up.d $(DESTDIR)$(SYSCONFDIR)/ppp/ip-down.d
	for f in op25b-ppp-hook accel-ppp-ip-up accel-ppp-ip-down; do \
		$(PPP_SED) contrib/ppp/$$f > $(DESTDIR)$(PREFIX)/lib/op25b/ppp/$$f && \
		chmod 0755 $(DESTDIR)$(PREFIX)/lib/op25b/ppp/$$f || exit 1; done
	$(PPP_SED) contrib/ppp/pppd-ip-up > $(DESTDIR)$(SYSCONFDIR)/ppp/ip-up.d/op25b
	$(PPP_SED) contrib/ppp/pppd-ip-down > $(DESTDIR)$(SYSCONFDIR)/ppp/ip-down.d/op25b
	chmod 0755 $(DESTDIR)$(SYSCONFDIR)/ppp/ip-up.d/op25b \
		$(DESTDIR)$(SYSCONFDIR)/ppp/ip-down.d/op25b
	install -D -m 0644 contrib/ppp/ppp.conf $(DESTDIR)$(PREFIX)/share/doc/op25b/examples/ppp.conf
	for f in README.md doc/DEPLOYMENT.md doc/DESIGN.md; do \
		install -D -m 0644 $$f $(DESTDIR)$(PREFIX)/share/doc/op25b/$$(basename $$f) || exit 1; done
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/op25b
	[ -e $(DESTDIR)$(SYSCONFDIR)/op25b/op25b.conf ] || \
		install -m 0644 contrib/op25b.conf $(DESTDIR)$(SYSCONFDIR)/op25b/op25b.conf

# A Debian package, built from a copy of the tracked tree in $(BUILD)/deb
# (dpkg-buildpackage writes beside the source), checked with lintian.
DEB_VERSION = $(shell dpkg-parsechangelog -l debian/changelog -S Version 2>/dev/null)
deb: EXTRA_PKGS := debhelper lintian dpkg-dev
deb: deps
	$(Q)rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/op25b-$(DEB_VERSION)
	$(Q)git ls-files -z | xargs -0 cp --parents -t $(BUILD)/deb/op25b-$(DEB_VERSION)
	$(Q)cd $(BUILD)/deb/op25b-$(DEB_VERSION) && \
		dpkg-buildpackage -us -uc -b >../build.log 2>&1 || \
		{ tail -30 ../build.log; exit 1; }
	$(Q)lintian --fail-on error $(BUILD)/deb/op25b_$(DEB_VERSION)_*.deb
	$(Q)ls $(BUILD)/deb/op25b_$(DEB_VERSION)_*.deb

# op25b on other CPUs: built by Debian's cross compilers for arm64 and
# s390x (big-endian), each booted on Debian's kernel under qemu-system
# (software emulation) to run the unit, engine, policy and namespace
# tests; not part of make test. About 6 minutes on 2 cores (5 with the
# downloads cached in build/cross). CROSS_ARCHES=arm64 for one;
# CROSS_ARCHES=amd64 boots Debian's amd64 kernel, which allows libxdp's
# dispatcher, and runs the host's share suite there as well (about 8
# minutes more; tests/cross/run.sh);
# CROSS_KERNEL=bookworm for Debian 12's own 6.1, whose verifier still
# refuses the datapath (op25b_reject_xdp).
CROSS_ARCHES ?= arm64 s390x
cross-test: deps
	$(Q)BUILD=$(abspath $(BUILD)) CLANG=$(CLANG) tests/cross/run.sh $(CROSS_ARCHES)

# Many back-and-forth applies under traffic (make test runs fewer).
stress: deps
	$(Q)$(MAKE) --no-print-directory $(BUILD)/op25bctl $(BUILD)/test_engine
	$(Q)BUILD=$(abspath $(BUILD)) APPLY_FLIPS=100 tests/cli/test_apply.sh test_atomic_traffic test_kill

clean:
	$(call msg,CLEAN,$(BUILD))
	$(Q)rm -rf $(BUILD)
