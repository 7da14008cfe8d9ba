# SPDX-License-Identifier: GPL-2.0
#
# umem: top-level build.  `make help` lists the targets and the knobs.

# The test kernels are Debian's packages extracted into a cache, never
# installed on the host: $(UMEM_CACHE)/kernels/<release>/ holds one
# release's boot/, lib/modules/ and usr/src/ (scripts/kernels.sh).
UMEM_CACHE ?= $(HOME)/.cache/umem
export UMEM_CACHE
DEFAULT_KVER := $(shell scripts/kernels.sh release 6.1 2>/dev/null)
ifeq ($(origin KVER),undefined)
KVER := $(DEFAULT_KVER)
endif
KROOT := $(UMEM_CACHE)/kernels/$(KVER)
KDIR ?= $(KROOT)/usr/src/linux-headers-$(KVER)
KERNEL ?= $(KROOT)/boot/vmlinuz-$(KVER)
# A 7.x kernel's kbuild runs in the Debian root its .build-root names
# (scripts/kernel-fetch.sh, scripts/build-root.sh, scripts/in-root.sh).
KBUILD_RUN := $(foreach r,$(shell cat $(KROOT)/.build-root 2>/dev/null),scripts/in-root.sh $(r))
SMP ?= 2
MEM ?= 2G
VERBOSE ?= 0
TEST_TIMEOUT ?= 600
# The debug kernel runs 3-10x slower: each of its binaries gets longer.
DEBUG_TEST_TIMEOUT ?= 900
VM_TIMEOUT ?= 1200

# The release: the module's MODULE_VERSION, the tools' --version, the
# packages and dkms.conf all take it from here.
VERSION := $(shell cat VERSION)
PREFIX ?= /usr/local
MANDIR ?= $(PREFIX)/share/man

# Kernel source tarballs, from Debian's linux-source-<series> packages.
SOURCES := $(UMEM_CACHE)/sources
LINUX_SOURCE ?= $(SOURCES)/linux-source-6.1.tar.xz
LINUX_SOURCE_6_12 ?= $(SOURCES)/linux-source-6.12.tar.xz
BUILD := build

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
# The postcopy tests and the demo: scripts run in the VM, with the tools.
POSTCOPY := $(BUILD)/postcopy/postcopy
# Holds KVM's static keys for a test VM's whole run (kvm-hold.c says why);
# the guest's init starts it where there is a /dev/kvm.
KVM_HOLD := $(BUILD)/runner/kvm-hold
# The tests' TLS credentials (selftests/postcopy/mkcreds.sh), one tar file,
# and the relay that corrupts a TLS record on the wire.
CREDS := $(BUILD)/tls/creds.tar
RELAY := $(BUILD)/postcopy/relay
POSTCOPY_FILES := --file tools/umemctl/umemctl --file tools/umemctl/umemd --file selftests/postcopy/netns.sh \
	--file selftests/postcopy/trace.sh --file tools/bench/fault-path.awk \
	--file $(KVM_HOLD) --file $(CREDS) --file $(RELAY)
# Modules of the kernel's own that the VM loads after umem.ko, in load
# order (scripts/kmods.sh says which and why).  A shell, not $(wildcard):
# make may have fetched the kernel since it started.
kmods = $(shell scripts/kmods.sh $(KROOT) $(KVER) $(1))
VETH_KO = $(call kmods,veth)
TLS_KO = $(call kmods,tls)
KVM_KOS = $(call kmods,kvm)
VM_KOS = $(call kmods,veth tls kvm vhost)
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
# That VM has QEMU_SMP vCPUs: one.  With two, the nested SVM that the
# host's QEMU 7.2 emulates (multi-threaded TCG) fails now and then under
# the L2 guests: an L2 guest triple-faults, an interrupt reaches L1's KVM
# right after VMRUN (GIF set: a double fault), or L1 wedges in HLT, deaf
# to interrupts and NMIs (Documentation/testing.rst, "Incidents").
QEMU_SMP ?= 1
# QEMU=10: that VM's QEMU from the cache (scripts/qemu-fetch.sh), fetched
# when a recipe first needs it.
QEMU_FILES := --qemu $(if $(QEMU),--qemu-root "$$(scripts/qemu-fetch.sh $(QEMU))") \
	--file $(QEMU_DIR)/qmp --file $(L2_INITRAMFS) --file $(L2_KERNEL) \
	--file selftests/qemu/lib.sh $(POSTCOPY_FILES)
