// SPDX-License-Identifier: GPL-2.0
/*
 * umem: umemfs, a small filesystem whose regular files are regions, for
 * VMMs that take guest RAM from a file and know nothing of umem's ioctls
 * (QEMU's memory-backend-file mem-path=, libvirt's memory_backing_dir).
 *
 *   mount -t umem -o detach_timeout_ms=MS[,kernel_efault][,mode=M]
 *         [,uid=N][,gid=N][,huge=never|always|within_size|advise] umem DIR
 *
 * The mount states the failure policy of every region made in it: there
 * is no default (no hidden defaults), so a mount without
 * detach_timeout_ms fails.  A regular file is created empty; it carries
 * a control, exactly as an open of /dev/umem does, held by its inode,
 * not by an fd or a name: QEMU unlinks the file it made with mkstemp()
 * at once, and the daemon opens it again through /proc/PID/fd/N.
 *
 *   - The first ftruncate() to a non-zero size creates the region with
 *     the mount's policy, as UMEM_IOC_INIT would; the size never changes
 *     after (EBUSY), truncating to the same size does nothing.
 *     UMEM_IOC_INIT on an empty file may state a policy of its own, no
 *     weaker than the mount's (EPERM): the mount's kernel_efault kept,
 *     a detach_timeout_ms no longer than the mount's.  Whoever can create
 *     a file in the mount could otherwise drop kernel_efault.  huge= is
 *     no policy: such an UMEM_IOC_INIT states its own huge flags.
 *   - huge= gives the regions made by ftruncate() UMEM_INIT_HUGE
 *     (always, within_size: a region is its file's size, so every whole
 *     extent is within it) or UMEM_INIT_HUGE | UMEM_INIT_HUGE_ADVISE
 *     (advise), as tmpfs's option of that name; never (the default)
 *     gives neither.  A kernel without transparent huge pages
 *     (PREEMPT_RT) refuses any value but never.
 *   - mmap(MAP_SHARED), the ioctls and fdinfo are those of a control fd
 *     (dev.c), on every fd of the file: the daemon's UMEM_IOC_SERVE too.
 *   - fallocate(PUNCH_HOLE | KEEP_SIZE) punches the region's shmem file
 *     (QEMU's discard).  A present page then reads as zeros; a missing
 *     one stays missing.
 *   - The control is gone (umem_region_ctl_closed()) when the inode is:
 *     unlinked with no fd left, or at umount.
 *
 * The files hold no page cache of their own: read() and write() are not
 * supported; the guest memory is reached through mappings only.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/fs_parser.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/statfs.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "umem.h"

/**
 * struct umem_fs_opts - a mount's options
 * @detach_timeout_ms:	the detach deadline of its regions
 * @flags:		UMEM_INIT_* flags of its regions
 * @mode:		permission bits of the root directory
 * @uid:		owner of the root directory
 * @gid:		group of the root directory
 * @have_timeout:	detach_timeout_ms was given
 * @have_huge:		huge= was given
 * @huge:		the huge= value, UMEM_FS_HUGE_*
 */
struct umem_fs_opts {
	u32 detach_timeout_ms;
	u32 flags;
	u32 huge;
	umode_t mode;
	kuid_t uid;
	kgid_t gid;
	bool have_timeout;
	bool have_huge;
};

enum {
	umem_opt_detach_timeout_ms,
	umem_opt_kernel_efault,
	umem_opt_mode,
	umem_opt_uid,
	umem_opt_gid,
	umem_opt_huge,
};

/* huge=, with tmpfs's values; the index of umem_fs_huge_names[]. */
enum {
	UMEM_FS_HUGE_NEVER,
	UMEM_FS_HUGE_ALWAYS,
	UMEM_FS_HUGE_WITHIN_SIZE,
	UMEM_FS_HUGE_ADVISE,
};

static const struct constant_table umem_fs_huge_names[] = {
	{ "never",		UMEM_FS_HUGE_NEVER },
	{ "always",		UMEM_FS_HUGE_ALWAYS },
	{ "within_size",	UMEM_FS_HUGE_WITHIN_SIZE },
	{ "advise",		UMEM_FS_HUGE_ADVISE },
	{}
};

