# SPDX-License-Identifier: GPL-2.0
#
# The debug kernel (KASAN, lockdep, kmemleak: selftests/runner/debug.config)
# and what runs on it: make check-debug on 6.1, 6.12 and 7.3, make fuzz.

.PHONY: debug-kernel check-debug check-debug-vm check-debug-6.12 check-debug-7.3 \
	fuzz fuzz-vm

$(foreach t,check-debug fuzz,$(eval $(call with-deps,$(t))))

# The debug kernel is built from DEBUG_SOURCE, a kernel source tarball
# (6.1's; check-debug-6.12 gives 6.12's), and the module against it.
# The debug kernel runs 3-10x slower: each of its binaries gets longer.
DEBUG_TEST_TIMEOUT ?= 900
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
		$(DEBUG_VM) $(POSTCOPY_FILES) $(ONLY_ENV) --out $(BUILD)/vm/check-debug$(DEBUG_NAME) $(VM_TESTS)

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
