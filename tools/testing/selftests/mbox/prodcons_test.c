// SPDX-License-Identifier: GPL-2.0
/*
 * Producers and consumers on one shared mailbox (spec sections 2 and 4):
 * producer processes and producer threads (sharing one endpoint) against
 * consumer processes, on a bounded, a capacity-0 and an unbounded mailbox.
 *
 * Every message carries its producer, its sequence number, its length and
 * a checksum over all of it; consumers check each message and record it
 * in a MAP_SHARED table.  At the end every message must have arrived
 * exactly once, uncorrupted, and each consumer must have seen each
 * producer's messages in increasing order (strictly consecutive when it
 * is the only consumer).  Sizes stay modest: these run under TCG with
 * KASAN.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/mbox.h>

#include "mbox_util.h"
#include "kselftest_harness.h"

#define PC_PROC_PRODUCERS	2	/* producer processes */
#define PC_THREAD_PRODUCERS	2	/* producer threads, in one process */
#define PC_PRODUCERS		(PC_PROC_PRODUCERS + PC_THREAD_PRODUCERS)
#define PC_MSGS			500	/* per producer */
#define PC_SYNC_MSGS		150	/* per producer, synchronous sends */
#define PC_CONSUMERS		3
#define PC_MAX_PAYLOAD		200
#define PC_MAX_MSG		256	/* the mailbox's max_msg_size */
#define PC_WAIT_MS		60000	/* per blocking call: generous */

struct pc_msg {
	__u32 producer;
	__u32 seq;
	__u32 len;		/* of the whole message */
	__u32 pad;
	__u64 sum;		/* FNV-1a of everything above and the payload */
	unsigned char payload[];
};

/* The MAP_SHARED table everyone reports to. */
struct pc_shared {
	__u32 id;
	__u32 nmsgs;		/* per producer */
	bool sync;		/* producers send with MBOX_SEND_SYNC */
	__u32 received;		/* total */
	__u32 corrupt;
	__u32 out_of_order;
	__u32 unknown;		/* producer or sequence out of range */
	__u32 per_consumer[PC_CONSUMERS];
	__u8 seen[PC_PRODUCERS][PC_MSGS];
	pid_t taken_by[PC_PRODUCERS][PC_MSGS];	  /* as the consumer saw it */
	__u32 receiver_pid[PC_PRODUCERS][PC_MSGS]; /* as the producer learnt */
};

