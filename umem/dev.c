// SPDX-License-Identifier: GPL-2.0
/*
 * umem: controls (what UMEM_IOC_API, INIT, SERVE, STATS and mmap act on),
 * and the /dev/umem misc device whose fds carry them.
 *
 * Each open() of /dev/umem yields an independent control fd; nothing is
 * named or shared globally, so one user cannot squat on another's state.
 * A umemfs file (fs.c) carries a control too, held by its inode: the
 * names there are the mounter's, in a mount of its own.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/lockdep.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "umem.h"

/*
 * Who may open /dev/umem: like /dev/kvm, root only unless the
 * administrator says otherwise.  devtmpfs nodes belong to root; give the
 * device to a group with a udev rule (Documentation/umem.rst) and this
 * mode, e.g. 0660.  Read at load time; only permission bits for the
 * owner and the group are accepted: memory that blocks its users is not
 * for everyone.
 */
static unsigned int dev_mode = 0600;
module_param(dev_mode, uint, 0444);
MODULE_PARM_DESC(dev_mode, "Mode of /dev/umem at load (default 0600; 0660 with a udev GROUP rule)");

/*
 * As vm.unprivileged_userfaultfd = 0 does for userfaultfd: a caller
 * without CAP_SYS_PTRACE may make a /dev/umem region only with
 * UMEM_INIT_KERNEL_EFAULT, so that no kernel path it can reach blocks on
 * a page it serves.  Refused (EPERM), not forced: the caller states its
 * policy.  A umemfs mount states its own (fs.c).
 */
static bool unprivileged_kernel_efault;
module_param(unprivileged_kernel_efault, bool, 0644);
MODULE_PARM_DESC(unprivileged_kernel_efault, "Regions made on /dev/umem without CAP_SYS_PTRACE must be UMEM_INIT_KERNEL_EFAULT (default N)");

/**
 * umem_ctl_alloc - a new control: no handshake, no region
 *
 * A control is what UMEM_IOC_API, UMEM_IOC_INIT, UMEM_IOC_SERVE,
 * UMEM_IOC_STATS and mmap operate on: one per open() of /dev/umem, one
 * per regular file of a umemfs mount (fs.c).
 *
 * Return: the control, or NULL.
 */
struct umem_ctl *umem_ctl_alloc(void)
{
	struct umem_ctl *ctl;

	ctl = kzalloc(sizeof(*ctl), GFP_KERNEL_ACCOUNT);
	if (ctl)
		mutex_init(&ctl->lock);
	return ctl;
}

/**
 * umem_ctl_free - the control is gone for good
 * @ctl: the control, or NULL
 *
 * No server can adopt its region any more: see umem_region_ctl_closed().
 */
void umem_ctl_free(struct umem_ctl *ctl)
{
	if (!ctl)
		return;
	if (ctl->region) {
		umem_region_ctl_closed(ctl->region);
		umem_region_put(ctl->region);
	}
	mutex_destroy(&ctl->lock);
	kfree(ctl);
}

static int umem_open(struct inode *inode, struct file *file)
{
	struct umem_ctl *ctl = umem_ctl_alloc();

	if (!ctl)
		return -ENOMEM;
	file->private_data = ctl;
	return 0;
}

static int umem_release(struct inode *inode, struct file *file)
{
	umem_ctl_free(file->private_data);
	return 0;
}

/* Would a handshake with @api, or the one made already, conflict?  Locked. */
static bool umem_api_conflicts(struct umem_ctl *ctl, const struct umem_api *api)
{
	lockdep_assert_held(&ctl->lock);
	return ctl->api && (ctl->api != api->api ||
			    ctl->features != api->features);
}

/*
 * A failed handshake changes nothing: the answer is copied out first,
 * without ctl->lock (the argument may fault, even on a umem mapping),
 * and the handshake recorded only once that succeeded.  The answer does
 * not depend on the fd's state, so a concurrent handshake on the same fd
 * can only make the second one fail with EBUSY, never change it.  In
 * version 1 only one (api, features) pair is valid, so EBUSY cannot
 * occur; it is there for later versions.
 */