# Module sources (kbuild leaves a generated umem.mod.c beside them).
MODULE_SRCS := VERSION Kbuild umem/Kbuild $(filter-out %.mod.c,$(wildcard umem/*.c)) \
	$(wildcard umem/*.h) include/uapi/linux/umem.h
# The module for the default kernel builds in the tree; for any other
# (KVER=, make check-6.12) in a copy of its own, build/kmod/<release>, so
# kernels never mix objects and switching back rebuilds nothing.
KMOD := $(if $(filter-out $(DEFAULT_KVER),$(KVER)),$(BUILD)/kmod/$(KVER))
MODULE := $(if $(KMOD),$(KMOD)/)umem/umem.ko

VM_MEM = $(MEM)
VM_SMP = $(SMP)
RUN_VM = selftests/runner/run-vm.sh --smp $(VM_SMP) --mem $(VM_MEM) \
	--test-timeout $(TEST_TIMEOUT) --timeout $(VM_TIMEOUT) \
	$(if $(T),--filter '$(T)') $(if $(filter 1,$(VERBOSE)),--verbose)

.PHONY: all kernel check-kdir module tools selftests headers-check deps check check-vm \
	check-6.12 check-rt check-6.12-rt check-7.3 check-7.3-rt check-sid \
	dkms-install check-dkms check-debug-6.12 \
	check-runner check-runner-vm check-man man install-man install-dkms-src \
	deb deb-deps check-deb check-bpftrace demo demo-vm demo-sim demo-sim-vm \
	l2-guest check-qemu check-qemu-vm shell debug-kernel \
	check-debug check-debug-vm bench bench-vm perf-table fuzz fuzz-vm stress stress-vm style \
	install install-module clean distclean help

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
	@echo "make check-qemu      a real guest's migration with failures (QEMU_T=ERE)"
	@echo "make check-runner    the runner fails a failing test, a hang, a WARN, a stall"
	@echo "make check-debug     the suite on the KASAN/lockdep/kmemleak kernel"
	@echo "make check-debug-6.12  the same on a 6.12 debug kernel"
	@echo "make debug-kernel    build (or reuse) the debug kernel"
	@echo "make check-dkms      dkms builds the module for 6.1's and 6.12's headers"
	@echo "make check-deb       as root: install the packages, boot the VM on them, purge"
	@echo "make check-bpftrace  umem.rst's bpftrace one-liner in the VM (needs bpftrace)"
	@echo "make check-man       man -l renders each man page without a warning"
	@echo "make demo            the main job: a real guest live-migrated onto umem"
	@echo "make demo-sim        the simulated migration into umemctl vmm (DEMO_MIB=)"
	@echo "make bench           umem against userfaultfd and QEMU's postcopy: build/bench"
	@echo "make perf-table      performance.rst's table from build/bench/results.json"
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
	@echo "VERBOSE=1            copy the guest console to stdout"
	@echo "TEST_TIMEOUT= DEBUG_TEST_TIMEOUT= VM_TIMEOUT=  in seconds (600, 900, 1200)"
	@echo "BENCH_QUICK=1        small sizes; BENCH_QEMU=0: no real guest"
	@echo "BENCH_RUNS=3 BENCH_TLS=1 BENCH_NICE=1  real-guest runs; TLS, nice-0 methods"
	@echo "STRESS_FAULTS= STRESS_SECONDS= STRESS_PAGES= STRESS_LOCKERS=  make stress"
	@echo "FUZZ_MINUTES= FUZZ_SEED=0x...  make fuzz: its length (30), a seed to replay"
	@echo "PREFIX= INSTALL_KVER=  make install: where (/usr/local), for which kernel"
	@echo "DKMS_KERNELS=        make check-dkms: its kernels (6.1 6.12)"

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
ifneq ($(KMOD),)
	@mkdir -p $(KMOD) && cp -p --parents $(MODULE_SRCS) $(KMOD)/
endif
	$(KBUILD_RUN) $(MAKE) -C $(KDIR) M=$(CURDIR)$(if $(KMOD),/$(KMOD)) modules

tools:
	$(MAKE) -C tools/umemctl

selftests: headers-check $(SELFTESTS) $(POSTCOPY) $(KVM_HOLD) $(CREDS) $(RELAY)

# The kselftest harness and checkpatch come from linux-source-6.1's
# tarball, extracted once into $(BUILD)/linux; never committed.
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

$(SOURCES)/linux-source-%.tar.xz:
	scripts/kernels.sh source $* > /dev/null

# A binary too long for one file has parts, selftests/umem/AREA/: files
# compiled with AREA.c, and headers (Documentation/testing.rst, "Writing a
# selftest").
$(foreach a,$(SELFTEST_AREAS),$(eval $(BUILD)/selftests/$(a): \
	$(wildcard selftests/umem/$(a)/*.[ch])))
$(BUILD)/selftests/%: selftests/umem/%.c selftests/umem/umem_test.h include/uapi/linux/umem.h \
		$(BUILD)/linux/.stamp $(LIBUMEM)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -Itools/umemctl -o $@ $(filter %.c,$^) $(LIBUMEM) $(TEST_LDFLAGS) $(TEST_LDLIBS)

$(LIBUMEM): tools

# The shell tests go into the VM under their own names, as they are; their
# settings travel as settings (run-vm.sh --env).
DEMO_TEST := $(BUILD)/demo/demo
DEMO_SIM_TEST := $(BUILD)/demo/demo-sim
QEMU_TEST := $(BUILD)/qemu/qemu
BENCH_QEMU_TEST := $(BUILD)/bench/bench-qemu
$(POSTCOPY): selftests/postcopy/postcopy.sh
$(DEMO_TEST): selftests/qemu/demo.sh
$(DEMO_SIM_TEST): selftests/postcopy/demo.sh
$(QEMU_TEST): selftests/qemu/qemu.sh
$(BENCH_QEMU_TEST): selftests/qemu/bench.sh
$(POSTCOPY) $(DEMO_TEST) $(DEMO_SIM_TEST) $(QEMU_TEST) $(BENCH_QEMU_TEST):
	@mkdir -p $(dir $@)
	install -m 755 $< $@

$(RELAY): selftests/postcopy/relay.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(TEST_LDFLAGS)

$(CREDS): selftests/postcopy/mkcreds.sh
	selftests/postcopy/mkcreds.sh $(dir $@)

$(KVM_HOLD): selftests/runner/kvm-hold.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(TEST_LDFLAGS)

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

# ---- dependencies --------------------------------------------------------

deps:
	@scripts/deps.sh

# ---- tests in the VM -----------------------------------------------------

# check and demo first install what is missing, then re-enter make so that
# KVER is computed against the package lists make deps updated.
check: deps
	@rc=0; $(MAKE) check-man || rc=1; $(MAKE) check-vm || rc=1; exit $$rc

check-vm: all
	$(RUN_VM) --name check --kernel $(KERNEL) --module $(MODULE) \
		$(addprefix --module ,$(VM_KOS)) $(POSTCOPY_FILES) \
		--out $(BUILD)/vm/check$(if $(KMOD),-$(KVER)) $(addprefix --test ,$(SELFTESTS) $(POSTCOPY))

# The same suite on Debian's other kernels: check-6.12 the 6.12 LTS,
# check-rt 6.1 with PREEMPT_RT, check-6.12-rt.  scripts/kernels.sh maps
# each name to its release; check-vm fetches that one into the cache.
check-6.12 check-rt check-6.12-rt: deps
	@k=$$(scripts/kernels.sh release $(patsubst check-%,%,$@)) && \
		$(MAKE) check-vm KVER=$$k

# Debian's newest kernels, fetched into the cache (scripts/kernel-fetch.sh
# makes their build roots first): check-7.3 and check-7.3-rt from
# trixie-backports, check-sid sid's (7.2 today).
check-7.3 check-7.3-rt check-sid: deps
	@k=$$(scripts/kernel-fetch.sh $(patsubst check-%,%,$@)) && \
		$(MAKE) check-vm KVER=$$k

# X: deps, then X-vm in a make of its own (KVER from the lists deps
# updated).
define with-deps
$(1): deps
	$$(MAKE) $(1)-vm
endef
$(foreach t,demo check-qemu demo-sim bench stress check-runner check-debug fuzz, \
	$(eval $(call with-deps,$(t))))

demo-vm: VM_MEM = $(QEMU_MEM)
demo-vm: VM_SMP = $(QEMU_SMP)
# The real guest: the demo's report is the TAP's comments, and its last
# line is the verdict.
demo-vm: module tools l2-guest $(KVM_HOLD) $(CREDS) $(RELAY) $(DEMO_TEST)
	@start=$$(date +%s); rc=0; \
	$(RUN_VM) --name demo --test-timeout 1200 --timeout 1500 --kernel $(KERNEL) \
		--module $(MODULE) $(addprefix --module ,$(VM_KOS)) $(QEMU_FILES) \
		--env GUEST_MIB=$(GUEST_MIB) --env WORK_MIB=$(WORK_MIB) --env RAM=$(DEMO_RAM) \
		--out $(BUILD)/vm/demo --show-tap --test $(DEMO_TEST) || rc=1; \
	echo "make demo: $$(( $$(date +%s) - start )) s"; \
	tr -d '\r' < $(BUILD)/vm/demo/results.tap | \
		sed -n 's/^# \(demo: real guest verified: .*\)/\1/p' | grep . || rc=1; \
	exit $$rc

# Failures during a real migration (selftests/qemu/qemu.sh): a target of
# its own, each test boots a real guest (make check stays short).
# QEMU_T=ERE runs only the tests whose name matches.
check-qemu-vm: VM_MEM = $(QEMU_MEM)
check-qemu-vm: VM_SMP = $(QEMU_SMP)
check-qemu-vm: module tools l2-guest $(KVM_HOLD) $(CREDS) $(RELAY) $(QEMU_TEST)
	@start=$$(date +%s); rc=0; \
	$(RUN_VM) --name check-qemu --test-timeout 2400 --timeout 2700 --stall 600 \
		--kernel $(KERNEL) --module $(MODULE) $(addprefix --module ,$(VM_KOS)) \
		$(QEMU_FILES) --out $(BUILD)/vm/check-qemu --show-tap \
		--env GUEST_MIB=$(GUEST_MIB) --env WORK_MIB=$(WORK_MIB) --env 'QEMU_T=$(QEMU_T)' \
		--test $(QEMU_TEST) || rc=1; \
	echo "make check-qemu: $$(( $$(date +%s) - start )) s"; exit $$rc

# The simulated guest (umemctl vmm: threads doing loads and stores) that
# was the demo before there was a real one.
demo-sim-vm: module tools $(KVM_HOLD) $(CREDS) $(RELAY) $(DEMO_SIM_TEST)
	$(RUN_VM) --name demo-sim --kernel $(KERNEL) --module $(MODULE) \
		$(addprefix --module ,$(VM_KOS)) $(POSTCOPY_FILES) --env DEMO_MIB=$(DEMO_MIB) \
		--out $(BUILD)/vm/demo-sim --show-tap --test $(DEMO_SIM_TEST)

# The L2 guest: its initramfs (busybox, /init, the workload) and kernel,
# and the QMP client the L1 scripts use.
$(QEMU_DIR)/%: selftests/qemu/%.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $< -static

$(L2_INITRAMFS): $(QEMU_DIR)/workload selftests/qemu/l2-init
	scripts/l2-initramfs.sh $@ $^

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

# The qemu case (selftests/qemu/bench.sh) boots a third VM with QEMU and
# the kvm modules in it; BENCH_QEMU=0 leaves it out.
BENCH_QEMU ?= 1
# Runs of each real-guest method (umem, postcopy, postcopy-preempt).
BENCH_RUNS ?= 3
# BENCH_TLS=1: the same three methods again with their streams in TLS.
BENCH_TLS ?= 1
# BENCH_NICE=1: umem once more with its daemons at nice 0 (default -10).
BENCH_NICE ?= 1
bench-vm: module tools $(KVM_HOLD) $(CREDS) $(RELAY) \
		$(if $(filter 1,$(BENCH_QEMU)),l2-guest $(BENCH_QEMU_TEST))
	$(MAKE) -C tools/bench
	tools/bench/bench.sh --kernel $(KERNEL) --module $(MODULE) \
		$(if $(VETH_KO),--module $(VETH_KO)) $(addprefix --module ,$(TLS_KO)) \
		--creds $(CREDS) --smp $(SMP) --mib $(DEMO_MIB) \
		$(if $(filter 1,$(BENCH_QEMU)),--qemu-test $(BENCH_QEMU_TEST) \
			--qemu-mem $(QEMU_MEM) --qemu-arg --smp --qemu-arg $(QEMU_SMP) \
			$(foreach e,GUEST_MIB WORK_MIB BENCH_RUNS BENCH_TLS BENCH_NICE,--qemu-arg --env --qemu-arg $(e)=$($(e))) \
			$(addprefix --qemu-arg --module --qemu-arg ,$(KVM_KOS)) \
			$(addprefix --qemu-arg ,$(QEMU_FILES))) \
		$(if $(filter 1,$(BENCH_QUICK)),--quick) \
		$(if $(filter 1,$(VERBOSE)),--verbose) --out $(BUILD)/bench

# The results table of Documentation/performance.rst, from the last run.
perf-table:
	tools/bench/results-table.py $(BUILD)/bench/results.json Documentation/performance.rst

# ---- stress --------------------------------------------------------------

# The stress selftest with long settings: stress__mixed runs until
# STRESS_FAULTS faults were served (STRESS_SECONDS is the cap), on
# STRESS_PAGES-page regions with STRESS_LOCKERS lockers per vCPU.  The last
# line adds up every test's: "stress: N faults, N corrupted pages".
STRESS_FAULTS ?= 1000000
STRESS_SECONDS ?= 1800
STRESS_PAGES ?= 4096
STRESS_LOCKERS ?= 8

stress-vm: module $(BUILD)/selftests/stress
	@start=$$(date +%s); rc=0; \
	$(RUN_VM) --test-timeout $$(( $(STRESS_SECONDS) + 900 )) \
		--timeout $$(( $(STRESS_SECONDS) + 1200 )) --name stress \
		--kernel $(KERNEL) --module $(MODULE) $(foreach e,STRESS_FAULTS STRESS_SECONDS STRESS_PAGES STRESS_LOCKERS,--env $(e)=$($(e))) \
		--out $(BUILD)/vm/stress --test $(BUILD)/selftests/stress || rc=1; \
	echo "make stress: $$(( $$(date +%s) - start )) s in the VM"; \
	scripts/stress-summary.sh $(BUILD)/vm/stress/results.tap $(STRESS_FAULTS) || rc=1; \
	exit $$rc

SPLAT_DIR := selftests/runner/splat

check-runner-vm: all $(BUILD)/runner/fail_test $(BUILD)/runner/hang_test
	$(MAKE) -C $(KDIR) M=$(CURDIR)/$(SPLAT_DIR) modules
	selftests/runner/check-runner.sh "$(RUN_VM) --kernel $(KERNEL)" \
		$(MODULE) $(BUILD)/runner/fail_test $(BUILD)/runner/hang_test \
		$(SPLAT_DIR)/umem_splat.ko $(BUILD)/selftests/api

# ---- debug kernel --------------------------------------------------------

# The debug kernel is built from DEBUG_SOURCE, a kernel source tarball
# (default: linux-source-6.1's); check-debug-6.12 uses 6.12's.
DEBUG_SOURCE ?= $(LINUX_SOURCE)
DEBUG_KERNEL_SH = selftests/runner/debug-kernel.sh --source $(DEBUG_SOURCE)

debug-kernel: deps $(DEBUG_SOURCE)
	$(DEBUG_KERNEL_SH)

# The same on a 6.12 debug kernel (same fragment).
check-debug-6.12: deps
	$(MAKE) check-debug-vm DEBUG_SOURCE=$(LINUX_SOURCE_6_12) DEBUG_NAME=-6.12

# The debug kernel, built or reused, and the module built against it
# (scripts/debug-module.sh).
DEBUG_MOD = $(BUILD)/debug-module$(DEBUG_NAME)
debug-module = scripts/debug-module.sh $(DEBUG_SOURCE) $(DEBUG_MOD) $(MODULE_SRCS)

check-debug-vm: selftests $(DEBUG_SOURCE)
	$(debug-module)
	$(RUN_VM) --name check-debug$(DEBUG_NAME) --test-timeout $(DEBUG_TEST_TIMEOUT) \
		--kernel $$($(DEBUG_KERNEL_SH) --dir)/arch/x86/boot/bzImage \
		--append "panic_on_warn=1" --module $(DEBUG_MOD)/umem/umem.ko \
		$(POSTCOPY_FILES) \
		--out $(BUILD)/vm/check-debug$(DEBUG_NAME) $(addprefix --test ,$(SELFTESTS) $(POSTCOPY))

# ---- fuzzer --------------------------------------------------------------

# The fuzzer (selftests/umem/fuzz.c) on the debug kernel, for FUZZ_MINUTES
# in epochs of 12 s, the first one from FUZZ_SEED if given (FUZZ_SECONDS
# and FUZZ_SEED=random in the guest: fuzz.c reads them).
FUZZ_MINUTES ?= 30
FUZZ_SECS = $(shell echo $$(( $(FUZZ_MINUTES) * 60 )))

fuzz-vm: $(BUILD)/selftests/fuzz $(DEBUG_SOURCE)
	$(debug-module)
	$(RUN_VM) --name fuzz --test-timeout $$(( $(FUZZ_SECS) + 300 )) \
		--timeout $$(( $(FUZZ_SECS) + 900 )) \
		--kernel $$($(DEBUG_KERNEL_SH) --dir)/arch/x86/boot/bzImage \
		--append "panic_on_warn=1" --module $(DEBUG_MOD)/umem/umem.ko \
		--env FUZZ_SECONDS=$(FUZZ_SECS) --env FUZZ_SEED=$(or $(FUZZ_SEED),random) \
		--out $(BUILD)/vm/fuzz --show-tap --test $(BUILD)/selftests/fuzz

# ---- style ---------------------------------------------------------------

# The kernel trees style builds against: KVER's and 6.12's, fetched into
# the cache, and the 7.x kernels there (in their build roots); only KDIR
# when that is given.
STYLE_KVERS = $(sort $(KVER) $(shell scripts/kernels.sh release 6.12))
STYLE_KDIRS ?= $(if $(filter command line environment,$(origin KDIR)),$(KDIR), \
	$(foreach k,$(STYLE_KVERS),$(UMEM_CACHE)/kernels/$(k)/usr/src/linux-headers-$(k)) \
	$(wildcard $(UMEM_CACHE)/kernels/7.*/usr/src/linux-headers-7.*-amd64))
