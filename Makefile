# sockreap - build, test and run. All output goes under build/.
.DELETE_ON_ERROR:
SHELL := /bin/bash
.SUFFIXES:

BUILD   ?= build
CC      ?= cc
CLANG   ?= clang
BPFTOOL ?= bpftool
ARCH    := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
MULTI   := $(shell $(CC) -print-multiarch 2>/dev/null)
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo 0.1)

ifeq ($(V),1)
Q :=
else
Q := @
endif

CFLAGS_BASE := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers
CPPFLAGS    := -Iinclude -Iuser -I$(BUILD) -D_GNU_SOURCE
DEPFLAGS     = -MMD -MP
CFLAGS      ?= $(CFLAGS_BASE)
LDLIBS      := -lbpf -lelf -lz -lmicrohttpd -lpthread -lm
SAN_FLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

BPF_CFLAGS := -target bpf -O2 -g -Wall -Werror -D__TARGET_ARCH_$(ARCH) \
	      -Iinclude -Ibpf $(if $(MULTI),-I/usr/include/$(MULTI))

# Every user/*.c is part of the daemon; main.c holds only main(). The others
# also go into an archive that the unit tests, the BPF test and the fuzz
# targets link: the linker takes just the modules a test uses, so a new
# source file or test needs no line here.
USER_SRCS := $(filter-out user/main.c,$(sort $(wildcard user/*.c)))
USER_OBJS := $(USER_SRCS:%.c=$(BUILD)/%.o)
MAIN_OBJ  := $(BUILD)/user/main.o
LIB       := $(BUILD)/libsockreap.a
# One BPF object per bpf/*.bpf.c (see each file's header for why it is apart).
BPF_UNITS := $(patsubst bpf/%.bpf.c,%,$(sort $(wildcard bpf/*.bpf.c)))
SKEL      := $(BPF_UNITS:%=$(BUILD)/%.skel.h)

UNIT_TESTS := $(patsubst tests/unit/test_%.c,%,$(sort $(wildcard tests/unit/test_*.c)))
UNIT_BINS  := $(UNIT_TESTS:%=$(BUILD)/tests/test_%)
ASAN_BINS  := $(UNIT_TESTS:%=$(BUILD)/asan/tests/test_%)
TOOLS      := $(patsubst tests/tools/%.c,$(BUILD)/tests/%,$(wildcard tests/tools/*.c)) \
	      $(BUILD)/tests/test_bpf

.PHONY: all deps run test unit unit-asan integration integration-san san fuzz fuzz-short clean
all: $(BUILD)/sockreap $(TOOLS)

# The one package list: build, tests (unit, integration, kernels, deployment)
# and the bench. deploy/Dockerfile installs a subset of it (make test-deploy
# checks that every name there is here).
DEB_PKGS := clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libcmocka-dev \
	    libmicrohttpd-dev pkg-config make gcc iproute2 nftables util-linux \
	    libcap2-bin procps bc curl python3 prometheus valgrind \
	    qemu-system-x86 busybox-static cpio kmod xz-utils debian-archive-keyring \
	    podman runc catatonit containernetworking-plugins debootstrap python3-yaml systemd \
	    iperf3 linux-perf
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
		grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

$(BUILD)/%.bpf.o: bpf/%.bpf.c | $(BUILD)
	@echo "  BPF     $@"
	$(Q)$(CLANG) $(BPF_CFLAGS) $(DEPFLAGS) -MF $@.d -MT $@ -c $< -o $@

# Kept: the skeleton embeds the object, and a rebuild should not redo both.
.SECONDARY: $(BPF_UNITS:%=$(BUILD)/%.bpf.o)
$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	@echo "  SKEL    $@"
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

# The version, in a header of its own (build/version.h), rewritten only when
# `git describe` says something new: a commit, or a tree turned dirty,
# rebuilds what prints it (the compiler's dependency files name it), and a
# binary never shows the version of an older build.
.PHONY: FORCE
FORCE:
$(BUILD)/version.h: FORCE | $(BUILD)
	@v='#define SOCKREAP_VERSION "$(VERSION)"'; \
	[ "$$(cat $@ 2>/dev/null)" = "$$v" ] || echo "$$v" >$@

$(BUILD)/%.o: %.c | $(BUILD) $(BUILD)/version.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

# The unit tests under ASan+UBSan, and the fuzz targets (clang), link archives
# of their own flavour of the same sources.
$(BUILD)/asan/%.o: %.c | $(BUILD) $(BUILD)/version.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@ (asan+ubsan)"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN_FLAGS) $(DEPFLAGS) -c $< -o $@
FUZZ_CFLAGS := -std=gnu11 -g -O1 -Wall -Werror -fsanitize=address,undefined -fno-sanitize-recover=all
$(BUILD)/fuzz/%.o: %.c | $(BUILD) $(BUILD)/version.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@ (fuzz)"
	$(Q)$(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(DEPFLAGS) -c $< -o $@

%/libsockreap.a:
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^
$(LIB): $(USER_OBJS)
$(BUILD)/asan/libsockreap.a: $(USER_SRCS:%.c=$(BUILD)/asan/%.o)
$(BUILD)/fuzz/libsockreap.a: $(USER_SRCS:%.c=$(BUILD)/fuzz/%.o)

# Everything may include a skeleton: every compile waits for them.
$(USER_OBJS) $(MAIN_OBJ) $(USER_SRCS:%.c=$(BUILD)/asan/%.o) $(USER_SRCS:%.c=$(BUILD)/fuzz/%.o): | $(SKEL)

$(BUILD)/sockreap: $(MAIN_OBJ) $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(filter %.o %.a,$^) $(LDLIBS) -o $@

# The BPF bookkeeping on a real loopback pair (root, BTF), through the daemon's loader.
$(BUILD)/tests/test_bpf: tests/bpf/test_bpf.c $(LIB) | $(SKEL)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) $(filter %.c %.a,$^) -lcmocka $(LDLIBS) -o $@

# Test tools: one source each, standalone.
$(BUILD)/tests/%: tests/tools/%.c | $(BUILD)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) $< -lpthread -lm -o $@

$(BUILD)/tests/test_%: tests/unit/test_%.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) $(filter %.c %.a,$^) -lcmocka $(LDLIBS) -o $@

$(BUILD)/asan/tests/test_%: tests/unit/test_%.c $(BUILD)/asan/libsockreap.a
	@mkdir -p $(dir $@)
	@echo "  CC      $@ (asan+ubsan)"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN_FLAGS) $(DEPFLAGS) $(filter %.c %.a,$^) -lcmocka $(LDLIBS) -o $@

# libFuzzer targets for every parser of outside input (clang, ASan+UBSan).
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
FUZZ_SECONDS ?= 15
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(BUILD)/fuzz/libsockreap.a
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(filter %.c %.a,$^) $(LDLIBS) -o $@

# Replay the regression inputs (every crash found becomes one), then fuzz
# each target FUZZ_SECONDS from the committed seeds; new inputs stay in build/.
# One target per parser, so `make -j2` runs two at once.
FUZZ_SHORT := $(FUZZ_TARGETS:%=fuzz-short-%)
.PHONY: fuzz-short $(FUZZ_SHORT)
fuzz-short: $(FUZZ_SHORT)
$(FUZZ_SHORT): fuzz-short-%: $(BUILD)/fuzz/fuzz_%
	@set -e; t=$*; b=$(BUILD)/fuzz/fuzz_$$t; \
	if ls tests/fuzz/regressions/$$t/* >/dev/null 2>&1; then \
		echo "== $$t: regressions"; $$b tests/fuzz/regressions/$$t/* 2>&1 | grep -E "^Executed|ERROR"; fi; \
	mkdir -p $(BUILD)/fuzz/corpus/$$t; \
	echo "== $$t: $(FUZZ_SECONDS) s"; \
	$$b -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
		-artifact_prefix=$(BUILD)/fuzz/ \
		$(BUILD)/fuzz/corpus/$$t tests/fuzz/corpus/$$t 2>&1 | grep -E 'stat::number_of_executed_units|ERROR|SUMMARY' ; \
	test $${PIPESTATUS[0]} -eq 0

fuzz:
	$(Q)$(MAKE) --no-print-directory fuzz-short FUZZ_SECONDS=600

$(BUILD):
	@mkdir -p $@

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

unit-asan: $(ASAN_BINS)
	@set -e; for t in $(ASAN_BINS); do echo "== $$t"; $$t; done

integration: all
	$(Q)tests/integration/run.sh $(BUILD)

# The long churn (test_churn.sh): 100 000 connections in at most 9 minutes
# (tcpdrv bounds every run to 600 s).
.PHONY: soak
soak: all
	$(Q)CHURN_COUNT=100000 CHURN_SECONDS=540 bash tests/integration/test_churn.sh

# The mixed-traffic soak (tests/soak/): SOAK_MINUTES of every live and dead
# kind at once, then every connection's fate against its label. The short
# form (test_soak_mix.sh) is part of `make integration` and the kernel suite.
SOAK_MINUTES ?= 30
.PHONY: soak-mix
soak-mix: all
	$(Q)SOAK_SECONDS=$$(($(SOAK_MINUTES) * 60)) SOAK_KEEP=$(BUILD)/soak-mix bash tests/soak/soak_mix.sh

# The daemon under ASan+UBSan, with the test hooks (SOCKREAP_TEST_PAUSE) compiled in.
SAN_BUILD := $(BUILD)/san
san:
	$(Q)$(MAKE) --no-print-directory BUILD=$(SAN_BUILD) \
		CFLAGS='$(CFLAGS_BASE) $(SAN_FLAGS) -DSR_TEST_HOOKS' all

# Integration tests against the sanitized daemon: the race tests need its
# hooks; the scenario and hardening tests run there too for memory safety.
SAN_TESTS ?= races reap_path send_fallback scenarios hardening churn observability half_close
integration-san: san
	$(Q)tests/integration/run.sh $(SAN_BUILD) $(SAN_TESTS)

# Debian's stock kernels under qemu/TCG (tests/kernels/): the kernel suite on
# each in `make test`, the whole integration suite on each with
# `make test-kernels`. Every wait and grace is scaled for the emulator; what a
# kernel offers comes from the daemon's own event=ready line.
KERNEL_TESTS     ?= bpf cli half_close send_path last_acks sendfile backstop kernel_socket storm \
		    metrics_file privilege targets identity flood pressure pressure_end soak_mix
GUEST_TIME_SCALE ?= 3
.PHONY: kernel-suite test-kernels
kernel-suite: all
	$(Q)tests/kernels/matrix.sh --timeout 1800 -- \
		tests/kernels/kernel-suite.sh $(GUEST_TIME_SCALE) $(KERNEL_TESTS)
test-kernels: deps all
	$(Q)tests/kernels/matrix.sh --timeout 3600 -- tests/kernels/kernel-suite.sh $(GUEST_TIME_SCALE)
# The guests' kernels and initramfs, fetched and cached ahead (make test runs
# this beside the unit tests: downloads, not CPU).
.PHONY: kernel-cache
kernel-cache:
	$(Q)for s in bullseye bookworm trixie; do \
		tests/kernels/fetch.sh $$s >/dev/null 2>$(BUILD)/kernel-cache-$$s.log && \
		tests/kernels/initramfs.sh $$s >/dev/null 2>>$(BUILD)/kernel-cache-$$s.log || \
		{ echo "kernel-cache: $$s not cached now (the kernel suite tries again):"; \
		  tail -3 $(BUILD)/kernel-cache-$$s.log; }; \
	done

# README's options table is generated from the option specs; test_options
# fails until README carries the current one: `make readme-options` writes it.
.PHONY: readme-options
$(BUILD)/options_table: tests/arch/options_table.c $(LIB)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(filter %.c %.a,$^) $(LDLIBS) -o $@
readme-options: $(BUILD)/options_table
	$(Q)$(BUILD)/options_table > $(BUILD)/options_table.md
	$(Q)python3 -c 'import sys; r = open("README.md").read(); a = r.index("| option | default | meaning |"); \
		b = r.index("\n\n", a); open("README.md", "w").write(r[:a] + open(sys.argv[1]).read().rstrip("\n") + r[b:])' \
		$(BUILD)/options_table.md

# The modules depend on each other one way only; the configuration stays at
# the top (tests/arch/check_deps.py, on the built objects).
.PHONY: check-deps check-monitoring
check-deps: all
	$(Q)python3 tests/arch/check_deps.py $(BUILD)

# The alerting rules and dashboard (deploy/monitoring/): promtool checks and
# unit tests of every alert, and proof that a broken alert fails them.
check-monitoring:
	$(Q)bash tests/monitoring/check.sh

# The README's test command: every test, unit (plain and sanitized), the
# module layering, the monitoring rules, integration on this kernel, the
# deployment under podman, and the kernel suite on each guest kernel.
test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory -j2 --output-sync=target unit unit-asan fuzz-short \
		validate-manifests check-deps check-monitoring kernel-cache deploy-base
	$(Q)$(MAKE) --no-print-directory integration integration-san
	$(Q)$(MAKE) --no-print-directory test-deploy
	$(Q)$(MAKE) --no-print-directory kernel-suite

# The README's run command: install, build, watch this machine's network namespace.
run: deps
	$(Q)$(MAKE) --no-print-directory $(BUILD)/sockreap
	$(BUILD)/sockreap $(ARGS)

# The benchmark suite (issue 6): not part of `make test`. BENCH_QUICK=1 for the
# short mode. Output: a table on stdout, build/bench.json.
BENCH_BINS := $(BUILD)/bench/watchdog $(BUILD)/bench/mapscan \
	      $(BUILD)/bench/refload
.PHONY: bench
bench: deps
	$(Q)$(MAKE) --no-print-directory all $(BENCH_BINS)
	$(Q)bench/run.sh $(BUILD)

# The reference programs of the per-event cost (bench/refprogs.bpf.c).
$(BUILD)/bench/refprogs.bpf.o: bench/refprogs.bpf.c | $(BUILD)
	@mkdir -p $(dir $@)
	@echo "  BPF     $@"
	$(Q)$(CLANG) $(BPF_CFLAGS) -Ibpf $(DEPFLAGS) -MF $@.d -MT $@ -c $< -o $@
$(BUILD)/bench/refprogs.skel.h: $(BUILD)/bench/refprogs.bpf.o
	@echo "  SKEL    $@"
	$(Q)$(BPFTOOL) gen skeleton $< name refprogs_bpf > $@
$(BUILD)/bench/refload: bench/refload.c $(BUILD)/bench/refprogs.skel.h
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) -I$(BUILD)/bench $(CFLAGS) $< -lbpf -o $@

$(BUILD)/bench/%: bench/%.c | $(BUILD)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) $< -lbpf -o $@

clean:
	rm -rf $(BUILD)

# Deployment: make install, make test-deploy (podman), make validate-manifests.
include deploy/deploy.mk

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
