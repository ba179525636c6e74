// SPDX-License-Identifier: GPL-2.0
/*
 * mbox direct links: messages between processes that name each other by
 * pid or pidfd (spec section 3).
 *
 * A process becomes reachable by enabling direct receiving on one of its
 * endpoints: that creates a struct mbox_inbox, registered under the
 * process's thread-group struct pid.  Everything sent to the process goes
 * into the inbox's one message queue, so receive(ANY) is a plain
 * receive and receive(Q) a selective one; each sending peer has its own
 * struct mbox_link with its own bucket, so each direction of each link is
 * a bounded queue of its own, sized by the receiver.  A link appears on
 * the first message between two processes and is recorded on both sides
 * that can receive, so there is one per pair, in both directions.
 *
 * Registration is by struct pid, never by pid number: a process that
 * reuses an exited process's pid has another struct pid and never sees
 * what was meant for the first one.
 *
 * Locking:
 *  - mbox_inboxes_lock (spinlock) protects the registry hash and
 *    mbox_inbox.registered.
 *  - An inbox's queue lock protects its links (hash, count, buckets).
 *  - mbox_endpoint.inbox changes under the endpoint's lock and the
 *    xa_lock of its mailboxes, and is read under either.
 *
 * Lifetime: an inbox is referenced by its endpoint and by every ioctl
 * working on it.  When the endpoint closes it (or disables direct
 * receiving), it leaves the registry, its queue is killed (blocked
 * senders and receivers fail with ECONNRESET, queued messages are freed)
 * and the links go with the last reference.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hash.h>
#include <linux/hashtable.h>
#include <linux/magic.h>
#include <linux/pid.h>
#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "internal.h"

#ifndef PID_FS_MAGIC
#define PID_FS_MAGIC		0x50494446	/* pidfs, from 6.9 */
#endif

/**
 * struct mbox_link - one peer's link to a direct endpoint
 * @node: in mbox_inbox.links
 * @peer: the other process (thread-group pid), a counted reference
 * @in: its messages to the inbox's process: count and limits
 *
 * Protected by the inbox's queue lock; freed with the inbox.
 */
struct mbox_link {
	struct hlist_node node;
	struct pid *peer;
	struct mbox_bucket in;
};

/**
 * struct mbox_inbox - the direct receiving side of a process
 * @pid: the process (thread-group pid), a counted reference
 * @node: in mbox_inboxes (mbox_inboxes_lock)
 * @registered: in mbox_inboxes (mbox_inboxes_lock)
 * @anyone: accepts messages from any user, not only as kill(2) would
 * @max_msg_size: longest message
 * @capacity: capacity of each link's queue
 * @max_bytes: byte limit of each link's queue
 * @nr_links: links (queue lock)
 * @links: peer pid -> struct mbox_link (queue lock)
 * @fwd: forwards the queue's poll wake-ups to the endpoint
 * @q: every message sent to the process; q.ref counts references to the
 *	inbox: the endpoint's, and one per ioctl or call using it
 */
struct mbox_inbox {
	struct pid *pid;
	struct hlist_node node;
	bool registered;
	bool anyone;
	u32 max_msg_size;
	u32 capacity;
	u64 max_bytes;
	unsigned int nr_links;
	DECLARE_HASHTABLE(links, 4);
	struct mbox_forward fwd;
	struct mbox_queue q;
};

static DEFINE_SPINLOCK(mbox_inboxes_lock);
static DEFINE_HASHTABLE(mbox_inboxes, 6);

static void mbox_inbox_put(struct mbox_inbox *d)
{
	mbox_queue_put(&d->q);
}

static void mbox_inbox_release(struct mbox_queue *q)
{
	struct mbox_inbox *d = container_of(q, struct mbox_inbox, q);
	struct mbox_link *link;
	struct hlist_node *tmp;
	int bkt;

	hash_for_each_safe(d->links, bkt, tmp, link, node) {
		put_pid(link->peer);
		kfree(link);
	}
	put_pid(d->pid);
	kfree(d);
}

/* The inbox registered for process @tgid: a counted reference, or NULL. */
static struct mbox_inbox *mbox_inbox_find(struct pid *tgid)
{
	struct mbox_inbox *d;

	spin_lock(&mbox_inboxes_lock);
	hash_for_each_possible(mbox_inboxes, d, node, hash_ptr(tgid, 32)) {
		if (d->pid == tgid) {
			mbox_queue_get(&d->q);
			spin_unlock(&mbox_inboxes_lock);
			return d;
		}
	}
	spin_unlock(&mbox_inboxes_lock);
	return NULL;
}

