// SPDX-License-Identifier: GPL-2.0
/*
 * mbox mailboxes: the registry of ids and names, create, open, close,
 * destroy, permissions and sharing policies, and the send and receive
 * ioctls on a mailbox.
 *
 * Locking:
 *  - mbox_registry_lock (mutex) protects the id xarray, the name hash,
 *    mbox_next_id and mbox_mailbox.registered.  A registered mailbox
 *    holds one reference for the registry.
 *  - mbox_mailbox.lock (spinlock) protects the mutable attributes (owner
 *    uid/gid, mode), the open counts of the sharing policy, ->owner and
 *    ->dead.
 *  - The message queue has its own lock (msgq.c); the data path takes
 *    only that one.
 *  - An endpoint's ->lock (mutex) serializes open and close on it, and is
 *    taken before the registry lock.
 *
 * Lifetime: a mailbox is freed when its last reference goes: the
 * registry's (dropped by destroy), one per endpoint that has it open, one
 * per ioctl working on it (so a task sleeping in send or receive keeps it
 * alive).  Destroy kills the queue: sleepers wake with EIDRM.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/hashtable.h>
#include <linux/ipc_namespace.h>
#include <linux/module.h>
#include <linux/nsproxy.h>
#include <linux/proc_ns.h>
#include <linux/overflow.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/stringhash.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "internal.h"

/**
 * struct mbox_mailbox - a mailbox
 * @id: its id, never reused while the module is loaded
 * @name: its name (NUL-terminated), or NULL
 * @ipc_ns: the IPC namespace it was created in, a counted reference
 * @system: system-owned (else process-owned)
 * @policy: enum mbox_policy
 * @max_msg_size: longest message
 * @msg_size: the only message length allowed, or 0
 * @cuid: creator's effective uid
 * @cgid: creator's effective gid
 * @creator: the creator's accounting, charged one mailbox until destroy
 * @name_node: in mbox_names (registry lock)
 * @registered: in the registry (registry lock)
 * @lock: protects the fields below it, but for @q
 * @uid: owner
 * @gid: group
 * @mode: permission bits, MBOX_MODE_MASK
 * @nr_open: endpoints that have it open
 * @nr_recv: those of them that may receive
 * @owner: process-owned: the owning endpoint, for comparison only;
 *	NULL once destroyed
 * @dead: destroyed
 * @q: its messages and blocked tasks; q.ref counts references to the
 *	mailbox, see the top of this file
 *
 * All but the fields under @lock are immutable after creation.
 */
struct mbox_mailbox {
	u32 id;
	char *name;
	struct ipc_namespace *ipc_ns;
	bool system;
	u32 policy;
	u32 max_msg_size;
	u32 msg_size;
	kuid_t cuid;
	kgid_t cgid;
	struct mbox_user *creator;
	struct hlist_node name_node;
	bool registered;

	spinlock_t lock;		/* the fields below */
	kuid_t uid;
	kgid_t gid;
	u32 mode;
	unsigned int nr_open;
	unsigned int nr_recv;
	struct mbox_endpoint *owner;
	bool dead;

	struct mbox_queue q;
};

static DEFINE_MUTEX(mbox_registry_lock);
static DEFINE_XARRAY(mbox_ids);
static DEFINE_HASHTABLE(mbox_names, 8);
static u32 mbox_next_id = 1;

static struct kmem_cache *mbox_mailbox_cache;

/*
 * put_ipc_ns() is not exported on every kernel mbox supports (6.1 lacks
 * it); the namespace's own nsfs operation calls it.
 */
static void mbox_put_ipc_ns(struct ipc_namespace *ns)
{
#ifdef CONFIG_IPC_NS
	ns->ns.ops->put(&ns->ns);
#endif
}

static void mbox_get(struct mbox_mailbox *mb)
{
	mbox_queue_get(&mb->q);
}

static void mbox_put(struct mbox_mailbox *mb)
{
	mbox_queue_put(&mb->q);
}

static void mbox_release(struct mbox_queue *q)
{
	struct mbox_mailbox *mb = container_of(q, struct mbox_mailbox, q);

	WARN_ON_ONCE(mb->q.limit.count || mb->q.prio_map);
	mbox_user_put(mb->creator);
	mbox_put_ipc_ns(mb->ipc_ns);
	kfree(mb->name);
	kmem_cache_free(mbox_mailbox_cache, mb);
}

