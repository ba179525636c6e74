// SPDX-License-Identifier: GPL-2.0
/*
 * mbox per-user accounting: queued bytes and mailboxes, against the
 * max_user_bytes and max_user_mailboxes module parameters.
 *
 * One struct mbox_user per uid that has anything charged, in a hash table
 * changed under mbox_users_lock and searched under RCU (every send looks
 * its sender up), freed after a grace period when its last reference
 * goes.  The counters themselves are atomics: charging never takes a lock.
 * CAP_SYS_RESOURCE goes beyond the limits, as for POSIX message queues.
 */
#include <linux/capability.h>
#include <linux/hashtable.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "internal.h"

static unsigned long max_user_bytes = 16 << 20;
module_param(max_user_bytes, ulong, 0644);
MODULE_PARM_DESC(max_user_bytes, "Bytes of messages a user may have queued (16 MiB)");

static unsigned int max_user_mailboxes = 256;
module_param(max_user_mailboxes, uint, 0644);
MODULE_PARM_DESC(max_user_mailboxes, "Mailboxes a user may own at once (256)");

/**
 * struct mbox_user - what one user has charged
 * @node: in mbox_users (changed under mbox_users_lock, read under RCU)
 * @rcu: frees it after the lookups that may still see it
 * @uid: the user
 * @ref: references: every charged message and mailbox, and lookups
 * @bytes: payload bytes of this user's messages not yet received
 * @mailboxes: mailboxes this user created and that are not destroyed
 */
struct mbox_user {
	struct hlist_node node;
	struct rcu_head rcu;
	kuid_t uid;
	refcount_t ref;
	atomic_long_t bytes;
	atomic_t mailboxes;
};

static DEFINE_SPINLOCK(mbox_users_lock);
static DEFINE_HASHTABLE(mbox_users, 6);

/* Under rcu_read_lock() or mbox_users_lock. */
static struct mbox_user *mbox_user_find(kuid_t uid)
{
	struct mbox_user *u;

	hash_for_each_possible_rcu(mbox_users, u, node, __kuid_val(uid),
				   lockdep_is_held(&mbox_users_lock))
		if (uid_eq(u->uid, uid) && refcount_inc_not_zero(&u->ref))
			return u;
	return NULL;
}

/* The accounting of @uid, created on first use; a counted reference. */
struct mbox_user *mbox_user_get(kuid_t uid)
{
	struct mbox_user *u, *fresh;

	rcu_read_lock();
	u = mbox_user_find(uid);
	rcu_read_unlock();
	if (u)
		return u;

	fresh = kzalloc(sizeof(*fresh), GFP_KERNEL_ACCOUNT);
	if (!fresh)
		return ERR_PTR(-ENOMEM);
	fresh->uid = uid;
	refcount_set(&fresh->ref, 1);

	spin_lock(&mbox_users_lock);
	u = mbox_user_find(uid);
	if (!u) {
		hash_add_rcu(mbox_users, &fresh->node, __kuid_val(uid));
		u = fresh;
		fresh = NULL;
	}
	spin_unlock(&mbox_users_lock);
	kfree(fresh);
	return u;
}
EXPORT_SYMBOL_IF_KUNIT(mbox_user_get);

void mbox_user_put(struct mbox_user *u)
{
	bool last;

	/* As refcount_dec_and_lock(), in a form sparse can follow. */
	if (refcount_dec_not_one(&u->ref))
		return;
	spin_lock(&mbox_users_lock);
	last = refcount_dec_and_test(&u->ref);
	if (last)
		hash_del_rcu(&u->node);
	spin_unlock(&mbox_users_lock);
	if (!last)
		return;
	WARN_ON_ONCE(atomic_long_read(&u->bytes) || atomic_read(&u->mailboxes));
	kfree_rcu(u, rcu);
}
EXPORT_SYMBOL_IF_KUNIT(mbox_user_put);

/* Charge @len queued bytes: -ENOSPC past the limit. */
int mbox_user_charge_bytes(struct mbox_user *u, size_t len)
{
	unsigned long limit = READ_ONCE(max_user_bytes);

	if ((unsigned long)atomic_long_add_return(len, &u->bytes) > limit &&
	    !capable(CAP_SYS_RESOURCE)) {
		atomic_long_sub(len, &u->bytes);
		return -ENOSPC;
	}
	return 0;
}

void mbox_user_uncharge_bytes(struct mbox_user *u, size_t len)
{
	atomic_long_sub(len, &u->bytes);
}

/* Charge one mailbox: -ENOSPC past the limit. */
int mbox_user_charge_mailbox(struct mbox_user *u)
{
	unsigned int limit = READ_ONCE(max_user_mailboxes);

	if (atomic_inc_return(&u->mailboxes) > limit &&
	    !capable(CAP_SYS_RESOURCE)) {
		atomic_dec(&u->mailboxes);
		return -ENOSPC;
	}
	return 0;
}

void mbox_user_uncharge_mailbox(struct mbox_user *u)
{
	atomic_dec(&u->mailboxes);
}
