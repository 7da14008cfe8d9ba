# SPDX-License-Identifier: GPL-2.0
#
# The kernel cache: the test kernels, the kernel source tarballs, and what
# the build takes from them (the kselftest harness, checkpatch).
#
# A test kernel is Debian's packages extracted into the cache, never
# installed: $(UMEM_CACHE)/kernels/<release>/ holds one release's boot/,
# lib/modules/ and usr/src/ (scripts/kernels.sh; a 7.x kernel by
# scripts/kernel-fetch.sh).

.PHONY: kernel check-kdir

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

# The source tarballs: linux-source-SERIES.tar.xz from its Debian package.
SOURCES := $(UMEM_CACHE)/sources
LINUX_SOURCE ?= $(SOURCES)/linux-source-6.1.tar.xz
LINUX_SOURCE_6_12 ?= $(SOURCES)/linux-source-6.12.tar.xz
$(SOURCES)/linux-source-%.tar.xz:
	scripts/kernels.sh source $* > /dev/null

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