/* Names */

static u32 mbox_name_hash(const struct ipc_namespace *ns, const char *name)
{
	return full_name_hash(ns, name, strlen(name));
}

/* Copy a name from userspace and check its form; kfree() the result. */
static char *mbox_name_copy(u64 uname)
{
	char *name;
	long len;
	int i;

	name = kmalloc(MBOX_NAME_MAX + 1, GFP_KERNEL_ACCOUNT);
	if (!name)
		return ERR_PTR(-ENOMEM);
	len = strncpy_from_user(name, u64_to_user_ptr(uname), MBOX_NAME_MAX + 1);
	if (len < 0) {
		kfree(name);
		return ERR_PTR(len);
	}
	if (len > MBOX_NAME_MAX) {
		kfree(name);
		return ERR_PTR(-ENAMETOOLONG);
	}
	for (i = 0; i < len; i++)
		if (name[i] < 0x21 || name[i] > 0x7e)
			break;
	if (len < 1 || name[0] != '/' || i < len) {
		kfree(name);
		return ERR_PTR(-EINVAL);
	}
	return name;
}

static struct mbox_mailbox *mbox_find_name(struct ipc_namespace *ns,
					   const char *name)
{
	struct mbox_mailbox *mb;

	lockdep_assert_held(&mbox_registry_lock);
	hash_for_each_possible(mbox_names, mb, name_node, mbox_name_hash(ns, name))
		if (mb->ipc_ns == ns && !strcmp(mb->name, name))
			return mb;
	return NULL;
}

/*
 * Find a mailbox of the caller's IPC namespace by name (if @name) or id;
 * a counted reference, or NULL.
 */
static struct mbox_mailbox *mbox_find(u32 id, const char *name)
{
	struct ipc_namespace *ns = current->nsproxy->ipc_ns;
	struct mbox_mailbox *mb;

	mutex_lock(&mbox_registry_lock);
	if (name)
		mb = mbox_find_name(ns, name);
	else
		mb = xa_load(&mbox_ids, id);
	if (mb && mb->ipc_ns == ns)
		mbox_get(mb);
	else
		mb = NULL;
	mutex_unlock(&mbox_registry_lock);
	return mb;
}

/* Permissions, as ipcperms() for System V IPC */

static bool mbox_is_owner(struct mbox_mailbox *mb)
{
	kuid_t euid = current_euid();
	bool owner;

	spin_lock(&mb->lock);
	owner = uid_eq(euid, mb->uid) || uid_eq(euid, mb->cuid);
	spin_unlock(&mb->lock);
	return owner || ns_capable(mb->ipc_ns->user_ns, CAP_IPC_OWNER);
}

/*
 * The mode bits (MBOX_RIGHT_*) of the caller's class: owner (or creator),
 * group, other.  @owner: whether the caller owns or created @mb.
 */
static u32 mbox_class_rights(struct mbox_mailbox *mb, bool *owner)
{
	kuid_t euid = current_euid();
	u32 mode;

	spin_lock(&mb->lock);
	mode = mb->mode;
	*owner = uid_eq(euid, mb->uid) || uid_eq(euid, mb->cuid);
	if (*owner)
		mode >>= 6;
	else if (in_group_p(mb->gid) || in_group_p(mb->cgid))
		mode >>= 3;
	spin_unlock(&mb->lock);
	return mode & 07;
}

static bool mbox_may(struct mbox_mailbox *mb, u32 rights)
{
	bool owner;

	return !(rights & ~mbox_class_rights(mb, &owner)) ||
	       ns_capable(mb->ipc_ns->user_ns, CAP_IPC_OWNER);
}

/* Attaching mailboxes to endpoints */

/*
 * Apply the sharing policy and count the endpoint in; mb->lock held.
 * Returns 0 or -EPERM, -EBUSY, -ENOENT (destroyed meanwhile).
 */
