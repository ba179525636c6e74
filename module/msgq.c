// SPDX-License-Identifier: GPL-2.0
/*
 * mbox message queues: send, receive and the hand-off between them.
 *
 * A queue holds messages by priority (one FIFO per priority, a bitmap of
 * the non-empty ones) and two FIFOs of blocked tasks: receivers waiting
 * for a message and senders waiting for room.  Everything is protected by
 * the queue's spinlock; user memory is only touched outside it.
 *
 * Send: the message is allocated and copied in before the lock is taken.
 * Under the lock it goes, in this order, (1) straight to the first blocked
 * receiver that wants it (pipelined hand-off, as in ipc/mqueue.c), (2) into
 * the queue if there is room, (3) nowhere yet: the sender blocks.  On a
 * capacity-0 queue (rendezvous) step 2 never has room: a blocked sender's
 * message is queued uncounted as an "offer" that receivers take, and the
 * sender waits until one does.  A synchronous sender always waits until
 * its message is received.
 *
 * Receive: under the lock the receiver takes the best message (highest
 * priority, oldest) or blocks.  Taking a message only *reserves* it: it
 * leaves the queue but still counts against the capacity and its sender
 * still waits.  The receiver copies it out without the lock, and hands it
 * over (req->deliver: the caller's result struct written, a call's token
 * reserved), then commits (the message is received: room is freed,
 * blocked senders move in, a synchronous sender learns who received it)
 * or, if any of that failed, puts it back in its place.  So a message is
 * never lost by a bad buffer and never seen by two receivers.
 *
 * Waiting: a blocked task sleeps on a struct mbox_waiter on its own stack,
 * linked into the queue.  The task that completes the wait sets
 * waiter->state with release semantics and wakes the sleeper, both under
 * the queue lock.  The sleeper reads the state with acquire semantics,
 * and always takes the queue lock once more before its waiter goes out of
 * scope, so the waker is done with it.  A sleeper interrupted by a signal
 * or its deadline takes the lock and either unlinks itself (nothing
 * happened) or finds it was completed meanwhile (the result wins).
 *
 * A synchronous sender interrupted while a receiver is copying its message
 * out cannot know yet whether it was delivered; it waits, uninterruptibly,
 * for that receiver's commit or put-back (two copy_to_user and, for a
 * call, one small allocation).
 *
 * Pollers: every change that may turn EPOLLIN, EPOLLOUT or EPOLLHUP on is
 * announced on q->poll_wq after the lock is dropped.
 *
 * Lock order: the queue lock nests inside nothing of mbox's own; it may
 * be held while taking a wait queue's lock (wake_up_process).
 */
#include <linux/bitops.h>
#include <linux/cred.h>
#include <linux/hrtimer.h>
#include <linux/moduleparam.h>
#include <linux/overflow.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "internal.h"
#include "msgq.h"

enum mbox_wait_state {
	MBOX_WAITING,
	MBOX_WAIT_DONE,		/* receiver: has a message; sender: received */
	MBOX_WAIT_SENT,		/* asynchronous sender: queued or handed off */
	MBOX_WAIT_TOO_SMALL,	/* receiver: the message needs ->len bytes */
	MBOX_WAIT_CANCELLED,	/* sender: message put back after cancel */
	MBOX_WAIT_DEAD,		/* the queue was killed */
};

/**
 * struct mbox_waiter - a task blocked on a queue, on that task's stack
 * @node: in mbox_queue.receivers or .senders while blocked there
 * @task: the sleeping task
 * @state: enum mbox_wait_state, written under the queue lock
 * @msg: receiver: the message handed to it; sender: its message while
 *	the sender still owns it (blocked for room, or cancelled)
 * @len: receiver: its buffer size; on MBOX_WAIT_TOO_SMALL the length
 *	needed
 * @from: receiver: only messages of this sender, or NULL
 * @sync: sender: wait until received, not only queued
 * @cancel: sender: gave up while its message was being copied out
 * @quiet: sender: of a call's request; its receive does not wake it, the
 *	reply will (the caller waits on its call too, call.c)
 * @blocked: sender: counted in the queue's nr_senders
 * @peer: sender: the receiving process, a counted reference
 */
