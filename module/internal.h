/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mbox internals shared by the files of the module.
 *
 * Files: main.c (device, endpoints, ioctl dispatch, poll), mailbox.c
 * (mailbox registry, open/close, permissions, policies), direct.c (direct
 * links between processes), call.c (call and reply), msgq.c (message queues: send, receive,
 * hand-off), user.c (per-user accounting).
 *
 * Lock order, outermost first:
 *   mbox_endpoint.lock (mutex)
 *   mbox_registry_lock (mutex, mailbox.c), mbox_inboxes_lock (direct.c)
 *   mbox_mailbox.lock (spinlock)
 *   mbox_endpoint.atts xa_lock (poll holds it across the queue locks)
 *   mbox_queue.lock (spinlock, msgq.c)
 *   mbox_users_lock, wait queue locks
 */
#ifndef _MBOX_INTERNAL_H
#define _MBOX_INTERNAL_H

#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/wait.h>
#include <linux/xarray.h>
#include <linux/mbox.h>

#include "msgq.h"

#if IS_ENABLED(CONFIG_KUNIT)
#include <kunit/visibility.h>
#else
/* No KUnit (Debian's kernels; 6.1 lacks the header): nothing to export. */
#define EXPORT_SYMBOL_IF_KUNIT(symbol) static_assert(1, #symbol)
#endif

/* Every feature this build of the module implements. */
#define MBOX_FEATURES_ALL	(MBOX_FEATURE_VERSION | MBOX_FEATURE_MAILBOX | \
				 MBOX_FEATURE_DIRECT | MBOX_FEATURE_CALL | \
				 MBOX_FEATURE_BATCH | MBOX_FEATURE_STAT)

/* Rights of an endpoint on a mailbox; also the mode bits they need. */
#define MBOX_RIGHT_RECV		4	/* "r" */
#define MBOX_RIGHT_SEND		2	/* "w" */

struct file;
struct mbox_mailbox;

/**
 * struct mbox_endpoint - what one open() of /dev/mbox creates
 * @file: its file; the endpoint lives exactly as long
 * @lock: serializes opening and closing mailboxes on this endpoint
 * @atts: mailbox id -> struct mbox_attach, the mailboxes open here;
 *	changed under @lock and its own xa_lock, read under the xa_lock
 * @inbox: its direct receiving side, or NULL; changed under @lock and
 *	the xa_lock of @atts, read under either
 * @calls: token slot -> struct mbox_pending, the calls this endpoint
 *	received and has not answered (its own xa_lock)
 * @call_gen: generation of the next token (the xa_lock of @calls)
 * @poll_wq: pollers of the endpoint; once @polled, every queue it
 *	receives from or sends to forwards its wake-ups here
 * @polled: it has been polled; set once, under @lock
 */
struct mbox_endpoint {
	struct file *file;
	struct mutex lock;		/* opens and closes */
	struct xarray atts;
	struct mbox_inbox *inbox;
	struct xarray calls;
	u32 call_gen;
	wait_queue_head_t poll_wq;
	bool polled;
};

/**
 * struct mbox_forward - forwards a queue's poll wake-ups to an endpoint
 * @wait: on @q's poll_wq, if @q is set
 * @ep: the endpoint whose pollers to wake
 * @q: the queue it forwards from, once @ep has been polled (@ep's lock)
 *
 * So that a queue an endpoint starts using after an epoll_ctl() still
 * wakes that epoll, as nested epolls do.
 */
struct mbox_forward {
	wait_queue_entry_t wait;
	struct mbox_endpoint *ep;
	struct mbox_queue *q;
};

/**
 * struct mbox_attach - a mailbox open on an endpoint
 * @ep: the endpoint
 * @mb: the mailbox, a counted reference
 * @rights: MBOX_RIGHT_*
 * @fwd: on @mb's queue, forwarding wake-ups to @ep's pollers
 *
 * Immutable; created by open, freed by close.
 */
struct mbox_attach {
	struct mbox_endpoint *ep;
	struct mbox_mailbox *mb;
	u32 rights;
	struct mbox_forward fwd;
};

/* main.c */
void mbox_version_fill(struct mbox_version *v);
int mbox_ioc_recv_user(struct mbox_endpoint *ep, void __user *uarg);
int mbox_ioctl_write_back(void *arg);
bool mbox_ioctl_nowait(const void *arg);
void mbox_forward_add(struct mbox_forward *f, struct mbox_endpoint *ep,
		      struct mbox_queue *q);