static int mbox_admit(struct mbox_mailbox *mb, struct mbox_endpoint *ep,
		      u32 rights)
{
	bool recv = rights & MBOX_RIGHT_RECV;

	lockdep_assert_held(&mb->lock);
	if (mb->dead)
		return -ENOENT;
	if (!mb->system && recv && mb->owner != ep)
		return -EPERM;
	if (mb->policy == MBOX_POLICY_EXCLUSIVE && recv && mb->nr_recv)
		return -EBUSY;
	if (mb->policy == MBOX_POLICY_PAIR && mb->nr_open >= 2)
		return -EBUSY;
	mb->nr_open++;
	mb->nr_recv += recv;
	return 0;
}

static void mbox_leave(struct mbox_mailbox *mb, u32 rights)
{
	spin_lock(&mb->lock);
	mb->nr_open--;
	mb->nr_recv -= !!(rights & MBOX_RIGHT_RECV);
	spin_unlock(&mb->lock);
}

/*
 * Add @att, which holds a reference on its mailbox and was admitted by the
 * sharing policy, to its endpoint; ep->lock held.  An endpoint polled
 * already learns at once that the mailbox has something for it.
 */
static int mbox_attach_publish(struct mbox_attach *att)
{
	struct mbox_endpoint *ep = att->ep;
	__poll_t mask;
	int ret;

	lockdep_assert_held(&ep->lock);
	ret = xa_insert(&ep->atts, att->mb->id, att, GFP_KERNEL_ACCOUNT);
	if (ret)
		return ret;
	mbox_forward_add(&att->fwd, ep, &att->mb->q);
	mask = mbox_attach_poll(att);
	if (mask)
		wake_up_poll(&ep->poll_wq, mask);
	return 0;
}

/*
 * Open @mb on @ep with @rights, using @att (allocated by the caller, owned
 * by the endpoint on success); ep->lock held.  Takes a reference on @mb.
 */
static int mbox_attach(struct mbox_endpoint *ep, struct mbox_mailbox *mb,
		       struct mbox_attach *att, u32 rights)
{
	int ret;

	lockdep_assert_held(&ep->lock);
	if (xa_load(&ep->atts, mb->id))
		return -EEXIST;
	spin_lock(&mb->lock);
	ret = mbox_admit(mb, ep, rights);
	spin_unlock(&mb->lock);
	if (ret)
		return ret;

	att->ep = ep;
	att->mb = mb;
	att->rights = rights;
	mbox_get(mb);
	ret = mbox_attach_publish(att);
	if (ret) {
		mbox_leave(mb, rights);
		mbox_put(mb);
	}
	return ret;
}

static void mbox_destroy(struct mbox_mailbox *mb);

/* Undo mbox_attach() after the attachment left ep->atts; frees @att. */
static void mbox_detach(struct mbox_endpoint *ep, struct mbox_attach *att)
{
	struct mbox_mailbox *mb = att->mb;
	bool owner;

	mbox_forward_del(&att->fwd);
	mbox_leave(mb, att->rights);
	spin_lock(&mb->lock);
	owner = mb->owner == ep;
	spin_unlock(&mb->lock);
	/* A process-owned mailbox ends with its owning endpoint. */
	if (owner)
		mbox_destroy(mb);
	mbox_put(mb);
	kfree(att);
}

/* Destroy */

static void mbox_destroy(struct mbox_mailbox *mb)
{
	mutex_lock(&mbox_registry_lock);
	if (!mb->registered) {
		mutex_unlock(&mbox_registry_lock);
		return;
	}
	mb->registered = false;
	xa_erase(&mbox_ids, mb->id);
	if (mb->name)
		hash_del(&mb->name_node);
	mutex_unlock(&mbox_registry_lock);

	spin_lock(&mb->lock);
	mb->dead = true;
	mb->owner = NULL;
	spin_unlock(&mb->lock);
	mbox_queue_kill(&mb->q, -EIDRM);
	mbox_user_uncharge_mailbox(mb->creator);
	mbox_put(mb);
}

/* Create */