struct mbox_waiter {
	struct list_head node;
	struct task_struct *task;
	int state;
	struct mbox_msg *msg;
	u32 len;
	struct pid *from;
	bool sync;
	bool cancel;
	bool quiet;
	bool blocked;
	struct pid *peer;
};

/* Message sizes the parameters may be set to: 1 byte to 64 MiB. */
#define MBOX_MSG_SIZE_LIMIT	(64U << 20)

static int mbox_param_set_size(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, MBOX_MSG_SIZE_LIMIT);
}

static const struct kernel_param_ops mbox_size_param_ops = {
	.set = mbox_param_set_size,
	.get = param_get_uint,
};

static unsigned int max_msg_size = 1 << 20;
module_param_cb(max_msg_size, &mbox_size_param_ops, &max_msg_size, 0644);
__MODULE_PARM_TYPE(max_msg_size, "uint");
MODULE_PARM_DESC(max_msg_size, "Ceiling of the maximum message size of a queue (1 MiB)");

static unsigned int default_msg_size = 8192;
module_param_cb(default_msg_size, &mbox_size_param_ops, &default_msg_size,
		0644);
__MODULE_PARM_TYPE(default_msg_size, "uint");
MODULE_PARM_DESC(default_msg_size, "Maximum message size of a queue created with 0 (8 KiB)");

/**
 * mbox_queue_limits - check and complete the size limits of a new queue
 * @capacity: 0, N or MBOX_UNBOUNDED
 * @longest: in: the longest message, 0 for the default; out: in force
 * @msg_size: the only length allowed, or 0
 * @max_bytes: bytes the queue may hold, 0 for the default
 * @bytes: out: the byte limit in force (U64_MAX: none)
 *
 * Return: 0 or -EINVAL.
 */
int mbox_queue_limits(u32 capacity, u32 *longest, u32 msg_size,
		      u64 max_bytes, u64 *bytes)
{
	u32 ceiling = READ_ONCE(max_msg_size);

	/* A default that the ceiling was lowered under follows it. */
	if (!*longest)
		*longest = min(READ_ONCE(default_msg_size), ceiling);
	if (*longest > ceiling || msg_size > *longest)
		return -EINVAL;

	if (!capacity) {
		*bytes = U64_MAX;
	} else if (max_bytes) {
		if (max_bytes < (msg_size ?: *longest))
			return -EINVAL;
		*bytes = max_bytes;
	} else if (capacity == MBOX_UNBOUNDED) {
		*bytes = U64_MAX;
	} else {
		*bytes = (u64)capacity * *longest;
	}
	return 0;
}

void mbox_queue_init(struct mbox_queue *q, u32 capacity, u64 max_bytes,
		     void (*release)(struct mbox_queue *q))
{
	int p;

	refcount_set(&q->ref, 1);
	q->release = release;
	spin_lock_init(&q->lock);
	for (p = 0; p <= MBOX_PRIO_MAX; p++)
		INIT_LIST_HEAD(&q->prio[p]);
	q->prio_map = 0;
	q->limit = (struct mbox_bucket) {
		.capacity = capacity,
		.max_bytes = max_bytes,
	};
	q->seq = 0;
	INIT_LIST_HEAD(&q->receivers);
	INIT_LIST_HEAD(&q->senders);
	INIT_LIST_HEAD(&q->calls);
	q->nr_senders = 0;
	q->nr_receivers = 0;
	q->nr_sent = 0;
	q->nr_received = 0;
	q->dead = 0;
	init_waitqueue_head(&q->poll_wq);
}
EXPORT_SYMBOL_IF_KUNIT(mbox_queue_init);