/* The UMEM_INIT_* flags of a huge= value. */
static u32 umem_fs_huge_flags(u32 huge)
{
	switch (huge) {
	case UMEM_FS_HUGE_ALWAYS:
	case UMEM_FS_HUGE_WITHIN_SIZE:
		return UMEM_INIT_HUGE;
	case UMEM_FS_HUGE_ADVISE:
		return UMEM_INIT_HUGE | UMEM_INIT_HUGE_ADVISE;
	}
	return 0;
}

static const struct fs_parameter_spec umem_fs_params[] = {
	fsparam_u32("detach_timeout_ms", umem_opt_detach_timeout_ms),
	fsparam_flag("kernel_efault", umem_opt_kernel_efault),
	fsparam_u32oct("mode", umem_opt_mode),
	fsparam_u32("uid", umem_opt_uid),
	fsparam_u32("gid", umem_opt_gid),
	fsparam_enum("huge", umem_opt_huge, umem_fs_huge_names),
	{}
};

static const struct super_operations umem_fs_sops;
static const struct inode_operations umem_fs_dir_iops;
static const struct inode_operations umem_fs_file_iops;
static const struct file_operations umem_fs_file_fops;

static struct umem_fs_opts *umem_fs_sb_opts(struct super_block *sb)
{
	return sb->s_fs_info;
}

static struct umem_ctl *umem_fs_ctl(struct inode *inode)
{
	return inode->i_private;
}

/*
 * A new inode of @sb: a directory, or a regular file with its control.
 * Other types (devices, fifos, sockets, symlinks) are not made here.
 */
static struct inode *umem_fs_new_inode(struct super_block *sb,
				       const struct inode *dir, umode_t mode)
{
	struct inode *inode = new_inode(sb);

	if (!inode)
		return ERR_PTR(-ENOMEM);
	inode->i_ino = get_next_ino();
	inode_init_owner(umem_nop_idmap, inode, dir, mode);
	umem_inode_touch(inode, true);
	if (S_ISDIR(mode)) {
		inode->i_op = &umem_fs_dir_iops;
		inode->i_fop = &simple_dir_operations;
		/* "." and the parent's entry. */
		inc_nlink(inode);
	} else {
		struct umem_fs_opts *opts = umem_fs_sb_opts(sb);
		struct umem_ctl *ctl = umem_ctl_alloc();

		if (!ctl) {
			iput(inode);
			return ERR_PTR(-ENOMEM);
		}
		/* UMEM_IOC_INIT may strengthen the mount's policy, not weaken it. */
		ctl->mount_policy = true;
		ctl->mount_flags = opts->flags & UMEM_INIT_KERNEL_EFAULT;
		ctl->mount_timeout_ms = opts->detach_timeout_ms;
		inode->i_private = ctl;
		inode->i_op = &umem_fs_file_iops;
		inode->i_fop = &umem_fs_file_fops;
	}
	return inode;
}

static int umem_fs_mknod(struct inode *dir, struct dentry *dentry,
			 umode_t mode)
{
	struct inode *inode = umem_fs_new_inode(dir->i_sb, dir, mode);

	if (IS_ERR(inode))
		return PTR_ERR(inode);
	/* The name pins the inode until it is unlinked (or at umount). */
	umem_d_pin(dentry, inode);
	umem_inode_touch(dir, false);
	return 0;
}

/* The signatures of ->create and ->mkdir vary by kernel: compat.h. */
static int umem_fs_create(UMEM_IDMAP *idmap, struct inode *dir,
			  struct dentry *dentry, UMEM_CREATE_MODE)
{
	return umem_fs_mknod(dir, dentry, (mode & S_IALLUGO) | S_IFREG);
}