/* The endpoint's inbox: a counted reference, or NULL. */
static struct mbox_inbox *mbox_inbox_get(struct mbox_endpoint *ep)
{
	struct mbox_inbox *d;

	xa_lock(&ep->atts);
	d = ep->inbox;
	if (d)
		mbox_queue_get(&d->q);
	xa_unlock(&ep->atts);
	return d;
}

/* Naming processes */

/* The process a pidfd refers to: a counted reference, or an ERR_PTR. */
static struct pid *mbox_pidfd_pid(int fd)
{
	struct file *file = fget(fd);
	struct pid *pid = NULL;
	struct inode *inode;

	if (!file)
		return ERR_PTR(-EBADF);
	inode = file_inode(file);
	/* pidfs from 6.9; an anonymous inode named "[pidfd]" before. */
	if (inode->i_sb->s_magic == PID_FS_MAGIC)
		pid = inode->i_private;
	else if (inode->i_sb->s_magic == ANON_INODE_FS_MAGIC &&
		 !strcmp(file->f_path.dentry->d_name.name, "[pidfd]"))
		pid = file->private_data;
	pid = pid ? get_pid(pid) : ERR_PTR(-EINVAL);
	fput(file);
	return pid;
}

/* May the caller signal a process with credentials @tcred? (kill(2)) */
static bool mbox_may_signal(const struct cred *tcred)
{
	const struct cred *cred = current_cred();

	return uid_eq(cred->euid, tcred->suid) ||
	       uid_eq(cred->euid, tcred->uid) ||
	       uid_eq(cred->uid, tcred->suid) ||
	       uid_eq(cred->uid, tcred->uid) ||
	       ns_capable(tcred->user_ns, CAP_KILL);
}

/**
 * mbox_process - the process named by a pid or a pidfd
 * @addr: MBOX_ADDR_PID or MBOX_ADDR_PIDFD
 * @nr: the pid (in the caller's pid namespace; a thread id names its
 *	process) or the pidfd
 *
 * Return: its thread-group pid, a counted reference; ERR_PTR(-ESRCH) if
 * there is no such live process, -EBADF or -EINVAL for a bad pidfd.
 */
struct pid *mbox_process(u32 addr, u32 nr)
{
	struct task_struct *task;
	struct pid *pid, *tgid = ERR_PTR(-ESRCH);

	if (addr == MBOX_ADDR_PIDFD)
		pid = mbox_pidfd_pid(nr);
	else
		pid = nr <= INT_MAX ? find_get_pid(nr) : NULL;
	if (IS_ERR_OR_NULL(pid))
		return pid ?: ERR_PTR(-ESRCH);

	rcu_read_lock();
	task = pid_task(pid, PIDTYPE_PID);
	/* Alive while one of its threads is (its leader may be a zombie). */
	if (task && atomic_read(&task->signal->live))
		tgid = get_pid(task_tgid(task));
	rcu_read_unlock();
	put_pid(pid);
	return tgid;
}

/* Would kill(2) let the caller signal process @tgid? */
static bool mbox_may_signal_process(struct pid *tgid)
{
	struct task_struct *task;
	bool ok = false;

	rcu_read_lock();
	task = pid_task(tgid, PIDTYPE_TGID);
	if (task)
		ok = mbox_may_signal(__task_cred(task));
	rcu_read_unlock();
	return ok;
}

/* Links */

static struct mbox_link *mbox_link_find(struct mbox_inbox *d, struct pid *peer)
{
	struct mbox_link *link;

	lockdep_assert_held(&d->q.lock);
	hash_for_each_possible(d->links, link, node, hash_ptr(peer, 32))
		if (link->peer == peer)
			return link;
	return NULL;
}

/* Whether @d has a link with @peer already.  Links go only with @d. */
static bool mbox_link_exists(struct mbox_inbox *d, struct pid *peer)
{
	bool found;

	spin_lock(&d->q.lock);
	found = mbox_link_find(d, peer);
	spin_unlock(&d->q.lock);
	return found;
}

/*
 * The link of @d with @peer, made from @spare if there is none yet (then
 * *@spare is consumed).  Under the queue lock.
 */
static struct mbox_link *mbox_link_get(struct mbox_inbox *d, struct pid *peer,
				       struct mbox_link **spare)
{
	struct mbox_link *link;

