# SPDX-License-Identifier: GPL-2.0
#
# umem: top-level build.  `make help` lists the targets.
#
# Knobs (all optional):
#   KVER=      kernel release to build for and boot (default: scripts/kver.sh)
#   KDIR=      kernel build tree (default /lib/modules/$(KVER)/build)
#   KERNEL=    kernel image the test VM boots (default /boot/vmlinuz-$(KVER))
#   SMP= MEM=  test VM vCPUs and memory (default 2 and 2G)
#   T=         run only the selftest binaries whose name matches this ERE
#   VERBOSE=1  copy the guest console to stdout
#   TEST_TIMEOUT= VM_TIMEOUT=  per-binary and whole-VM timeouts, in seconds
#   DEBUG_TEST_TIMEOUT=        per-binary timeout on the debug kernel
#   FUZZ_MINUTES= FUZZ_SEED=   make fuzz: duration (default 30), first seed

ifeq ($(origin KVER),undefined)
KVER := $(shell scripts/kver.sh)
endif
KDIR ?= /lib/modules/$(KVER)/build
KERNEL ?= /boot/vmlinuz-$(KVER)
SMP ?= 2
MEM ?= 2G
T ?=
VERBOSE ?= 0
TEST_TIMEOUT ?= 300
# The debug kernel runs 3-10x slower: each of its binaries gets longer.
DEBUG_TEST_TIMEOUT ?= 900
VM_TIMEOUT ?= 1200

LINUX_SOURCE ?= /usr/src/linux-source-6.1.tar.xz
BUILD := build
CC ?= gcc
CXX ?= g++

# Userspace that runs in the test VM is linked statically: the initramfs
# carries no libc.
TEST_CFLAGS := -O2 -g -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare \
	-Werror -D_GNU_SOURCE -pthread -Iinclude/uapi -I$(BUILD)/linux/kselftest
TEST_LDFLAGS := -static -pthread
TEST_LDLIBS := -luring