# checkpatch of 6.1 and of 6.12 (scripts/style.sh says what it checks).
$(BUILD)/linux-6.12/.stamp: | $(LINUX_SOURCE_6_12)
	rm -rf $(BUILD)/linux-6.12 && mkdir -p $(BUILD)/linux-6.12
	tar -xf $(LINUX_SOURCE_6_12) -C $(BUILD)/linux-6.12 --strip-components=1 \
		linux-source-6.12/scripts/checkpatch.pl \
		linux-source-6.12/scripts/spelling.txt \
		linux-source-6.12/scripts/const_structs.checkpatch
	touch $@
style: check-kdir $(BUILD)/linux/.stamp $(BUILD)/linux-6.12/.stamp
	scripts/style.sh --out $(BUILD)/style \
		$(addprefix --fetch ,$(if $(filter command line environment,$(origin KDIR)),,$(STYLE_KVERS))) \
		$(addprefix --checkpatch ,$(BUILD)/linux $(BUILD)/linux-6.12) \
		$(addprefix --kdir ,$(STYLE_KDIRS)) -- $(MODULE_SRCS)

# bpftrace in the VM, with its libraries: heavy, so not part of check.
check-bpftrace: module tools
	selftests/tracing/check-bpftrace.sh --kernel $(KERNEL) --module $(MODULE)