/* Messages */

/*
 * What a message of @len bytes counts against its sender's max_user_bytes:
 * its payload and a fixed share for its bookkeeping, so that empty
 * messages are not free.
 */
static size_t mbox_msg_charge(u32 len)
{
	static_assert(sizeof(struct mbox_msg) <= MBOX_MSG_OVERHEAD);
	return (size_t)len + MBOX_MSG_OVERHEAD;
}

/**
 * mbox_msg_alloc - a message, copied from userspace and charged
 * @buf: the payload in userspace
 * @len: its length, at most the max_msg_size module parameter
 * @prio: its priority
 *
 * The sender's quota is charged before the memory is allocated, so a user
 * over it allocates nothing.
 *
 * Return: the message, or ERR_PTR(-ENOMEM, -ENOSPC, -EFAULT, -EMSGSIZE).
 */
struct mbox_msg *mbox_msg_alloc(const void __user *buf, u32 len, u32 prio)
{
	struct mbox_user *user;
	struct mbox_msg *msg;
	int ret;

	if (len > READ_ONCE(max_msg_size))
		return ERR_PTR(-EMSGSIZE);
	user = mbox_user_get(current_euid());
	if (IS_ERR(user))
		return ERR_CAST(user);
	ret = mbox_user_charge_bytes(user, mbox_msg_charge(len));
	if (ret)
		goto put;
	ret = -ENOMEM;
	/*
	 * A full memory cgroup fails the send with ENOMEM rather than running
	 * its OOM killer against the sender.
	 */
	msg = kvmalloc(struct_size(msg, data, len),
		       GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL | __GFP_NOWARN);
	if (!msg)
		goto uncharge;
	ret = -EFAULT;
	if (copy_from_user(msg->data, buf, len))
		goto free;
	msg->user = user;
	INIT_LIST_HEAD(&msg->node);
	msg->seq = 0;
	msg->waiter = NULL;
	msg->call = NULL;
	msg->bucket = NULL;
	msg->counted = false;
	msg->reserved = false;
	msg->len = len;
	msg->prio = prio;
	msg->sender = get_pid(task_tgid(current));
	msg->uid = current_euid();
	msg->gid = current_egid();
	return msg;

free:
	kvfree(msg);
uncharge:
	mbox_user_uncharge_bytes(user, mbox_msg_charge(len));
put:
	mbox_user_put(user);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_IF_KUNIT(mbox_msg_alloc);

void mbox_msg_free(struct mbox_msg *msg)
{
	if (!msg)
		return;
	mbox_user_uncharge_bytes(msg->user, mbox_msg_charge(msg->len));
	mbox_user_put(msg->user);
	put_pid(msg->sender);
	if (msg->call)
		mbox_pending_put(msg->call);
	kvfree(msg);
}
EXPORT_SYMBOL_IF_KUNIT(mbox_msg_free);

/* Queue primitives, all under q->lock */

static struct mbox_bucket *mbox_bucket(struct mbox_queue *q,
				       const struct mbox_msg *msg)
{
	return msg->bucket ?: &q->limit;
}

static bool mbox_room(struct mbox_queue *q, const struct mbox_msg *msg)
{
	const struct mbox_bucket *b = mbox_bucket(q, msg);

	return b->count < b->capacity && b->bytes + msg->len <= b->max_bytes;
}

/* Room for a new sender: blocked senders of its bucket go first. */
static bool mbox_room_for_new(struct mbox_queue *q, const struct mbox_msg *msg)
{
	struct mbox_bucket *b = mbox_bucket(q, msg);
	struct mbox_waiter *w;

	if (!mbox_room(q, msg))
		return false;
	list_for_each_entry(w, &q->senders, node)
		if (mbox_bucket(q, w->msg) == b)
			return false;
	return true;
}

static void mbox_link(struct mbox_queue *q, struct mbox_msg *msg)
{
	struct list_head *head = &q->prio[msg->prio];
	struct mbox_msg *pos;

	/* In sending order: at the tail, unless a message is put back. */
	list_for_each_entry_reverse(pos, head, node)
		if (pos->seq < msg->seq)
			break;
	list_add(&msg->node, &pos->node);
	__set_bit(msg->prio, &q->prio_map);
}

static void mbox_unlink(struct mbox_queue *q, struct mbox_msg *msg)
{
	list_del_init(&msg->node);
	if (list_empty(&q->prio[msg->prio]))
		__clear_bit(msg->prio, &q->prio_map);
}

static void mbox_count(struct mbox_queue *q, struct mbox_msg *msg)
{
	struct mbox_bucket *b = mbox_bucket(q, msg);

	if (!msg->counted) {
		b->count++;
		b->bytes += msg->len;
		msg->counted = true;
	}
}

static void mbox_uncount(struct mbox_queue *q, struct mbox_msg *msg)
{
	struct mbox_bucket *b = mbox_bucket(q, msg);

	if (msg->counted) {
		b->count--;
		b->bytes -= msg->len;
		msg->counted = false;
	}
}

static void mbox_wake(struct mbox_waiter *w, int state)
{
	/* Pairs with smp_load_acquire() in mbox_wait(). */
	smp_store_release(&w->state, state);
	wake_up_process(w->task);
}

/*
 * A blocked sender's send is done (its message is queued, or received):
 * it counts in the queue's totals now, not once its task runs again.
 * A caller whose request was received sleeps on until the reply wakes it:
 * waking it only to sleep again would cost two context switches a call.
 */
static void mbox_sender_done(struct mbox_queue *q, struct mbox_waiter *w,
			     int state)
{
	q->nr_senders--;
	q->nr_sent++;
	w->blocked = false;
	if (state == MBOX_WAIT_DONE && w->quiet && !w->cancel)
		/* Pairs with smp_load_acquire() in mbox_wait(). */
		smp_store_release(&w->state, state);
	else
		mbox_wake(w, state);
}

static bool mbox_wants(struct pid *from, const struct mbox_msg *msg)
{
	return !from || from == msg->sender;
}

/*
 * Give @msg to the first blocked receiver that wants it.  Receivers whose
 * buffer is too small are woken with the length they need.  Returns true
 * if a receiver now holds @msg (reserved, not counted).
 */
static bool mbox_handoff(struct mbox_queue *q, struct mbox_msg *msg)
{
	struct mbox_waiter *w, *tmp;

	list_for_each_entry_safe(w, tmp, &q->receivers, node) {
		if (!mbox_wants(w->from, msg))
			continue;
		list_del(&w->node);
		if (w->len < msg->len) {
			w->len = msg->len;
			mbox_wake(w, MBOX_WAIT_TOO_SMALL);
			continue;
		}
		msg->reserved = true;
		w->msg = msg;
		mbox_wake(w, MBOX_WAIT_DONE);
		return true;
	}
	return false;
}

/*
 * Move a message into the queue or to a receiver.  @w is its blocked
 * sender, if any: an asynchronous one is done once the message is
 * accepted, a synchronous one keeps waiting for the receive.
 */
static void mbox_accept(struct mbox_queue *q, struct mbox_msg *msg,
			struct mbox_waiter *w, bool counted)
{
	if (w && w->sync)
		msg->waiter = w;
	if (!mbox_handoff(q, msg)) {
		mbox_link(q, msg);
		if (counted)
			mbox_count(q, msg);
	}
	if (w && !w->sync)
		mbox_sender_done(q, w, MBOX_WAIT_SENT);
}

/*
 * Room was freed: let blocked senders in, in the order they came.  With
 * a bucket per sender, one full bucket does not hold up the others.
 */
static void mbox_admit_senders(struct mbox_queue *q)
{
	struct mbox_waiter *w, *tmp;

	list_for_each_entry_safe(w, tmp, &q->senders, node) {
		if (!mbox_room(q, w->msg)) {
			if (w->msg->bucket)
				continue;
			break;
		}
		list_del(&w->node);
		mbox_accept(q, w->msg, w, true);
		w->msg = NULL;
	}
}

/* The best message for a receiver: highest priority, oldest, wanted. */
static struct mbox_msg *mbox_find(struct mbox_queue *q, struct pid *from)
{
	unsigned long map = q->prio_map;
	struct mbox_msg *msg;
	struct mbox_waiter *w;
	unsigned int p;

