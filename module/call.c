// SPDX-License-Identifier: GPL-2.0
/*
 * mbox calls: the extended rendezvous of client-server programs (spec
 * section 5).
 *
 * A call is a synchronous send of a request that carries a struct
 * mbox_pending, followed by a wait on that pending call for its reply.
 * The receiver of the request (the server) gets a one-shot token naming
 * the pending call in its endpoint's table; MBOX_IOC_REPLY takes the call
 * out of the table, so a second reply finds nothing, and completes it.
 *
 * States of a pending call, all changed under its lock:
 *   WAITING   the caller waits (the request may not even be received yet)
 *   REPLIED   the server replied; the reply waits for the caller
 *   CANCELLED the caller gave up (deadline, signal, exit): a late reply
 *             fails with ECANCELED and is freed
 *   FAILED    the server's endpoint closed (EPIPE) or the queue the
 *             request came through was killed (EIDRM, ECONNRESET) before
 *             a reply: the caller fails at once
 *
 * Locking: a pending call's lock is a leaf; the queue lock of the queue
 * the request came through is taken before it (mbox_pending_fail_all).
 * The server's table of calls (mbox_endpoint.calls) has its xa_lock.
 *
 * Lifetime: references are held by the caller, by the request message
 * until it is received, and by the server's table; the call holds a
 * reference on that queue (and so on its mailbox or inbox).  Tokens are
 * never reused while the server's endpoint is open: a slot index plus a
 * generation counter.
 */
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "internal.h"

enum mbox_pending_state {
	MBOX_CALL_WAITING,
	MBOX_CALL_REPLIED,
	MBOX_CALL_CANCELLED,
	MBOX_CALL_FAILED,
};

/**
 * struct mbox_pending - a call, from its request to its reply
 * @ref: references, see the top of this file
 * @lock: protects @state, @err and @reply
 * @state: enum mbox_pending_state
 * @err: with MBOX_CALL_FAILED, the caller's negative errno
 * @reply: with MBOX_CALL_REPLIED, the reply
 * @reply_cap: the longest reply the caller accepts
 * @token: the server's token for it, set when the request is received
 *	(under the xa_lock of the server's table)
 * @wq: the caller waits here
 * @q: the queue the request came through, a counted reference, once
 *	received
 * @qnode: in @q's calls until answered or failed (under @q's lock)
 */
struct mbox_pending {
	refcount_t ref;
	spinlock_t lock;		/* state, err, reply */
	int state;
	int err;
	struct mbox_msg *reply;
	u32 reply_cap;
	u64 token;
	wait_queue_head_t wq;
	struct mbox_queue *q;
	struct list_head qnode;
};

static struct mbox_pending *mbox_pending_new(u32 reply_cap)
{
	struct mbox_pending *p = kzalloc(sizeof(*p), GFP_KERNEL_ACCOUNT);

	if (!p)
		return NULL;
	refcount_set(&p->ref, 1);
	spin_lock_init(&p->lock);
	p->state = MBOX_CALL_WAITING;
	p->reply_cap = reply_cap;
	init_waitqueue_head(&p->wq);
	INIT_LIST_HEAD(&p->qnode);
	return p;
}

struct mbox_pending *mbox_pending_get(struct mbox_pending *p)
{
	refcount_inc(&p->ref);
	return p;
}

/* Not under any lock: it may free a mailbox or an inbox. */
void mbox_pending_put(struct mbox_pending *p)
{
	if (!refcount_dec_and_test(&p->ref))
		return;
	mbox_msg_free(p->reply);
	if (p->q)
		mbox_queue_put(p->q);
	kfree(p);
}

/*
 * Complete a waiting call with @reply, or fail it with @err.  Returns
 * false if the caller is not waiting any more (then @reply is the
 * caller's to free).
 */
static bool mbox_pending_complete(struct mbox_pending *p,
				  struct mbox_msg *reply, int err)
{
	bool done = false;

	spin_lock(&p->lock);
	if (p->state == MBOX_CALL_WAITING) {
		if (reply) {
			p->reply = reply;
			p->state = MBOX_CALL_REPLIED;
		} else {
			p->err = err;
			p->state = MBOX_CALL_FAILED;
		}
		wake_up(&p->wq);
		done = true;
	}
	spin_unlock(&p->lock);
	return done;
}