static long umem_ioctl_api(struct umem_ctl *ctl, void __user *argp)
{
	struct umem_api api, out;
	long ret = 0;

	if (copy_from_user(&api, argp, sizeof(api)))
		return -EFAULT;
	if (api.api != UMEM_API_VERSION ||
	    (api.features & ~UMEM_FEATURES_ALL) ||
	    !umem_reserved_zero(api.reserved, ARRAY_SIZE(api.reserved)))
		return -EINVAL;

	mutex_lock(&ctl->lock);
	if (umem_api_conflicts(ctl, &api))
		ret = -EBUSY;
	mutex_unlock(&ctl->lock);
	if (ret)
		return ret;

	memset(&out, 0, sizeof(out));
	out.api = UMEM_API_VERSION;
	out.page_size = PAGE_SIZE;
	out.features = UMEM_FEATURES_ALL;
	if (copy_to_user(argp, &out, sizeof(out)))
		return -EFAULT;

	mutex_lock(&ctl->lock);
	if (umem_api_conflicts(ctl, &api)) {
		ret = -EBUSY;
	} else if (!ctl->api) {
		/* fdinfo reads it without the lock. */
		WRITE_ONCE(ctl->features, api.features);
		WRITE_ONCE(ctl->api, api.api);
	}
	mutex_unlock(&ctl->lock);
	return ret;
}

/*
 * May UMEM_IOC_INIT state this policy?  Not one weaker than its umemfs
 * mount's: the mount's kernel_efault kept, a deadline no longer than the
 * mount's, or any user who can create a file there could drop them.  On
 * /dev/umem, see unprivileged_kernel_efault.  Unknown flags are left to
 * umem_region_create() (EINVAL).
 */
static bool umem_init_permitted(struct umem_ctl *ctl,
				const struct umem_init *init)
{
	if (init->flags & ~UMEM_INIT_FLAGS_ALL)
		return true;
	if (ctl->mount_policy)
		return (init->flags & ctl->mount_flags) == ctl->mount_flags &&
		       init->detach_timeout_ms <= ctl->mount_timeout_ms;
	return !READ_ONCE(unprivileged_kernel_efault) ||
	       (init->flags & UMEM_INIT_KERNEL_EFAULT) ||
	       capable(CAP_SYS_PTRACE);
}

/**
 * umem_ctl_create - make @ctl's region
 * @ctl: the control
 * @init: size and policy, already copied in
 * @need_api: UMEM_IOC_INIT: fail with -ENXIO before a handshake, and
 *	      with -EPERM for a policy umem_init_permitted() refuses
 *
 * Return: 0, -ENXIO, -EBUSY (@ctl has a region already), -EPERM, or the
 * errors of umem_region_create().
 */
int umem_ctl_create(struct umem_ctl *ctl, const struct umem_init *init,
		    bool need_api)
{
	struct umem_region *region;
	int ret = 0;

	mutex_lock(&ctl->lock);
	if (need_api && !ctl->api) {
		ret = -ENXIO;
	} else if (ctl->region) {
		ret = -EBUSY;
	} else if (need_api && !umem_init_permitted(ctl, init)) {
		ret = -EPERM;
	} else {
		region = umem_region_create(init);
		if (IS_ERR(region))
			ret = PTR_ERR(region);
		else	/* Set once; pairs with umem_ctl_region(). */
			smp_store_release(&ctl->region, region);
	}
	mutex_unlock(&ctl->lock);
	return ret;
}

static long umem_ioctl_init(struct umem_ctl *ctl, void __user *argp)
{
	struct umem_init init;

	if (copy_from_user(&init, argp, sizeof(init)))
		return -EFAULT;
	return umem_ctl_create(ctl, &init, true);
}

/**
 * umem_ctl_region - the control's region, or NULL before it has one
 * @ctl: the control
 *
 * Once set it stays for the control's life, so callers use it without
 * ctl->lock (and may fault on user memory, which ctl->lock must not be
 * held across: mmap takes it the other way round).
 */