static UMEM_MKDIR_RET umem_fs_mkdir(UMEM_IDMAP *idmap, struct inode *dir,
				    struct dentry *dentry, umode_t mode)
{
	int ret = umem_fs_mknod(dir, dentry, (mode & S_IALLUGO) | S_IFDIR);

	if (!ret)
		inc_nlink(dir);
	return umem_mkdir_ret(ret);
}

static const struct inode_operations umem_fs_dir_iops = {
	.lookup		= simple_lookup,
	.create		= umem_fs_create,
	.link		= simple_link,
	.unlink		= simple_unlink,
	.mkdir		= umem_fs_mkdir,
	.rmdir		= simple_rmdir,
	.rename		= simple_rename,
};

/*
 * A size for an empty file: the region, with the mount's policy.  Called
 * with the inode locked (setattr).
 */
static int umem_fs_resize(struct inode *inode, loff_t size)
{
	struct umem_fs_opts *opts = umem_fs_sb_opts(inode->i_sb);
	struct umem_ctl *ctl = umem_fs_ctl(inode);
	struct umem_init init = {
		.size = size,
		.flags = opts->flags | umem_fs_huge_flags(opts->huge),
		.detach_timeout_ms = opts->detach_timeout_ms,
	};
	struct umem_region *region;
	int ret;

	region = umem_ctl_region(ctl);
	if (region)
		return region->size == size ? 0 : -EBUSY;
	/* No region, no size: truncating an empty file to 0 does nothing. */
	if (!size)
		return 0;
	ret = umem_ctl_create(ctl, &init, false);
	/* UMEM_IOC_INIT may have made it meanwhile (it takes no inode lock). */
	if (ret == -EBUSY && umem_ctl_region(ctl)->size == size)
		ret = 0;
	if (!ret)
		i_size_write(inode, umem_ctl_region(ctl)->size);
	return ret;
}

static int umem_fs_setattr(UMEM_IDMAP *idmap, struct dentry *dentry,
			   struct iattr *attr)
{
	struct inode *inode = d_inode(dentry);
	int ret;

	ret = setattr_prepare(idmap, dentry, attr);
	if (ret)
		return ret;
	if (attr->ia_valid & ATTR_SIZE) {
		ret = umem_fs_resize(inode, attr->ia_size);
		if (ret)
			return ret;
	}
	/* Modes, owners and times; the size is the region's. */
	setattr_copy(idmap, inode, attr);
	return 0;
}

static const struct inode_operations umem_fs_file_iops = {
	.setattr	= umem_fs_setattr,
	.getattr	= simple_getattr,
};

static int umem_fs_open(struct inode *inode, struct file *file)
{
	file->private_data = umem_fs_ctl(inode);
	return 0;
}

static long umem_fs_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	struct inode *inode = file_inode(file);
	long ret;

	ret = umem_ctl_ioctl(file->private_data, file, cmd, arg);
	if (!ret && cmd == UMEM_IOC_INIT) {
		/* The region made here: the file's size is its size. */
		inode_lock(inode);
		i_size_write(inode, umem_ctl_region(file->private_data)->size);
		inode_unlock(inode);
	}
	return ret;
}

static int umem_fs_mmap(struct file *file, struct vm_area_struct *vma)
{
	return umem_ctl_mmap(file->private_data, vma);
}

/*
 * QEMU's discard of guest RAM (balloon, virtio-mem, ram_block_discard_range)
 * punches a hole in its mem-path fd.  The hole is punched in the region's
 * shmem file, as MADV_REMOVE on a mapping does (fault.c): every mapping
 * of the range is zapped (KVM's MMU notifiers see it), a present page
 * reads as zeros on its next access, and a missing page stays missing:
 * it is requested, and waited for, as before.  Pages never become
 * present behind the daemon's back, so a page the guest writes after the
 * discard can never be overwritten by a fill of the daemon's that was
 * still on its way.  Other modes: EOPNOTSUPP.
 */
