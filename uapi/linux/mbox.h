/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * mbox: message-passing IPC through /dev/mbox.
 *
 * Every ioctl takes a pointer to a struct whose first member is
 * "__u32 size", set by the caller to sizeof the struct as it knows it.
 * The kernel accepts any size from the first version of the struct up:
 * a shorter one is EINVAL, a longer one is accepted if every byte past
 * what the kernel knows is zero (E2BIG otherwise), and output is written
 * back only up to the caller's size.  Every flags and reserved field
 * must be zero where not documented otherwise (EINVAL).  Unknown ioctls
 * give ENOTTY.  See Documentation/abi.rst.
 */
#ifndef _UAPI_LINUX_MBOX_H
#define _UAPI_LINUX_MBOX_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

#define MBOX_DEVICE_NAME	"mbox"

#define MBOX_ABI_MAJOR		1
#define MBOX_ABI_MINOR		0

/* ioctl numbers: type 0xB9, the struct size travels in the struct. */
#define MBOX_IOCTL_TYPE		0xB9

enum {
	MBOX_CMD_VERSION = 0x00,
};

/* Feature bits reported by MBOX_IOC_VERSION. */
#define MBOX_FEATURE_VERSION	_BITULL(0)	/* this query */

/**
 * struct mbox_version - MBOX_IOC_VERSION: ABI version and features
 * @size: in: sizeof(struct mbox_version)
 * @flags: in: must be 0
 * @abi_major: out: MBOX_ABI_MAJOR of the loaded module; changes only
 *	when an existing ioctl changes incompatibly (never, so far)
 * @abi_minor: out: MBOX_ABI_MINOR; grows when ioctls or fields are added
 * @features: out: MBOX_FEATURE_* bits the loaded module supports
 */
struct mbox_version {
	__u32 size;
	__u32 flags;
	__u32 abi_major;
	__u32 abi_minor;
	__u64 features;
};

#define MBOX_IOC_VERSION	_IO(MBOX_IOCTL_TYPE, MBOX_CMD_VERSION)

#endif /* _UAPI_LINUX_MBOX_H */