	lockdep_assert_held(&d->q.lock);
	link = mbox_link_find(d, peer);
	if (link)
		return link;
	link = *spare;
	*spare = NULL;
	link->peer = get_pid(peer);
	link->in = (struct mbox_bucket) {
		.capacity = d->capacity,
		.max_bytes = d->max_bytes,
	};
	hash_add(d->links, &link->node, hash_ptr(peer, 32));
	d->nr_links++;
	return link;
}

/* Send and receive */

int mbox_direct_send(struct mbox_endpoint *ep, struct mbox_send *s,
		     const struct mbox_block *blk, struct mbox_pending *call)
{
	struct mbox_link *spare = NULL, *spare_mine = NULL;
	struct mbox_inbox *d, *mine = NULL;
	struct pid *receiver = NULL;
	struct pid *target;
	struct mbox_msg *msg;
	int ret;

	target = mbox_process(s->addr, s->to);
	if (IS_ERR(target))
		return PTR_ERR(target);
	d = mbox_inbox_find(target);
	ret = -ECONNREFUSED;
	if (!d)
		goto put_target;
	ret = -EPERM;
	if (!d->anyone && !mbox_may_signal_process(target))
		goto put;
	ret = -EMSGSIZE;
	if (s->len > d->max_msg_size)
		goto put;

	/*
	 * The link is both ways: the sender's inbox, if any, records it too.
	 * A pair's links are made by its first message: allocate them only
	 * then, so that the messages after it allocate nothing but
	 * themselves.  A link lasts as long as its inbox, so one seen here is
	 * still there below.
	 */
	mine = mbox_inbox_find(task_tgid(current));
	if (!mbox_link_exists(d, task_tgid(current)) ||
	    (mine && !mbox_link_exists(mine, target))) {
		ret = -ENOMEM;
		spare = kzalloc(sizeof(*spare), GFP_KERNEL_ACCOUNT);
		spare_mine = kzalloc(sizeof(*spare_mine), GFP_KERNEL_ACCOUNT);
		if (!spare || !spare_mine)
			goto put;
	}
	msg = mbox_msg_alloc(u64_to_user_ptr(s->buf), s->len, s->priority);
	if (IS_ERR(msg)) {
		ret = PTR_ERR(msg);
		goto put;
	}
	if (call)
		msg->call = mbox_pending_get(call);
	spin_lock(&d->q.lock);
	msg->bucket = &mbox_link_get(d, msg->sender, &spare)->in;
	spin_unlock(&d->q.lock);
	if (mine) {
		spin_lock(&mine->q.lock);
		mbox_link_get(mine, target, &spare_mine);
		spin_unlock(&mine->q.lock);
	}

	ret = mbox_queue_send(&d->q, msg, s->flags & MBOX_SEND_SYNC, blk,
			      &receiver);
	mbox_send_report(s, receiver);
put:
	kfree(spare);
	kfree(spare_mine);
	if (mine)
		mbox_inbox_put(mine);
	mbox_inbox_put(d);
put_target:
	put_pid(target);
	return ret;
}

int mbox_direct_recv(struct mbox_endpoint *ep, struct mbox_recv *r,
		     const struct mbox_block *blk)
{
	struct pid *from = NULL;
	struct mbox_inbox *d;
	int ret;

	d = mbox_inbox_get(ep);
	if (!d)
		return -EBADF;
	/*
	 * receive(Q), or receive(ANY) with pid 0.  A pidfd names its process
	 * even after it exited, so what it sent can still be taken.
	 */
	if (r->addr == MBOX_ADDR_PIDFD || r->from) {
		if (r->addr == MBOX_ADDR_PIDFD)
			from = mbox_pidfd_pid(r->from);
		else
			from = mbox_process(r->addr, r->from);
		if (IS_ERR(from)) {
			ret = PTR_ERR(from);
			goto put;
		}
	}
	ret = mbox_recv_from(ep, &d->q, r, from, blk);
put:
	mbox_inbox_put(d);
	return ret;
}

/* Under the xa_lock of the endpoint's mailboxes. */
__poll_t mbox_direct_poll(struct mbox_endpoint *ep)
{
	return ep->inbox ? mbox_queue_poll(&ep->inbox->q, false, true) : 0;
}

/* The endpoint's first poll: its direct queue forwards wake-ups. */
void mbox_direct_poll_start(struct mbox_endpoint *ep)
{
	lockdep_assert_held(&ep->lock);
	if (ep->inbox)
		mbox_forward_start(&ep->inbox->fwd, &ep->inbox->q);
}

/* Enable, disable, query */

