/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mbox internals shared by the files of the module.
 */
#ifndef _MBOX_INTERNAL_H
#define _MBOX_INTERNAL_H

#include <linux/types.h>
#include <linux/mbox.h>

#if IS_ENABLED(CONFIG_KUNIT)
#include <kunit/visibility.h>
#else
/* No KUnit (Debian's kernels; 6.1 lacks the header): nothing to export. */
#define EXPORT_SYMBOL_IF_KUNIT(symbol) static_assert(1, #symbol)
#endif

/* Every feature this build of the module implements. */
#define MBOX_FEATURES_ALL	(MBOX_FEATURE_VERSION)

/**
 * struct mbox_endpoint - what one open() of /dev/mbox creates
 * @pid: the opener's thread-group pid, for reporting
 *
 * The endpoint lives as long as its struct file: it is created by open
 * and freed by the last fput.
 */
struct mbox_endpoint {
	struct pid *pid;
};

void mbox_version_fill(struct mbox_version *v);

#endif /* _MBOX_INTERNAL_H */
