/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mbox internals shared by the files of the module.
 *
 * Files: main.c (device, endpoints, ioctl dispatch, poll), mailbox.c
 * (mailbox registry, open/close, permissions, policies), msgq.c (message
 * queues: send, receive, hand-off), user.c (per-user accounting).
 *
 * Lock order, outermost first:
 *   mbox_endpoint.lock (mutex)
 *   mbox_registry_lock (mutex, mailbox.c)
 *   mbox_mailbox.lock (spinlock)
 *   mbox_queue.lock (spinlock, msgq.c)
 *   mbox_endpoint.atts xa_lock, mbox_users_lock, wait queue locks
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
#define MBOX_FEATURES_ALL	(MBOX_FEATURE_VERSION | MBOX_FEATURE_MAILBOX)

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
 * @poll_wq: pollers of the endpoint; every open mailbox forwards to it
 */
struct mbox_endpoint {
	struct file *file;
	struct mutex lock;		/* opens and closes */
	struct xarray atts;
	wait_queue_head_t poll_wq;
};

/**
 * struct mbox_attach - a mailbox open on an endpoint
 * @ep: the endpoint
 * @mb: the mailbox, a counted reference
 * @rights: MBOX_RIGHT_*
 * @wait: on @mb's queue poll_wq, forwarding wake-ups to @ep->poll_wq
 *
 * Immutable; created by open, freed by close.
 */
struct mbox_attach {
	struct mbox_endpoint *ep;
	struct mbox_mailbox *mb;
	u32 rights;
	wait_queue_entry_t wait;
};

/* main.c */
void mbox_version_fill(struct mbox_version *v);

/* mailbox.c */
int mbox_ioc_create(struct mbox_endpoint *ep, void *arg);
int mbox_ioc_open(struct mbox_endpoint *ep, void *arg);
int mbox_ioc_close(struct mbox_endpoint *ep, void *arg);
int mbox_ioc_destroy(struct mbox_endpoint *ep, void *arg);
int mbox_ioc_set(struct mbox_endpoint *ep, void *arg);
int mbox_ioc_send(struct mbox_endpoint *ep, void *arg);
int mbox_ioc_recv(struct mbox_endpoint *ep, void *arg);
__poll_t mbox_attach_poll(struct mbox_attach *att);
void mbox_endpoint_close_all(struct mbox_endpoint *ep);
int mbox_registry_init(void);
void mbox_registry_exit(void);

/* user.c */
struct mbox_user;
struct mbox_user *mbox_user_get(kuid_t uid);
void mbox_user_put(struct mbox_user *u);
int mbox_user_charge_bytes(struct mbox_user *u, size_t len);
void mbox_user_uncharge_bytes(struct mbox_user *u, size_t len);
int mbox_user_charge_mailbox(struct mbox_user *u);
void mbox_user_uncharge_mailbox(struct mbox_user *u);

#endif /* _MBOX_INTERNAL_H */
