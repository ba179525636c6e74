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
 *
 * Written on libmbox: this suite tests what the mailboxes do, not the
 * ioctls that carry it (mailbox_test.c and msgq_test.c do that).  Every
 * process opens endpoints of its own; the producer threads share one.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "libmbox_util.h"
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
	uint32_t producer;
	uint32_t seq;
	uint32_t len;		/* of the whole message */
	uint32_t pad;
	uint64_t sum;	/* FNV-1a of everything above and the payload */
	unsigned char payload[];
};

/* The MAP_SHARED table everyone reports to. */
struct pc_shared {
	uint32_t id;
	uint32_t nmsgs;		/* per producer */
	bool sync;		/* producers send with MBOX_SEND_SYNC */
	uint32_t received;	/* total */
	uint32_t corrupt;
	uint32_t out_of_order;
	uint32_t unknown;	/* producer or sequence out of range */
	uint32_t per_consumer[PC_CONSUMERS];
	uint8_t seen[PC_PRODUCERS][PC_MSGS];
	pid_t taken_by[PC_PRODUCERS][PC_MSGS];	  /* as the consumer saw it */
	pid_t receiver_pid[PC_PRODUCERS][PC_MSGS]; /* as the producer learnt */
};

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t pc_sum(const struct pc_msg *m)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	h = fnv1a(h, m, offsetof(struct pc_msg, sum));
	return fnv1a(h, m->payload, m->len - sizeof(*m));
}