static long umem_fs_fallocate(struct file *file, int mode, loff_t offset,
			      loff_t len)
{
	struct umem_region *region = umem_ctl_region(file->private_data);

	if (mode != (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	if (!region)
		return -ENXIO;
	return region->shmem->f_op->fallocate(region->shmem, mode, offset,
					      len);
}

static void umem_fs_show_fdinfo(struct seq_file *m, struct file *file)
{
	umem_ctl_show_fdinfo(file->private_data, m);
}

static const struct file_operations umem_fs_file_fops = {
	.owner		= THIS_MODULE,
	.open		= umem_fs_open,
	.unlocked_ioctl	= umem_fs_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= umem_fs_mmap,
	/* 2 MiB-aligned where THP exists: see UMEM_INIT_HUGE. */
	.get_unmapped_area = thp_get_unmapped_area,
	.fallocate	= umem_fs_fallocate,
	.llseek		= generic_file_llseek,
	.fsync		= noop_fsync,
	.show_fdinfo	= umem_fs_show_fdinfo,
};

/*
 * The last reference to an unlinked file (or every file, at umount):
 * its control goes, and no server can adopt its region any more.
 */
static void umem_fs_evict_inode(struct inode *inode)
{
	struct umem_ctl *ctl = S_ISREG(inode->i_mode) ? umem_fs_ctl(inode) :
		NULL;

	truncate_inode_pages_final(&inode->i_data);
	clear_inode(inode);
	inode->i_private = NULL;
	umem_ctl_free(ctl);
}

static int umem_fs_show_options(struct seq_file *m, struct dentry *root)
{
	struct umem_fs_opts *opts = umem_fs_sb_opts(root->d_sb);

	seq_printf(m, ",detach_timeout_ms=%u", opts->detach_timeout_ms);
	if (opts->flags & UMEM_INIT_KERNEL_EFAULT)
		seq_puts(m, ",kernel_efault");
	seq_printf(m, ",mode=%o", opts->mode);
	if (!uid_eq(opts->uid, GLOBAL_ROOT_UID))
		seq_printf(m, ",uid=%u",
			   from_kuid_munged(&init_user_ns, opts->uid));
	if (!gid_eq(opts->gid, GLOBAL_ROOT_GID))
		seq_printf(m, ",gid=%u",
			   from_kgid_munged(&init_user_ns, opts->gid));
	if (opts->huge != UMEM_FS_HUGE_NEVER)
		seq_printf(m, ",huge=%s", umem_fs_huge_names[opts->huge].name);
	return 0;
}

static const struct super_operations umem_fs_sops = {
	.statfs		= simple_statfs,
	.drop_inode	= umem_drop_inode,
	.evict_inode	= umem_fs_evict_inode,
	.show_options	= umem_fs_show_options,
};

static int umem_fs_parse_param(struct fs_context *fc,
			       struct fs_parameter *param)
{
	struct umem_fs_opts *opts = fc->fs_private;
	struct fs_parse_result result;
	int opt;

	opt = fs_parse(fc, umem_fs_params, param, &result);
	if (opt < 0)
		return opt;
	switch (opt) {
	case umem_opt_detach_timeout_ms:
		opts->detach_timeout_ms = result.uint_32;
		opts->have_timeout = true;
		break;
	case umem_opt_kernel_efault:
		opts->flags |= UMEM_INIT_KERNEL_EFAULT;
		break;
	case umem_opt_mode:
		if (result.uint_32 & ~S_IALLUGO)
			return invalfc(fc, "mode=%o: permission bits only",
				       result.uint_32);
		opts->mode = result.uint_32;
		break;
	case umem_opt_uid:
		opts->uid = make_kuid(current_user_ns(), result.uint_32);
		if (!uid_valid(opts->uid))
			return invalfc(fc, "uid=%u: not mapped", result.uint_32);
		break;
	case umem_opt_gid:
		opts->gid = make_kgid(current_user_ns(), result.uint_32);
		if (!gid_valid(opts->gid))
			return invalfc(fc, "gid=%u: not mapped", result.uint_32);
		break;
	case umem_opt_huge:
		if (result.uint_32 != UMEM_FS_HUGE_NEVER &&
		    !IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE))
			return invalfc(fc, "huge=%s: no transparent huge pages (PREEMPT_RT?)",
				       param->string);
		opts->huge = result.uint_32;
		opts->have_huge = true;
		break;
	}
	return 0;
}

static int umem_fs_fill_super(struct super_block *sb, struct fs_context *fc)
{
	struct umem_fs_opts *opts = fc->fs_private;
	struct inode *root;

	sb->s_maxbytes = MAX_LFS_FILESIZE;
	sb->s_blocksize = PAGE_SIZE;
	sb->s_blocksize_bits = PAGE_SHIFT;
	sb->s_magic = UMEM_FS_MAGIC;
	sb->s_op = &umem_fs_sops;
	sb->s_time_gran = 1;
	/* The options move to the superblock, for its life. */
	sb->s_fs_info = opts;
	fc->fs_private = NULL;

	root = umem_fs_new_inode(sb, NULL, S_IFDIR | opts->mode);
	if (IS_ERR(root))
		return PTR_ERR(root);
	root->i_uid = opts->uid;
	root->i_gid = opts->gid;
	sb->s_root = d_make_root(root);
	if (!sb->s_root)
		return -ENOMEM;
	return 0;
}

static int umem_fs_get_tree(struct fs_context *fc)
{
	struct umem_fs_opts *opts = fc->fs_private;

	/* DESIGN.md: no hidden defaults for the failure policy. */
	if (!opts->have_timeout)
		return invalfc(fc, "detach_timeout_ms= is required (no hidden defaults)");
	return get_tree_nodev(fc, umem_fs_fill_super);
}

/*
 * A remount may restate the options (mount(8) passes those of
 * /proc/mounts again) but not change them: regions made already keep
 * theirs, and one mount has one policy.
 */
static int umem_fs_reconfigure(struct fs_context *fc)
{
	struct umem_fs_opts *old = umem_fs_sb_opts(fc->root->d_sb);
	struct umem_fs_opts *new = fc->fs_private;

	if ((new->have_timeout &&
	     new->detach_timeout_ms != old->detach_timeout_ms) ||
	    (new->have_huge && new->huge != old->huge) ||
	    (new->flags & ~old->flags))
		return invalfc(fc, "the options of a mount cannot change: umount and mount again");
	return 0;
}

static void umem_fs_free_fc(struct fs_context *fc)
{
	kfree(fc->fs_private);
}

static const struct fs_context_operations umem_fs_context_ops = {
	.free		= umem_fs_free_fc,
	.parse_param	= umem_fs_parse_param,
	.get_tree	= umem_fs_get_tree,
	.reconfigure	= umem_fs_reconfigure,
};

static int umem_fs_init_fs_context(struct fs_context *fc)
{
	struct umem_fs_opts *opts;

	opts = kzalloc(sizeof(*opts), GFP_KERNEL);
	if (!opts)
		return -ENOMEM;
	/* Like /dev/umem: the root's until the mounter says otherwise. */
	opts->mode = 0700;
	opts->uid = GLOBAL_ROOT_UID;
	opts->gid = GLOBAL_ROOT_GID;
	fc->fs_private = opts;
	fc->ops = &umem_fs_context_ops;
	return 0;
}

static void umem_fs_kill_sb(struct super_block *sb)
{
	struct umem_fs_opts *opts = umem_fs_sb_opts(sb);

	/* Drops the names' pins: every file's control goes (evict). */
	umem_kill_pinned_super(sb);
	kfree(opts);
}

static struct file_system_type umem_fs_type = {
	.owner			= THIS_MODULE,
	.name			= "umem",
	.init_fs_context	= umem_fs_init_fs_context,
	.parameters		= umem_fs_params,
	.kill_sb		= umem_fs_kill_sb,
};
MODULE_ALIAS_FS("umem");

int __init umem_fs_init(void)
{
	return register_filesystem(&umem_fs_type);
}

void umem_fs_exit(void)
{
	unregister_filesystem(&umem_fs_type);
}