/*
 * The request was received through @q; its lock held.  A queue killed
 * while the receiver was copying the request out has failed its calls
 * already: this one fails now, as it would have on the list.
 */
void mbox_pending_start(struct mbox_pending *p, struct mbox_queue *q)
{
	lockdep_assert_held(&q->lock);
	mbox_queue_get(q);
	p->q = q;
	if (q->dead)
		mbox_pending_complete(p, NULL, q->dead);
	else
		list_add_tail(&p->qnode, &q->calls);
}

/* The queue @calls belong to is killed: fail them with @err.  Its lock held. */
void mbox_pending_fail_all(struct list_head *calls, int err)
{
	struct mbox_pending *p, *tmp;

	list_for_each_entry_safe(p, tmp, calls, qnode) {
		list_del_init(&p->qnode);
		mbox_pending_complete(p, NULL, err);
	}
}

/* Answer @p, taken out of the server's table: the reply, or a failure. */
static int mbox_pending_answer(struct mbox_pending *p, struct mbox_msg *reply,
			       int err)
{
	spin_lock(&p->q->lock);
	list_del_init(&p->qnode);
	spin_unlock(&p->q->lock);
	if (mbox_pending_complete(p, reply, err))
		return 0;
	mbox_msg_free(reply);
	/* Failed already (its queue or server went): nothing to answer. */
	return READ_ONCE(p->state) == MBOX_CALL_FAILED ? -ENOENT : -ECANCELED;
}

/* Server side */

/*
 * Receiving a call takes two steps around the commit of its request, so
 * that a failure leaves the request queued: a slot and token first, held
 * by mbox_pending_reserved (which no token matches: replies find
 * nothing there), the call after.  A placeholder rather than xarray's
 * own reserved entry, which cannot live in the xarray's head: with it,
 * every call of a server that answers one at a time allocated an xa_node
 * and freed it through RCU.
 */
static struct mbox_pending mbox_pending_reserved;

int mbox_pending_reserve(struct mbox_endpoint *ep, u64 *token)
{
	u32 slot;
	int ret;

	xa_lock(&ep->calls);
	ret = __xa_alloc(&ep->calls, &slot, &mbox_pending_reserved,
			 xa_limit_32b, GFP_KERNEL_ACCOUNT);
	if (!ret) {
		/* Generation 0 would make slot 0's token 0, "no call". */
		if (!++ep->call_gen)
			ep->call_gen = 1;
		*token = (u64)ep->call_gen << 32 | slot;
	}
	xa_unlock(&ep->calls);
	return ret;
}

/* The request was not received after all: free the slot of @token. */
void mbox_pending_unreserve(struct mbox_endpoint *ep, u64 token)
{
	xa_cmpxchg(&ep->calls, (u32)token, &mbox_pending_reserved, NULL, 0);
}

/*
 * The request of @p was received with @token: put the call in its slot.
 * The table takes the caller's reference.  Storing into a reserved slot
 * allocates nothing.
 */
void mbox_pending_publish(struct mbox_endpoint *ep, struct mbox_pending *p,
			  u64 token)
{
	void *old;

	xa_lock(&ep->calls);
	p->token = token;
	old = __xa_store(&ep->calls, (u32)token, p, GFP_NOWAIT);
	xa_unlock(&ep->calls);
	WARN_ON_ONCE(xa_is_err(old));
}

/* Take the call of @token out of @ep's table, if the reply fits it. */
static struct mbox_pending *mbox_pending_take(struct mbox_endpoint *ep,
					      u64 token, u32 len)
{
	struct mbox_pending *p;
	unsigned long slot = (u32)token;

	xa_lock(&ep->calls);
	p = xa_load(&ep->calls, slot);
	if (!p || p == &mbox_pending_reserved || p->token != token)
		p = ERR_PTR(-ENOENT);
	else if (len > p->reply_cap &&
		 READ_ONCE(p->state) == MBOX_CALL_WAITING)
		p = ERR_PTR(-EMSGSIZE);
	else
		__xa_erase(&ep->calls, slot);
	xa_unlock(&ep->calls);
	return p;
}