/* Build message seq of producer p in buf: its length. */
static uint32_t pc_build(void *buf, uint32_t p, uint32_t seq)
{
	struct pc_msg *m = buf;
	uint32_t n = (p * 31 + seq * 17) % (PC_MAX_PAYLOAD + 1), i;

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
static bool pc_check(const void *buf, size_t len)
{
	const struct pc_msg *m = buf;
	uint32_t i;

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

/* Send producer p's messages on endpoint ep: 0 or -errno. */
static int pc_produce(struct pc_shared *sh, struct mbox_endpoint *ep,
		      uint32_t p)
{
	union {
		struct pc_msg m;
		unsigned char bytes[PC_MAX_MSG];
	} buf;
	struct mbox_msg m;
	uint32_t seq;
	int ret;

	for (seq = 0; seq < sh->nmsgs; seq++) {
		m = lib_msg(&buf, pc_build(&buf, p, seq));
		ret = mbox_mailbox_send(ep, sh->id, &m,
					sh->sync ? MBOX_SEND_SYNC : 0,
					MBOX_MS(PC_WAIT_MS));
		if (ret)
			return ret;
		sh->receiver_pid[p][seq] = m.pid;
	}
	return 0;
}

struct pc_producer {
	struct pc_shared *sh;
	uint32_t p;
	struct mbox_endpoint *ep;	/* the threads' shared endpoint */
	int ret;
};

/* A producer process: an endpoint of its own. */
static int pc_producer_child(void *arg)
{
	struct pc_producer *pp = arg;
	struct mbox_endpoint *ep = NULL;
	int ret;

	ret = mbox_endpoint_open(&ep);
	if (!ret)
		ret = mbox_mailbox_open_id(ep, pp->sh->id, MBOX_OPEN_SEND);
	if (!ret)
		ret = pc_produce(pp->sh, ep, pp->p);
	mbox_endpoint_close(ep);
	return ret;
}

static void *pc_producer_thread(void *arg)
{
	struct pc_producer *pp = arg;

	pp->ret = pc_produce(pp->sh, pp->ep, pp->p);
	return NULL;
}

/* A process whose producer threads share one endpoint. */
static int pc_thread_host_child(void *arg)
{
	struct pc_shared *sh = arg;
	struct pc_producer pp[PC_THREAD_PRODUCERS];
	pthread_t threads[PC_THREAD_PRODUCERS];
	struct mbox_endpoint *ep = NULL;
	int ret, i, started = 0;

	ret = mbox_endpoint_open(&ep);
	if (!ret)
		ret = mbox_mailbox_open_id(ep, sh->id, MBOX_OPEN_SEND);
	for (i = 0; !ret && i < PC_THREAD_PRODUCERS; i++) {
		pp[i].sh = sh;
		pp[i].p = PC_PROC_PRODUCERS + i;
		pp[i].ep = ep;
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
	mbox_endpoint_close(ep);
	return ret;
}

/* ---- consumers ---------------------------------------------------------- */

/*
 * Take one message and record it.  last[p] is the last sequence number
 * this consumer saw from producer p (-1: none); strict asks for exactly
 * the next one.  0, or the receive's -errno.
 */
static int pc_consume_one(struct pc_shared *sh, struct mbox_endpoint *ep,
			  int consumer, long *last, bool strict)
{
	union {
		struct pc_msg m;
		unsigned char bytes[2 * PC_MAX_MSG];
	} buf;
	struct mbox_msg m = lib_msg(&buf, sizeof(buf));
	uint32_t p, seq;
	int ret;

	ret = mbox_mailbox_receive(ep, sh->id, &m, 0, MBOX_MS(PC_WAIT_MS));
	if (ret)
		return ret;
	__atomic_fetch_add(&sh->received, 1, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&sh->per_consumer[consumer], 1, __ATOMIC_SEQ_CST);
	if (!pc_check(&buf, m.len)) {
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
	struct mbox_endpoint *ep = NULL;
	long last[PC_PRODUCERS];
	int ret, i;

	for (i = 0; i < PC_PRODUCERS; i++)
		last[i] = -1;
	ret = mbox_endpoint_open(&ep);
	if (!ret)
		ret = mbox_mailbox_open_id(ep, pc->sh->id, MBOX_OPEN_RECV);
	while (!ret)
		ret = pc_consume_one(pc->sh, ep, pc->index, last, false);
	mbox_endpoint_close(ep);
	return ret == -EIDRM ? 0 : ret;
}

/* ---- the fixture -------------------------------------------------------- */

FIXTURE(pc) {
	struct mbox_endpoint *ep;
	struct mbox_cleanup cl;
	struct pc_shared *sh;
	pid_t producers[PC_PROC_PRODUCERS + 1];
	struct pc_producer pp[PC_PROC_PRODUCERS];
};

FIXTURE_VARIANT(pc) {
	uint32_t capacity;
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
	uint64_t features = 0;
	struct mbox_attr a;
	int ret;

	self->sh = NULL;
	self->ep = NULL;
	ret = mbox_endpoint_open(&self->ep);
	if (ret == -ENOENT)
		SKIP(return, "/dev/mbox is absent: the mbox module is not loaded");
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, mbox_endpoint_query(self->ep, NULL, NULL, &features));
	if (!(features & MBOX_FEATURE_MAILBOX))
		SKIP(return, "the loaded module has no MBOX_FEATURE_MAILBOX");

	self->sh = mbox_shared_alloc(sizeof(*self->sh));
	ASSERT_NE(NULL, self->sh);
	mbox_attr_init(&a);
	a.flags = MBOX_CREATE_SYSTEM;
	a.capacity = variant->capacity;
	a.max_msg_size = PC_MAX_MSG;
	a.mode = 0600;
	a.policy = MBOX_POLICY_SHARED;
	ASSERT_EQ(0, mbox_mailbox_create(self->ep, NULL, &a, &self->sh->id));
	mbox_track_id(&self->cl, self->sh->id);
}

FIXTURE_TEARDOWN(pc)
{
	lib_cleanup_run(&self->cl);
	if (self->sh)
		munmap(self->sh, sizeof(*self->sh));
	mbox_endpoint_close(self->ep);
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
static bool pc_wait_received(struct pc_shared *sh, uint32_t n)
{
	uint64_t end = mbox_deadline_ms(PC_WAIT_MS);

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
	ASSERT_EQ(0, mbox_mailbox_destroy(self->ep, sh->id));
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
					      sh->taken_by[p][seq];
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
	struct mbox_msg m = lib_msg(buf, sizeof(buf));

	sh->nmsgs = PC_MSGS;
	total = PC_PRODUCERS * sh->nmsgs;
	for (i = 0; i < PC_PRODUCERS; i++)
		last[i] = -1;

	ASSERT_EQ(0, pc_start_producers(self));
	/* This process is the only consumer. */
	for (i = 0; i < total; i++)
		ASSERT_EQ(0, pc_consume_one(sh, self->ep, 0, last, true));
	for (i = 0; i <= PC_PROC_PRODUCERS; i++)
		EXPECT_EQ(0, mbox_reap(self->producers[i]));

	EXPECT_EQ(-EAGAIN, mbox_mailbox_receive(self->ep, sh->id, &m, 0,
						MBOX_NOWAIT));
	EXPECT_EQ(total, sh->received);
	EXPECT_EQ(0, sh->corrupt);
	EXPECT_EQ(0, sh->unknown);
	EXPECT_EQ(0, sh->out_of_order);
	EXPECT_EQ(0, pc_count_wrong(sh));
	for (i = 0; i < PC_PRODUCERS; i++)
		EXPECT_EQ(sh->nmsgs - 1, last[i]);
	EXPECT_EQ(0, mbox_mailbox_destroy(self->ep, sh->id));
}

TEST_HARNESS_MAIN
