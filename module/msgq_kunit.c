// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the mbox message queue (msgq.c): ordering, capacity,
 * rendezvous, put-back on a failed copy, selective receive, kill and poll.
 * Blocking hand-offs between tasks are covered by the selftests.
 */
#include <kunit/test.h>
#include <linux/mman.h>
#include <linux/poll.h>
#include <linux/uaccess.h>

#include "internal.h"

struct msgq_test {
	struct mbox_queue q;
	char __user *ubuf;	/* a user page of the test's own mm */
};

static const struct mbox_block nonblock = { .nonblock = true };

/* poll masks as plain bits, for KUNIT_EXPECT_EQ */
static u32 bits(__poll_t mask)
{
	return (__force u32)mask;
}

static u32 poll_bits(struct mbox_queue *q, bool send, bool recv)
{
	return bits(mbox_queue_poll(q, send, recv));
}

static int msgq_test_init(struct kunit *test)
{
	struct msgq_test *t;
	unsigned long addr;

	t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, t);
	addr = kunit_vm_mmap(test, NULL, 0, PAGE_SIZE, PROT_READ | PROT_WRITE,
			     MAP_ANONYMOUS | MAP_PRIVATE, 0);
	KUNIT_ASSERT_NE_MSG(test, addr, 0, "cannot map a user page");
	t->ubuf = (char __user *)addr;
	test->priv = t;
	return 0;
}

static void msgq_test_exit(struct kunit *test)
{
	struct msgq_test *t = test->priv;

	/* Frees whatever a test left queued. */
	mbox_queue_kill(&t->q, -EIDRM);
}

/* Queue a message "<text>" with @prio, sent by @sender (or the test). */
static int send_text(struct kunit *test, const char *text, u32 prio,
		     struct pid *sender)
{
	struct msgq_test *t = test->priv;
	struct mbox_msg *msg;
	size_t len = strlen(text);

	KUNIT_ASSERT_EQ(test, copy_to_user(t->ubuf, text, len), 0);
	msg = mbox_msg_alloc(t->ubuf, len, prio);
	KUNIT_ASSERT_FALSE(test, IS_ERR(msg));
	if (sender) {
		put_pid(msg->sender);
		msg->sender = get_pid(sender);
	}
	return mbox_queue_send(&t->q, msg, false, &nonblock, NULL);
}

/* Receive into @out (NUL-terminated); returns 0 or the error. */
static int recv_text(struct kunit *test, char *out, u32 len, struct pid *from)
{
	struct msgq_test *t = test->priv;
	struct mbox_recv_req req = {
		.buf = t->ubuf + 64,
		.len = len,
		.from = from,
	};
	int ret;

	ret = mbox_queue_recv(&t->q, &req, &nonblock);
	if (ret)
		return ret;
	KUNIT_EXPECT_EQ(test, copy_from_user(out, t->ubuf + 64, req.len), 0);
	out[req.len] = 0;
	put_pid(req.sender);
	return 0;
}

static void msgq_priority_then_fifo(struct kunit *test)
{
	struct msgq_test *t = test->priv;
	static const char * const want[] = { "c", "e", "a", "b", "d" };
	char out[8];
	int i;

	mbox_queue_init(&t->q, 8, U64_MAX, NULL);
	KUNIT_EXPECT_EQ(test, send_text(test, "a", 1, NULL), 0);
	KUNIT_EXPECT_EQ(test, send_text(test, "b", 1, NULL), 0);
	KUNIT_EXPECT_EQ(test, send_text(test, "c", MBOX_PRIO_MAX, NULL), 0);
	KUNIT_EXPECT_EQ(test, send_text(test, "d", 0, NULL), 0);
	KUNIT_EXPECT_EQ(test, send_text(test, "e", MBOX_PRIO_MAX, NULL), 0);
	for (i = 0; i < ARRAY_SIZE(want); i++) {
		KUNIT_ASSERT_EQ(test, recv_text(test, out, sizeof(out) - 1, NULL), 0);
		KUNIT_EXPECT_STREQ(test, out, want[i]);
	}
	KUNIT_EXPECT_EQ(test, recv_text(test, out, 7, NULL), -EAGAIN);
	KUNIT_EXPECT_EQ(test, t->q.prio_map, 0UL);
}

