// SPDX-License-Identifier: GPL-2.0
/*
 * runner: hold two KVM VMs, each with one vCPU that never runs, for the
 * whole of a test VM's run: one with an in-kernel irqchip, one without.
 *
 * KVM's static keys are patched into the kernel's text whenever the first
 * VM or vCPU of a kind is created or the last destroyed: the preempt
 * notifiers' (every VM), the local APIC's (vCPUs with an in-kernel APIC)
 * and kvm_has_noapic_vcpu (vCPUs without one).  Under TCG such a patch
 * can leave every CPU looping on its int3 (seen: both CPUs of the test
 * VM in finish_task_switch, at the preempt notifiers' site, for good;
 * 6.12 took an "Oops: int3" in __schedule).  With these two VMs alive no
 * later VM of the kvm tests or of QEMU flips a key.
 *
 * Prints "ready" once both exist, then sleeps until killed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kvm.h>

static int vm_with_vcpu(int kvm, int irqchip)
{
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);

	if (vm < 0)
		return -1;
	if (irqchip && ioctl(vm, KVM_CREATE_IRQCHIP, 0))
		return -1;
	return ioctl(vm, KVM_CREATE_VCPU, 0) < 0 ? -1 : 0;
}

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (kvm < 0 || vm_with_vcpu(kvm, 1) || vm_with_vcpu(kvm, 0)) {
		perror("kvm-hold");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