int mbox_ioc_reply(struct mbox_endpoint *ep, void *arg)
{
	struct mbox_reply *r = arg;
	struct mbox_pending *p;
	struct mbox_msg *reply;
	int ret;

	if (r->flags & ~MBOX_REPLY_RECV || r->__reserved ||
	    !(r->flags & MBOX_REPLY_RECV) != !r->recv)
		return -EINVAL;
	reply = mbox_msg_alloc(u64_to_user_ptr(r->buf), r->len, 0);
	if (IS_ERR(reply))
		return PTR_ERR(reply);
	p = mbox_pending_take(ep, r->token, r->len);
	if (IS_ERR(p)) {
		mbox_msg_free(reply);
		return PTR_ERR(p);
	}
	ret = mbox_pending_answer(p, reply, 0);
	mbox_pending_put(p);
	if (ret || !(r->flags & MBOX_REPLY_RECV))
		return ret;
	return mbox_ioc_recv_user(ep, u64_to_user_ptr(r->recv));
}

/* The server's endpoint is going away: its callers fail with EPIPE. */
void mbox_pending_release(struct mbox_endpoint *ep)
{
	struct mbox_pending *p;
	unsigned long slot;

	/* (No receive runs on a released endpoint: nothing is reserved.) */
	xa_for_each(&ep->calls, slot, p) {
		xa_erase(&ep->calls, slot);
		if (WARN_ON_ONCE(p == &mbox_pending_reserved))
			continue;
		mbox_pending_answer(p, NULL, -EPIPE);
		mbox_pending_put(p);
	}
}

/* Caller side */

/*
 * Wait for the reply, on @p->wq already; then the call is over, one way or
 * the other.
 */
static int mbox_pending_wait(struct mbox_pending *p, const struct mbox_block *blk,
			     struct mbox_msg **reply)
{
	int ret = 0;

	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (READ_ONCE(p->state) != MBOX_CALL_WAITING)
			break;
		/*
		 * The request was delivered: the call cannot be restarted,
		 * only given up.
		 */
		if (signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		ret = mbox_block_sleep(blk);
		if (ret)
			break;
	}
	__set_current_state(TASK_RUNNING);

	spin_lock(&p->lock);
	switch (p->state) {
	case MBOX_CALL_WAITING:
		p->state = MBOX_CALL_CANCELLED;
		break;
	case MBOX_CALL_REPLIED:
		*reply = p->reply;
		p->reply = NULL;
		ret = 0;
		break;
	case MBOX_CALL_FAILED:
		ret = p->err;
		break;
	}
	spin_unlock(&p->lock);
	return ret;
}

int mbox_ioc_call(struct mbox_endpoint *ep, void *arg)
{
	struct mbox_call *c = arg;
	struct mbox_send s = {
		.flags = MBOX_SEND_SYNC | (c->flags & MBOX_NONBLOCK),
		.addr = c->addr,
		.to = c->to,
		.buf = c->buf,
		.len = c->len,
		.priority = c->priority,
	};
	DEFINE_WAIT_FUNC(wait, default_wake_function);
	struct mbox_msg *reply = NULL;
	struct mbox_pending *p;
	struct mbox_block blk;
	int ret;

	c->server_pid = 0;
	if (c->flags & ~(MBOX_NONBLOCK | MBOX_DEADLINE) ||
	    c->priority > MBOX_PRIO_MAX || c->addr > MBOX_ADDR_PIDFD)
		return -EINVAL;
	ret = mbox_block_init(&blk, ep, c->flags, c->deadline_ns);
	if (ret)
		return ret;
	p = mbox_pending_new(c->reply_len);
	if (!p)
		return -ENOMEM;
	/*
	 * One sleep from the request to the reply: the reply wakes the caller
	 * through @p->wq, its request's receive does not (msgq.c).
	 */
	add_wait_queue(&p->wq, &wait);

	/* The request, synchronously: restartable until it is received. */
	ret = mbox_send_msg(ep, &s, &blk, p);
	if (ret) {
		/*
		 * Not received; or, for a caller being killed during the
		 * receiver's copy, perhaps received: then nobody waits.
		 */
		spin_lock(&p->lock);
		p->state = MBOX_CALL_CANCELLED;
		spin_unlock(&p->lock);
		goto out;
	}
	c->server_pid = s.receiver_pid;

	ret = mbox_pending_wait(p, &blk, &reply);
	if (ret)
		goto out;
	c->reply_len = reply->len;
	if (copy_to_user(u64_to_user_ptr(c->reply_buf), reply->data, reply->len))
		ret = -EFAULT;
	mbox_msg_free(reply);
out:
	remove_wait_queue(&p->wq, &wait);
	mbox_pending_put(p);
	return ret;
}