static void msgq_bounded_count_and_bytes(struct kunit *test)
{
	struct msgq_test *t = test->priv;
	char out[8];

	mbox_queue_init(&t->q, 2, 5, NULL);
	KUNIT_EXPECT_EQ(test, send_text(test, "abc", 0, NULL), 0);
	/* 3 + 3 bytes > 5: full by bytes before it is full by count */
	KUNIT_EXPECT_EQ(test, send_text(test, "def", 0, NULL), -EAGAIN);
	KUNIT_EXPECT_EQ(test, send_text(test, "de", 0, NULL), 0);
	KUNIT_EXPECT_EQ(test, t->q.limit.count, 2U);
	KUNIT_EXPECT_EQ(test, t->q.limit.bytes, 5ULL);
	KUNIT_EXPECT_EQ(test, send_text(test, "", 0, NULL), -EAGAIN);
	KUNIT_ASSERT_EQ(test, recv_text(test, out, 7, NULL), 0);
	KUNIT_EXPECT_STREQ(test, out, "abc");
	KUNIT_EXPECT_EQ(test, t->q.limit.count, 1U);
	KUNIT_EXPECT_EQ(test, t->q.limit.bytes, 2ULL);
	KUNIT_EXPECT_EQ(test, send_text(test, "f", 0, NULL), 0);
}

static void msgq_rendezvous_needs_receiver(struct kunit *test)
{
	struct msgq_test *t = test->priv;

	mbox_queue_init(&t->q, 0, U64_MAX, NULL);
	KUNIT_EXPECT_EQ(test, send_text(test, "x", 0, NULL), -EAGAIN);
	KUNIT_EXPECT_EQ(test, t->q.limit.count, 0U);
	KUNIT_EXPECT_EQ(test, t->q.prio_map, 0UL);
	KUNIT_EXPECT_EQ(test, poll_bits(&t->q, true, true), 0U);
}

static void msgq_too_small_keeps_message(struct kunit *test)
{
	struct msgq_test *t = test->priv;
	struct mbox_recv_req req = { .buf = t->ubuf + 64, .len = 2 };
	char out[8];

	mbox_queue_init(&t->q, 4, U64_MAX, NULL);
	KUNIT_EXPECT_EQ(test, send_text(test, "hello", 0, NULL), 0);
	KUNIT_EXPECT_EQ(test, mbox_queue_recv(&t->q, &req, &nonblock), -EMSGSIZE);
	KUNIT_EXPECT_EQ(test, req.len, 5U);
	KUNIT_EXPECT_NULL(test, req.sender);
	KUNIT_EXPECT_EQ(test, t->q.limit.count, 1U);
	KUNIT_ASSERT_EQ(test, recv_text(test, out, 7, NULL), 0);
	KUNIT_EXPECT_STREQ(test, out, "hello");
}

static void msgq_fault_puts_message_back(struct kunit *test)
{
	struct msgq_test *t = test->priv;
	struct mbox_recv_req req = {
		.buf = (void __user *)TASK_SIZE_MAX - 8, .len = 7,
	};
	char out[8];

	mbox_queue_init(&t->q, 4, U64_MAX, NULL);
	KUNIT_EXPECT_EQ(test, send_text(test, "first", 3, NULL), 0);
	KUNIT_EXPECT_EQ(test, send_text(test, "second", 3, NULL), 0);
	KUNIT_EXPECT_EQ(test, mbox_queue_recv(&t->q, &req, &nonblock), -EFAULT);
	KUNIT_EXPECT_EQ(test, t->q.limit.count, 2U);
	/* Back in its place: still first. */
	KUNIT_ASSERT_EQ(test, recv_text(test, out, 7, NULL), 0);
	KUNIT_EXPECT_STREQ(test, out, "first");
	KUNIT_ASSERT_EQ(test, recv_text(test, out, 7, NULL), 0);
	KUNIT_EXPECT_STREQ(test, out, "second");
}

static int deliver_fails(struct mbox_recv_req *req)
{
	return -ENOMEM;
}