	for (; map; __clear_bit(p, &map)) {
		p = __fls(map);
		list_for_each_entry(msg, &q->prio[p], node)
			if (mbox_wants(from, msg))
				return msg;
	}
	/*
	 * A selective receiver may want a message whose sender still waits
	 * for room behind a queue full of others: it must not wait forever.
	 */
	if (from)
		list_for_each_entry(w, &q->senders, node)
			if (mbox_wants(from, w->msg))
				return w->msg;
	return NULL;
}

/* Take @msg, found by mbox_find(), for a receiver: it is now reserved. */
static void mbox_take(struct mbox_queue *q, struct mbox_msg *msg)
{
	struct mbox_waiter *w;

	if (!list_empty(&msg->node)) {
		mbox_unlink(q, msg);
	} else {
		/* Still with its sender blocked for room (selective receive). */
		list_for_each_entry(w, &q->senders, node)
			if (w->msg == msg)
				break;
		list_del(&w->node);
		w->msg = NULL;
		if (w->sync)
			msg->waiter = w;
		else
			mbox_sender_done(q, w, MBOX_WAIT_SENT);
	}
	msg->reserved = true;
}

/*
 * A receiver is done with a reserved message: @received says whether it
 * was copied out.  Returns the message if the caller must free it.
 */
static struct mbox_msg *mbox_settle(struct mbox_queue *q, struct mbox_msg *msg,
				    bool received)
{
	struct mbox_waiter *w = msg->waiter;

	msg->reserved = false;
	q->nr_received += received;
	if (received || q->dead) {
		mbox_uncount(q, msg);
		mbox_admit_senders(q);
		if (w && received)
			w->peer = get_pid(task_tgid(current));
		if (w && received)
			mbox_sender_done(q, w, MBOX_WAIT_DONE);
		else if (w)
			mbox_wake(w, MBOX_WAIT_DEAD);
		return msg;
	}
	if (w && w->cancel) {
		/* Its sender gave up meanwhile: the message goes back to it. */
		mbox_uncount(q, msg);
		msg->waiter = NULL;
		w->msg = msg;
		mbox_admit_senders(q);
		mbox_wake(w, MBOX_WAIT_CANCELLED);
		return NULL;
	}
	/*
	 * Back in its place (by sequence), or to another receiver.  A message
	 * no sender waits for counts, even if that briefly overfills the
	 * queue: it was accepted before.
	 */
	if (!mbox_handoff(q, msg)) {
		mbox_link(q, msg);
		if (!w)
			mbox_count(q, msg);
	}
	return NULL;
}

static void mbox_notify(struct mbox_queue *q, __poll_t mask)
{
	if (mask && wq_has_sleeper(&q->poll_wq))
		wake_up_poll(&q->poll_wq, mask);
}

/*
 * Sleep until the waiter is completed, a signal comes or the deadline
 * passes.  The caller then takes the queue lock to see which.
 */
/**
 * mbox_block_sleep - one sleep of a blocking wait
 * @blk: how the operation may wait
 *
 * Sleeps in the task state the caller set, until woken or, with a
 * deadline, until it passes.
 *
 * Return: 0, or -ETIMEDOUT once the deadline has passed.
 */
int mbox_block_sleep(const struct mbox_block *blk)
{
	ktime_t deadline = blk->deadline;

	if (!blk->has_deadline) {
		schedule();
		return 0;
	}
	if (!schedule_hrtimeout_range_clock(&deadline, current->timer_slack_ns,
					    HRTIMER_MODE_ABS, CLOCK_MONOTONIC))
		return -ETIMEDOUT;
	return 0;
}

static int mbox_wait(struct mbox_waiter *w, const struct mbox_block *blk)
{
	int ret = 0;

	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		/* Pairs with smp_store_release() in mbox_wake(). */
		if (smp_load_acquire(&w->state) != MBOX_WAITING)
			break;
		if (signal_pending(current)) {
			ret = -ERESTARTSYS;
			break;
		}
		ret = mbox_block_sleep(blk);
		if (ret)
			break;
	}
	__set_current_state(TASK_RUNNING);
	return ret;
}