struct umem_region *umem_ctl_region(struct umem_ctl *ctl)
{
	/* Pairs with the store-release in umem_ctl_create(). */
	return smp_load_acquire(&ctl->region);
}

/**
 * umem_ctl_ioctl - the ioctls of a control, for any file that carries one
 * @ctl: the control
 * @file: the file the ioctl came on: only its mode is looked at
 * @cmd: the ioctl
 * @arg: its argument
 *
 * Return: as documented for each ioctl; -ENOTTY for an unknown one.
 */
long umem_ctl_ioctl(struct umem_ctl *ctl, struct file *file, unsigned int cmd,
		    unsigned long arg)
{
	void __user *argp = (void __user *)arg;
	struct umem_region *region;

	switch (cmd) {
	case UMEM_IOC_API:
		return umem_ioctl_api(ctl, argp);
	case UMEM_IOC_INIT:
	case UMEM_IOC_SERVE:
		/* A read-only fd may look, never create or supply. */
		if (!(file->f_mode & FMODE_WRITE))
			return -EBADF;
		if (cmd == UMEM_IOC_INIT)
			return umem_ioctl_init(ctl, argp);
		break;
	case UMEM_IOC_STATS:
		break;
	default:
		return -ENOTTY;
	}

	region = umem_ctl_region(ctl);
	if (!region)
		return -ENXIO;
	if (cmd == UMEM_IOC_SERVE)
		return umem_serve(region, argp);
	return umem_ioctl_stats(region, argp);
}

/* mmap of a control: a guest mapping of its region, -ENXIO without one. */
int umem_ctl_mmap(struct umem_ctl *ctl, struct vm_area_struct *vma)
{
	struct umem_region *region = umem_ctl_region(ctl);

	if (!region)
		return -ENXIO;
	return umem_mmap_region(region, vma);
}

void umem_ctl_show_fdinfo(struct umem_ctl *ctl, struct seq_file *m)
{
	struct umem_region *region = umem_ctl_region(ctl);

	seq_printf(m, "umem-api:\t%u\n", READ_ONCE(ctl->api));
	if (region)
		umem_show_fdinfo(region, m);
	else
		seq_puts(m, "umem-state:\tnew\n");
}

static long umem_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	return umem_ctl_ioctl(file->private_data, file, cmd, arg);
}

static int umem_mmap(struct file *file, struct vm_area_struct *vma)
{
	return umem_ctl_mmap(file->private_data, vma);
}

static void umem_show_ctl_fdinfo(struct seq_file *m, struct file *file)
{
	umem_ctl_show_fdinfo(file->private_data, m);
}

static const struct file_operations umem_fops = {
	.owner		= THIS_MODULE,
	.open		= umem_open,
	.release	= umem_release,
	.unlocked_ioctl	= umem_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= umem_mmap,
	/* 2 MiB-aligned where THP exists: see UMEM_INIT_HUGE. */
	.get_unmapped_area = thp_get_unmapped_area,
	.show_fdinfo	= umem_show_ctl_fdinfo,
	.llseek		= noop_llseek,
};

static struct miscdevice umem_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "umem",
	.fops	= &umem_fops,
	.mode	= 0600,
};

/**
 * umem_dev_init - register /dev/umem, with the mode dev_mode states
 *
 * Return: 0, -EINVAL (a dev_mode beyond 0660), or misc_register()'s error.
 */
int __init umem_dev_init(void)
{
	int ret;

	if (dev_mode & ~0660) {
		pr_err("dev_mode %#o: owner and group bits only, at most 0660\n",
		       dev_mode);
		return -EINVAL;
	}
	umem_misc.mode = dev_mode;
	ret = misc_register(&umem_misc);
	if (ret)
		pr_err("cannot register /dev/umem: %d\n", ret);
	return ret;
}

void umem_dev_exit(void)
{
	misc_deregister(&umem_misc);
}