# ---- man pages -----------------------------------------------------------

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

# ---- packages --------------------------------------------------------------

# The module source as DKMS wants it, in /usr/src/umem-VERSION.
DKMS_SRC := /usr/src/umem-$(VERSION)
install-dkms-src:
	install -d $(DESTDIR)$(DKMS_SRC)
	cp --parents $(MODULE_SRCS) $(DESTDIR)$(DKMS_SRC)/
	sed 's/#MODULE_VERSION#/$(VERSION)/' dkms.conf > $(DESTDIR)$(DKMS_SRC)/dkms.conf

deb-deps:
	@scripts/deps.sh --deb

# dpkg-buildpackage in a copy of the tree, then lintian (scripts/deb.sh).
DEB_DIR := $(BUILD)/deb
deb: deb-deps
	scripts/deb.sh $(DEB_DIR) $(VERSION)

# The packages' DKMS builds for the system's headers: KVER's go on the
# host (linux-headers-$(KVER), no image); the VM boots the cache's image.
check-deb: deb selftests kernel
	scripts/deps.sh --headers $(KVER)
	selftests/packaging/check-deb.sh --kver $(KVER) --kernel $(KERNEL) \
		--smp $(SMP) --mem $(MEM) $(addprefix --vm-module ,$(VM_KOS)) $(DEB_DIR)