int mbox_ioc_create(struct mbox_endpoint *ep, void *arg)
{
	struct mbox_create *c = arg;
	struct mbox_mailbox *mb;
	struct mbox_attach *att;
	u64 max_bytes;
	u32 id;
	int ret;

	if (c->flags & ~MBOX_CREATE_SYSTEM || c->mode & ~MBOX_MODE_MASK ||
	    c->policy > MBOX_POLICY_PAIR)
		return -EINVAL;
	ret = mbox_queue_limits(c->capacity, &c->max_msg_size, c->msg_size,
				c->max_bytes, &max_bytes);
	if (ret)
		return ret;

	mb = kmem_cache_zalloc(mbox_mailbox_cache, GFP_KERNEL_ACCOUNT);
	if (!mb)
		return -ENOMEM;
	att = kzalloc(sizeof(*att), GFP_KERNEL_ACCOUNT);
	if (!att) {
		ret = -ENOMEM;
		goto free;
	}
	if (c->name) {
		mb->name = mbox_name_copy(c->name);
		if (IS_ERR(mb->name)) {
			ret = PTR_ERR(mb->name);
			mb->name = NULL;
			goto free;
		}
	}
	mb->creator = mbox_user_get(current_euid());
	if (IS_ERR(mb->creator)) {
		ret = PTR_ERR(mb->creator);
		mb->creator = NULL;
		goto free;
	}
	ret = mbox_user_charge_mailbox(mb->creator);
	if (ret)
		goto free;

	mb->ipc_ns = get_ipc_ns(current->nsproxy->ipc_ns);
	mb->system = c->flags & MBOX_CREATE_SYSTEM;
	mb->policy = c->policy;
	mb->max_msg_size = c->max_msg_size;
	mb->msg_size = c->msg_size;
	mb->cuid = current_euid();
	mb->cgid = current_egid();
	spin_lock_init(&mb->lock);
	mb->uid = mb->cuid;
	mb->gid = mb->cgid;
	mb->mode = c->mode;
	mb->owner = mb->system ? NULL : ep;
	mbox_queue_init(&mb->q, c->capacity, max_bytes, mbox_release);
	/*
	 * Born open on the creating endpoint, before anyone can find it: one
	 * reference for the registry, one for that attachment.
	 */
	mbox_get(mb);
	mb->nr_open = 1;
	mb->nr_recv = 1;
	att->ep = ep;
	att->mb = mb;
	att->rights = MBOX_RIGHT_SEND | MBOX_RIGHT_RECV;

	mutex_lock(&ep->lock);
	mutex_lock(&mbox_registry_lock);
	if (mb->name && mbox_find_name(mb->ipc_ns, mb->name))
		ret = -EEXIST;
	else if (!mbox_next_id)
		ret = -ENOSPC;	/* all 2^32 - 1 ids were used */
	else
		ret = xa_insert(&mbox_ids, mbox_next_id, mb, GFP_KERNEL_ACCOUNT);
	if (ret) {
		mutex_unlock(&mbox_registry_lock);
		mutex_unlock(&ep->lock);
		mbox_user_uncharge_mailbox(mb->creator);
		mbox_put(mb);
		mbox_put(mb);
		kfree(att);
		return ret;
	}
	id = mbox_next_id++;
	mb->id = id;
	mb->registered = true;
	if (mb->name)
		hash_add(mbox_names, &mb->name_node,
			 mbox_name_hash(mb->ipc_ns, mb->name));
	mutex_unlock(&mbox_registry_lock);

	ret = mbox_attach_publish(att);
	mutex_unlock(&ep->lock);
	if (ret) {
		mbox_destroy(mb);
		mbox_put(mb);
		kfree(att);
		return ret;
	}
	c->id = id;
	return 0;

free:
	if (mb->creator)
		mbox_user_put(mb->creator);
	kfree(mb->name);
	kmem_cache_free(mbox_mailbox_cache, mb);
	kfree(att);
	return ret;
}

/*
 * Undo a CREATE whose caller could not be told the id (the write-back of
 * its struct failed): destroy the mailbox and close it here.
 */
void mbox_ioc_create_undo(struct mbox_endpoint *ep, void *arg)
{
	struct mbox_create *c = arg;
	struct mbox_id close = { .id = c->id };
	struct mbox_mailbox *mb = mbox_find(c->id, NULL);

	if (mb) {
		mbox_destroy(mb);
		mbox_put(mb);
	}
	mbox_ioc_close(ep, &close);
}

/* Open, close, destroy, set */