/*
 * Called and returns with q->lock held: wait out a receiver's copy of
 * @msg.  A task being killed does not wait: it lets go of its message,
 * which the receiver then settles as if no sender waited.
 */
static void mbox_wait_settled(struct mbox_queue *q, struct mbox_waiter *w,
			      struct mbox_msg *msg)
	__must_hold(&q->lock)
{
	while (w->state == MBOX_WAITING) {
		if (fatal_signal_pending(current)) {
			msg->waiter = NULL;
			break;
		}
		set_current_state(TASK_KILLABLE);
		spin_unlock(&q->lock);
		schedule();
		spin_lock(&q->lock);
	}
	__set_current_state(TASK_RUNNING);
}

/**
 * mbox_queue_send - send a message through a queue
 * @q: the queue
 * @msg: from mbox_msg_alloc(); the queue owns it from now on
 * @sync: wait until a receiver has it
 * @blk: how to wait
 * @receiver: with @sync, set to the receiving process (a counted
 *	reference) on success
 *
 * Return: 0, or q->dead (-EIDRM, -ECONNRESET), -EAGAIN, -ETIMEDOUT,
 * -ERESTARTSYS.  On error the
 * message was not delivered to anyone and is freed.
 */
int mbox_queue_send(struct mbox_queue *q, struct mbox_msg *msg, bool sync,
		    const struct mbox_block *blk, struct pid **receiver)
{
	struct mbox_waiter w = {
		.task = current,
		.state = MBOX_WAITING,
		.sync = sync,
		.quiet = sync && msg->call,
	};
	__poll_t notify = EPOLLIN | EPOLLRDNORM;
	int ret;

	spin_lock(&q->lock);
	if (q->dead) {
		ret = q->dead;
		goto fail;
	}
	msg->seq = q->seq++;
	if (mbox_handoff(q, msg)) {
		notify = 0;
		if (!sync)
			goto sent;
		msg->waiter = &w;
	} else if (mbox_room_for_new(q, msg) && !(sync && blk->nonblock)) {
		/* (A non-blocking synchronous send needs a waiting receiver.) */
		mbox_link(q, msg);
		mbox_count(q, msg);
		if (!sync)
			goto sent;
		msg->waiter = &w;
	} else if (blk->nonblock) {
		ret = -EAGAIN;
		goto fail;
	} else if (!mbox_bucket(q, msg)->capacity) {
		/* Rendezvous: offered to receivers while the sender waits. */
		msg->waiter = &w;
		mbox_link(q, msg);
	} else {
		w.msg = msg;
		list_add_tail(&w.node, &q->senders);
		notify = 0;
	}
	q->nr_senders++;
	w.blocked = true;
	spin_unlock(&q->lock);
	mbox_notify(q, notify);

	ret = mbox_wait(&w, blk);

	spin_lock(&q->lock);
	notify = 0;
	if (w.state == MBOX_WAITING) {
		/* Interrupted or timed out: withdraw the message, if we can. */
		if (w.msg) {
			list_del(&w.node);
		} else if (msg->reserved) {
			w.cancel = true;
			mbox_wait_settled(q, &w, msg);
		} else {
			mbox_unlink(q, msg);
			mbox_uncount(q, msg);
			msg->waiter = NULL;
			w.msg = msg;
			mbox_admit_senders(q);
			notify = EPOLLIN | EPOLLRDNORM | EPOLLOUT | EPOLLWRNORM;
		}
	}
	/* Not done: interrupted, timed out, cancelled, or the queue killed. */
	if (w.blocked)
		q->nr_senders--;
	switch (w.state) {
	case MBOX_WAIT_DONE:
		*receiver = w.peer;
		fallthrough;
	case MBOX_WAIT_SENT:
		ret = 0;
		break;
	case MBOX_WAIT_DEAD:
		ret = q->dead;
		break;
	}
	spin_unlock(&q->lock);
	mbox_notify(q, notify);
	/* Still ours: it was not delivered. */
	mbox_msg_free(w.msg);
	return ret;

sent:
	q->nr_sent++;
	spin_unlock(&q->lock);
	mbox_notify(q, notify);
	return 0;
fail:
	spin_unlock(&q->lock);
	mbox_msg_free(msg);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(mbox_queue_send);

/**
 * mbox_queue_recv - receive a message from a queue
 * @q: the queue
 * @req: where to copy it, what to accept; filled in on success
 * @blk: how to wait
 *
 * Return: 0, or q->dead, -EAGAIN, -ETIMEDOUT, -ERESTARTSYS, -EMSGSIZE
 * (req->len set to the length needed), -EFAULT, or req->deliver's error.
 * On error no message was taken.
 */
int mbox_queue_recv(struct mbox_queue *q, struct mbox_recv_req *req,
		    const struct mbox_block *blk)
{
	struct mbox_waiter w = {
		.task = current,
		.state = MBOX_WAITING,
		.len = req->len,
		.from = req->from,
	};
	struct mbox_msg *msg;
	bool sync;
	int ret = 0;

	spin_lock(&q->lock);
	if (q->dead) {
		ret = q->dead;
		goto unlock;
	}
	msg = mbox_find(q, req->from);
	if (msg) {
		if (msg->len > req->len) {
			req->len = msg->len;
			ret = -EMSGSIZE;
			goto unlock;
		}
		mbox_take(q, msg);
	} else if (blk->nonblock) {
		ret = -EAGAIN;
		goto unlock;
	} else {
		list_add_tail(&w.node, &q->receivers);
		q->nr_receivers++;
		spin_unlock(&q->lock);
		/* On a rendezvous queue, a waiting receiver lets a send in. */
		if (!q->limit.capacity)
			mbox_notify(q, EPOLLOUT | EPOLLWRNORM);

		ret = mbox_wait(&w, blk);

		spin_lock(&q->lock);
		q->nr_receivers--;
		switch (w.state) {
		case MBOX_WAITING:
			list_del(&w.node);
			goto unlock;
		case MBOX_WAIT_TOO_SMALL:
			req->len = w.len;
			ret = -EMSGSIZE;
			goto unlock;
		case MBOX_WAIT_DEAD:
			ret = q->dead;
			goto unlock;
		}
		msg = w.msg;
		ret = 0;
	}
	sync = msg->waiter && msg->waiter->sync;
	spin_unlock(&q->lock);

	if (copy_to_user(req->buf, msg->data, msg->len)) {
		ret = -EFAULT;
	} else {
		req->len = msg->len;
		req->prio = msg->prio;
		req->msg_flags = sync ? MBOX_MSG_SYNC : 0;
		req->sender = get_pid(msg->sender);
		req->uid = msg->uid;
		req->gid = msg->gid;
		req->is_call = msg->call;
		if (req->deliver)
			ret = req->deliver(req);
		if (ret) {
			put_pid(req->sender);
			req->sender = NULL;
		}
	}

	spin_lock(&q->lock);
	if (!ret && msg->call) {
		/* The receiver now owes its caller a reply. */
		req->call = msg->call;
		msg->call = NULL;
		mbox_pending_start(req->call, q);
	}
	msg = mbox_settle(q, msg, ret == 0);
	spin_unlock(&q->lock);
	/* Room freed, senders admitted, or the message back: tell both. */
	mbox_notify(q, EPOLLIN | EPOLLRDNORM | EPOLLOUT | EPOLLWRNORM);
	mbox_msg_free(msg);
	return ret;

unlock:
	spin_unlock(&q->lock);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(mbox_queue_recv);

/**
 * mbox_queue_kill - end a queue: blocked tasks and later calls fail
 * @q: the queue
 * @err: the negative errno they fail with
 *
 * Queued messages are freed; messages being copied out by a receiver are
 * settled by that receiver.
 */
void mbox_queue_kill(struct mbox_queue *q, int err)
{
	struct mbox_waiter *w, *wt;
	struct mbox_msg *msg, *mt;
	LIST_HEAD(doomed);
	int p;

	spin_lock(&q->lock);
	q->dead = err;
	/* Calls received through it and not answered fail at once. */
	mbox_pending_fail_all(&q->calls, err);
	list_for_each_entry_safe(w, wt, &q->receivers, node) {
		list_del(&w->node);
		mbox_wake(w, MBOX_WAIT_DEAD);
	}
	/* Blocked senders still own their messages and free them. */
	list_for_each_entry_safe(w, wt, &q->senders, node) {
		list_del(&w->node);
		mbox_wake(w, MBOX_WAIT_DEAD);
	}
	for (p = 0; p <= MBOX_PRIO_MAX; p++) {
		list_for_each_entry_safe(msg, mt, &q->prio[p], node) {
			mbox_unlink(q, msg);
			mbox_uncount(q, msg);
			if (msg->waiter)
				mbox_wake(msg->waiter, MBOX_WAIT_DEAD);
			list_add_tail(&msg->node, &doomed);
		}
	}
	spin_unlock(&q->lock);
	wake_up_poll(&q->poll_wq, EPOLLHUP | EPOLLIN | EPOLLOUT);
	list_for_each_entry_safe(msg, mt, &doomed, node)
		mbox_msg_free(msg);
}
EXPORT_SYMBOL_IF_KUNIT(mbox_queue_kill);

/* What poll reports for one queue. */
__poll_t mbox_queue_poll(struct mbox_queue *q, bool send, bool recv)
{
	__poll_t mask = 0;

	spin_lock(&q->lock);
	if (q->dead) {
		mask = EPOLLHUP;
	} else {
		if (recv && q->prio_map)
			mask |= EPOLLIN | EPOLLRDNORM;
		if (send && (q->limit.capacity ?
			     q->limit.count < q->limit.capacity &&
			     q->limit.bytes < q->limit.max_bytes :
			     !list_empty(&q->receivers)))
			mask |= EPOLLOUT | EPOLLWRNORM;
	}
	spin_unlock(&q->lock);
	return mask;
}
EXPORT_SYMBOL_IF_KUNIT(mbox_queue_poll);

/* The counts of a queue, into @st, one consistent snapshot. */
void mbox_queue_stat(struct mbox_queue *q, struct mbox_stat *st)
{
	spin_lock(&q->lock);
	st->capacity = q->limit.capacity;
	st->max_bytes = q->limit.max_bytes;
	st->nr_msgs = q->limit.count;
	st->nr_bytes = q->limit.bytes;
	st->nr_senders = q->nr_senders;
	st->nr_receivers = q->nr_receivers;
	st->total_sent = q->nr_sent;
	st->total_received = q->nr_received;
	spin_unlock(&q->lock);
}
EXPORT_SYMBOL_IF_KUNIT(mbox_queue_stat);
