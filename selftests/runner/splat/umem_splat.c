// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only module for `make check-runner`: it WARNs once when loaded and
 * is otherwise inert.  The runner must turn that WARN into a failed run.
 * Never load it anywhere else.
 */
#include <linux/bug.h>
#include <linux/module.h>

static int __init umem_splat_init(void)
{
	WARN_ON(1);
	return 0;
}

static void __exit umem_splat_exit(void)
{
}

module_init(umem_splat_init);
module_exit(umem_splat_exit);

MODULE_DESCRIPTION("umem test bed: deliberate WARN_ON to prove the runner fails");
MODULE_LICENSE("GPL");
