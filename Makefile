# SPDX-License-Identifier: GPL-2.0
#
# umem: top-level build.  `make help` lists the targets and the knobs.

# The test kernels are Debian's packages extracted into a cache, never
# installed: $(UMEM_CACHE)/kernels/<release>/ holds one release's boot/,
# lib/modules/ and usr/src/ (scripts/kernels.sh).  A 7.x kernel's kbuild
# runs in the Debian root its .build-root names (scripts/in-root.sh).
UMEM_CACHE ?= $(HOME)/.cache/umem
export UMEM_CACHE
DEFAULT_KVER := $(shell scripts/kernels.sh release 6.1 2>/dev/null)
ifeq ($(origin KVER),undefined)
KVER := $(DEFAULT_KVER)
endif
KROOT := $(UMEM_CACHE)/kernels/$(KVER)
KDIR ?= $(KROOT)/usr/src/linux-headers-$(KVER)
KERNEL ?= $(KROOT)/boot/vmlinuz-$(KVER)
KBUILD_RUN := $(foreach r,$(shell cat $(KROOT)/.build-root 2>/dev/null),scripts/in-root.sh $(r))
SMP ?= 2
MEM ?= 2G
VERBOSE ?= 0
TEST_TIMEOUT ?= 600
# The debug kernel runs 3-10x slower: each of its binaries gets longer.
DEBUG_TEST_TIMEOUT ?= 900
VM_TIMEOUT ?= 1200
# The release, for the module, the tools, the packages and dkms.conf.
VERSION := $(shell cat VERSION)
PREFIX ?= /usr/local
MANDIR ?= $(PREFIX)/share/man
SOURCES := $(UMEM_CACHE)/sources
LINUX_SOURCE ?= $(SOURCES)/linux-source-6.1.tar.xz
LINUX_SOURCE_6_12 ?= $(SOURCES)/linux-source-6.12.tar.xz
BUILD := build

