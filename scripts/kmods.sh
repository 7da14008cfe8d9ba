#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The modules of the kernel's own that the test VM loads after umem.ko, in
# load order, as paths in the kernel cache (scripts/kernels.sh).  Each is
# PATH.ko, or Debian 6.12's PATH.ko.xz (the runner decompresses it), or
# nothing: built in, or elsewhere in this kernel.
#
#   kmods.sh ROOT RELEASE GROUP...
#
#   veth   built in on the debug kernel
#   tls    kernel TLS for the migration channels (tools/umemctl/tls.c) and
#          the AES-GCM its records need: the initramfs has no modprobe to
#          load it on demand (TLS_TX would fail with ENOENT).  gf128mul
#          moved to lib/crypto in 6.12, where gcm needs crypto_null.
#   kvm    nested KVM (--cpu max exposes SVM); built in on the debug
#          kernel.  None on PREEMPT_RT: KVM refuses to load there without a
#          constant TSC ("RT requires X86_FEATURE_CONSTANT_TSC",
#          EOPNOTSUPP), which TCG cannot offer (no invtsc), so an -rt
#          kernel's VM has no /dev/kvm.
#   vhost  vhost-net and a tap device (selftests/umem/vhost.c); the debug
#          kernel has none, and those tests skip.
set -u

[ $# -ge 2 ] || { echo "usage: $0 ROOT RELEASE GROUP..." >&2; exit 2; }
dir=$1/lib/modules/$2/kernel release=$2
shift 2

for group in "$@"; do
	case "$group" in
	veth) mods="drivers/net/veth" ;;
	tls) mods="net/tls/tls crypto/gf128mul lib/crypto/gf128mul
		crypto/ghash-generic crypto/ctr crypto/crypto_null crypto/gcm
		crypto/cryptd crypto/crypto_simd arch/x86/crypto/aesni-intel" ;;
	kvm) mods="virt/lib/irqbypass drivers/crypto/ccp/ccp arch/x86/kvm/kvm
		arch/x86/kvm/kvm-amd"
	     case "$release" in *-rt-*) mods="" ;; esac ;;
	vhost) mods="drivers/net/tun drivers/net/tap drivers/vhost/vhost_iotlb
		drivers/vhost/vhost drivers/vhost/vhost_net" ;;
	*) echo "kmods: unknown group '$group'" >&2; exit 2 ;;
	esac
	for m in $mods; do
		for f in "$dir/$m.ko" "$dir/$m.ko.xz"; do
			if [ -e "$f" ]; then
				echo "$f"
				break
			fi
		done
	done
done
