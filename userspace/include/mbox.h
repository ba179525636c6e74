/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmbox: the C library of mbox, message-passing IPC through /dev/mbox.
 *
 * Conventions, for every function:
 *  - names are mbox_<object>_<verb>;
 *  - handles are opaque;
 *  - the return value is 0 (or a non-negative count) on success and a
 *    negative errno on failure; errno itself is left untouched.
 */
#ifndef _LIBMBOX_H
#define _LIBMBOX_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An endpoint: one open of /dev/mbox. */
struct mbox_endpoint;

/* Open /dev/mbox (or $MBOX_DEVICE) as a new endpoint in *epp. */
int mbox_endpoint_open(struct mbox_endpoint **epp);
/* Close the endpoint and free the handle; NULL is a no-op. */
int mbox_endpoint_close(struct mbox_endpoint *ep);
/* The endpoint's file descriptor, for poll/select/epoll. */
int mbox_endpoint_fd(const struct mbox_endpoint *ep);
/* The loaded module's ABI version and MBOX_FEATURE_* bits; any may be NULL. */
int mbox_endpoint_query(struct mbox_endpoint *ep, uint32_t *abi_major,
			uint32_t *abi_minor, uint64_t *features);

#ifdef __cplusplus
}
#endif

#endif /* _LIBMBOX_H */
