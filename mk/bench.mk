# SPDX-License-Identifier: GPL-2.0
#
# make bench: umem against userfaultfd and QEMU's postcopy.  bench.sh runs
# the VMs (tools/bench/); the real guests (selftests/qemu/bench.sh) in
# one of their own, with the kvm modules.

.PHONY: bench bench-vm perf-table

$(eval $(call with-deps,bench))

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
