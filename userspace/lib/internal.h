/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmbox internals: the endpoint handle and the helpers every file uses.
 */
#ifndef _LIBMBOX_INTERNAL_H
#define _LIBMBOX_INTERNAL_H

#include <stdint.h>

#include "mbox.h"

struct mbox_endpoint {
	int fd;
};

/* The library's own flags; the kernel never sees them. */
#define MBOX_LIB_FLAGS		(MBOX_ABSTIME | MBOX_PIDFD)

/* Blocking flags and deadline of one operation, from its timeout. */
struct mbox_wait {
	uint32_t flags;		/* MBOX_NONBLOCK, MBOX_DEADLINE or 0 */
	uint64_t deadline_ns;
};

static inline uint64_t libmbox_ptr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/*
 * Internal functions are named libmbox_*, apart from the public mbox_*
 * ones, and hidden from the shared library (the version script hides them
 * too).
 */
#define LIBMBOX_HIDDEN		__attribute__((visibility("hidden")))

LIBMBOX_HIDDEN int libmbox_ioctl(const struct mbox_endpoint *ep, unsigned long cmd, void *arg);
LIBMBOX_HIDDEN int libmbox_wait_init(struct mbox_wait *w, uint32_t flags, int64_t timeout_ns);
LIBMBOX_HIDDEN int libmbox_attr(const struct mbox_attr *attr,
			    struct mbox_attr *out);
LIBMBOX_HIDDEN int libmbox_len32(size_t len, uint32_t *out);

/* One send, receive or call, whatever it names (enum mbox_addr). */
LIBMBOX_HIDDEN int libmbox_send(struct mbox_endpoint *ep, uint32_t addr, uint32_t to,
		 struct mbox_msg *msg, uint32_t flags, int64_t timeout_ns);
LIBMBOX_HIDDEN int libmbox_receive(struct mbox_endpoint *ep, uint32_t addr, uint32_t from,
		    struct mbox_msg *msg, uint32_t flags, int64_t timeout_ns);
LIBMBOX_HIDDEN int libmbox_send_batch(struct mbox_endpoint *ep, uint32_t addr,
				      uint32_t to, struct mbox_msg *msgs,
				      unsigned int count, uint32_t flags,
				      int64_t timeout_ns);
LIBMBOX_HIDDEN int libmbox_receive_batch(struct mbox_endpoint *ep, uint32_t addr,
					 uint32_t from, struct mbox_msg *msgs,
					 unsigned int count, uint32_t flags,
					 int64_t timeout_ns);
LIBMBOX_HIDDEN int libmbox_call(struct mbox_endpoint *ep, uint32_t addr, uint32_t to,
		 const struct mbox_msg *req, struct mbox_msg *rep,
		 uint32_t flags, int64_t timeout_ns);
LIBMBOX_HIDDEN int libmbox_reply(struct mbox_endpoint *ep, uint64_t token, const void *buf,
		  size_t len, uint32_t addr, uint32_t from,
		  struct mbox_msg *msg, uint32_t flags, int64_t timeout_ns);

#endif /* _LIBMBOX_INTERNAL_H */
