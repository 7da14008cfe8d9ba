# SPDX-License-Identifier: GPL-2.0
#
# The tests in the test VM (selftests/runner/run-vm.sh): make check on
# each kernel, the demos, the real-guest tests, stress, the runner's own
# tests, and a shell.

.PHONY: check check-vm check-6.12 check-rt check-6.12-rt check-7.3 check-7.3-rt \
	check-sid demo demo-vm demo-sim demo-sim-vm check-qemu check-qemu-vm check-qemu-6.12 stress \
	stress-vm check-runner check-runner-vm check-bpftrace shell

# X installs what is missing (deps), then runs X-vm in a make of its own,
# so that KVER is computed against the package lists deps updated.
define with-deps
$(1): deps
	$$(MAKE) $(1)-vm
endef
$(foreach t,demo check-qemu demo-sim stress check-runner, \
	$(eval $(call with-deps,$(t))))

# Modules of the kernel's own that the VM loads after umem.ko, in load
# order (scripts/kmods.sh says which and why).  A shell, not $(wildcard):
# make may have fetched the kernel since it started.
kmods = $(shell scripts/kmods.sh $(KROOT) $(KVER) $(1))
VM_KOS = $(call kmods,veth tls kvm vhost)

VM_MEM = $(MEM)
VM_SMP = $(SMP)
RUN_VM = selftests/runner/run-vm.sh --smp $(VM_SMP) --mem $(VM_MEM) \
	--test-timeout $(TEST_TIMEOUT) --timeout $(VM_TIMEOUT) \
	$(if $(T),--filter '$(T)') $(if $(filter 1,$(VERBOSE)),--verbose)
# KVER's kernel with umem.ko and the kernel's modules; the selftests, the
# postcopy tests and the files they use.
VM_UMEM = --kernel $(KERNEL) --module $(MODULE) $(addprefix --module ,$(VM_KOS))
VM_TESTS = $(addprefix --test ,$(SELFTESTS) $(POSTCOPY))
POSTCOPY_FILES := $(addprefix --file ,tools/umemctl/umemctl tools/umemctl/umemd \
	$(addprefix selftests/postcopy/,tap.sh netns.sh trace.sh) tools/bench/fault-path.awk \
	$(TEST_HELPERS))
# $(call env,NAME...): the tests' settings, --env NAME=$(NAME) each.
env = $(foreach e,$(1),--env $(e)=$($(e)))
ONLY_ENV = $(if $(ONLY),--env 'ONLY=$(ONLY)')
# $(call timed,NAME,COMMAND[,MORE]): COMMAND, then "make NAME: N s[MORE]";
# rc=1 when it failed.
timed = start=$$(date +%s); rc=0; $(2) || rc=1; \
	echo "make $(1): $$(( $$(date +%s) - start )) s$(3)"

check: deps
	@rc=0; $(MAKE) check-man || rc=1; $(MAKE) check-vm || rc=1; exit $$rc

check-vm: all
	$(RUN_VM) --name check $(VM_UMEM) $(POSTCOPY_FILES) $(ONLY_ENV) \
		--out $(BUILD)/vm/check$(if $(KMOD),-$(KVER)) $(VM_TESTS)

# The other kernels, by scripts/kernels.sh's names and (7.x, in a Debian
# root) scripts/kernel-fetch.sh's.
check-6.12 check-rt check-6.12-rt: deps
	@k=$$(scripts/kernels.sh release $(patsubst check-%,%,$@)) && \
		$(MAKE) check-vm KVER=$$k

check-7.3 check-7.3-rt check-sid: deps
	@k=$$(scripts/kernel-fetch.sh $(patsubst check-%,%,$@)) && \
		$(MAKE) check-vm KVER=$$k

# The real guests on 6.12 as well: 6.1 and 6.12 collapse huge pages by
# different paths (Documentation/umem.rst, "Huge pages").
check-qemu-6.12: deps
	@k=$$(scripts/kernels.sh release 6.12) && \
		$(MAKE) check-qemu-vm KVER=$$k

# The real-guest VM has room for two guests and one vCPU: with two, the
# nested SVM that the host's QEMU 7.2 emulates fails now and then under
# the L2 guests (Documentation/testing.rst, "Incidents").
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

# The runner fails a failing test, a hang, a WARN (umem_splat.ko), a stall.
# umem_splat.ko builds as umem.ko does: in a copy per kernel, a 7.x one's
# in its Debian root.
SPLAT_DIR := $(BUILD)/splat/$(KVER)
check-runner-vm: all $(BUILD)/runner/fail_test $(BUILD)/runner/hang_test
	@mkdir -p $(SPLAT_DIR) && cp -p selftests/runner/splat/Kbuild \
		selftests/runner/splat/umem_splat.c $(SPLAT_DIR)/
	$(KBUILD_RUN) $(MAKE) -C $(KDIR) M=$(CURDIR)/$(SPLAT_DIR) modules
	selftests/runner/check-runner.sh "$(RUN_VM) --kernel $(KERNEL)" \
		$(MODULE) $(BUILD)/runner/fail_test $(BUILD)/runner/hang_test \
		$(SPLAT_DIR)/umem_splat.ko $(BUILD)/selftests/api \
		selftests/runner/fail/heartbeat.sh

check-bpftrace: module tools
	selftests/tracing/check-bpftrace.sh --kernel $(KERNEL) --module $(MODULE)

shell: all
	$(RUN_VM) --shell $(VM_UMEM) $(POSTCOPY_FILES) --out $(BUILD)/vm/shell $(VM_TESTS)
