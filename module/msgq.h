/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mbox message queues: the data path shared by mailboxes (and, later,
 * direct links).  See msgq.c for the locking and hand-off rules.
 */
#ifndef _MBOX_MSGQ_H
#define _MBOX_MSGQ_H

#include <linux/list.h>
#include <linux/pid.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/wait.h>
#include <linux/mbox.h>

struct mbox_pending;
struct mbox_user;
struct mbox_waiter;

/**
 * struct mbox_bucket - what a queue, or one sender's share of it, holds
 * @count: messages accepted and not yet received (queued or being copied
 *	out), under the queue lock
 * @bytes: their payload bytes, under the queue lock
 * @capacity: messages it holds: 0 (rendezvous), N, MBOX_UNBOUNDED
 * @max_bytes: payload bytes it holds (U64_MAX: no limit)
 *
 * A mailbox's queue has one bucket for all; a direct endpoint's queue has
 * one per link, so that each sender has its own bounded queue.
 */
struct mbox_bucket {
	u32 count;
	u64 bytes;
	u32 capacity;
	u64 max_bytes;
};

/**
 * struct mbox_msg - one message, from its send until it is received
 * @node: in mbox_queue.prio[@prio] while queued (protected by the queue lock)
 * @seq: sending order within the queue, set at send (under the queue lock)
 * @waiter: the sender blocked until this message is received (synchronous
 *	send, capacity 0), or NULL (protected by the queue lock)
 * @bucket: the bucket it counts in, or NULL for the queue's own
 * @counted: counts in its bucket (queue lock)
 * @reserved: taken by a receiver that is copying it out; not in the
 *	queue, not yet received (queue lock)
 * @len: payload length
 * @prio: priority, 0..MBOX_PRIO_MAX
 * @sender: the sending process (thread-group pid), a counted reference
 * @uid: the sender's effective uid, stamped at send
 * @gid: the sender's effective gid, stamped at send
 * @user: the user @len bytes are charged to, a counted reference
 * @call: the call this message is the request of, a counted reference, or
 *	NULL; handed to the receiver with the message
 * @data: payload
 *
 * Immutable after the send but for the fields marked with the queue lock.
 */
struct mbox_msg {
	struct list_head node;
	u64 seq;
	struct mbox_waiter *waiter;
	struct mbox_bucket *bucket;
	bool counted;
	bool reserved;
	u32 len;
	u32 prio;
	struct pid *sender;
	kuid_t uid;
	kgid_t gid;
	struct mbox_user *user;
	struct mbox_pending *call;
	u8 data[];
};

/**
 * struct mbox_queue - a queue of messages with its blocked tasks
 * @ref: references to the object the queue is part of (a mailbox, an
 *	inbox); the last one calls @release
 * @release: frees that object
 * @lock: protects every field below but the immutable limits
 * @prio: queued messages, one FIFO per priority
 * @prio_map: bit p set iff @prio[p] is not empty
 * @limit: the queue's own bucket: its counts and limits
 * @seq: the next message's sequence number
 * @receivers: receivers blocked for a message, first come first served
 * @senders: senders blocked for room in a full queue, in arrival order
 * @calls: calls received through this queue and not yet answered
 *	(struct mbox_pending.qnode), failed when the queue is killed
 * @nr_senders: senders sleeping in mbox_queue_send()
 * @nr_receivers: receivers sleeping in mbox_queue_recv()
 * @nr_sent: sends that succeeded
 * @nr_received: messages received
 * @dead: 0, or the negative errno every operation fails with once the
 *	queue was killed
 * @poll_wq: woken with EPOLL* bits whenever what poll reports may have
 *	changed; endpoints hang a forwarding entry on it
 */
struct mbox_queue {
	refcount_t ref;
	void (*release)(struct mbox_queue *q);
	spinlock_t lock;		/* all but the limits */
	struct list_head prio[MBOX_PRIO_MAX + 1];
	unsigned long prio_map;
	struct mbox_bucket limit;
	u64 seq;
	struct list_head receivers;
	struct list_head senders;
	struct list_head calls;
	u32 nr_senders;
	u32 nr_receivers;
	u64 nr_sent;
	u64 nr_received;
	int dead;
	wait_queue_head_t poll_wq;
};

/**
 * struct mbox_block - how an operation may wait
 * @nonblock: never wait: EAGAIN
 * @has_deadline: wait at most until @deadline: ETIMEDOUT
 * @deadline: absolute CLOCK_MONOTONIC time
 */
struct mbox_block {
	bool nonblock;
	bool has_deadline;
	ktime_t deadline;
};

/* What a receive asks for and what it got. */
struct mbox_recv_req {
	void __user *buf;
	u32 len;		/* in: buffer size; out: message length */
	struct pid *from;	/* only messages of this sender, or NULL */
	/* out, filled from the message */
	u32 prio;
	u32 msg_flags;
	struct pid *sender;	/* a counted reference, or NULL */
	kuid_t uid;
	kgid_t gid;
	bool is_call;		/* a call's request */
	/* once received: a call's, a counted reference; or NULL */
	struct mbox_pending *call;
	/*
	 * Optional: hands the message to the receiver once its payload is
	 * copied out, before it leaves the queue, without the queue lock.
	 * On error the message is put back, as for a failed copy.
	 */
	int (*deliver)(struct mbox_recv_req *req);
};

int mbox_queue_limits(u32 capacity, u32 *longest, u32 msg_size,
		      u64 max_bytes, u64 *bytes);
void mbox_queue_init(struct mbox_queue *q, u32 capacity, u64 max_bytes,
		     void (*release)(struct mbox_queue *q));

static inline void mbox_queue_get(struct mbox_queue *q)
{
	refcount_inc(&q->ref);
}

static inline void mbox_queue_put(struct mbox_queue *q)
{
	if (refcount_dec_and_test(&q->ref))
		q->release(q);
}

void mbox_queue_kill(struct mbox_queue *q, int err);
__poll_t mbox_queue_poll(struct mbox_queue *q, bool send, bool recv);
void mbox_queue_stat(struct mbox_queue *q, struct mbox_stat *st);

int mbox_block_sleep(const struct mbox_block *blk);

struct mbox_msg *mbox_msg_alloc(const void __user *buf, u32 len, u32 prio);
void mbox_msg_free(struct mbox_msg *msg);

int mbox_queue_send(struct mbox_queue *q, struct mbox_msg *msg, bool sync,
		    const struct mbox_block *blk, struct pid **receiver);
int mbox_queue_recv(struct mbox_queue *q, struct mbox_recv_req *req,
		    const struct mbox_block *blk);

#endif /* _MBOX_MSGQ_H */
