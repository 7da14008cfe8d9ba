# SPDX-License-Identifier: GPL-2.0
#
# umem: top-level build.  `make help` lists the targets and the knobs.
# The knobs every part shares are here; the rules are in mk/, one file
# per concern:
#
#   mk/kernels.mk  the kernel cache: test kernels, source tarballs, the
#                  kselftest harness and checkpatch taken from them
#   mk/build.mk    umem.ko, the tools, the selftests, the L2 guest
#   mk/vm.mk       the tests in the VM: check, check-<kernel>, demo,
#                  demo-sim, check-qemu, stress, check-runner,
#                  check-bpftrace, shell
#   mk/bench.mk    bench, perf-table
#   mk/debug.mk    the debug kernel: check-debug, check-debug-<kernel>, fuzz
#   mk/style.mk    style
#   mk/package.mk  man pages, deb, DKMS, install, and their checks
#                  (check-man, check-deb, check-dkms)

# The test kernels live in the cache (mk/kernels.mk); KVER is a release
# there, 6.1's by default.
UMEM_CACHE ?= $(HOME)/.cache/umem
export UMEM_CACHE
DEFAULT_KVER := $(shell scripts/kernels.sh release 6.1 2>/dev/null)
ifeq ($(origin KVER),undefined)
KVER := $(DEFAULT_KVER)
endif
KROOT := $(UMEM_CACHE)/kernels/$(KVER)
KDIR ?= $(KROOT)/usr/src/linux-headers-$(KVER)
KERNEL ?= $(KROOT)/boot/vmlinuz-$(KVER)
# The test VM (mk/vm.mk).
SMP ?= 2
MEM ?= 2G
VERBOSE ?= 0
TEST_TIMEOUT ?= 600
VM_TIMEOUT ?= 1200
# The release, for the module, the tools, the packages and dkms.conf.
VERSION := $(shell cat VERSION)
BUILD := build

.PHONY: all deps help clean distclean

all: module tools selftests

deps:
	@scripts/deps.sh

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
	@echo "make check-qemu-6.12 the same on Debian's 6.12 LTS"
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
	@echo "make distclean       the same, and the cached debug kernels"
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

include mk/kernels.mk
include mk/build.mk
include mk/vm.mk
include mk/bench.mk
include mk/debug.mk
include mk/style.mk
include mk/package.mk

clean:
	-test -e "$(KDIR)/Makefile" && $(MAKE) -C $(KDIR) M=$(CURDIR) clean
	-test -e "$(KDIR)/Makefile" && $(MAKE) -C $(KDIR) M=$(CURDIR)/$(SPLAT_DIR) clean
	$(MAKE) -C tools/umemctl clean
	$(MAKE) -C tools/bench clean
	rm -rf $(BUILD)

distclean: clean
	rm -rf $(UMEM_CACHE)/debug-kernel-*