void mbox_forward_start(struct mbox_forward *f, struct mbox_queue *q);
void mbox_forward_del(struct mbox_forward *f);

/* mailbox.c */
int mbox_ioc_create(struct mbox_endpoint *ep, void *arg);
void mbox_ioc_create_undo(struct mbox_endpoint *ep, void *arg);
int mbox_ioc_open(struct mbox_endpoint *ep, void *arg);
void mbox_ioc_open_undo(struct mbox_endpoint *ep, void *arg);
int mbox_ioc_close(struct mbox_endpoint *ep, void *arg);
int mbox_ioc_destroy(struct mbox_endpoint *ep, void *arg);
int mbox_ioc_set(struct mbox_endpoint *ep, void *arg);
int mbox_ioc_send(struct mbox_endpoint *ep, void *arg);
int mbox_ioc_recv(struct mbox_endpoint *ep, void *arg);
__poll_t mbox_attach_poll(struct mbox_attach *att);
void mbox_attach_poll_start(struct mbox_endpoint *ep);
int mbox_send_msg(struct mbox_endpoint *ep, struct mbox_send *s,
		  const struct mbox_block *blk, struct mbox_pending *call);
void mbox_send_report(struct mbox_send *s, struct pid *receiver);
int mbox_recv_from(struct mbox_endpoint *ep, struct mbox_queue *q,
		   struct mbox_recv *r, struct pid *from,
		   const struct mbox_block *blk);
int mbox_block_init(struct mbox_block *blk, struct mbox_endpoint *ep,
		    u32 flags, u64 deadline_ns);

/* direct.c */
struct mbox_inbox;
int mbox_ioc_direct(struct mbox_endpoint *ep, void *arg);
void mbox_ioc_direct_undo(struct mbox_endpoint *ep, void *arg);
int mbox_direct_send(struct mbox_endpoint *ep, struct mbox_send *s,
		     const struct mbox_block *blk, struct mbox_pending *call);
int mbox_direct_recv(struct mbox_endpoint *ep, struct mbox_recv *r,
		     const struct mbox_block *blk);
__poll_t mbox_direct_poll(struct mbox_endpoint *ep);
void mbox_direct_poll_start(struct mbox_endpoint *ep);
struct pid *mbox_process(u32 addr, u32 nr);
void mbox_direct_release(struct mbox_endpoint *ep);
void mbox_endpoint_close_all(struct mbox_endpoint *ep);
int mbox_mailbox_stat(u32 id, bool next, struct mbox_stat *st,
		      char name[MBOX_NAME_MAX + 1]);

/* stat.c */
int mbox_ioc_stat(struct mbox_endpoint *ep, void *arg);
int mbox_stat_init(void);
void mbox_stat_exit(void);

int mbox_registry_init(void);
void mbox_registry_exit(void);

/* call.c */
int mbox_ioc_call(struct mbox_endpoint *ep, void *arg);
int mbox_ioc_reply(struct mbox_endpoint *ep, void *arg);
struct mbox_pending *mbox_pending_get(struct mbox_pending *p);
void mbox_pending_put(struct mbox_pending *p);
void mbox_pending_start(struct mbox_pending *p, struct mbox_queue *q);
void mbox_pending_fail_all(struct list_head *calls, int err);
int mbox_pending_reserve(struct mbox_endpoint *ep, u64 *token);
void mbox_pending_unreserve(struct mbox_endpoint *ep, u64 token);
void mbox_pending_publish(struct mbox_endpoint *ep, struct mbox_pending *p,
			  u64 token);
void mbox_pending_release(struct mbox_endpoint *ep);

/* user.c */
struct mbox_user;
struct mbox_user *mbox_user_get(kuid_t uid);
void mbox_user_put(struct mbox_user *u);
int mbox_user_charge_bytes(struct mbox_user *u, size_t len);
void mbox_user_uncharge_bytes(struct mbox_user *u, size_t len);
int mbox_user_charge_mailbox(struct mbox_user *u);
void mbox_user_uncharge_mailbox(struct mbox_user *u);

#endif /* _MBOX_INTERNAL_H */
