# SPDX-License-Identifier: GPL-2.0
#
# What ships: the man pages, the Debian packages (umem-dkms, umem-tools),
# the module under DKMS, and make install.

.PHONY: man check-man install-man deb deb-deps check-deb dkms-install install-dkms-src \
	check-dkms install install-module

PREFIX ?= /usr/local
MANDIR ?= $(PREFIX)/share/man
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