static __u64 fnv1a(__u64 h, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static __u64 pc_sum(const struct pc_msg *m)
{
	__u64 h = 0xcbf29ce484222325ULL;

	h = fnv1a(h, m, offsetof(struct pc_msg, sum));
	return fnv1a(h, m->payload, m->len - sizeof(*m));
}

/* Build message seq of producer p in buf: its length. */
static __u32 pc_build(void *buf, __u32 p, __u32 seq)
{
	struct pc_msg *m = buf;
	__u32 n = (p * 31 + seq * 17) % (PC_MAX_PAYLOAD + 1), i;

	m->producer = p;
	m->seq = seq;
	m->len = sizeof(*m) + n;
	m->pad = 0;
	for (i = 0; i < n; i++)
		m->payload[i] = (unsigned char)(p * 7 + seq * 13 + i);
	m->sum = pc_sum(m);
	return m->len;
}

/* Whether a received message is whole and what it says it is. */
static bool pc_check(const void *buf, __u32 len)
{
	const struct pc_msg *m = buf;
	__u32 i;

	if (len < sizeof(*m) || m->len != len || m->pad ||
	    len > sizeof(*m) + PC_MAX_PAYLOAD)
		return false;
	if (len - sizeof(*m) != (m->producer * 31 + m->seq * 17) %
				(PC_MAX_PAYLOAD + 1))
		return false;
	for (i = 0; i < len - sizeof(*m); i++)
		if (m->payload[i] != (unsigned char)(m->producer * 7 +
						     m->seq * 13 + i))
			return false;
	return m->sum == pc_sum(m);
}

/* ---- producers ---------------------------------------------------------- */

/* Send producer p's messages on endpoint fd: 0 or -errno. */
static int pc_produce(struct pc_shared *sh, int fd, __u32 p)
{
	union {
		struct pc_msg m;
		unsigned char bytes[PC_MAX_MSG];
	} buf;
	__u32 seq, len, rpid;
	int ret;

	for (seq = 0; seq < sh->nmsgs; seq++) {
		len = pc_build(&buf, p, seq);
		rpid = 0;
		ret = mbox_send_full(fd, sh->id, &buf, len, 0,
				     MBOX_DEADLINE |
				     (sh->sync ? MBOX_SEND_SYNC : 0),
				     mbox_deadline_ms(PC_WAIT_MS), &rpid);
		if (ret)
			return ret;
		sh->receiver_pid[p][seq] = rpid;
	}
	return 0;
}

struct pc_producer {
	struct pc_shared *sh;
	__u32 p;
	int fd;		/* the threads' shared endpoint */
	int ret;
};

/* A producer process: an endpoint of its own. */
static int pc_producer_child(void *arg)
{
	struct pc_producer *pp = arg;
	int fd, ret;

	fd = mbox_dev_open();
	ret = fd < 0 ? fd : mbox_open_id(fd, pp->sh->id, MBOX_OPEN_SEND);
	if (!ret)
		ret = pc_produce(pp->sh, fd, pp->p);
	if (fd >= 0)
		close(fd);
	return ret;
}

static void *pc_producer_thread(void *arg)
{
	struct pc_producer *pp = arg;

	pp->ret = pc_produce(pp->sh, pp->fd, pp->p);
	return NULL;
}

/* A process whose producer threads share one endpoint. */
static int pc_thread_host_child(void *arg)
{
	struct pc_shared *sh = arg;
	struct pc_producer pp[PC_THREAD_PRODUCERS];
	pthread_t threads[PC_THREAD_PRODUCERS];
	int fd, ret, i, started = 0;

	fd = mbox_dev_open();
	ret = fd < 0 ? fd : mbox_open_id(fd, sh->id, MBOX_OPEN_SEND);
	for (i = 0; !ret && i < PC_THREAD_PRODUCERS; i++) {
		pp[i].sh = sh;
		pp[i].p = PC_PROC_PRODUCERS + i;
		pp[i].fd = fd;
		pp[i].ret = 0;
		ret = -pthread_create(&threads[i], NULL, pc_producer_thread,
				      &pp[i]);
		if (!ret)
			started++;
	}
	for (i = 0; i < started; i++) {
		pthread_join(threads[i], NULL);
		if (pp[i].ret && !ret)
			ret = pp[i].ret;
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

/* ---- consumers ---------------------------------------------------------- */

/*
 * Take one message and record it.  last[p] is the last sequence number
 * this consumer saw from producer p (-1: none); strict asks for exactly
 * the next one.  0, or the receive's -errno.
 */
static int pc_consume_one(struct pc_shared *sh, int fd, int consumer,
			  long *last, bool strict)
{
	union {
		struct pc_msg m;
		unsigned char bytes[2 * PC_MAX_MSG];
	} buf;
	struct mbox_recv r;
	__u32 p, seq;
	int ret;

	mbox_recv_init(&r, sh->id, &buf, sizeof(buf), MBOX_DEADLINE);
	r.deadline_ns = mbox_deadline_ms(PC_WAIT_MS);
	ret = mbox_recv_ex(fd, &r);
	if (ret)
		return ret;
	__atomic_fetch_add(&sh->received, 1, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&sh->per_consumer[consumer], 1, __ATOMIC_SEQ_CST);
	if (!pc_check(&buf, r.len)) {
		__atomic_fetch_add(&sh->corrupt, 1, __ATOMIC_SEQ_CST);
		return 0;
	}
	p = buf.m.producer;
	seq = buf.m.seq;
	if (p >= PC_PRODUCERS || seq >= sh->nmsgs) {
		__atomic_fetch_add(&sh->unknown, 1, __ATOMIC_SEQ_CST);
		return 0;
	}
	if (strict ? (long)seq != last[p] + 1 : (long)seq <= last[p])
		__atomic_fetch_add(&sh->out_of_order, 1, __ATOMIC_SEQ_CST);
	last[p] = seq;
	__atomic_fetch_add(&sh->seen[p][seq], 1, __ATOMIC_SEQ_CST);
	sh->taken_by[p][seq] = getpid();
	return 0;
}

struct pc_consumer {
	struct pc_shared *sh;
	int index;
};

/* A consumer process: until the mailbox is destroyed (EIDRM). */
static int pc_consumer_child(void *arg)
{
	struct pc_consumer *pc = arg;
	long last[PC_PRODUCERS];
	int fd, ret, i;

	for (i = 0; i < PC_PRODUCERS; i++)
		last[i] = -1;
	fd = mbox_dev_open();
	ret = fd < 0 ? fd : mbox_open_id(fd, pc->sh->id, MBOX_OPEN_RECV);
	while (!ret)
		ret = pc_consume_one(pc->sh, fd, pc->index, last, false);
	if (fd >= 0)
		close(fd);
	return ret == -EIDRM ? 0 : ret;
}

/* ---- the fixture -------------------------------------------------------- */

FIXTURE(pc) {
	int fd;
	struct mbox_cleanup cl;
	struct pc_shared *sh;
	pid_t producers[PC_PROC_PRODUCERS + 1];
	struct pc_producer pp[PC_PROC_PRODUCERS];
};

FIXTURE_VARIANT(pc) {
	__u32 capacity;
};

FIXTURE_VARIANT_ADD(pc, bounded) {
	.capacity = 8,
};

FIXTURE_VARIANT_ADD(pc, rendezvous) {
	.capacity = 0,
};

FIXTURE_VARIANT_ADD(pc, unbounded) {
	.capacity = MBOX_UNBOUNDED,
};

FIXTURE_SETUP(pc)
{
	struct mbox_create c = {
		.flags = MBOX_CREATE_SYSTEM,
		.capacity = variant->capacity,
		.max_msg_size = PC_MAX_MSG,
		.mode = 0600,
		.policy = MBOX_POLICY_SHARED,
	};
	__u64 features = 0;

	self->sh = NULL;
	self->fd = mbox_dev_open();
	if (self->fd == -ENOENT)
		SKIP(return, "/dev/mbox is absent: the mbox module is not loaded");
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, mbox_features(self->fd, &features));
	if (!(features & MBOX_FEATURE_MAILBOX))
		SKIP(return, "the loaded module has no MBOX_FEATURE_MAILBOX");

	self->sh = mbox_shared_alloc(sizeof(*self->sh));
	ASSERT_NE(NULL, self->sh);
	ASSERT_EQ(0, mbox_create_ex(self->fd, &c, &self->sh->id));
	mbox_track_id(&self->cl, self->sh->id);
}

FIXTURE_TEARDOWN(pc)
{
	mbox_cleanup_run(&self->cl);
	if (self->sh)
		munmap(self->sh, sizeof(*self->sh));
	if (self->fd >= 0)
		close(self->fd);
}

/* Start every producer; 0 or -errno. */
static int pc_start_producers(FIXTURE_DATA(pc) *self)
{
	int i;

	for (i = 0; i < PC_PROC_PRODUCERS; i++) {
		self->pp[i].sh = self->sh;
		self->pp[i].p = i;
		self->producers[i] = mbox_spawn(pc_producer_child, &self->pp[i]);
		if (self->producers[i] < 0)
			return self->producers[i];
		mbox_track_pid(&self->cl, self->producers[i]);
	}
	self->producers[i] = mbox_spawn(pc_thread_host_child, self->sh);
	if (self->producers[i] < 0)
		return self->producers[i];
	mbox_track_pid(&self->cl, self->producers[i]);
	return 0;
}

/* Wait until the consumers have counted n messages. */
static bool pc_wait_received(struct pc_shared *sh, __u32 n)
{
	__u64 end = mbox_deadline_ms(PC_WAIT_MS);

	while (__atomic_load_n(&sh->received, __ATOMIC_SEQ_CST) < n) {
		if (mbox_now_ns() > end)
			return false;
		mbox_sleep_ms(5);
	}
	return true;
}

/* Every message exactly once; returns how many were not. */
static unsigned int pc_count_wrong(struct pc_shared *sh)
{
	unsigned int p, seq, wrong = 0;

	for (p = 0; p < PC_PRODUCERS; p++)
		for (seq = 0; seq < sh->nmsgs; seq++)
			wrong += sh->seen[p][seq] != 1;
	return wrong;
}

/* Producers and consumers, several of each, until all is delivered. */
static void pc_many_to_many(struct __test_metadata *_metadata,
			    FIXTURE_DATA(pc) *self, bool sync)
{
	struct pc_consumer pc[PC_CONSUMERS];
	pid_t consumers[PC_CONSUMERS];
	struct pc_shared *sh = self->sh;
	unsigned int i, p, seq, total, mismatched = 0, active = 0;

	sh->nmsgs = sync ? PC_SYNC_MSGS : PC_MSGS;
	sh->sync = sync;
	total = PC_PRODUCERS * sh->nmsgs;

	for (i = 0; i < PC_CONSUMERS; i++) {
		pc[i].sh = sh;
		pc[i].index = i;
		consumers[i] = mbox_spawn(pc_consumer_child, &pc[i]);
		ASSERT_LT(0, consumers[i]);
		mbox_track_pid(&self->cl, consumers[i]);
	}
	ASSERT_EQ(0, pc_start_producers(self));
	for (i = 0; i <= PC_PROC_PRODUCERS; i++) {
		EXPECT_EQ(0, mbox_reap(self->producers[i])) {
			TH_LOG("producer process %u failed", i);
		}
	}

	/* All sent; let the consumers drain the queue, then stop them. */
	EXPECT_TRUE(pc_wait_received(sh, total));
	ASSERT_EQ(0, mbox_destroy(self->fd, sh->id));
	for (i = 0; i < PC_CONSUMERS; i++) {
		EXPECT_EQ(0, mbox_reap(consumers[i])) {
			TH_LOG("consumer %u failed", i);
		}
		active += sh->per_consumer[i] > 0;
	}

	EXPECT_EQ(total, sh->received);
	EXPECT_EQ(0, sh->corrupt);
	EXPECT_EQ(0, sh->unknown);
	EXPECT_EQ(0, sh->out_of_order);
	EXPECT_EQ(0, pc_count_wrong(sh));
	EXPECT_LE(1, active);

	/* A synchronous sender learnt who took each message. */
	if (sync) {
		for (p = 0; p < PC_PRODUCERS; p++)
			for (seq = 0; seq < sh->nmsgs; seq++)
				mismatched += sh->receiver_pid[p][seq] !=
					      (__u32)sh->taken_by[p][seq];
		EXPECT_EQ(0, mismatched);
	}
}

TEST_F_TIMEOUT(pc, many_producers_many_consumers, 300)
{
	pc_many_to_many(_metadata, self, false);
}

TEST_F_TIMEOUT(pc, many_producers_many_consumers_sync, 300)
{
	pc_many_to_many(_metadata, self, true);
}

TEST_F_TIMEOUT(pc, many_producers_one_consumer_in_order, 300)
{
	struct pc_shared *sh = self->sh;
	long last[PC_PRODUCERS];
	unsigned int i, total;
	char buf[PC_MAX_MSG];
	__u32 len;

	sh->nmsgs = PC_MSGS;
	total = PC_PRODUCERS * sh->nmsgs;
	for (i = 0; i < PC_PRODUCERS; i++)
		last[i] = -1;

	ASSERT_EQ(0, pc_start_producers(self));
	/* This process is the only consumer. */
	for (i = 0; i < total; i++)
		ASSERT_EQ(0, pc_consume_one(sh, self->fd, 0, last, true));
	for (i = 0; i <= PC_PROC_PRODUCERS; i++)
		EXPECT_EQ(0, mbox_reap(self->producers[i]));

	len = sizeof(buf);
	EXPECT_EQ(-EAGAIN, mbox_recv(self->fd, sh->id, buf, &len, MBOX_NONBLOCK));
	EXPECT_EQ(total, sh->received);
	EXPECT_EQ(0, sh->corrupt);
	EXPECT_EQ(0, sh->unknown);
	EXPECT_EQ(0, sh->out_of_order);
	EXPECT_EQ(0, pc_count_wrong(sh));
	for (i = 0; i < PC_PRODUCERS; i++)
		EXPECT_EQ(sh->nmsgs - 1, last[i]);
	EXPECT_EQ(0, mbox_destroy(self->fd, sh->id));
}

TEST_HARNESS_MAIN