int mbox_ioc_open(struct mbox_endpoint *ep, void *arg)
{
	struct mbox_open *o = arg;
	struct mbox_mailbox *mb;
	struct mbox_attach *att;
	char *name = NULL;
	u32 rights = 0;
	int ret;

	if (o->flags & ~(MBOX_OPEN_SEND | MBOX_OPEN_RECV) || o->__reserved)
		return -EINVAL;
	if (o->flags & MBOX_OPEN_SEND)
		rights |= MBOX_RIGHT_SEND;
	if (o->flags & MBOX_OPEN_RECV)
		rights |= MBOX_RIGHT_RECV;
	if (!rights)
		return -EINVAL;
	if (o->name) {
		name = mbox_name_copy(o->name);
		if (IS_ERR(name))
			return PTR_ERR(name);
	}

	mb = mbox_find(o->id, name);
	kfree(name);
	if (!mb)
		return -ENOENT;
	ret = -EACCES;
	if (!mbox_may(mb, rights))
		goto put;
	ret = -ENOMEM;
	att = kzalloc(sizeof(*att), GFP_KERNEL_ACCOUNT);
	if (!att)
		goto put;

	mutex_lock(&ep->lock);
	ret = mbox_attach(ep, mb, att, rights);
	mutex_unlock(&ep->lock);
	if (ret)
		kfree(att);
	else
		o->id = mb->id;
put:
	mbox_put(mb);
	return ret;
}

/* Undo an OPEN whose caller could not be told: close it again. */
void mbox_ioc_open_undo(struct mbox_endpoint *ep, void *arg)
{
	struct mbox_open *o = arg;
	struct mbox_id close = { .id = o->id };

	mbox_ioc_close(ep, &close);
}

int mbox_ioc_close(struct mbox_endpoint *ep, void *arg)
{
	struct mbox_id *c = arg;
	struct mbox_attach *att;

	if (c->flags || c->__reserved)
		return -EINVAL;
	mutex_lock(&ep->lock);
	att = xa_erase(&ep->atts, c->id);
	if (att)
		mbox_detach(ep, att);
	mutex_unlock(&ep->lock);
	return att ? 0 : -EBADF;
}

/* The endpoint is going away: close everything it has open. */
void mbox_endpoint_close_all(struct mbox_endpoint *ep)
{
	struct mbox_attach *att;
	unsigned long id;

	mutex_lock(&ep->lock);
	xa_for_each(&ep->atts, id, att) {
		xa_erase(&ep->atts, id);
		mbox_detach(ep, att);
	}
	mutex_unlock(&ep->lock);
}

int mbox_ioc_destroy(struct mbox_endpoint *ep, void *arg)
{
	struct mbox_id *d = arg;
	struct mbox_mailbox *mb;
	int ret = 0;

	if (d->flags || d->__reserved)
		return -EINVAL;
	mb = mbox_find(d->id, NULL);
	if (!mb)
		return -ENOENT;
	if (mbox_is_owner(mb))
		mbox_destroy(mb);
	else
		ret = -EPERM;
	mbox_put(mb);
	return ret;
}

int mbox_ioc_set(struct mbox_endpoint *ep, void *arg)
{
	const u32 all = MBOX_SET_UID | MBOX_SET_GID | MBOX_SET_MODE;
	struct mbox_set *s = arg;
	struct mbox_mailbox *mb;
	kuid_t uid;
	kgid_t gid;
	int ret = 0;

	if (!s->flags || s->flags & ~all)
		return -EINVAL;
	uid = make_kuid(current_user_ns(), s->uid);
	gid = make_kgid(current_user_ns(), s->gid);
	if ((s->flags & MBOX_SET_UID && !uid_valid(uid)) ||
	    (s->flags & MBOX_SET_GID && !gid_valid(gid)) ||
	    (s->flags & MBOX_SET_MODE && s->mode & ~MBOX_MODE_MASK))
		return -EINVAL;

	mb = mbox_find(s->id, NULL);
	if (!mb)
		return -ENOENT;
	if (mbox_is_owner(mb)) {
		spin_lock(&mb->lock);
		if (s->flags & MBOX_SET_UID)
			mb->uid = uid;
		if (s->flags & MBOX_SET_GID)
			mb->gid = gid;
		if (s->flags & MBOX_SET_MODE)
			mb->mode = s->mode;
		spin_unlock(&mb->lock);
	} else {
		ret = -EPERM;
	}
	mbox_put(mb);
	return ret;
}