# The module builds in the tree for the default kernel; for any other
# (KVER=, make check-6.12) in a copy of its own, so kernels never mix
# objects and switching back rebuilds nothing.
MODULE_SRCS := VERSION Kbuild umem/Kbuild $(filter-out %.mod.c,$(wildcard umem/*.c)) \
	$(wildcard umem/*.h) include/uapi/linux/umem.h
KMOD := $(if $(filter-out $(DEFAULT_KVER),$(KVER)),$(BUILD)/kmod/$(KVER))
MODULE_DIR := $(CURDIR)$(if $(KMOD),/$(KMOD))
MODULE := $(if $(KMOD),$(KMOD)/)umem/umem.ko

# Userspace that runs in the test VM is linked statically: the initramfs
# carries no libc.
TEST_CFLAGS := -O2 -g -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare \
	-Werror -D_GNU_SOURCE -pthread -Iinclude/uapi -I$(BUILD)/linux/kselftest
TEST_LDFLAGS := -static -pthread
TEST_LDLIBS := -luring
SELFTEST_AREAS := $(filter-out header_check, \
	$(patsubst selftests/umem/%.c,%,$(wildcard selftests/umem/*.c)))
SELFTESTS := $(addprefix $(BUILD)/selftests/,$(SELFTEST_AREAS))
LIBUMEM := tools/umemctl/libumem.a
# The shell tests, under their own names in the VM, and what they use:
# kvm-hold (init runs it where there is a /dev/kvm: kvm-hold.c says why),
# TLS credentials (selftests/postcopy/mkcreds.sh), a relay that corrupts
# a TLS record on the wire.
POSTCOPY := $(BUILD)/postcopy/postcopy
DEMO_TEST := $(BUILD)/demo/demo
DEMO_SIM_TEST := $(BUILD)/demo/demo-sim
QEMU_TEST := $(BUILD)/qemu/qemu
BENCH_QEMU_TEST := $(BUILD)/bench/bench-qemu
KVM_HOLD := $(BUILD)/runner/kvm-hold
CREDS := $(BUILD)/tls/creds.tar
RELAY := $(BUILD)/postcopy/relay
TEST_HELPERS := $(KVM_HOLD) $(CREDS) $(RELAY)
POSTCOPY_FILES := $(addprefix --file ,tools/umemctl/umemctl tools/umemctl/umemd \
	$(addprefix selftests/postcopy/,tap.sh netns.sh trace.sh) tools/bench/fault-path.awk \
	$(TEST_HELPERS))

# Modules of the kernel's own that the VM loads after umem.ko, in load
# order (scripts/kmods.sh says which and why).  A shell, not $(wildcard):
# make may have fetched the kernel since it started.
kmods = $(shell scripts/kmods.sh $(KROOT) $(KVER) $(1))
VM_KOS = $(call kmods,veth tls kvm vhost)

# Real L2 guests (make demo, check-qemu, bench): Debian's QEMU in the test
# VM under nested KVM, the same kernel, a busybox initramfs whose init is
# the workload (selftests/qemu/).  That VM has room for two guests and one
# vCPU: with two, the nested SVM that the host's QEMU 7.2 emulates fails
# now and then under the L2 guests (Documentation/testing.rst, "Incidents").
QEMU_DIR := $(BUILD)/qemu
L2_INITRAMFS := $(QEMU_DIR)/l2-initramfs.cpio.gz
L2_KERNEL := $(QEMU_DIR)/l2-kernel
QEMU_MEM ?= 3G
QEMU_SMP ?= 1
GUEST_MIB ?= 256
WORK_MIB ?= 128
DEMO_RAM ?= umem
DEMO_MIB ?= 256
# QEMU=10: that VM's QEMU from the cache (scripts/qemu-fetch.sh), fetched
# when a recipe first needs it.  A path, one word: bench passes each word
# of QEMU_FILES on with --qemu-arg.
QEMU_ROOT = $(or $(shell scripts/qemu-fetch.sh $(QEMU)),$(error QEMU=$(QEMU): no such QEMU in the cache, and scripts/qemu-fetch.sh could not fetch it))
QEMU_FILES = --qemu $(if $(QEMU),--qemu-root $(QEMU_ROOT)) \
	$(addprefix --file ,$(QEMU_DIR)/qmp $(L2_INITRAMFS) $(L2_KERNEL) \
	selftests/qemu/lib.sh) $(POSTCOPY_FILES)

VM_MEM = $(MEM)
VM_SMP = $(SMP)
RUN_VM = selftests/runner/run-vm.sh --smp $(VM_SMP) --mem $(VM_MEM) \
	--test-timeout $(TEST_TIMEOUT) --timeout $(VM_TIMEOUT) \
	$(if $(T),--filter '$(T)') $(if $(filter 1,$(VERBOSE)),--verbose)
# KVER's kernel with umem.ko and the kernel's modules; the selftests.
VM_UMEM = --kernel $(KERNEL) --module $(MODULE) $(addprefix --module ,$(VM_KOS))
VM_TESTS = $(addprefix --test ,$(SELFTESTS) $(POSTCOPY))
# $(call env,NAME...): the tests' settings, --env NAME=$(NAME) each.
env = $(foreach e,$(1),--env $(e)=$($(e)))
ONLY_ENV = $(if $(ONLY),--env 'ONLY=$(ONLY)')
# $(call timed,NAME,COMMAND[,MORE]): COMMAND, then "make NAME: N s[MORE]";
# rc=1 when it failed.
timed = start=$$(date +%s); rc=0; $(2) || rc=1; \
	echo "make $(1): $$(( $$(date +%s) - start )) s$(3)"

.PHONY: all help kernel check-kdir module tools selftests headers-check l2-guest deps \
	check check-vm check-6.12 check-rt check-6.12-rt check-7.3 check-7.3-rt check-sid \
	demo demo-vm demo-sim demo-sim-vm check-qemu check-qemu-vm bench bench-vm perf-table \
	stress stress-vm check-runner check-runner-vm debug-kernel check-debug check-debug-vm \
	check-debug-6.12 check-debug-7.3 fuzz fuzz-vm shell style man check-man install-man deb deb-deps \
	check-deb check-bpftrace dkms-install install-dkms-src check-dkms install \
	install-module clean distclean

all: module tools selftests

help:
	@echo "Targets (make X-vm: target X without make deps, for check and the VM runs):"
	@echo "make                 build umem.ko, umemctl, umemd, libumem and the selftests"
	@echo "make deps            install what is missing (as a user: print the apt line)"
	@echo "make module          the module alone, for KVER (KDIR=)"
	@echo "make tools           umemctl, umemd and libumem alone"
	@echo "make check           the selftests and postcopy tests in a VM on 6.1; check-man"
	@echo "make check-6.12      the same on Debian's 6.12 LTS"
	@echo "make check-rt        the same on 6.1 PREEMPT_RT"
	@echo "make check-6.12-rt   the same on 6.12 PREEMPT_RT"
	@echo "make check-7.3       the same on trixie-backports' 7.3, built in a Debian root"
	@echo "make check-7.3-rt    the same on 7.3 PREEMPT_RT"
	@echo "make check-sid       the same on sid's kernel"
	@echo "make check-qemu      a real guest's migration with failures"
	@echo "make check-runner    the runner fails a failing test, a hang, a WARN, a stall"
	@echo "make check-debug     the suite on the KASAN/lockdep/kmemleak kernel"
	@echo "make check-debug-6.12  the same on a 6.12 debug kernel"
	@echo "make check-debug-7.3   the same on a 7.3 debug kernel (trixie's gcc)"
	@echo "make debug-kernel    build (or reuse) the debug kernel"
	@echo "make check-dkms      dkms builds the module for 6.1's, 6.12's and 7.3's headers"
	@echo "make check-deb       as root: install the packages, boot the VM on them, purge"
	@echo "make check-bpftrace  umem.rst's bpftrace one-liner in the VM (needs bpftrace)"
	@echo "make check-man       man -l renders each man page without a warning"
	@echo "make demo            the main job: a real guest live-migrated onto umem"
	@echo "make demo-sim        the simulated migration into umemctl vmm (DEMO_MIB=)"
	@echo "make bench           umem against userfaultfd and QEMU's postcopy: build/bench"
	@echo "make perf-table      performance.rst's table from build/bench*/results.json"
	@echo "make stress          the bounce stress test to STRESS_FAULTS faults (15-25 min)"
	@echo "make fuzz            the random-operation fuzzer on the debug kernel"
	@echo "make shell           boot the test VM to a shell (Ctrl-A X quits)"
	@echo "make style           checkpatch --strict, W=1 and sparse against each kernel"
	@echo "make man             the man pages umemctl(8), umemd(8), umem(4) in build/man"
	@echo "make deb             the packages umem-dkms and umem-tools in build/deb"
	@echo "make install         as root: the module for the running kernel, the tools"
	@echo "make dkms-install    as root: the module under DKMS, rebuilt for each kernel"
	@echo "make clean           remove the build products"
	@echo "make distclean       the same, and the cached debug kernel"
	@echo "Knobs:"
	@echo "KVER= KDIR= KERNEL=  the kernel release to build for and boot, its tree, image"
	@echo "UMEM_CACHE=          where the test kernels live (~/.cache/umem)"
	@echo "SMP= MEM=            the test VM's vCPUs and memory (2, 2G)"
	@echo "QEMU_SMP= QEMU_MEM=  the same for demo, check-qemu and bench's guest (1, 3G)"
	@echo "QEMU=10              demo, check-qemu, bench: the L2 guests under QEMU 10"
	@echo "GUEST_MIB= WORK_MIB= the real guest's RAM, and what it verifies (256, 128)"
	@echo "DEMO_RAM=shm         the demo's destination on the source's tmpfs: QEMU alone"
	@echo "T=ERE                only the selftest binaries whose name matches"
	@echo "ONLY=ERE             postcopy, check-qemu: only the tests whose name matches"
	@echo "VERBOSE=1            copy the guest console to stdout"
	@echo "TEST_TIMEOUT= DEBUG_TEST_TIMEOUT= VM_TIMEOUT=  in seconds (600, 900, 1200)"
	@echo "BENCH_QUICK=1        small sizes; BENCH_QEMU=0: no real guest"
	@echo "BENCH_MAIN=0         bench: the real guest only (with QEMU=10: build/bench-qemu10)"
	@echo "BENCH_RUNS=3 BENCH_TLS=1 BENCH_NICE=1  real-guest runs; TLS, nice-0 methods"
	@echo "STRESS_FAULTS= STRESS_SECONDS= STRESS_PAGES= STRESS_LOCKERS=  make stress"
	@echo "FUZZ_MINUTES= FUZZ_SEED=0x...  make fuzz: its length (30), a seed to replay"
	@echo "PREFIX= INSTALL_KVER=  make install: where (/usr/local), for which kernel"
	@echo "DKMS_KERNELS=        make check-dkms: its kernels (6.1 6.12 7.3)"

# ---- build ---------------------------------------------------------------

# KVER's kernel into the cache, when KDIR or KERNEL is the cache's.
kernel:
	@test -n "$(KVER)" || { echo "no kernel release: apt knows no" \
		"linux-headers-amd64; run 'make deps' as root" >&2; exit 1; }
	$(if $(filter $(KROOT)/%,$(KDIR) $(KERNEL)),@scripts/kernels.sh fetch '$(KVER)' > /dev/null)
ifneq ($(KVER),)
$(KROOT)/boot/vmlinuz-$(KVER):
	scripts/kernels.sh fetch '$(KVER)' > /dev/null
endif

check-kdir: kernel
	@test -n "$(KVER)" -a -e "$(KDIR)/Makefile" || { \
		echo "no kernel build tree at '$(KDIR)': set KDIR=/path/to/kernel/build" >&2; \
		exit 1; }

module: check-kdir
	$(if $(KMOD),@mkdir -p $(KMOD) && cp -p --parents $(MODULE_SRCS) $(KMOD)/)
	$(KBUILD_RUN) $(MAKE) -C $(KDIR) M=$(MODULE_DIR) modules

tools:
	$(MAKE) -C tools/umemctl
$(LIBUMEM): tools

selftests: headers-check $(SELFTESTS) $(POSTCOPY) $(TEST_HELPERS)

# The kselftest harness and checkpatch from linux-source-6.1's tarball,
# and 6.12's checkpatch for make style, extracted once into $(BUILD); never
# committed.  $(call extract,TARBALL,SERIES,DIR,FILES)
extract = rm -rf $(3) && mkdir -p $(3) && tar -xf $(1) -C $(3) --strip-components=1 \
	$(addprefix linux-source-$(2)/,$(4))
CHECKPATCH := scripts/checkpatch.pl scripts/spelling.txt scripts/const_structs.checkpatch
$(BUILD)/linux/.stamp: | $(LINUX_SOURCE)
	$(call extract,$(LINUX_SOURCE),6.1,$(BUILD)/linux, \
		$(addprefix tools/testing/selftests/,kselftest.h kselftest_harness.h) $(CHECKPATCH))
	mkdir -p $(BUILD)/linux/kselftest
	cp $(BUILD)/linux/tools/testing/selftests/kselftest*.h $(BUILD)/linux/kselftest/
	touch $@
$(BUILD)/linux-6.12/.stamp: | $(LINUX_SOURCE_6_12)
	$(call extract,$(LINUX_SOURCE_6_12),6.12,$(BUILD)/linux-6.12,$(CHECKPATCH))
	touch $@
$(SOURCES)/linux-source-%.tar.xz:
	scripts/kernels.sh source $* > /dev/null

# A binary too long for one file has parts, selftests/umem/AREA/*.[ch]
# (Documentation/testing.rst, "Writing a selftest").
$(foreach a,$(SELFTEST_AREAS),$(eval $(BUILD)/selftests/$(a): \
	$(wildcard selftests/umem/$(a)/*.[ch])))
$(BUILD)/selftests/%: selftests/umem/%.c selftests/umem/umem_test.h include/uapi/linux/umem.h \
		$(BUILD)/linux/.stamp $(LIBUMEM)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -Itools/umemctl -o $@ $(filter %.c,$^) $(LIBUMEM) $(TEST_LDFLAGS) $(TEST_LDLIBS)

$(POSTCOPY): selftests/postcopy/postcopy.sh
$(DEMO_TEST): selftests/qemu/demo.sh
$(DEMO_SIM_TEST): selftests/postcopy/demo.sh
$(QEMU_TEST): selftests/qemu/qemu.sh
$(BENCH_QEMU_TEST): selftests/qemu/bench.sh
$(POSTCOPY) $(DEMO_TEST) $(DEMO_SIM_TEST) $(QEMU_TEST) $(BENCH_QEMU_TEST):
	@mkdir -p $(dir $@)
	install -m 755 $< $@

$(CREDS): selftests/postcopy/mkcreds.sh
	selftests/postcopy/mkcreds.sh $(dir $@)

$(RELAY): selftests/postcopy/relay.c
$(KVM_HOLD): selftests/runner/kvm-hold.c
$(RELAY) $(KVM_HOLD):
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(TEST_LDFLAGS)

$(BUILD)/runner/%_test: selftests/runner/fail/%.c $(BUILD)/linux/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(TEST_LDFLAGS) $(TEST_LDLIBS)

# The ABI header must compile on its own as C and as C++.
headers-check: $(BUILD)/header_check.c.o $(BUILD)/header_check.cc.o
$(BUILD)/header_check.c.o: HEADER_CC = $(CC) -std=c11
$(BUILD)/header_check.cc.o: HEADER_CC = $(CXX) -x c++ -std=c++11
$(BUILD)/header_check.%.o: selftests/umem/header_check.c include/uapi/linux/umem.h
	@mkdir -p $(dir $@)
	$(HEADER_CC) -Wall -Wextra -Werror -Iinclude/uapi -c -o $@ $<

# The L2 guest: its initramfs, its kernel, the QMP client the L1 scripts use.
$(QEMU_DIR)/qmp: LDLIBS := -ljson-c
$(QEMU_DIR)/%: selftests/qemu/%.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $< -static $(LDLIBS)
$(L2_INITRAMFS): $(QEMU_DIR)/workload selftests/qemu/l2-init
	scripts/l2-initramfs.sh $@ $^
$(L2_KERNEL): $(KERNEL)
	@mkdir -p $(dir $@)
	cp $< $@
l2-guest: $(L2_INITRAMFS) $(L2_KERNEL) $(QEMU_DIR)/qmp

# ---- tests in the VM -----------------------------------------------------

deps:
	@scripts/deps.sh

# X installs what is missing (deps), then runs X-vm in a make of its own,
# so that KVER is computed against the package lists deps updated.
define with-deps
$(1): deps
	$$(MAKE) $(1)-vm
endef
$(foreach t,demo check-qemu demo-sim bench stress check-runner check-debug fuzz, \
	$(eval $(call with-deps,$(t))))

check: deps
	@rc=0; $(MAKE) check-man || rc=1; $(MAKE) check-vm || rc=1; exit $$rc

check-vm: all
	$(RUN_VM) --name check $(VM_UMEM) $(POSTCOPY_FILES) $(ONLY_ENV) \
		--out $(BUILD)/vm/check$(if $(KMOD),-$(KVER)) $(VM_TESTS)

check-6.12 check-rt check-6.12-rt: deps
	@k=$$(scripts/kernels.sh release $(patsubst check-%,%,$@)) && \
		$(MAKE) check-vm KVER=$$k

check-7.3 check-7.3-rt check-sid: deps
	@k=$$(scripts/kernel-fetch.sh $(patsubst check-%,%,$@)) && \
		$(MAKE) check-vm KVER=$$k

# The demo's report is the TAP's comments; its last line is the verdict.
demo-vm check-qemu-vm: VM_MEM = $(QEMU_MEM)
demo-vm check-qemu-vm: VM_SMP = $(QEMU_SMP)
demo-vm: module tools l2-guest $(TEST_HELPERS) $(DEMO_TEST)
	@$(call timed,demo,$(RUN_VM) --name demo --test-timeout 1200 --timeout 1500 \
		$(VM_UMEM) $(QEMU_FILES) $(call env,GUEST_MIB WORK_MIB) --env RAM=$(DEMO_RAM) \
		--out $(BUILD)/vm/demo --show-tap --test $(DEMO_TEST)); \
	tr -d '\r' < $(BUILD)/vm/demo/results.tap | \
		sed -n 's/^# \(demo: real guest verified: .*\)/\1/p' | grep . || rc=1; \
	exit $$rc

demo-sim-vm: module tools $(TEST_HELPERS) $(DEMO_SIM_TEST)
	$(RUN_VM) --name demo-sim $(VM_UMEM) $(POSTCOPY_FILES) $(call env,DEMO_MIB) \
		--out $(BUILD)/vm/demo-sim --show-tap --test $(DEMO_SIM_TEST)

# Each test boots a real guest, so not in make check.  ONLY=ERE: only
# the tests whose name matches.  --stall 400: below the nested-SVM wedge
# (testing.rst, "Stalls and retries"), above any test's silence.
check-qemu-vm: module tools l2-guest $(TEST_HELPERS) $(QEMU_TEST)
	@$(call timed,check-qemu,$(RUN_VM) --name check-qemu --test-timeout 2400 \
		--timeout 2700 --stall 400 $(VM_UMEM) $(QEMU_FILES) --out $(BUILD)/vm/check-qemu \
		--show-tap $(call env,GUEST_MIB WORK_MIB) $(ONLY_ENV) \
		--test $(QEMU_TEST)); exit $$rc

# bench.sh runs the VMs (tools/bench/); the real guests (selftests/qemu/
# bench.sh) in one of their own, with the kvm modules.
BENCH_QUICK ?= 0
BENCH_QEMU ?= 1
BENCH_RUNS ?= 3
BENCH_TLS ?= 1
BENCH_NICE ?= 1
BENCH_MAIN ?= 1
# Another QEMU's figures (QEMU=10) go into a results.json of their own.
BENCH_OUT := $(BUILD)/bench$(if $(QEMU),-qemu$(QEMU))
bench-vm: module tools $(TEST_HELPERS) \
		$(if $(filter 1,$(BENCH_QEMU)),l2-guest $(BENCH_QEMU_TEST))
	$(MAKE) -C tools/bench
	tools/bench/bench.sh --kernel $(KERNEL) --module $(MODULE) \
		$(addprefix --module ,$(call kmods,veth tls)) \
		--creds $(CREDS) --smp $(SMP) --mib $(DEMO_MIB) \
		$(if $(filter 1,$(BENCH_QEMU)),--qemu-test $(BENCH_QEMU_TEST) \
			--qemu-mem $(QEMU_MEM) --qemu-arg --smp --qemu-arg $(QEMU_SMP) \
			$(addprefix --qemu-arg ,$(call env,GUEST_MIB WORK_MIB BENCH_RUNS BENCH_TLS BENCH_NICE)) \
			$(addprefix --qemu-arg --module --qemu-arg ,$(call kmods,kvm)) \
			$(addprefix --qemu-arg ,$(QEMU_FILES))) \
		$(if $(filter 1,$(BENCH_QUICK)),--quick) $(if $(filter 0,$(BENCH_MAIN)),--qemu-only) \
		$(if $(filter 1,$(VERBOSE)),--verbose) --out $(BENCH_OUT)

# The results table of Documentation/performance.rst, from the last run,
# and the real-guest rows of the last run under each other QEMU.
perf-table:
	tools/bench/results-table.py $(BUILD)/bench/results.json \
		$(wildcard $(BUILD)/bench-qemu*/results.json) Documentation/performance.rst

# stress__mixed runs until STRESS_FAULTS faults were served (STRESS_SECONDS
# is the cap); the last line adds up every test's faults and corrupted pages.
STRESS_FAULTS ?= 1000000
STRESS_SECONDS ?= 1800
STRESS_PAGES ?= 4096
STRESS_LOCKERS ?= 8
stress-vm: module $(BUILD)/selftests/stress
	@$(call timed,stress,$(RUN_VM) --test-timeout $$(( $(STRESS_SECONDS) + 900 )) \
		--timeout $$(( $(STRESS_SECONDS) + 1200 )) --name stress --kernel $(KERNEL) \
		--module $(MODULE) $(call env,STRESS_FAULTS STRESS_SECONDS STRESS_PAGES STRESS_LOCKERS) \
		--out $(BUILD)/vm/stress --test $(BUILD)/selftests/stress, in the VM); \
	scripts/stress-summary.sh $(BUILD)/vm/stress/results.tap $(STRESS_FAULTS) || rc=1; \
	exit $$rc

SPLAT_DIR := selftests/runner/splat
check-runner-vm: all $(BUILD)/runner/fail_test $(BUILD)/runner/hang_test
	$(MAKE) -C $(KDIR) M=$(CURDIR)/$(SPLAT_DIR) modules
	selftests/runner/check-runner.sh "$(RUN_VM) --kernel $(KERNEL)" \
		$(MODULE) $(BUILD)/runner/fail_test $(BUILD)/runner/hang_test \
		$(SPLAT_DIR)/umem_splat.ko $(BUILD)/selftests/api \
		selftests/runner/fail/heartbeat.sh

# ---- debug kernel --------------------------------------------------------

# The debug kernel is built from DEBUG_SOURCE, a kernel source tarball
# (6.1's; check-debug-6.12 gives 6.12's), and the module against it.
DEBUG_SOURCE ?= $(LINUX_SOURCE)
DEBUG_ROOT_ARG = $(if $(DEBUG_ROOT),--root $(DEBUG_ROOT))
DEBUG_KERNEL_SH = selftests/runner/debug-kernel.sh --source $(DEBUG_SOURCE) $(DEBUG_ROOT_ARG)
DEBUG_MOD = $(BUILD)/debug-module$(DEBUG_NAME)
debug-module = scripts/debug-module.sh $(DEBUG_ROOT_ARG) $(DEBUG_SOURCE) $(DEBUG_MOD) $(MODULE_SRCS)
DEBUG_VM = --kernel $$($(DEBUG_KERNEL_SH) --dir)/arch/x86/boot/bzImage \
	--append "panic_on_warn=1" --module $(DEBUG_MOD)/umem/umem.ko
debug-kernel: deps $(DEBUG_SOURCE)
	$(DEBUG_KERNEL_SH)

check-debug-vm: selftests $(DEBUG_SOURCE)
	$(debug-module)
	$(RUN_VM) --name check-debug$(DEBUG_NAME) --test-timeout $(DEBUG_TEST_TIMEOUT) \
		$(DEBUG_VM) $(POSTCOPY_FILES) --out $(BUILD)/vm/check-debug$(DEBUG_NAME) $(VM_TESTS)

check-debug-6.12: deps
	$(MAKE) check-debug-vm DEBUG_SOURCE=$(LINUX_SOURCE_6_12) DEBUG_NAME=-6.12

# 7.3's source from trixie-backports, built in the trixie root.
check-debug-7.3: deps
	@s=$$(scripts/kernel-fetch.sh --source 7.3) && \
		$(MAKE) check-debug-vm DEBUG_SOURCE=$$s DEBUG_NAME=-7.3 DEBUG_ROOT=trixie

# The fuzzer runs in epochs of 12 s, the first from FUZZ_SEED if given
# (fuzz.c reads FUZZ_SECONDS and FUZZ_SEED=random in the guest).
FUZZ_MINUTES ?= 30
FUZZ_SECS = $(shell echo $$(( $(FUZZ_MINUTES) * 60 )))
fuzz-vm: $(BUILD)/selftests/fuzz $(DEBUG_SOURCE)
	$(debug-module)
	$(RUN_VM) --name fuzz --test-timeout $$(( $(FUZZ_SECS) + 300 )) \
		--timeout $$(( $(FUZZ_SECS) + 900 )) $(DEBUG_VM) \
		--env FUZZ_SECONDS=$(FUZZ_SECS) --env FUZZ_SEED=$(or $(FUZZ_SEED),random) \
		--out $(BUILD)/vm/fuzz --show-tap --test $(BUILD)/selftests/fuzz

shell: all
	$(RUN_VM) --shell $(VM_UMEM) $(POSTCOPY_FILES) --out $(BUILD)/vm/shell $(VM_TESTS)

# ---- style and man pages -------------------------------------------------

# style builds against KVER's and 6.12's trees, fetched into the cache, and
# the 7.x kernels there (in their build roots); only KDIR when given.
KDIR_GIVEN := $(filter command line environment,$(origin KDIR))
STYLE_KVERS = $(sort $(KVER) $(shell scripts/kernels.sh release 6.12))
STYLE_KDIRS ?= $(if $(KDIR_GIVEN),$(KDIR), \
	$(foreach k,$(STYLE_KVERS),$(UMEM_CACHE)/kernels/$(k)/usr/src/linux-headers-$(k)) \
	$(wildcard $(UMEM_CACHE)/kernels/7.*/usr/src/linux-headers-7.*-amd64))
style: check-kdir $(BUILD)/linux/.stamp $(BUILD)/linux-6.12/.stamp
	scripts/style.sh --out $(BUILD)/style \
		$(addprefix --fetch ,$(if $(KDIR_GIVEN),,$(STYLE_KVERS))) \
		$(addprefix --checkpatch ,$(BUILD)/linux $(BUILD)/linux-6.12) \
		$(addprefix --kdir ,$(STYLE_KDIRS)) -- $(MODULE_SRCS)

MAN_PAGES := $(BUILD)/man/umemctl.8 $(BUILD)/man/umemd.8 $(BUILD)/man/umem.4
man: $(MAN_PAGES)
# rst2man stops at the first docutils warning: a page is clean or absent.
$(BUILD)/man/%: Documentation/man/%.rst VERSION
	@command -v rst2man > /dev/null || { echo "rst2man missing: run" \
		"'make deps' as root (python3-docutils)" >&2; exit 1; }
	@mkdir -p $(dir $@)
	sed 's/@VERSION@/$(VERSION)/' $< | rst2man --halt=warning > $@.tmp
	mv $@.tmp $@

check-man: man
	selftests/man/check-man.sh $(MAN_PAGES)

install-man: man
	install -d $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man4
	install -m 644 $(BUILD)/man/umemctl.8 $(BUILD)/man/umemd.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 644 $(BUILD)/man/umem.4 $(DESTDIR)$(MANDIR)/man4/

# ---- packages, DKMS, install ---------------------------------------------

DEB_DIR := $(BUILD)/deb
deb: deb-deps
	scripts/deb.sh $(DEB_DIR) $(VERSION)
deb-deps:
	@scripts/deps.sh --deb

# check-deb installs KVER's headers on the host (no image); the VM boots
# the cache's image.
check-deb: deb selftests kernel
	scripts/deps.sh --headers $(KVER)
	selftests/packaging/check-deb.sh --kver $(KVER) --kernel $(KERNEL) \
		--smp $(SMP) --mem $(MEM) $(addprefix --vm-module ,$(VM_KOS)) $(DEB_DIR)

check-bpftrace: module tools
	selftests/tracing/check-bpftrace.sh --kernel $(KERNEL) --module $(MODULE)

# The module source as DKMS wants it, in /usr/src/umem-VERSION.
DKMS_SRC := /usr/src/umem-$(VERSION)
install-dkms-src:
	install -d $(DESTDIR)$(DKMS_SRC)
	cp --parents $(MODULE_SRCS) $(DESTDIR)$(DKMS_SRC)/
	sed 's/#MODULE_VERSION#/$(VERSION)/' dkms.conf > $(DESTDIR)$(DKMS_SRC)/dkms.conf

# make install and make dkms-install are for the host: the running
# kernel (INSTALL_KVER), against its installed headers, never the cache.
INSTALL_KVER ?= $(shell uname -r)
INSTALL_KDIR ?= /lib/modules/$(INSTALL_KVER)/build

# dkms-install, as root: a version already added is removed first, so this
# also updates it.
dkms-install:
	@command -v dkms > /dev/null || { echo "no dkms: apt-get install dkms" >&2; exit 1; }
	-dkms remove -m umem -v $(VERSION) --all > /dev/null 2>&1
	rm -rf $(DKMS_SRC)
	$(MAKE) install-dkms-src
	dkms add -m umem -v $(VERSION)
	dkms install -m umem -v $(VERSION) -k $(INSTALL_KVER)

# check-dkms: in a DKMS tree of its own, for the kernels in DKMS_KERNELS
# (by scripts/kernels.sh's names).
DKMS_KERNELS ?= 6.1 6.12 7.3
check-dkms: deps
	scripts/check-dkms.sh $(BUILD)/dkms $(MODULE_SRCS) -- $(DKMS_KERNELS)

install: tools install-man
	$(MAKE) install-module KVER=$(INSTALL_KVER) KDIR=$(INSTALL_KDIR) KERNEL=
	$(MAKE) -C tools/umemctl install PREFIX=$(PREFIX)

install-module: module
	$(MAKE) -C $(KDIR) M=$(MODULE_DIR) modules_install
	depmod -a $(KVER)

clean:
	-test -e "$(KDIR)/Makefile" && $(MAKE) -C $(KDIR) M=$(CURDIR) clean
	-test -e "$(KDIR)/Makefile" && $(MAKE) -C $(KDIR) M=$(CURDIR)/$(SPLAT_DIR) clean
	$(MAKE) -C tools/umemctl clean
	$(MAKE) -C tools/bench clean
	rm -rf $(BUILD)

distclean: clean
	-d=$$($(DEBUG_KERNEL_SH) --dir 2>/dev/null) && rm -rf "$${d%/src}"