# ---- DKMS ----------------------------------------------------------------

# make install and make dkms-install are for the host: the running
# kernel (INSTALL_KVER), against its installed headers, never the cache.
INSTALL_KVER ?= $(shell uname -r)
INSTALL_KDIR ?= /lib/modules/$(INSTALL_KVER)/build

# dkms-install: the module under DKMS, which rebuilds it for every kernel
# installed later (AUTOINSTALL); as root.  A version already added is
# removed first, so this also updates it.
dkms-install:
	@command -v dkms > /dev/null || { echo "no dkms: apt-get install dkms" >&2; exit 1; }
	-dkms remove -m umem -v $(VERSION) --all > /dev/null 2>&1
	rm -rf $(DKMS_SRC)
	$(MAKE) install-dkms-src
	dkms add -m umem -v $(VERSION)
	dkms install -m umem -v $(VERSION) -k $(INSTALL_KVER)

# check-dkms: Debian's dkms builds this tree, in a private DKMS tree, for
# the cached headers of every kernel in DKMS_KERNELS (scripts/kernels.sh's
# names).
DKMS_KERNELS ?= 6.1 6.12
check-dkms: deps
	scripts/check-dkms.sh $(BUILD)/dkms $(MODULE_SRCS) -- $(DKMS_KERNELS)

# ---- install and clean -----------------------------------------------------

install: tools install-man
	$(MAKE) install-module KVER=$(INSTALL_KVER) KDIR=$(INSTALL_KDIR) KERNEL=
	$(MAKE) -C tools/umemctl install PREFIX=$(PREFIX)

install-module: module
	$(MAKE) -C $(KDIR) M=$(CURDIR)$(if $(KMOD),/$(KMOD)) modules_install
	depmod -a $(KVER)

clean:
	-test -e "$(KDIR)/Makefile" && $(MAKE) -C $(KDIR) M=$(CURDIR) clean
	-test -e "$(KDIR)/Makefile" && $(MAKE) -C $(KDIR) M=$(CURDIR)/$(SPLAT_DIR) clean
	$(MAKE) -C tools/umemctl clean
	$(MAKE) -C tools/bench clean
	rm -rf $(BUILD)

distclean: clean
	-d=$$($(DEBUG_KERNEL_SH) --dir 2>/dev/null) && rm -rf "$${d%/src}"