/* Stat */

/*
 * Whether the caller may see @mb: some right in its class, or ownership.
 * A listing asks this of every mailbox, so a refusal must not be audited
 * as a denied capability.
 */
static bool mbox_may_stat(struct mbox_mailbox *mb)
{
	bool owner;
	u32 rights = mbox_class_rights(mb, &owner);

	return owner || (rights & (MBOX_RIGHT_SEND | MBOX_RIGHT_RECV)) ||
	       ns_capable_noaudit(mb->ipc_ns->user_ns, CAP_IPC_OWNER);
}

/*
 * The mailbox of the caller's IPC namespace with the lowest id at least
 * @id that the caller may see: a counted reference, or NULL.
 */
static struct mbox_mailbox *mbox_find_next(u32 id)
{
	struct ipc_namespace *ns = current->nsproxy->ipc_ns;
	struct mbox_mailbox *mb;
	unsigned long index;

	mutex_lock(&mbox_registry_lock);
	xa_for_each_start(&mbox_ids, index, mb, id) {
		if (mb->ipc_ns == ns && mbox_may_stat(mb)) {
			mbox_get(mb);
			break;
		}
	}
	mutex_unlock(&mbox_registry_lock);
	return mb;
}

static void mbox_stat_fill(struct mbox_mailbox *mb, struct mbox_stat *st)
{
	struct user_namespace *ns = current_user_ns();

	st->id = mb->id;
	st->attrs = mb->system ? MBOX_CREATE_SYSTEM : 0;
	st->policy = mb->policy;
	st->cuid = from_kuid_munged(ns, mb->cuid);
	st->cgid = from_kgid_munged(ns, mb->cgid);
	st->max_msg_size = mb->max_msg_size;
	st->msg_size = mb->msg_size;
	spin_lock(&mb->lock);
	st->mode = mb->mode;
	st->uid = from_kuid_munged(ns, mb->uid);
	st->gid = from_kgid_munged(ns, mb->gid);
	st->nr_open = mb->nr_open;
	spin_unlock(&mb->lock);
	mbox_queue_stat(&mb->q, st);
}

/**
 * mbox_mailbox_stat - the state of a mailbox the caller may see
 * @id: the mailbox; with @next, the lowest id to consider
 * @next: report the first mailbox from @id on that the caller may see
 * @st: its output fields are filled in
 * @name: filled with the name, "" if it has none
 *
 * Return: 0, -ENOENT (none), -EACCES (not @next: the caller may not see it).
 */
int mbox_mailbox_stat(u32 id, bool next, struct mbox_stat *st,
		      char name[MBOX_NAME_MAX + 1])
{
	struct mbox_mailbox *mb;

	mb = next ? mbox_find_next(id) : mbox_find(id, NULL);
	if (!mb)
		return -ENOENT;
	if (!next && !mbox_may_stat(mb)) {
		mbox_put(mb);
		return -EACCES;
	}
	mbox_stat_fill(mb, st);
	/* The name is immutable: no lock needed to copy it. */
	strscpy(name, mb->name ?: "", MBOX_NAME_MAX + 1);
	mbox_put(mb);
	return 0;
}

/* Send and receive */

/* The mailbox @id open on @ep with @right: a counted reference, or NULL. */
static struct mbox_mailbox *mbox_lookup(struct mbox_endpoint *ep, u32 id,
					u32 right)
{
	struct mbox_mailbox *mb = NULL;
	struct mbox_attach *att;

	xa_lock(&ep->atts);
	att = xa_load(&ep->atts, id);
	if (att && att->rights & right) {
		mb = att->mb;
		mbox_get(mb);
	}
	xa_unlock(&ep->atts);
	return mb;
}