SELFTEST_AREAS := $(filter-out header_check, \
	$(patsubst selftests/umem/%.c,%,$(wildcard selftests/umem/*.c)))
SELFTESTS := $(addprefix $(BUILD)/selftests/,$(SELFTEST_AREAS))
UMEMCTL := tools/umemctl/umemctl
UMEMD := tools/umemctl/umemd
LIBUMEM := tools/umemctl/libumem.a
# The postcopy tests and the demo: scripts run in the VM, with the tools.
POSTCOPY := $(BUILD)/postcopy/postcopy
POSTCOPY_FILES := --file $(UMEMCTL) --file $(UMEMD) --file selftests/postcopy/netns.sh
# veth is a module in Debian's kernel (built in, in the debug kernel).
VETH_KO = $(firstword $(wildcard /lib/modules/$(KVER)/kernel/drivers/net/veth.ko))
# Nested KVM in the test VM (--cpu max exposes SVM): kvm-amd and what it
# needs, in load order.  Built in on the debug kernel.
KVM_KOS = $(foreach m,virt/lib/irqbypass drivers/crypto/ccp/ccp arch/x86/kvm/kvm \
	arch/x86/kvm/kvm-amd,$(wildcard /lib/modules/$(KVER)/kernel/$(m).ko))
# Modules of the kernel's own that the VM loads after umem.ko.
VM_KOS = $(VETH_KO) $(KVM_KOS)
DEMO_MIB ?= 256
# Real L2 guests (make demo, make check-qemu): Debian's QEMU in the test
# VM under nested KVM, the same kernel, a busybox initramfs whose init is
# the workload (selftests/qemu/).  The test VM needs room for two guests.
QEMU_DIR := $(BUILD)/qemu
L2_INITRAMFS := $(QEMU_DIR)/l2-initramfs.cpio.gz
L2_KERNEL := $(QEMU_DIR)/l2-kernel
GUEST_MIB ?= 256
WORK_MIB ?= 128
DEMO_RAM ?= umem
QEMU_MEM ?= 3G
QEMU_FILES := --qemu --file $(QEMU_DIR)/qmp --file $(L2_INITRAMFS) --file $(L2_KERNEL) \
	--file selftests/qemu/lib.sh $(POSTCOPY_FILES)
MODULE := umem/umem.ko
# Module sources (kbuild leaves a generated umem.mod.c beside them).
MODULE_C := $(filter-out %.mod.c,$(wildcard umem/*.c)) $(wildcard umem/*.h)
MODULE_SRCS := Kbuild umem/Kbuild $(MODULE_C) include/uapi/linux/umem.h
STYLE_FILES := $(MODULE_C) include/uapi/linux/umem.h

VM_MEM = $(MEM)
RUN_VM = selftests/runner/run-vm.sh --smp $(SMP) --mem $(VM_MEM) \
	--test-timeout $(TEST_TIMEOUT) --timeout $(VM_TIMEOUT) \
	$(if $(T),--filter '$(T)') $(if $(filter 1,$(VERBOSE)),--verbose)

.PHONY: all check-kdir module tools selftests headers-check deps check check-vm \
	check-runner check-runner-vm demo demo-vm demo-sim demo-sim-vm l2-guest check-qemu check-qemu-vm shell debug-kernel \
	check-debug check-debug-vm bench bench-vm fuzz fuzz-vm stress stress-vm style \
	install clean distclean help

all: module tools selftests

help:
	@echo "make            build the module, umemctl and the selftests"
	@echo "make check      install deps, build, run the selftests in a VM"
	@echo "make demo       install deps, build, run the main job in a VM: a real"
	@echo "                Linux guest under QEMU live-migrated onto umem"
	@echo "                (GUEST_MIB=, WORK_MIB=, DEMO_RAM=umem|shm)"
	@echo "make demo-sim   the simulated migration: umemctl vmm (DEMO_MIB=)"
	@echo "make check-qemu failures during a real guest's migration onto umem"
	@echo "make bench      umem against userfaultfd in the VM, and a real guest onto umem"
	@echo "                against QEMU's postcopy: build/bench/results.json"
	@echo "make stress     the bounce stress test to STRESS_FAULTS (10^6) faults in the VM"
	@echo "make check-runner  prove the VM runner fails on a failing test, a hang and a WARN"
	@echo "make debug-kernel  build (or reuse) the KASAN/lockdep/kmemleak kernel"
	@echo "make check-debug   the selftests on the debug kernel, panic_on_warn=1"
	@echo "make fuzz       the random-operation fuzzer on the debug kernel for FUZZ_MINUTES"
	@echo "                (default 30); FUZZ_SEED=0x... replays a seed"
	@echo "make shell      boot the test VM to an interactive shell"
	@echo "make style      checkpatch --strict, W=1 and sparse (C=2)"
	@echo "make install    install the module for the running kernel"
	@echo "make clean      remove build products; distclean also the debug kernel"

# ---- build ---------------------------------------------------------------

check-kdir:
	@test -n "$(KVER)" -a -e "$(KDIR)/Makefile" || { \
		echo "no kernel build tree at '$(KDIR)': run 'make deps' as root," \
		     "or set KDIR=/path/to/kernel/build" >&2; exit 1; }

module: check-kdir
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

tools:
	$(MAKE) -C tools/umemctl

selftests: headers-check $(SELFTESTS) $(POSTCOPY)

# The kselftest harness and checkpatch come from the installed kernel
# source tarball, extracted once into $(BUILD)/linux; never committed.
$(BUILD)/linux/.stamp: | $(LINUX_SOURCE)
	rm -rf $(BUILD)/linux && mkdir -p $(BUILD)/linux/kselftest $(BUILD)/linux/scripts
	tar -xf $(LINUX_SOURCE) -C $(BUILD)/linux --strip-components=1 \
		linux-source-6.1/tools/testing/selftests/kselftest.h \
		linux-source-6.1/tools/testing/selftests/kselftest_harness.h \
		linux-source-6.1/scripts/checkpatch.pl \
		linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch
	cp $(BUILD)/linux/tools/testing/selftests/kselftest*.h $(BUILD)/linux/kselftest/
	touch $@

$(LINUX_SOURCE):
	@echo "$(LINUX_SOURCE) missing: run 'make deps' as root" >&2; exit 1

$(BUILD)/selftests/%: selftests/umem/%.c selftests/umem/umem_test.h include/uapi/linux/umem.h \
		$(BUILD)/linux/.stamp $(LIBUMEM)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -Itools/umemctl -o $@ $< $(LIBUMEM) $(TEST_LDFLAGS) $(TEST_LDLIBS)

$(LIBUMEM): tools

$(POSTCOPY): selftests/postcopy/postcopy.sh
	@mkdir -p $(dir $@)
	cp $< $@ && chmod 755 $@

$(BUILD)/runner/%_test: selftests/runner/fail/%.c $(BUILD)/linux/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(TEST_LDFLAGS) $(TEST_LDLIBS)

# The ABI header must compile on its own as C and as C++.
headers-check: $(BUILD)/header_check.c.o $(BUILD)/header_check.cc.o
$(BUILD)/header_check.c.o: selftests/umem/header_check.c include/uapi/linux/umem.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -Wall -Wextra -Werror -Iinclude/uapi -c -o $@ $<
$(BUILD)/header_check.cc.o: selftests/umem/header_check.c include/uapi/linux/umem.h
	@mkdir -p $(dir $@)
	$(CXX) -x c++ -std=c++11 -Wall -Wextra -Werror -Iinclude/uapi -c -o $@ $<

# A module tree copied from the sources, for builds against another kernel
# tree or with other flags, so they never mix objects with the main build.
# $(call copy-module,DIR)
define copy-module
	rm -rf $(1) && mkdir -p $(1) && cp --parents $(MODULE_SRCS) $(1)/
endef

# ---- dependencies --------------------------------------------------------

deps:
	@scripts/deps.sh

# ---- tests in the VM -----------------------------------------------------

# check and demo first install what is missing, then re-enter make so that
# KVER is computed against what is now installed.
check: deps
	$(MAKE) check-vm

check-vm: all
	$(RUN_VM) --name check --kernel $(KERNEL) --module $(MODULE) \
		$(addprefix --module ,$(VM_KOS)) $(POSTCOPY_FILES) \
		--out $(BUILD)/vm/check $(addprefix --test ,$(SELFTESTS) $(POSTCOPY))

demo: deps
	$(MAKE) demo-vm

demo-vm: VM_MEM = $(QEMU_MEM)
# The real guest: the demo's report is the TAP's comments, and its last
# line is the verdict.
demo-vm: module tools l2-guest
	@mkdir -p $(BUILD)/demo
	sed -e 's/@GUEST_MIB@/$(GUEST_MIB)/' -e 's/@WORK_MIB@/$(WORK_MIB)/' \
		-e 's/@RAM@/$(DEMO_RAM)/' selftests/qemu/demo.sh > $(BUILD)/demo/demo
	chmod 755 $(BUILD)/demo/demo
	@start=$$(date +%s); rc=0; \
	$(RUN_VM) --name demo --test-timeout 1200 --timeout 1500 --kernel $(KERNEL) \
		--module $(MODULE) $(addprefix --module ,$(VM_KOS)) $(QEMU_FILES) \
		--out $(BUILD)/vm/demo --show-tap --test $(BUILD)/demo/demo || rc=1; \
	echo "make demo: $$(( $$(date +%s) - start )) s"; \
	tr -d '\r' < $(BUILD)/vm/demo/results.tap | \
		sed -n 's/^# \(demo: real guest verified: .*\)/\1/p' | grep . || rc=1; \
	exit $$rc

# Failures during a real migration (selftests/qemu/qemu.sh): a target of
# its own, each test boots a real guest (make check stays short).
# QEMU_T=ERE runs only the tests whose name matches.
QEMU_T ?=
check-qemu: deps
	$(MAKE) check-qemu-vm

check-qemu-vm: VM_MEM = $(QEMU_MEM)
check-qemu-vm: module tools l2-guest
	@mkdir -p $(BUILD)/qemu
	sed -e 's/@GUEST_MIB@/$(GUEST_MIB)/' -e 's/@WORK_MIB@/$(WORK_MIB)/' \
		-e 's/@QEMU_T@/$(QEMU_T)/' selftests/qemu/qemu.sh > $(BUILD)/qemu/qemu
	chmod 755 $(BUILD)/qemu/qemu
	@start=$$(date +%s); rc=0; \
	$(RUN_VM) --name check-qemu --test-timeout 2400 --timeout 2700 \
		--kernel $(KERNEL) --module $(MODULE) $(addprefix --module ,$(VM_KOS)) \
		$(QEMU_FILES) --out $(BUILD)/vm/check-qemu --show-tap \
		--test $(BUILD)/qemu/qemu || rc=1; \
	echo "make check-qemu: $$(( $$(date +%s) - start )) s"; exit $$rc

# The simulated guest (umemctl vmm: threads doing loads and stores) that
# was the demo before there was a real one.
demo-sim: deps
	$(MAKE) demo-sim-vm

demo-sim-vm: module tools
	@mkdir -p $(BUILD)/demo
	sed 's/@DEMO_MIB@/$(DEMO_MIB)/' selftests/postcopy/demo.sh > $(BUILD)/demo/demo-sim
	chmod 755 $(BUILD)/demo/demo-sim
	$(RUN_VM) --name demo-sim --kernel $(KERNEL) --module $(MODULE) \
		$(addprefix --module ,$(VM_KOS)) $(POSTCOPY_FILES) \
		--out $(BUILD)/vm/demo-sim --show-tap --test $(BUILD)/demo/demo-sim

# The L2 guest: its initramfs (busybox, /init, the workload) and kernel,
# and the QMP client the L1 scripts use.
QEMU_CFLAGS := -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE
$(QEMU_DIR)/%: selftests/qemu/%.c
	@mkdir -p $(dir $@)
	$(CC) $(QEMU_CFLAGS) -o $@ $< -static

$(L2_INITRAMFS): $(QEMU_DIR)/workload selftests/qemu/l2-init
	rm -rf $(QEMU_DIR)/l2root && mkdir -p $(QEMU_DIR)/l2root/bin $(QEMU_DIR)/l2root/dev
	cp $$(command -v busybox) $(QEMU_DIR)/l2root/bin/busybox
	cp selftests/qemu/l2-init $(QEMU_DIR)/l2root/init
	cp $(QEMU_DIR)/workload $(QEMU_DIR)/l2root/workload
	chmod 755 $(QEMU_DIR)/l2root/init
	(cd $(QEMU_DIR)/l2root && find . -print0 | cpio --null -o -H newc --quiet) | \
		gzip -1 > $@

$(L2_KERNEL): $(KERNEL)
	@mkdir -p $(dir $@)
	cp $< $@

l2-guest: $(L2_INITRAMFS) $(L2_KERNEL) $(QEMU_DIR)/qmp

shell: all
	$(RUN_VM) --shell --kernel $(KERNEL) --module $(MODULE) \
		$(addprefix --module ,$(VM_KOS)) $(POSTCOPY_FILES) \
		--out $(BUILD)/vm/shell $(addprefix --test ,$(SELFTESTS) $(POSTCOPY))

# ---- benchmark -----------------------------------------------------------

# BENCH_QUICK=1: small sizes, to try the pipeline (the numbers mean nothing).
BENCH_QUICK ?= 0
bench: deps
	$(MAKE) bench-vm

# The qemu case (selftests/qemu/bench.sh) boots a third VM with QEMU and
# the kvm modules in it; BENCH_QEMU=0 leaves it out.
BENCH_QEMU ?= 1
bench-vm: module tools $(if $(filter 1,$(BENCH_QEMU)),l2-guest)
	$(MAKE) -C tools/bench
	@mkdir -p $(BUILD)/bench
	sed -e 's/@GUEST_MIB@/$(GUEST_MIB)/' -e 's/@WORK_MIB@/$(WORK_MIB)/' \
		selftests/qemu/bench.sh > $(BUILD)/bench/bench-qemu
	chmod 755 $(BUILD)/bench/bench-qemu
	tools/bench/bench.sh --kernel $(KERNEL) --module $(MODULE) \
		$(if $(VETH_KO),--module $(VETH_KO)) --smp $(SMP) --mib $(DEMO_MIB) \
		$(if $(filter 1,$(BENCH_QEMU)),--qemu-test $(BUILD)/bench/bench-qemu \
			--qemu-mem $(QEMU_MEM) $(addprefix --qemu-arg --module --qemu-arg ,$(KVM_KOS)) \
			$(addprefix --qemu-arg ,$(QEMU_FILES))) \
		$(if $(filter 1,$(BENCH_QUICK)),--quick) \
		$(if $(filter 1,$(VERBOSE)),--verbose) --out $(BUILD)/bench

# ---- stress --------------------------------------------------------------

# The stress selftest with long settings: stress__mixed runs until
# STRESS_FAULTS faults were served (STRESS_SECONDS is the cap), on
# STRESS_PAGES-page regions with STRESS_LOCKERS lockers per vCPU.  The last
# line adds up every test's: "stress: N faults, N corrupted pages".
STRESS_FAULTS ?= 1000000
STRESS_SECONDS ?= 1800
STRESS_PAGES ?= 4096
STRESS_LOCKERS ?= 8
stress: deps
	$(MAKE) stress-vm

stress-vm: module $(BUILD)/selftests/stress
	@mkdir -p $(BUILD)/stress
	sed -e 's/@STRESS_FAULTS@/$(STRESS_FAULTS)/' \
	    -e 's/@STRESS_SECONDS@/$(STRESS_SECONDS)/' \
	    -e 's/@STRESS_PAGES@/$(STRESS_PAGES)/' \
	    -e 's/@STRESS_LOCKERS@/$(STRESS_LOCKERS)/' \
	    selftests/umem/stress.sh > $(BUILD)/stress/stress-run
	chmod 755 $(BUILD)/stress/stress-run
	@start=$$(date +%s); rc=0; \
	$(RUN_VM) --test-timeout $$(( $(STRESS_SECONDS) + 900 )) \
		--timeout $$(( $(STRESS_SECONDS) + 1200 )) --name stress \
		--kernel $(KERNEL) --module $(MODULE) \
		--file $(BUILD)/selftests/stress --out $(BUILD)/vm/stress \
		--test $(BUILD)/stress/stress-run || rc=1; \
	grep -h '^# selftests/umem/stress.c:.*:stress__mixed:' \
		$(BUILD)/vm/stress/results.tap | tr -d '\r' | cut -d: -f4-; \
	echo "make stress: $$(( $$(date +%s) - start )) s in the VM"; \
	tr -d '\r' < $(BUILD)/vm/stress/results.tap | awk \
		'/^# stress: [0-9]+ faults, [0-9]+ corrupted pages$$/ { f += $$3; c += $$5 } \
		END { printf "stress: %d faults, %d corrupted pages\n", f, c; \
		exit (c != 0 || f < $(STRESS_FAULTS)) }' || rc=1; \
	exit $$rc

SPLAT_DIR := selftests/runner/splat

check-runner: deps
	$(MAKE) check-runner-vm

check-runner-vm: all $(BUILD)/runner/fail_test $(BUILD)/runner/hang_test
	$(MAKE) -C $(KDIR) M=$(CURDIR)/$(SPLAT_DIR) modules
	selftests/runner/check-runner.sh "$(RUN_VM) --kernel $(KERNEL)" \
		$(MODULE) $(BUILD)/runner/fail_test $(BUILD)/runner/hang_test \
		$(SPLAT_DIR)/umem_splat.ko $(BUILD)/selftests/api

# ---- debug kernel --------------------------------------------------------

debug-kernel: deps
	selftests/runner/debug-kernel.sh

check-debug: deps
	$(MAKE) check-debug-vm

DEBUG_MOD := $(BUILD)/debug-module
check-debug-vm: selftests
	selftests/runner/debug-kernel.sh > /dev/null
	$(call copy-module,$(DEBUG_MOD))
	$(MAKE) -C $$(selftests/runner/debug-kernel.sh --dir) M=$(CURDIR)/$(DEBUG_MOD) modules
	$(RUN_VM) --name check-debug --test-timeout $(DEBUG_TEST_TIMEOUT) \
		--kernel $$(selftests/runner/debug-kernel.sh --dir)/arch/x86/boot/bzImage \
		--append "panic_on_warn=1" --module $(DEBUG_MOD)/umem/umem.ko \
		$(POSTCOPY_FILES) \
		--out $(BUILD)/vm/check-debug $(addprefix --test ,$(SELFTESTS) $(POSTCOPY))

# ---- fuzzer --------------------------------------------------------------

# The fuzzer (selftests/umem/fuzz.c) on the debug kernel, for FUZZ_MINUTES
# in epochs of 12 s, the first one from FUZZ_SEED if given.  The guest's
# init runs test binaries without arguments: a wrapper script carries them.
FUZZ_MINUTES ?= 30
FUZZ_SEED ?=
FUZZ_SECS = $(shell echo $$(( $(FUZZ_MINUTES) * 60 )))

fuzz: deps
	$(MAKE) fuzz-vm

fuzz-vm: $(BUILD)/selftests/fuzz
	selftests/runner/debug-kernel.sh > /dev/null
	$(call copy-module,$(DEBUG_MOD))
	$(MAKE) -C $$(selftests/runner/debug-kernel.sh --dir) M=$(CURDIR)/$(DEBUG_MOD) modules
	@mkdir -p $(BUILD)/fuzz
	printf '#!/bin/sh\nexec /tests/fuzz --seconds %s %s\n' '$(FUZZ_SECS)' \
		'$(if $(FUZZ_SEED),--seed $(FUZZ_SEED),--random)' > $(BUILD)/fuzz/fuzz-long
	chmod 755 $(BUILD)/fuzz/fuzz-long
	$(RUN_VM) --name fuzz --test-timeout $$(( $(FUZZ_SECS) + 300 )) \
		--timeout $$(( $(FUZZ_SECS) + 900 )) \
		--kernel $$(selftests/runner/debug-kernel.sh --dir)/arch/x86/boot/bzImage \
		--append "panic_on_warn=1" --module $(DEBUG_MOD)/umem/umem.ko \
		--file $(BUILD)/selftests/fuzz --out $(BUILD)/vm/fuzz \
		--show-tap --test $(BUILD)/fuzz/fuzz-long

# ---- style ---------------------------------------------------------------

STYLE_MOD := $(BUILD)/style-module
style: check-kdir $(BUILD)/linux/.stamp
	@echo "checkpatch --strict: $(STYLE_FILES)"
	@$(BUILD)/linux/scripts/checkpatch.pl --strict --no-tree --quiet \
		--show-types -f $(STYLE_FILES) > $(BUILD)/checkpatch.log 2>&1; \
	if [ -s $(BUILD)/checkpatch.log ]; then cat $(BUILD)/checkpatch.log; \
		echo "style: checkpatch is not clean" >&2; exit 1; fi
	@$(call copy-module,$(STYLE_MOD))
	@echo "W=1 C=2 (sparse) build"
	@$(MAKE) -s -C $(KDIR) M=$(CURDIR)/$(STYLE_MOD) W=1 C=2 modules \
		> $(BUILD)/style-build.log 2>&1 || { cat $(BUILD)/style-build.log; exit 1; }
	@if grep -E 'warning:|error:' $(BUILD)/style-build.log; then \
		echo "style: W=1 or sparse is not clean" >&2; exit 1; fi
	@echo "style: clean"

# ---- install and clean -----------------------------------------------------

install: module
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules_install
	depmod -a $(KVER)

clean:
	-test -e "$(KDIR)/Makefile" && $(MAKE) -C $(KDIR) M=$(CURDIR) clean
	-test -e "$(KDIR)/Makefile" && $(MAKE) -C $(KDIR) M=$(CURDIR)/$(SPLAT_DIR) clean
	$(MAKE) -C tools/umemctl clean
	$(MAKE) -C tools/bench clean
	rm -rf $(BUILD)

distclean: clean
	rm -rf $$(dirname $$(selftests/runner/debug-kernel.sh --dir))
