# SPDX-License-Identifier: GPL-2.0
#
# What make builds: umem.ko, the tools, the selftests and what they use in
# the test VM, and the L2 guest of the real-guest tests.

.PHONY: module tools selftests headers-check l2-guest

# The module builds in the tree for the default kernel; for any other
# (KVER=, make check-6.12) in a copy of its own, so kernels never mix
# objects and switching back rebuilds nothing.  A 7.x kernel's kbuild runs
# in the Debian root its .build-root names (scripts/in-root.sh).
MODULE_SRCS := VERSION Kbuild umem/Kbuild $(filter-out %.mod.c,$(wildcard umem/*.c)) \
	$(wildcard umem/*.h) include/uapi/linux/umem.h
KMOD := $(if $(filter-out $(DEFAULT_KVER),$(KVER)),$(BUILD)/kmod/$(KVER))
MODULE_DIR := $(CURDIR)$(if $(KMOD),/$(KMOD))
MODULE := $(if $(KMOD),$(KMOD)/)umem/umem.ko
KBUILD_RUN := $(foreach r,$(shell cat $(KROOT)/.build-root 2>/dev/null),scripts/in-root.sh $(r))

module: check-kdir
	$(if $(KMOD),@mkdir -p $(KMOD) && cp -p --parents $(MODULE_SRCS) $(KMOD)/)
	$(KBUILD_RUN) $(MAKE) -C $(KDIR) M=$(MODULE_DIR) modules

LIBUMEM := tools/umemctl/libumem.a
tools:
	$(MAKE) -C tools/umemctl
$(LIBUMEM): tools

# Userspace that runs in the test VM is linked statically: the initramfs
# carries no libc.
TEST_CFLAGS := -O2 -g -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare \
	-Werror -D_GNU_SOURCE -pthread -Iinclude/uapi -I$(BUILD)/linux/kselftest
TEST_LDFLAGS := -static -pthread
TEST_LDLIBS := -luring
SELFTEST_AREAS := $(filter-out header_check, \
	$(patsubst selftests/umem/%.c,%,$(wildcard selftests/umem/*.c)))
SELFTESTS := $(addprefix $(BUILD)/selftests/,$(SELFTEST_AREAS))

# The shell tests, under their own names in the VM, and what they use:
# kvm-hold (init runs it where there is a /dev/kvm: kvm-hold.c says why),
# TLS credentials (selftests/postcopy/mkcreds.sh), a relay that corrupts
# a TLS record on the wire, a destination that reads the stream's order.
POSTCOPY := $(BUILD)/postcopy/postcopy
DEMO_TEST := $(BUILD)/demo/demo
DEMO_SIM_TEST := $(BUILD)/demo/demo-sim
QEMU_TEST := $(BUILD)/qemu/qemu
BENCH_QEMU_TEST := $(BUILD)/bench/bench-qemu
KVM_HOLD := $(BUILD)/runner/kvm-hold
CREDS := $(BUILD)/tls/creds.tar
RELAY := $(BUILD)/postcopy/relay
STREAM_ORDER := $(BUILD)/postcopy/stream-order
TEST_HELPERS := $(KVM_HOLD) $(CREDS) $(RELAY) $(STREAM_ORDER)

selftests: headers-check $(SELFTESTS) $(POSTCOPY) $(TEST_HELPERS)

# A binary too long for one file has parts, selftests/umem/AREA/*.[ch]
# (Documentation/testing.rst, "Adding a test").
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

$(STREAM_ORDER): selftests/postcopy/stream-order.c tools/umemctl/wire.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -Itools/umemctl -o $@ $< $(TEST_LDFLAGS)

# The runner's own tests' failing and hanging binaries (make check-runner).
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

# Real L2 guests (make demo, check-qemu, bench): Debian's QEMU in the test
# VM under nested KVM, the same kernel, a busybox initramfs whose init is
# the workload (selftests/qemu/), and the QMP client the L1 scripts use.
QEMU_DIR := $(BUILD)/qemu
L2_INITRAMFS := $(QEMU_DIR)/l2-initramfs.cpio.gz
L2_KERNEL := $(QEMU_DIR)/l2-kernel
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
