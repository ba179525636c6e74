/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the selftests written on libmbox (userspace/include/mbox.h)
 * instead of the raw ioctls: a libmbox operation run in a thread of its
 * own, the cleanup of what a test made, and a few message shorthands.
 *
 * These suites take their process, /proc and signal helpers from
 * mbox_util.h (mbox_spawn, mbox_reap, mbox_run_as_nobody,
 * mbox_wait_blocked, ...) but never its raw-ioctl ones: every operation
 * on /dev/mbox goes through the library.
 *
 * As in mbox_util.h, every helper returns 0 or -errno, and nothing here
 * may be called with an EXPECT/ASSERT in a child or a thread.
 */
#ifndef _MBOX_SELFTEST_LIBMBOX_UTIL_H
#define _MBOX_SELFTEST_LIBMBOX_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "mbox.h"
#include "mbox_util.h"

/* Milliseconds as a libmbox timeout. */
#define MBOX_MS(ms)		((int64_t)(ms) * 1000000LL)

/*
 * An operation that blocks runs in a thread with mbox_util.h's mbox_bg:
 * mbox_bg_run(&bg, fn, arg), mbox_bg_wait_blocked(), mbox_bg_join().
 */

/* ---- messages ----------------------------------------------------------- */

/* A struct mbox_msg for buf of len bytes, everything else zero. */
static inline struct mbox_msg lib_msg(const void *buf, size_t len)
{
	struct mbox_msg m;

	memset(&m, 0, sizeof(m));
	m.buf = (void *)buf;
	m.len = len;
	return m;
}

/* Send the string s (without its NUL) to mailbox id. */
static inline int lib_send_str(struct mbox_endpoint *ep, uint32_t id,
			       const char *s, uint32_t flags,
			       int64_t timeout_ns)
{
	struct mbox_msg m = lib_msg(s, strlen(s));

	return mbox_mailbox_send(ep, id, &m, flags, timeout_ns);
}

/* Receive one message without blocking: whether it is exactly s. */
static inline bool lib_recv_is(struct mbox_endpoint *ep, uint32_t id,
			       const char *s)
{
	char buf[256];
	struct mbox_msg m = lib_msg(buf, sizeof(buf));

	if (mbox_mailbox_receive(ep, id, &m, 0, MBOX_NOWAIT))
		return false;
	return m.len == strlen(s) && !memcmp(buf, s, m.len);
}

/* Whether a non-blocking receive finds nothing (-EAGAIN). */
static inline bool lib_queue_empty(struct mbox_endpoint *ep, uint32_t id)
{
	char buf[256];
	struct mbox_msg m = lib_msg(buf, sizeof(buf));

	return mbox_mailbox_receive(ep, id, &m, 0, MBOX_NOWAIT) == -EAGAIN;
}

/* ---- mailboxes and cleanup ---------------------------------------------- */

/*
 * A mailbox of the library's default attributes (mbox_attr_init) but for
 * capacity, flags (MBOX_CREATE_SYSTEM) and mode.
 */
static inline int lib_create(struct mbox_endpoint *ep, const char *name,
			     uint32_t flags, uint32_t capacity, uint32_t mode,
			     uint32_t *id)
{
	struct mbox_attr a;

	mbox_attr_init(&a);
	a.flags = flags;
	a.capacity = capacity;
	a.mode = mode;
	return mbox_mailbox_create(ep, name, &a, id);
}

/* A system-owned mailbox that lib_cleanup_run() will destroy. */
static inline int lib_create_system(struct mbox_endpoint *ep,
				    struct mbox_cleanup *c, const char *name,
				    uint32_t capacity, uint32_t mode,
				    uint32_t *id)
{
	int ret = lib_create(ep, name, MBOX_CREATE_SYSTEM, capacity, mode, id);

	if (!ret)
		mbox_track_id(c, *id);
	return ret;
}

/*
 * In a test, unprivileged: the id of root's MBOX_ROOT_SENDONLY (see
 * mbox_util.h), opened on ep to send; SKIP if it does not exist.
 */
#define LIB_ROOT_MAILBOX(ep, idp) do {					\
		int __ret = mbox_mailbox_open(ep, MBOX_ROOT_SENDONLY,	\
					      MBOX_OPEN_SEND, idp);	\
		if (__ret == -ENOENT)					\
			SKIP(return, MBOX_ROOT_ABSENT);			\
		ASSERT_EQ(0, __ret);					\
	} while (0)

/*
 * mbox_cleanup_run() through libmbox: destroy the tracked mailboxes
 * (already destroyed: fine) and kill the children not reaped yet.
 */
static inline void lib_cleanup_run(struct mbox_cleanup *c)
{
	struct mbox_endpoint *ep;
	unsigned int i;

	if (!mbox_endpoint_open(&ep)) {
		for (i = 0; i < c->nids; i++)
			mbox_mailbox_destroy(ep, c->ids[i]);
		mbox_endpoint_close(ep);
	}
	c->nids = 0;
	for (i = 0; i < c->npids; i++) {
		/* Only a child not reaped yet: never someone else's pid. */
		if (waitpid(c->pids[i], NULL, WNOHANG) == 0) {
			kill(c->pids[i], SIGKILL);
			waitpid(c->pids[i], NULL, 0);
		}
	}
	c->npids = 0;
}

#endif /* _MBOX_SELFTEST_LIBMBOX_UTIL_H */