/* A receiver that cannot take the message it copied out puts it back. */
static void msgq_deliver_failure_puts_message_back(struct kunit *test)
{
	struct msgq_test *t = test->priv;
	struct mbox_recv_req req = {
		.buf = t->ubuf + 64, .len = 7, .deliver = deliver_fails,
	};
	char out[8];

	mbox_queue_init(&t->q, 4, U64_MAX, NULL);
	KUNIT_EXPECT_EQ(test, send_text(test, "first", 3, NULL), 0);
	KUNIT_EXPECT_EQ(test, send_text(test, "second", 3, NULL), 0);
	KUNIT_EXPECT_EQ(test, mbox_queue_recv(&t->q, &req, &nonblock), -ENOMEM);
	KUNIT_EXPECT_NULL(test, req.sender);
	KUNIT_EXPECT_EQ(test, t->q.limit.count, 2U);
	KUNIT_EXPECT_EQ(test, t->q.nr_received, 0ULL);
	KUNIT_ASSERT_EQ(test, recv_text(test, out, 7, NULL), 0);
	KUNIT_EXPECT_STREQ(test, out, "first");
	KUNIT_EXPECT_EQ(test, t->q.nr_received, 1ULL);
}

static void msgq_selective_receive(struct kunit *test)
{
	struct msgq_test *t = test->priv;
	struct pid *other = find_get_pid(1);
	char out[8];

	KUNIT_ASSERT_NOT_NULL(test, other);
	mbox_queue_init(&t->q, 4, U64_MAX, NULL);
	KUNIT_EXPECT_EQ(test, send_text(test, "mine", 0, NULL), 0);
	KUNIT_EXPECT_EQ(test, send_text(test, "init", 0, other), 0);
	KUNIT_ASSERT_EQ(test, recv_text(test, out, 7, other), 0);
	KUNIT_EXPECT_STREQ(test, out, "init");
	KUNIT_EXPECT_EQ(test, recv_text(test, out, 7, other), -EAGAIN);
	KUNIT_ASSERT_EQ(test, recv_text(test, out, 7, NULL), 0);
	KUNIT_EXPECT_STREQ(test, out, "mine");
	put_pid(other);
}

static void msgq_kill_frees_and_fails(struct kunit *test)
{
	struct msgq_test *t = test->priv;
	char out[8];

	mbox_queue_init(&t->q, MBOX_UNBOUNDED, U64_MAX, NULL);
	KUNIT_EXPECT_EQ(test, send_text(test, "a", 0, NULL), 0);
	KUNIT_EXPECT_EQ(test, send_text(test, "b", 7, NULL), 0);
	mbox_queue_kill(&t->q, -EIDRM);
	KUNIT_EXPECT_EQ(test, t->q.limit.count, 0U);
	KUNIT_EXPECT_EQ(test, t->q.prio_map, 0UL);
	KUNIT_EXPECT_EQ(test, send_text(test, "c", 0, NULL), -EIDRM);
	KUNIT_EXPECT_EQ(test, recv_text(test, out, 7, NULL), -EIDRM);
	KUNIT_EXPECT_EQ(test, poll_bits(&t->q, true, true), bits(EPOLLHUP));
}

static void msgq_poll_states(struct kunit *test)
{
	struct msgq_test *t = test->priv;
	char out[8];

	mbox_queue_init(&t->q, 1, U64_MAX, NULL);
	KUNIT_EXPECT_EQ(test, poll_bits(&t->q, true, true),
			bits(EPOLLOUT | EPOLLWRNORM));
	KUNIT_EXPECT_EQ(test, send_text(test, "a", 0, NULL), 0);
	KUNIT_EXPECT_EQ(test, poll_bits(&t->q, true, true),
			bits(EPOLLIN | EPOLLRDNORM));
	/* Only what the endpoint may do is reported. */
	KUNIT_EXPECT_EQ(test, poll_bits(&t->q, true, false), 0U);
	KUNIT_ASSERT_EQ(test, recv_text(test, out, 7, NULL), 0);
	KUNIT_EXPECT_EQ(test, poll_bits(&t->q, false, true), 0U);
}

static void msgq_deadline_in_the_past(struct kunit *test)
{
	struct msgq_test *t = test->priv;
	struct mbox_block past = { .has_deadline = true };
	struct mbox_recv_req req = { .buf = t->ubuf + 64, .len = 8 };

	mbox_queue_init(&t->q, 1, U64_MAX, NULL);
	KUNIT_EXPECT_EQ(test, mbox_queue_recv(&t->q, &req, &past), -ETIMEDOUT);
	KUNIT_EXPECT_TRUE(test, list_empty(&t->q.receivers));
}

