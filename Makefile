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
CPPFLAGS    := -Iinclude -Iuser -I$(BUILD) -DSOCKREAP_VERSION='"$(VERSION)"' -D_GNU_SOURCE
DEPFLAGS     = -MMD -MP
CFLAGS      ?= $(CFLAGS_BASE)
LDLIBS      := -lbpf -lelf -lz -lmicrohttpd -lpthread -lm
SAN_FLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

BPF_CFLAGS := -target bpf -O2 -g -Wall -Werror -D__TARGET_ARCH_$(ARCH) \
	      -Iinclude -Ibpf $(if $(MULTI),-I/usr/include/$(MULTI))

# Modules the unit tests link (pure but for cgroup.c's path lookup); also in the daemon.
PURE_SRCS := user/log.c user/options.c user/target_spec.c user/value.c user/policy.c user/format.c \
	     user/metrics.c user/cgroup.c user/listing.c user/episodes.c user/outcome.c
SYS_SRCS  := user/control.c user/netns.c user/tracker.c user/tracker_read.c user/tracker_destroy.c user/bpf_log.c user/owner.c user/reaper.c user/daemon.c user/scan.c user/http.c \
	     user/startup.c user/targets.c user/observe.c user/list_server.c
MAIN_SRC  := user/main.c

PURE_OBJS := $(PURE_SRCS:%.c=$(BUILD)/%.o)
SYS_OBJS  := $(SYS_SRCS:%.c=$(BUILD)/%.o)
MAIN_OBJ  := $(MAIN_SRC:%.c=$(BUILD)/%.o)
# One BPF object per unit: the trackers, the destroy walk (loaded only where
# the kernel has bpf_sock_destroy(); see bpf/destroy.bpf.c), and a helper probe.
BPF_UNITS := sockreap destroy probe
SKEL      := $(BPF_UNITS:%=$(BUILD)/%.skel.h)

UNIT_TESTS := policy options log format metrics cgroup match listing episodes
UNIT_BINS  := $(UNIT_TESTS:%=$(BUILD)/tests/test_%)
ASAN_BINS  := $(UNIT_TESTS:%=$(BUILD)/asan/tests/test_%)
TOOLS      := $(BUILD)/tests/tcpdrv $(BUILD)/tests/test_bpf

.PHONY: all deps run test unit unit-asan integration integration-san san fuzz fuzz-short clean
all: $(BUILD)/sockreap $(TOOLS)

DEB_PKGS := clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libcmocka-dev \
	    libmicrohttpd-dev pkg-config make gcc iproute2 nftables util-linux \
	    libcap2-bin procps bc curl python3 prometheus valgrind \
	    qemu-system-x86 busybox-static cpio kmod xz-utils debian-archive-keyring
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

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	@echo "  SKEL    $@"
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

$(BUILD)/%.o: %.c | $(BUILD)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

# Everything that includes the skeleton waits for it.
$(SYS_OBJS) $(MAIN_OBJ): $(SKEL)

$(BUILD)/sockreap: $(MAIN_OBJ) $(SYS_OBJS) $(PURE_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

# The BPF bookkeeping on a real loopback pair (root, BTF), through the daemon's loader.
BPF_TEST_OBJS := $(BUILD)/user/tracker.o $(BUILD)/user/tracker_read.o $(BUILD)/user/tracker_destroy.o \
		 $(BUILD)/user/bpf_log.o \
		 $(BUILD)/user/netns.o $(BUILD)/user/log.o $(BUILD)/user/policy.o
$(BUILD)/tests/test_bpf: tests/bpf/test_bpf.c $(BPF_TEST_OBJS) | $(SKEL)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) $(filter %.c %.o,$^) -lcmocka $(LDLIBS) -o $@

$(BUILD)/tests/tcpdrv: tests/tools/tcpdrv.c | $(BUILD)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) $< -o $@

$(BUILD)/tests/test_%: tests/unit/test_%.c $(PURE_OBJS)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) $(filter %.c %.o,$^) -lcmocka -lm -o $@