static void mbox_inbox_fill(struct mbox_inbox *d, struct mbox_direct *out)
{
	out->capacity = d->capacity;
	out->max_msg_size = d->max_msg_size;
	out->max_bytes = d->max_bytes;
	spin_lock(&d->q.lock);
	out->links = d->nr_links;
	spin_unlock(&d->q.lock);
	out->pid = pid_vnr(d->pid);
	if (d->anyone)
		out->flags |= MBOX_DIRECT_ANYONE;
}

static int mbox_direct_enable(struct mbox_endpoint *ep, struct mbox_direct *arg)
{
	struct mbox_inbox *d, *other;
	int ret;

	d = kzalloc(sizeof(*d), GFP_KERNEL_ACCOUNT);
	if (!d)
		return -ENOMEM;
	d->max_msg_size = arg->max_msg_size;
	ret = mbox_queue_limits(arg->capacity, &d->max_msg_size, 0,
				arg->max_bytes, &d->max_bytes);
	if (ret) {
		kfree(d);
		return ret;
	}
	d->pid = get_pid(task_tgid(current));
	d->anyone = arg->flags & MBOX_DIRECT_ANYONE;
	d->capacity = arg->capacity;
	hash_init(d->links);
	/* The queue's own bucket is unused: every message has a link's. */
	mbox_queue_init(&d->q, 0, U64_MAX, mbox_inbox_release);

	mutex_lock(&ep->lock);
	/* Forwarding first: a peer may send as soon as it is registered. */
	mbox_forward_add(&d->fwd, ep, &d->q);
	spin_lock(&mbox_inboxes_lock);
	ret = ep->inbox ? -EEXIST : 0;
	hash_for_each_possible(mbox_inboxes, other, node, hash_ptr(d->pid, 32))
		if (other->pid == d->pid)
			ret = ret ?: -EBUSY;
	if (!ret) {
		hash_add(mbox_inboxes, &d->node, hash_ptr(d->pid, 32));
		d->registered = true;
	}
	spin_unlock(&mbox_inboxes_lock);
	if (!ret) {
		xa_lock(&ep->atts);
		ep->inbox = d;
		xa_unlock(&ep->atts);
		mbox_inbox_fill(d, arg);
		wake_up_poll(&ep->poll_wq, EPOLLIN | EPOLLRDNORM);
	} else {
		mbox_forward_del(&d->fwd);
	}
	mutex_unlock(&ep->lock);
	if (ret)
		mbox_inbox_put(d);
	return ret;
}

/* Stop direct receiving on @ep; its lock held. */
static void mbox_direct_disable(struct mbox_endpoint *ep)
{
	struct mbox_inbox *d = ep->inbox;

	lockdep_assert_held(&ep->lock);
	xa_lock(&ep->atts);
	ep->inbox = NULL;
	xa_unlock(&ep->atts);

	spin_lock(&mbox_inboxes_lock);
	hash_del(&d->node);
	d->registered = false;
	spin_unlock(&mbox_inboxes_lock);

	mbox_queue_kill(&d->q, -ECONNRESET);
	mbox_forward_del(&d->fwd);
	mbox_inbox_put(d);
}

int mbox_ioc_direct(struct mbox_endpoint *ep, void *arg)
{
	const u32 modes = MBOX_DIRECT_DISABLE | MBOX_DIRECT_QUERY;
	struct mbox_direct *a = arg;
	struct mbox_inbox *d;
	int ret = 0;

	if (a->flags & ~(modes | MBOX_DIRECT_ANYONE) ||
	    hweight32(a->flags & (modes | MBOX_DIRECT_ANYONE)) > 1)
		return -EINVAL;
	a->links = 0;
	a->pid = 0;
	if (!(a->flags & modes))
		return mbox_direct_enable(ep, a);

	mutex_lock(&ep->lock);
	d = ep->inbox;
	if (!d)
		ret = -EBADF;
	else if (a->flags & MBOX_DIRECT_QUERY)
		mbox_inbox_fill(d, a);
	else
		mbox_direct_disable(ep);
	mutex_unlock(&ep->lock);
	return ret;
}

/* Undo an enable whose caller could not be told: disable it again. */
void mbox_ioc_direct_undo(struct mbox_endpoint *ep, void *arg)
{
	struct mbox_direct *a = arg;

	if (!(a->flags & (MBOX_DIRECT_DISABLE | MBOX_DIRECT_QUERY)))
		mbox_direct_release(ep);
}

/* The endpoint is going away. */
void mbox_direct_release(struct mbox_endpoint *ep)
{
	mutex_lock(&ep->lock);
	if (ep->inbox)
		mbox_direct_disable(ep);
	mutex_unlock(&ep->lock);
}