/* Decode MBOX_NONBLOCK and MBOX_DEADLINE (and the file's O_NONBLOCK). */
int mbox_block_init(struct mbox_block *blk, struct mbox_endpoint *ep,
		    u32 flags, u64 deadline_ns)
{
	if ((flags & MBOX_NONBLOCK) && (flags & MBOX_DEADLINE))
		return -EINVAL;
	blk->nonblock = (flags & MBOX_NONBLOCK) ||
			(READ_ONCE(ep->file->f_flags) & O_NONBLOCK);
	blk->has_deadline = flags & MBOX_DEADLINE;
	blk->deadline = ns_to_ktime(min_t(u64, deadline_ns, KTIME_MAX));
	return 0;
}

int mbox_ioc_send(struct mbox_endpoint *ep, void *arg)
{
	const u32 known = MBOX_NONBLOCK | MBOX_DEADLINE | MBOX_SEND_SYNC;
	struct mbox_send *s = arg;
	struct mbox_block blk;
	int ret;

	s->receiver_pid = 0;
	s->__pad = 0;
	if (s->flags & ~known || s->priority > MBOX_PRIO_MAX)
		return -EINVAL;
	if (s->addr > MBOX_ADDR_PIDFD)
		return -EINVAL;
	ret = mbox_block_init(&blk, ep, s->flags, s->deadline_ns);
	if (ret)
		return ret;
	return mbox_send_msg(ep, s, &blk, NULL);
}

/*
 * Send the message @s describes (checked by the caller) to a mailbox or a
 * process; with @call, as the request of that call.
 */
int mbox_send_msg(struct mbox_endpoint *ep, struct mbox_send *s,
		  const struct mbox_block *blk, struct mbox_pending *call)
{
	struct pid *receiver = NULL;
	struct mbox_mailbox *mb;
	struct mbox_msg *msg;
	int ret;

	if (s->addr != MBOX_ADDR_MAILBOX)
		return mbox_direct_send(ep, s, blk, call);

	mb = mbox_lookup(ep, s->to, MBOX_RIGHT_SEND);
	if (!mb)
		return -EBADF;
	ret = -EMSGSIZE;
	if (s->len > mb->max_msg_size || (mb->msg_size && s->len != mb->msg_size))
		goto put;

	msg = mbox_msg_alloc(u64_to_user_ptr(s->buf), s->len, s->priority);
	if (IS_ERR(msg)) {
		ret = PTR_ERR(msg);
		goto put;
	}
	if (call)
		msg->call = mbox_pending_get(call);
	ret = mbox_queue_send(&mb->q, msg, s->flags & MBOX_SEND_SYNC, blk,
			      &receiver);
	mbox_send_report(s, receiver);
put:
	mbox_put(mb);
	return ret;
}

/* Report who received a synchronous send; drops @receiver. */
void mbox_send_report(struct mbox_send *s, struct pid *receiver)
{
	if (s->flags & MBOX_SEND_SYNC)
		s->receiver_pid = pid_vnr(receiver);
	put_pid(receiver);
}

/* A receive under way: what the queue is asked for, and for whom. */
struct mbox_recv_ctx {
	struct mbox_recv_req req;
	struct mbox_endpoint *ep;
	struct mbox_recv *r;
};

/*
 * Hand a message to the receiver before it leaves the queue (the queue's
 * deliver hook): fill in the out fields as the receiver sees them, keep a
 * token free for a call, and write the struct back.  On error nothing is
 * left behind, and the message stays queued.
 */
static int mbox_recv_deliver(struct mbox_recv_req *req)
{
	struct mbox_recv_ctx *ctx = container_of(req, struct mbox_recv_ctx, req);
	struct mbox_recv *r = ctx->r;
	int ret;

	r->len = req->len;
	r->priority = req->prio;
	r->msg_flags = req->msg_flags;
	r->sender_pid = pid_vnr(req->sender);
	r->sender_uid = from_kuid_munged(current_user_ns(), req->uid);
	r->sender_gid = from_kgid_munged(current_user_ns(), req->gid);
	if (req->is_call) {
		/* This endpoint will owe the reply. */
		ret = mbox_pending_reserve(ctx->ep, &r->token);
		if (ret)
			return ret;
		r->msg_flags |= MBOX_MSG_CALL;
	}
	ret = mbox_ioctl_write_back(r);
	if (ret && req->is_call)
		mbox_pending_unreserve(ctx->ep, r->token);
	return ret;
}