# One compiler call per binary, so the headers are listed whole rather than
# through -MMD (which would write one .d per source into the working tree).
HEADERS := $(wildcard include/*.h user/*.h)
$(BUILD)/asan/tests/test_%: tests/unit/test_%.c $(PURE_SRCS) $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC      $@ (asan+ubsan)"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN_FLAGS) $(filter %.c,$^) -lcmocka -lm -o $@

# libFuzzer targets for every parser of outside input (clang, ASan+UBSan).
FUZZ_TARGETS := options target proc log
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
FUZZ_SECONDS ?= 15
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(PURE_SRCS) $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(CLANG) $(CPPFLAGS) -std=gnu11 -g -O1 -Wall -Werror -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all $(filter %.c,$^) -lm -o $@

# Replay the regression inputs (every crash found becomes one), then fuzz
# each target FUZZ_SECONDS from the committed seeds; new inputs stay in build/.
fuzz-short: $(FUZZ_BINS)
	@set -e; for t in $(FUZZ_TARGETS); do \
		b=$(BUILD)/fuzz/fuzz_$$t; \
		if ls tests/fuzz/regressions/$$t/* >/dev/null 2>&1; then \
			echo "== $$t: regressions"; $$b tests/fuzz/regressions/$$t/* 2>&1 | grep -E "^Executed|ERROR"; fi; \
		mkdir -p $(BUILD)/fuzz/corpus/$$t; \
		echo "== $$t: $(FUZZ_SECONDS) s"; \
		$$b -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
			-artifact_prefix=$(BUILD)/fuzz/ \
			$(BUILD)/fuzz/corpus/$$t tests/fuzz/corpus/$$t 2>&1 | grep -E 'stat::number_of_executed_units|ERROR|SUMMARY' ; \
		test $${PIPESTATUS[0]} -eq 0; \
	done

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

# The long churn of the hardening test: 100 000 connections in at most 9 minutes
# (tcpdrv bounds every run to 600 s).
.PHONY: soak
soak: all
	$(Q)CHURN_COUNT=100000 CHURN_SECONDS=540 bash tests/integration/test_hardening.sh

# The daemon under ASan+UBSan, with the test hooks (SOCKREAP_TEST_PAUSE) compiled in.
SAN_BUILD := $(BUILD)/san
san:
	$(Q)$(MAKE) --no-print-directory BUILD=$(SAN_BUILD) \
		CFLAGS='$(CFLAGS_BASE) $(SAN_FLAGS) -DSR_TEST_HOOKS' all

# Integration tests against the sanitized daemon: the race tests need its
# hooks; the scenario and hardening tests run there too for memory safety.
SAN_TESTS ?= races reap_path send_fallback scenarios hardening observability half_close
integration-san: san
	$(Q)tests/integration/run.sh $(SAN_BUILD) $(SAN_TESTS)

# Debian's stock kernels under qemu/TCG (tests/kernels/): the kernel suite on
# each in `make test`, the whole integration suite on each with
# `make test-kernels`. Every wait and grace is scaled for the emulator; what a
# kernel offers comes from the daemon's own event=ready line.
KERNEL_TESTS     ?= bpf cli scenarios half_close cause send_path backstop privilege targets storm
GUEST_TIME_SCALE ?= 3
.PHONY: kernel-suite test-kernels
kernel-suite: all
	$(Q)tests/kernels/matrix.sh --timeout 1800 -- \
		tests/kernels/kernel-suite.sh $(GUEST_TIME_SCALE) $(KERNEL_TESTS)
test-kernels: deps all
	$(Q)tests/kernels/matrix.sh --timeout 3600 -- tests/kernels/kernel-suite.sh $(GUEST_TIME_SCALE)

# The README's test command: every test, unit (plain and sanitized), integration
# on this kernel, and the kernel suite on each guest kernel.
test: deps
	$(Q)$(MAKE) --no-print-directory all unit unit-asan fuzz-short validate-manifests
	$(Q)$(MAKE) --no-print-directory integration integration-san
	$(Q)$(MAKE) --no-print-directory kernel-suite

# The README's run command: install, build, watch this machine's network namespace.
run: deps
	$(Q)$(MAKE) --no-print-directory $(BUILD)/sockreap
	$(BUILD)/sockreap $(ARGS)

# The benchmark suite (issue 6): not part of `make test`. BENCH_QUICK=1 for the
# short mode. Output: a table on stdout, build/bench.json.
BENCH_BINS := $(BUILD)/bench/conns $(BUILD)/bench/watchdog $(BUILD)/bench/mapscan \
	      $(BUILD)/bench/refload
BENCH_PKGS := iperf3 linux-perf python3 curl bpftool iproute2 util-linux procps
.PHONY: bench
bench: deps
	@missing=$$(for p in $(BENCH_PKGS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
		grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi
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
