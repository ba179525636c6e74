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

/* ---- an operation that blocks, in a thread ------------------------------ */

/*
 * One libmbox call run in a thread of its own, e.g. a receive that will
 * block until the test sends:
 *
 *	lib_bg_start(&bg, recv_op, &op);
 *	ASSERT_EQ(0, lib_bg_wait_blocked(&bg));
 *	...
 *	EXPECT_EQ(0, lib_bg_join(&bg));
 *
 * fn(arg) returns the call's 0 or -errno; arg must live until the join.
 */
typedef int (*lib_op_fn)(void *arg);

struct lib_bg {
	pthread_t thread;
	lib_op_fn fn;
	void *arg;
	int tid;	/* set by the thread before it calls fn */
	int ret;	/* fn's 0 or -errno */
	int done;	/* set once ret is */
	bool started;
};

static inline void *lib_bg_thread(void *data)
{
	struct lib_bg *bg = data;
	int ret;

	__atomic_store_n(&bg->tid, (int)gettid(), __ATOMIC_SEQ_CST);
	ret = bg->fn(bg->arg);
	__atomic_store_n(&bg->ret, ret, __ATOMIC_SEQ_CST);
	__atomic_store_n(&bg->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static inline int lib_bg_start(struct lib_bg *bg, lib_op_fn fn, void *arg)
{
	int err;

	memset(bg, 0, sizeof(*bg));
	bg->fn = fn;
	bg->arg = arg;
	err = pthread_create(&bg->thread, NULL, lib_bg_thread, bg);
	if (err)
		return -err;
	bg->started = true;
	return 0;
}

static inline pid_t lib_bg_tid(struct lib_bg *bg)
{
	__u64 end = mbox_deadline_ms(MBOX_WAIT_MS);
	int tid;

	while (!(tid = __atomic_load_n(&bg->tid, __ATOMIC_SEQ_CST))) {
		if (mbox_now_ns() > end)
			return -ETIMEDOUT;
		mbox_sleep_ms(1);
	}
	return tid;
}

static inline bool lib_bg_done(struct lib_bg *bg)
{
	return __atomic_load_n(&bg->done, __ATOMIC_SEQ_CST);
}

/*
 * Wait until the thread sleeps in an ioctl (the library's call into the
 * module): 0, -EALREADY if fn returned, -ETIMEDOUT.
 */
static inline int lib_bg_wait_blocked(struct lib_bg *bg)
{
	pid_t tid = lib_bg_tid(bg);
	__u64 end = mbox_deadline_ms(MBOX_WAIT_MS);
	int seen = 0;

	if (tid < 0)
		return tid;
	for (;;) {
		if (lib_bg_done(bg))
			return -EALREADY;
		seen = mbox_task_blocked_in(tid, SYS_ioctl) == 1 ? seen + 1 : 0;
		if (seen >= 2)
			return 0;
		if (mbox_now_ns() > end)
			return -ETIMEDOUT;
		mbox_sleep_ms(1);
	}
}

/* Join the thread: fn's 0 or -errno. */
static inline int lib_bg_join(struct lib_bg *bg)
{
	if (!bg->started)
		return -ESRCH;
	pthread_join(bg->thread, NULL);
	bg->started = false;
	return bg->ret;
}

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