static void msgq_buckets_are_separate(struct kunit *test)
{
	struct msgq_test *t = test->priv;
	struct mbox_bucket a = { .capacity = 1, .max_bytes = U64_MAX };
	struct mbox_bucket b = { .capacity = 1, .max_bytes = U64_MAX };
	struct mbox_bucket *which[] = { &a, &a, &b };
	int want[] = { 0, -EAGAIN, 0 };
	struct mbox_msg *msg;
	char out[8];
	int i;

	/* A queue of one bucket per sender, as direct links use. */
	mbox_queue_init(&t->q, 0, U64_MAX, NULL);
	for (i = 0; i < ARRAY_SIZE(which); i++) {
		KUNIT_ASSERT_EQ(test, copy_to_user(t->ubuf, "m", 1), 0);
		msg = mbox_msg_alloc(t->ubuf, 1, 0);
		KUNIT_ASSERT_FALSE(test, IS_ERR(msg));
		msg->bucket = which[i];
		KUNIT_EXPECT_EQ(test, mbox_queue_send(&t->q, msg, false,
						      &nonblock, NULL), want[i]);
	}
	KUNIT_EXPECT_EQ(test, a.count, 1U);
	KUNIT_EXPECT_EQ(test, b.count, 1U);
	KUNIT_EXPECT_EQ(test, t->q.limit.count, 0U);
	KUNIT_ASSERT_EQ(test, recv_text(test, out, 7, NULL), 0);
	KUNIT_ASSERT_EQ(test, recv_text(test, out, 7, NULL), 0);
	KUNIT_EXPECT_EQ(test, a.count + b.count, 0U);
}

/* Failed sends and receives count nothing; the totals only grow. */
static void msgq_stat_counts(struct kunit *test)
{
	struct msgq_test *t = test->priv;
	struct mbox_recv_req req = {
		.buf = (void __user *)TASK_SIZE_MAX - 8, .len = 7,
	};
	struct mbox_stat st = { };
	char out[8];

	mbox_queue_init(&t->q, 2, 100, NULL);
	KUNIT_EXPECT_EQ(test, send_text(test, "abc", 0, NULL), 0);
	KUNIT_EXPECT_EQ(test, send_text(test, "de", 1, NULL), 0);
	KUNIT_EXPECT_EQ(test, send_text(test, "full", 0, NULL), -EAGAIN);
	KUNIT_EXPECT_EQ(test, mbox_queue_recv(&t->q, &req, &nonblock), -EFAULT);
	mbox_queue_stat(&t->q, &st);
	KUNIT_EXPECT_EQ(test, st.capacity, 2U);
	KUNIT_EXPECT_EQ(test, st.max_bytes, 100ULL);
	KUNIT_EXPECT_EQ(test, st.nr_msgs, 2U);
	KUNIT_EXPECT_EQ(test, st.nr_bytes, 5ULL);
	KUNIT_EXPECT_EQ(test, st.total_sent, 2ULL);
	KUNIT_EXPECT_EQ(test, st.total_received, 0ULL);
	KUNIT_ASSERT_EQ(test, recv_text(test, out, 7, NULL), 0);
	mbox_queue_stat(&t->q, &st);
	KUNIT_EXPECT_EQ(test, st.nr_msgs, 1U);
	KUNIT_EXPECT_EQ(test, st.nr_bytes, 3ULL);
	KUNIT_EXPECT_EQ(test, st.total_received, 1ULL);
	KUNIT_EXPECT_EQ(test, st.nr_senders, 0U);
	KUNIT_EXPECT_EQ(test, st.nr_receivers, 0U);
}

static struct kunit_case msgq_cases[] = {
	KUNIT_CASE(msgq_priority_then_fifo),
	KUNIT_CASE(msgq_bounded_count_and_bytes),
	KUNIT_CASE(msgq_rendezvous_needs_receiver),
	KUNIT_CASE(msgq_too_small_keeps_message),
	KUNIT_CASE(msgq_fault_puts_message_back),
	KUNIT_CASE(msgq_deliver_failure_puts_message_back),
	KUNIT_CASE(msgq_selective_receive),
	KUNIT_CASE(msgq_kill_frees_and_fails),
	KUNIT_CASE(msgq_poll_states),
	KUNIT_CASE(msgq_deadline_in_the_past),
	KUNIT_CASE(msgq_buckets_are_separate),
	KUNIT_CASE(msgq_stat_counts),
	{}
};

static struct kunit_suite msgq_suite = {
	.name = "mbox_msgq",
	.init = msgq_test_init,
	.exit = msgq_test_exit,
	.test_cases = msgq_cases,
};

kunit_test_suite(msgq_suite);