/*
 * Receive from @q what @r asks for (from @from only, if not NULL; the
 * reference is dropped) and report it in @r, which is written back to
 * the caller before the message leaves the queue.
 */
int mbox_recv_from(struct mbox_endpoint *ep, struct mbox_queue *q,
		   struct mbox_recv *r, struct pid *from,
		   const struct mbox_block *blk)
{
	struct mbox_recv_ctx ctx = {
		.req = {
			.buf = u64_to_user_ptr(r->buf),
			.len = r->len,
			.from = from,
			.deliver = mbox_recv_deliver,
		},
		.ep = ep,
		.r = r,
	};
	int ret;

	ret = mbox_queue_recv(q, &ctx.req, blk);
	if (ret == -EMSGSIZE)
		r->len = ctx.req.len;
	if (!ret) {
		/* A call's request: its call goes under the token it got. */
		if (ctx.req.call)
			mbox_pending_publish(ep, ctx.req.call, r->token);
		put_pid(ctx.req.sender);
	}
	put_pid(from);
	return ret;
}

int mbox_ioc_recv(struct mbox_endpoint *ep, void *arg)
{
	const u32 known = MBOX_NONBLOCK | MBOX_DEADLINE | MBOX_RECV_FROM;
	struct mbox_recv *r = arg;
	struct pid *from = NULL;
	struct mbox_mailbox *mb;
	struct mbox_block blk;
	int ret;

	r->priority = 0;
	r->msg_flags = 0;
	r->sender_pid = 0;
	r->sender_uid = 0;
	r->sender_gid = 0;
	r->__pad = 0;
	r->token = 0;
	if (r->flags & ~known || !(r->flags & MBOX_RECV_FROM) != !r->from_pid ||
	    r->addr > MBOX_ADDR_PIDFD)
		return -EINVAL;
	ret = mbox_block_init(&blk, ep, r->flags, r->deadline_ns);
	if (ret)
		return ret;
	/* A batch's receives after the first take only what is there. */
	if (mbox_ioctl_nowait(arg))
		blk.nonblock = true;
	if (r->addr != MBOX_ADDR_MAILBOX) {
		/* Direct messages name their sender in @from. */
		if (r->flags & MBOX_RECV_FROM)
			return -EINVAL;
		return mbox_direct_recv(ep, r, &blk);
	}

	mb = mbox_lookup(ep, r->from, MBOX_RIGHT_RECV);
	if (!mb)
		return -EBADF;
	if (r->flags & MBOX_RECV_FROM) {
		from = mbox_process(MBOX_ADDR_PID, r->from_pid);
		if (IS_ERR(from)) {
			ret = PTR_ERR(from);
			goto put;
		}
	}
	ret = mbox_recv_from(ep, &mb->q, r, from, &blk);
put:
	mbox_put(mb);
	return ret;
}

__poll_t mbox_attach_poll(struct mbox_attach *att)
{
	return mbox_queue_poll(&att->mb->q, att->rights & MBOX_RIGHT_SEND,
			       att->rights & MBOX_RIGHT_RECV);
}

/* The endpoint's first poll: its mailboxes forward wake-ups; ep->lock held. */
void mbox_attach_poll_start(struct mbox_endpoint *ep)
{
	struct mbox_attach *att;
	unsigned long id;

	xa_for_each(&ep->atts, id, att)
		mbox_forward_start(&att->fwd, &att->mb->q);
}

/* Module load and unload */

int mbox_registry_init(void)
{
	mbox_mailbox_cache = KMEM_CACHE(mbox_mailbox, SLAB_ACCOUNT);
	return mbox_mailbox_cache ? 0 : -ENOMEM;
}

/* Every endpoint is closed: destroy the system-owned mailboxes left. */
void mbox_registry_exit(void)
{
	struct mbox_mailbox *mb;
	unsigned long id = 0;

	for (;;) {
		mutex_lock(&mbox_registry_lock);
		mb = xa_find(&mbox_ids, &id, ULONG_MAX, XA_PRESENT);
		if (mb)
			mbox_get(mb);
		mutex_unlock(&mbox_registry_lock);
		if (!mb)
			break;
		mbox_destroy(mb);
		mbox_put(mb);
	}
	kmem_cache_destroy(mbox_mailbox_cache);
}
