# SPDX-License-Identifier: GPL-2.0
#
# make style: checkpatch --strict (6.1's and 6.12's), W=1 and sparse
# against each kernel (scripts/style.sh).  It builds against KVER's and
# 6.12's trees, fetched into the cache, and the 7.x kernels there (in
# their build roots); only KDIR when given.

.PHONY: style

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
