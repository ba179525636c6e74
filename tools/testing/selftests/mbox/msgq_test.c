// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests of the data path of mailboxes (spec sections 2 and 4,
 * Documentation/abi.rst "Blocking", "Mailboxes", MBOX_IOC_SEND,
 * MBOX_IOC_RECV and "poll, select, epoll"): capacity 0, N and unbounded,
 * byte limits and quotas, synchronous send, shared receivers, priorities,
 * selective receive, message sizes, credentials, deadlines, non-blocking
 * endpoints, signals, destruction under blocked tasks, and poll/epoll.
 *
 * Whether a task is blocked is read from /proc (mbox_wait_blocked()),
 * never guessed with a sleep; nothing asserts how long anything took.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/mbox.h>

#include "mbox_util.h"
#include "kselftest_harness.h"

FIXTURE(msgq) {
	int fd;
	struct mbox_cleanup cl;
	bool restore_user_bytes;
	unsigned long long saved_user_bytes;
};

FIXTURE_SETUP(msgq)
{
	__u64 features = 0;

	self->fd = mbox_dev_open();
	if (self->fd == -ENOENT)
		SKIP(return, "/dev/mbox is absent: the mbox module is not loaded");
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, mbox_features(self->fd, &features));
	if (!(features & MBOX_FEATURE_MAILBOX))
		SKIP(return, "the loaded module has no MBOX_FEATURE_MAILBOX");
}

FIXTURE_TEARDOWN(msgq)
{
	mbox_cleanup_run(&self->cl);
	if (self->restore_user_bytes)
		mbox_param_set("max_user_bytes", self->saved_user_bytes);
	if (self->fd >= 0)
		close(self->fd);
}

/* A process-owned mailbox of the fixture's endpoint. */
static int make_box(int fd, __u32 capacity, __u32 *id)
{
	return mbox_create(fd, NULL, 0, capacity, MBOX_POLICY_SHARED, 0600, id);
}

/* Receive one message, blocking up to MBOX_WAIT_MS: whether it is msg. */
static bool recv_wait_is(int fd, __u32 id, const char *msg)
{
	struct mbox_recv r;
	char buf[256];

	mbox_recv_init(&r, id, buf, sizeof(buf), MBOX_DEADLINE);
	r.deadline_ns = mbox_deadline_ms(MBOX_WAIT_MS);
	if (mbox_recv_ex(fd, &r))
		return false;
	return r.len == strlen(msg) && !memcmp(buf, msg, r.len);
}

/* ---- children ----------------------------------------------------------- */

/*
 * A sender process: opens its own endpoint, sends its messages without
 * blocking, reports 0 or the errno on the ready pipe, and stays alive (so
 * that its pid stays its own) until the exit pipe is closed.
 */
struct sender {
	__u32 id;
	const char * const *msgs;
	const __u32 *prios;
	unsigned int n;
	int ready_w;
	int exit_r;
	int exit_w;
};

static int sender_child(void *arg)
{
	struct sender *s = arg;
	unsigned int i;
	int fd, ret;
	char c;

	close(s->exit_w);
	fd = mbox_dev_open();
	ret = fd < 0 ? fd : mbox_open_id(fd, s->id, MBOX_OPEN_SEND);
	for (i = 0; !ret && i < s->n; i++)
		ret = mbox_send(fd, s->id, s->msgs[i], strlen(s->msgs[i]),
				s->prios ? s->prios[i] : 0, MBOX_NONBLOCK);
	mbox_pipe_write_byte(s->ready_w, ret);
	if (ret)
		return ret;
	while (read(s->exit_r, &c, 1) < 0 && errno == EINTR)
		;
	close(fd);
	return 0;
}

struct senders {
	int ready[2];
	int exit[2];
	pid_t pids[4];
	unsigned int n;
};

static int senders_init(struct senders *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (pipe(ss->ready))
		return -errno;
	if (pipe(ss->exit))
		return -errno;
	return 0;
}

/* Start a sender as uid/gid ((uid_t)-1: as root); its ready status. */
static int senders_start(struct senders *ss, struct mbox_cleanup *cl,
			 uid_t uid, gid_t gid, struct sender *s)
{
	pid_t pid;

	s->ready_w = ss->ready[1];
	s->exit_r = ss->exit[0];
	s->exit_w = ss->exit[1];
	pid = mbox_spawn_as(uid, gid, sender_child, s);
	if (pid < 0)
		return pid;
	mbox_track_pid(cl, pid);
	ss->pids[ss->n++] = pid;
	return mbox_pipe_read_byte(ss->ready[0], MBOX_WAIT_MS);
}

/* Let the senders go; 0 if every one exited with 0. */
static int senders_finish(struct senders *ss)
{
	unsigned int i;
	int ret = 0, st;

	close(ss->exit[1]);
	for (i = 0; i < ss->n; i++) {
		st = mbox_reap(ss->pids[i]);
		if (st && !ret)
			ret = st;
	}
	close(ss->exit[0]);
	close(ss->ready[0]);
	close(ss->ready[1]);
	return ret;
}

/* What a receiving child saw, in shared memory. */
struct rx {
	__u32 id;
	bool wait_parent;	/* wait until the parent blocks in an ioctl */
	int ret;
	char buf[64];
	__u32 len;
	__u32 msg_flags;
	__u32 sender_pid;
};

/* Receive one message on an endpoint of its own. */
static int receiver_child(void *arg)
{
	struct rx *rx = arg;
	struct mbox_recv r;
	int fd;

	fd = mbox_dev_open();
	rx->ret = fd < 0 ? fd : mbox_open_id(fd, rx->id, MBOX_OPEN_RECV);
	if (rx->ret)
		return rx->ret;
	if (rx->wait_parent && mbox_wait_blocked(getppid()))
		return rx->ret = -ETIMEDOUT;
	mbox_recv_init(&r, rx->id, rx->buf, sizeof(rx->buf), MBOX_DEADLINE);
	r.deadline_ns = mbox_deadline_ms(MBOX_WAIT_MS);
	rx->ret = mbox_recv_ex(fd, &r);
	rx->len = r.len;
	rx->msg_flags = r.msg_flags;
	rx->sender_pid = r.sender_pid;
	close(fd);
	return rx->ret;
}

/* Receivers that take one-byte messages until the mailbox is destroyed. */
#define LOOP_MSGS	48

struct loop_rx {
	__u32 id;
	__u32 count[LOOP_MSGS];
	pid_t got_by[LOOP_MSGS];
	__u32 bad;
};

static int loop_receiver_child(void *arg)
{
	struct loop_rx *lr = arg;
	unsigned char buf[16];
	struct mbox_recv r;
	int fd, ret;

	fd = mbox_dev_open();
	ret = fd < 0 ? fd : mbox_open_id(fd, lr->id, MBOX_OPEN_RECV);
	while (!ret) {
		mbox_recv_init(&r, lr->id, buf, sizeof(buf), MBOX_DEADLINE);
		r.deadline_ns = mbox_deadline_ms(MBOX_WAIT_MS);
		ret = mbox_recv_ex(fd, &r);
		if (ret)
			break;
		if (r.len != 1 || buf[0] >= LOOP_MSGS) {
			__atomic_fetch_add(&lr->bad, 1, __ATOMIC_SEQ_CST);
			continue;
		}
		__atomic_fetch_add(&lr->count[buf[0]], 1, __ATOMIC_SEQ_CST);
		lr->got_by[buf[0]] = getpid();
	}
	return ret == -EIDRM ? 0 : ret;
}

/* One blocking operation in a child, on an endpoint of its own. */
struct blocker {
	__u32 id;
	bool send;
	bool sync;
};

static int blocker_child(void *arg)
{
	struct blocker *b = arg;
	char buf[64];
	__u32 len = sizeof(buf);
	int fd, ret;

	fd = mbox_dev_open();
	ret = fd < 0 ? fd : mbox_open_id(fd, b->id, b->send ? MBOX_OPEN_SEND :
							       MBOX_OPEN_RECV);
	if (ret)
		return ret;
	/* A far deadline, so that no child outlives a failed test for long. */
	if (b->send) {
		ret = mbox_send_full(fd, b->id, "blocked", 7, 0, MBOX_DEADLINE |
				     (b->sync ? MBOX_SEND_SYNC : 0),
				     mbox_deadline_ms(2 * MBOX_WAIT_MS), NULL);
	} else {
		struct mbox_recv r;

		mbox_recv_init(&r, b->id, buf, len, MBOX_DEADLINE);
		r.deadline_ns = mbox_deadline_ms(2 * MBOX_WAIT_MS);
		ret = mbox_recv_ex(fd, &r);
	}
	close(fd);
	return ret;
}

/* ---- bounded capacity --------------------------------------------------- */

TEST_F(msgq, bounded_nonblocking_sends_stop_at_capacity)
{
	char msg[8];
	__u32 id;
	int i;

	ASSERT_EQ(0, make_box(self->fd, 4, &id));
	for (i = 0; i < 4; i++) {
		snprintf(msg, sizeof(msg), "m%d", i);
		EXPECT_EQ(0, mbox_send(self->fd, id, msg, strlen(msg), 0,
				       MBOX_NONBLOCK));
	}
	EXPECT_EQ(-EAGAIN, mbox_send(self->fd, id, "m4", 2, 0, MBOX_NONBLOCK));
	EXPECT_EQ(-EAGAIN, mbox_send(self->fd, id, "m4", 2, 0, MBOX_NONBLOCK));

	/* One out, one in. */
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "m0"));
	EXPECT_EQ(0, mbox_send(self->fd, id, "m4", 2, 0, MBOX_NONBLOCK));
	EXPECT_EQ(-EAGAIN, mbox_send(self->fd, id, "m5", 2, 0, MBOX_NONBLOCK));

	/* The EAGAINs delivered nothing. */
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "m1"));
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "m2"));
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "m3"));
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "m4"));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
}

TEST_F(msgq, bounded_blocking_sender_blocks_when_full)
{
	struct mbox_send s;
	struct mbox_bg bg;
	char msg[8];
	__u32 id;
	int i;

	ASSERT_EQ(0, make_box(self->fd, 3, &id));
	/* Blocking sends below capacity return at once. */
	for (i = 0; i < 3; i++) {
		snprintf(msg, sizeof(msg), "m%d", i);
		ASSERT_EQ(0, mbox_send(self->fd, id, msg, strlen(msg), 0, 0));
	}

	mbox_send_init(&s, id, "late", 4, 0, 0);
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_SEND, &s));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	EXPECT_FALSE(mbox_bg_done(&bg));

	/* Room for one: the blocked sender completes. */
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "m0"));
	EXPECT_EQ(0, mbox_bg_join(&bg));

	EXPECT_TRUE(mbox_recv_is(self->fd, id, "m1"));
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "m2"));
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "late"));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
}

TEST_F(msgq, blocked_senders_enter_queue_in_order)
{
	struct mbox_send sa, sb;
	struct mbox_bg a, b;
	__u32 id;

	ASSERT_EQ(0, make_box(self->fd, 1, &id));
	ASSERT_EQ(0, mbox_send(self->fd, id, "first", 5, 0, MBOX_NONBLOCK));

	mbox_send_init(&sa, id, "A", 1, 0, 0);
	mbox_send_init(&sb, id, "B", 1, 0, 0);
	ASSERT_EQ(0, mbox_bg_start(&a, self->fd, MBOX_IOC_SEND, &sa));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&a));
	ASSERT_EQ(0, mbox_bg_start(&b, self->fd, MBOX_IOC_SEND, &sb));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&b));

	EXPECT_TRUE(mbox_recv_is(self->fd, id, "first"));
	EXPECT_TRUE(recv_wait_is(self->fd, id, "A"));
	EXPECT_TRUE(recv_wait_is(self->fd, id, "B"));
	EXPECT_EQ(0, mbox_bg_join(&a));
	EXPECT_EQ(0, mbox_bg_join(&b));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
}

TEST_F(msgq, bounded_byte_limit)
{
	char big[100], small[50];
	__u32 id, len;
	char buf[128];

	memset(big, 'b', sizeof(big));
	memset(small, 's', sizeof(small));
	/* 10 messages, but 250 bytes. */
	ASSERT_EQ(0, mbox_create_sized(self->fd, 0, 10, 100, 250, 0, 0600, &id));
	EXPECT_EQ(0, mbox_send(self->fd, id, big, 100, 0, MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_send(self->fd, id, big, 100, 0, MBOX_NONBLOCK));
	EXPECT_EQ(-EAGAIN, mbox_send(self->fd, id, big, 100, 0, MBOX_NONBLOCK));
	EXPECT_EQ(-ETIMEDOUT, mbox_send_full(self->fd, id, big, 100, 0,
					     MBOX_DEADLINE, mbox_deadline_ms(10),
					     NULL));
	/* Exactly up to the limit. */
	EXPECT_EQ(0, mbox_send(self->fd, id, small, 50, 0, MBOX_NONBLOCK));
	EXPECT_EQ(-EAGAIN, mbox_send(self->fd, id, small, 1, 0, MBOX_NONBLOCK));

	/* Taking 100 bytes makes room for 100 bytes. */
	len = sizeof(buf);
	ASSERT_EQ(0, mbox_recv(self->fd, id, buf, &len, MBOX_NONBLOCK));
	EXPECT_EQ(100, len);
	EXPECT_EQ(0, mbox_send(self->fd, id, big, 100, 0, MBOX_NONBLOCK));
	EXPECT_EQ(-EAGAIN, mbox_send(self->fd, id, small, 1, 0, MBOX_NONBLOCK));

	/* 100, 50, 100 are queued, in that order. */
	len = sizeof(buf);
	EXPECT_EQ(0, mbox_recv(self->fd, id, buf, &len, MBOX_NONBLOCK));
	EXPECT_EQ(100, len);
	len = sizeof(buf);
	EXPECT_EQ(0, mbox_recv(self->fd, id, buf, &len, MBOX_NONBLOCK));
	EXPECT_EQ(50, len);
	len = sizeof(buf);
	EXPECT_EQ(0, mbox_recv(self->fd, id, buf, &len, MBOX_NONBLOCK));
	EXPECT_EQ(100, len);
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
}

/* ---- capacity 0 --------------------------------------------------------- */

TEST_F(msgq, zero_capacity_nonblocking_send_needs_waiting_receiver)
{
	struct mbox_recv r;
	struct mbox_bg bg;
	char buf[32];
	__u32 id;

	ASSERT_EQ(0, make_box(self->fd, 0, &id));
	EXPECT_EQ(-EAGAIN, mbox_send(self->fd, id, "none", 4, 0, MBOX_NONBLOCK));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));

	mbox_recv_init(&r, id, buf, sizeof(buf), 0);
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_RECV, &r));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	EXPECT_EQ(0, mbox_send(self->fd, id, "hand", 4, 0, MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_bg_join(&bg));
	EXPECT_EQ(4, r.len);
	EXPECT_EQ(0, memcmp(buf, "hand", 4));

	/* The receiver is gone: no hand-off possible again. */
	EXPECT_EQ(-EAGAIN, mbox_send(self->fd, id, "none", 4, 0, MBOX_NONBLOCK));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
}

TEST_F(msgq, zero_capacity_blocking_send_waits_for_receiver)
{
	struct mbox_send s;
	struct mbox_bg bg;
	pid_t tid;
	__u32 id;

	ASSERT_EQ(0, make_box(self->fd, 0, &id));
	mbox_send_init(&s, id, "rdv", 3, 0, 0);
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_SEND, &s));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	tid = mbox_bg_tid(&bg);

	/* Still waiting for a receiver. */
	EXPECT_TRUE(mbox_still_blocked(tid));
	EXPECT_FALSE(mbox_bg_done(&bg));

	/* Its message is visible to a receiver, even a non-blocking one. */
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "rdv"));
	EXPECT_EQ(0, mbox_bg_join(&bg));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));

	/* Same with MBOX_SEND_SYNC, which names the receiver. */
	mbox_send_init(&s, id, "rdv2", 4, 0, MBOX_SEND_SYNC);
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_SEND, &s));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	EXPECT_TRUE(recv_wait_is(self->fd, id, "rdv2"));
	EXPECT_EQ(0, mbox_bg_join(&bg));
	EXPECT_EQ(getpid(), s.receiver_pid);
}

TEST_F(msgq, zero_capacity_timed_send_delivers_nothing)
{
	__u64 deadline;
	__u32 id;

	ASSERT_EQ(0, make_box(self->fd, 0, &id));
	deadline = mbox_deadline_ms(50);
	EXPECT_EQ(-ETIMEDOUT, mbox_send_full(self->fd, id, "late", 4, 0,
					     MBOX_DEADLINE, deadline, NULL));
	EXPECT_LE(deadline, mbox_now_ns());
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
}

/* ---- unbounded and quotas ----------------------------------------------- */

TEST_F(msgq, unbounded_takes_many_messages)
{
	const unsigned int n = 2000;
	unsigned char msg[64], buf[64];
	unsigned int i, bad = 0;
	__u32 id, len;

	ASSERT_EQ(0, make_box(self->fd, MBOX_UNBOUNDED, &id));
	for (i = 0; i < n; i++) {
		memset(msg, i & 0xff, sizeof(msg));
		memcpy(msg, &i, sizeof(i));
		ASSERT_EQ(0, mbox_send(self->fd, id, msg, sizeof(msg), 0,
				       MBOX_NONBLOCK));
	}
	for (i = 0; i < n; i++) {
		len = sizeof(buf);
		ASSERT_EQ(0, mbox_recv(self->fd, id, buf, &len, MBOX_NONBLOCK));
		memset(msg, i & 0xff, sizeof(msg));
		memcpy(msg, &i, sizeof(i));
		if (len != sizeof(msg) || memcmp(buf, msg, sizeof(msg)))
			bad++;
	}
	EXPECT_EQ(0, bad);
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
}

#define QUOTA_MSG	4096
/* What one message counts against the quota. */
#define QUOTA_CHARGE	(QUOTA_MSG + MBOX_MSG_OVERHEAD)
#define QUOTA_BYTES	(16 * QUOTA_CHARGE)

struct quota {
	__u32 id;		/* unbounded */
	__u32 bounded_id;
	unsigned int sent;
	int stop_err;		/* what ended the non-blocking sends */
	int blocking_err;	/* a blocking send once over quota */
	int bounded_err;	/* a send to a bounded mailbox then */
};

/* As nobody: send QUOTA_MSG-byte messages until something stops it. */
static int quota_child(void *arg)
{
	struct quota *q = arg;
	static char msg[QUOTA_MSG];
	int fd, ret;

	fd = mbox_dev_open();
	ret = fd < 0 ? fd : mbox_open_id(fd, q->id, MBOX_OPEN_SEND);
	if (!ret)
		ret = mbox_open_id(fd, q->bounded_id, MBOX_OPEN_SEND);
	if (ret)
		return ret;
	q->sent = 0;
	for (;;) {
		ret = mbox_send(fd, q->id, msg, sizeof(msg), 0, MBOX_NONBLOCK);
		if (ret || ++q->sent > 1000)
			break;
	}
	q->stop_err = ret;
	/* Over quota a send never blocks, whatever the capacity. */
	q->blocking_err = mbox_send_full(fd, q->id, msg, sizeof(msg), 0,
					 MBOX_DEADLINE,
					 mbox_deadline_ms(MBOX_WAIT_MS), NULL);
	q->bounded_err = mbox_send(fd, q->bounded_id, msg, sizeof(msg), 0, 0);
	close(fd);
	return 0;
}

/* Messages an unprivileged user fills its quota with: few, but big. */
#define USER_QUOTA_MSG	65536
#define USER_QUOTA_CHARGE (USER_QUOTA_MSG + MBOX_MSG_OVERHEAD)

/*
 * user_quota_enospc unprivileged: the module's max_user_bytes binds the
 * test itself, as it is.
 */
static void user_quota_unprivileged(struct __test_metadata *_metadata,
				    FIXTURE_DATA(msgq) *self)
{
	static char msg[USER_QUOTA_MSG], buf[USER_QUOTA_MSG];
	unsigned long long limit, sent = 0;
	__u32 id, bounded_id, len;
	int ret;

	ASSERT_EQ(0, mbox_param_get("max_user_bytes", &limit));
	if (limit / USER_QUOTA_CHARGE > 4096)
		SKIP(return, "max_user_bytes is %llu: too much to fill", limit);
	/* Which it cannot raise. */
	EXPECT_EQ(-EACCES, mbox_param_set("max_user_bytes", 2 * limit));

	ASSERT_EQ(0, mbox_create_sized(self->fd, MBOX_CREATE_SYSTEM,
				       MBOX_UNBOUNDED, USER_QUOTA_MSG, 0, 0,
				       0600, &id));
	mbox_track_id(&self->cl, id);
	ASSERT_EQ(0, mbox_create_sized(self->fd, MBOX_CREATE_SYSTEM, 4,
				       USER_QUOTA_MSG, 0, 0, 0600,
				       &bounded_id));
	mbox_track_id(&self->cl, bounded_id);
	for (;;) {
		ret = mbox_send(self->fd, id, msg, sizeof(msg), 0,
				MBOX_NONBLOCK);
		if (ret || ++sent > limit / USER_QUOTA_CHARGE)
			break;
	}
	EXPECT_EQ(-ENOSPC, ret);
	EXPECT_EQ(limit / USER_QUOTA_CHARGE, sent) {
		TH_LOG("this user had %llu bytes queued already: a test left them",
		       limit - sent * USER_QUOTA_CHARGE);
	}
	/* Over quota a send never blocks, whatever the capacity. */
	EXPECT_EQ(-ENOSPC, mbox_send_full(self->fd, id, msg, sizeof(msg), 0,
					  MBOX_DEADLINE,
					  mbox_deadline_ms(MBOX_WAIT_MS),
					  NULL));
	EXPECT_EQ(-ENOSPC, mbox_send(self->fd, bounded_id, msg, sizeof(msg),
				     0, 0));
	EXPECT_TRUE(mbox_queue_empty(self->fd, bounded_id));

	/* Receiving one makes room for one. */
	len = sizeof(buf);
	ASSERT_EQ(0, mbox_recv(self->fd, id, buf, &len, MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_send(self->fd, bounded_id, msg, sizeof(msg), 0,
			       MBOX_NONBLOCK));
	EXPECT_EQ(-ENOSPC, mbox_send(self->fd, id, msg, sizeof(msg), 0,
				     MBOX_NONBLOCK));

	/* Destroying the mailbox frees its charge: all but bounded_id's. */
	EXPECT_EQ(0, mbox_destroy(self->fd, id));
	ASSERT_EQ(0, mbox_create_sized(self->fd, 0, MBOX_UNBOUNDED,
				       USER_QUOTA_MSG, 0, 0, 0600, &id));
	for (sent = 1; sent < limit / USER_QUOTA_CHARGE; sent++)
		ASSERT_EQ(0, mbox_send(self->fd, id, msg, sizeof(msg), 0,
				       MBOX_NONBLOCK));
	EXPECT_EQ(-ENOSPC, mbox_send(self->fd, id, msg, sizeof(msg), 0,
				     MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_close_id(self->fd, id));
	EXPECT_EQ(0, mbox_destroy(self->fd, bounded_id));
}

TEST_F(msgq, user_quota_enospc)
{
	static char msg[QUOTA_MSG];
	struct mbox_recv r;
	struct quota *q;
	char buf[QUOTA_MSG];
	unsigned int i;

	if (!mbox_is_root()) {
		user_quota_unprivileged(_metadata, self);
		return;
	}
	q = mbox_shared_alloc(sizeof(*q));
	ASSERT_NE(NULL, q);
	ASSERT_EQ(0, mbox_param_get("max_user_bytes",
				    &self->saved_user_bytes));
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL,
					MBOX_UNBOUNDED, MBOX_POLICY_SHARED,
					0666, &q->id));
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 100,
					MBOX_POLICY_SHARED, 0666,
					&q->bounded_id));
	self->restore_user_bytes = true;
	ASSERT_EQ(0, mbox_param_set("max_user_bytes", QUOTA_BYTES));

	ASSERT_EQ(0, mbox_run_as_nobody(quota_child, q));
	EXPECT_EQ(QUOTA_BYTES / QUOTA_CHARGE, q->sent);
	EXPECT_EQ(-ENOSPC, q->stop_err);
	EXPECT_EQ(-ENOSPC, q->blocking_err);
	EXPECT_EQ(-ENOSPC, q->bounded_err);
	EXPECT_TRUE(mbox_queue_empty(self->fd, q->bounded_id));

	/* Root (CAP_SYS_RESOURCE) is not held to it. */
	for (i = 0; i < QUOTA_BYTES / QUOTA_CHARGE + 4; i++)
		EXPECT_EQ(0, mbox_send(self->fd, q->id, msg, sizeof(msg), 0,
				       MBOX_NONBLOCK));

	/* Receiving one of nobody's messages gives nobody room for one. */
	mbox_recv_init(&r, q->id, buf, sizeof(buf), MBOX_NONBLOCK);
	ASSERT_EQ(0, mbox_recv_ex(self->fd, &r));
	EXPECT_EQ(MBOX_NOBODY, r.sender_uid);
	ASSERT_EQ(0, mbox_run_as_nobody(quota_child, q));
	EXPECT_EQ(1, q->sent);
	EXPECT_EQ(-ENOSPC, q->stop_err);

	/* Destroy frees what was queued, and its charge. */
	EXPECT_EQ(0, mbox_destroy(self->fd, q->id));
	EXPECT_EQ(0, mbox_destroy(self->fd, q->bounded_id));
	EXPECT_EQ(0, mbox_param_set("max_user_bytes", self->saved_user_bytes));
	self->restore_user_bytes = false;
	munmap(q, sizeof(*q));
}

/* As nobody: empty messages until something stops them. */
static int empty_child(void *arg)
{
	struct quota *q = arg;
	int fd, ret;

	fd = mbox_dev_open();
	ret = fd < 0 ? fd : mbox_open_id(fd, q->id, MBOX_OPEN_SEND);
	if (ret)
		return ret;
	q->sent = 0;
	for (;;) {
		ret = mbox_send(fd, q->id, "", 0, 0, MBOX_NONBLOCK);
		if (ret || ++q->sent > 100000)
			break;
	}
	q->stop_err = ret;
	close(fd);
	return 0;
}

/* Each message counts MBOX_MSG_OVERHEAD bytes beyond its length. */
TEST_F(msgq, user_quota_counts_empty_messages)
{
	struct quota *q;

	MBOX_NEED_ROOT("set max_user_bytes");
	q = mbox_shared_alloc(sizeof(*q));
	ASSERT_NE(NULL, q);
	ASSERT_EQ(0, mbox_param_get("max_user_bytes",
				    &self->saved_user_bytes));
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL,
					MBOX_UNBOUNDED, MBOX_POLICY_SHARED,
					0666, &q->id));
	self->restore_user_bytes = true;
	ASSERT_EQ(0, mbox_param_set("max_user_bytes",
				    10 * MBOX_MSG_OVERHEAD));
	ASSERT_EQ(0, mbox_run_as_nobody(empty_child, q));
	EXPECT_EQ(10, q->sent);
	EXPECT_EQ(-ENOSPC, q->stop_err);
	munmap(q, sizeof(*q));
}

/* The size parameters take 1 byte to 64 MiB, and nothing else. */
TEST_F(msgq, size_parameters_are_checked)
{
	static const char *const names[] = { "max_msg_size", "default_msg_size" };
	static const struct {
		unsigned long long val;
		int err;
	} bad[] = {
		{ 0, -EINVAL },
		{ (64ULL << 20) + 1, -EINVAL },
		{ 1ULL << 32, -ERANGE },	/* not even a uint */
		{ ~0ULL, -ERANGE },
	};
	unsigned long long saved, now;
	unsigned int i, j;

	MBOX_NEED_ROOT("set module parameters");
	for (i = 0; i < MBOX_ARRAY_SIZE(names); i++) {
		ASSERT_EQ(0, mbox_param_get(names[i], &saved));
		for (j = 0; j < MBOX_ARRAY_SIZE(bad); j++) {
			EXPECT_EQ(bad[j].err, mbox_param_set(names[i],
							     bad[j].val)) {
				TH_LOG("%s = %llu", names[i], bad[j].val);
			}
			ASSERT_EQ(0, mbox_param_get(names[i], &now));
			EXPECT_EQ(saved, now);
		}
		EXPECT_EQ(0, mbox_param_set(names[i], 64ULL << 20));
		EXPECT_EQ(0, mbox_param_set(names[i], 1));
		EXPECT_EQ(0, mbox_param_set(names[i], saved));
	}
}

/* A lowered ceiling applies at once, also to queues made before. */
TEST_F(msgq, lowered_ceiling_applies_to_every_send)
{
	unsigned long long saved;
	char msg[200] = { 0 };
	__u32 id;

	MBOX_NEED_ROOT("set max_msg_size");
	ASSERT_EQ(0, mbox_param_get("max_msg_size", &saved));
	ASSERT_EQ(0, mbox_create_sized(self->fd, 0, 4, 200, 0, 0, 0600, &id));
	ASSERT_EQ(0, mbox_param_set("max_msg_size", 100));
	EXPECT_EQ(-EMSGSIZE, mbox_send(self->fd, id, msg, 101, 0,
				       MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_send(self->fd, id, msg, 100, 0, MBOX_NONBLOCK));
	ASSERT_EQ(0, mbox_param_set("max_msg_size", saved));
	EXPECT_EQ(0, mbox_send(self->fd, id, msg, 200, 0, MBOX_NONBLOCK));
}

/* ---- synchronous send and shared receivers ------------------------------ */

TEST_F(msgq, sync_send_reports_receiver_pid)
{
	__u32 receiver_pid = 0;
	struct rx *rx;
	pid_t pid;

	rx = mbox_shared_alloc(sizeof(*rx));
	ASSERT_NE(NULL, rx);
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
					MBOX_POLICY_SHARED, 0600, &rx->id));
	/* The child receives only once this sender is blocked. */
	rx->wait_parent = true;
	pid = mbox_spawn(receiver_child, rx);
	ASSERT_LT(0, pid);
	mbox_track_pid(&self->cl, pid);

	EXPECT_EQ(0, mbox_send_full(self->fd, rx->id, "sync", 4, 0,
				    MBOX_SEND_SYNC, 0, &receiver_pid));
	EXPECT_EQ(pid, receiver_pid);
	EXPECT_EQ(0, mbox_reap(pid));
	EXPECT_EQ(0, rx->ret);
	EXPECT_EQ(4, rx->len);
	EXPECT_EQ(0, memcmp(rx->buf, "sync", 4));
	EXPECT_EQ(MBOX_MSG_SYNC, rx->msg_flags);
	EXPECT_EQ(getpid(), rx->sender_pid);
	EXPECT_TRUE(mbox_queue_empty(self->fd, rx->id));
	EXPECT_EQ(0, mbox_destroy(self->fd, rx->id));
	munmap(rx, sizeof(*rx));
}

TEST_F_TIMEOUT(msgq, shared_receivers_each_message_once, 120)
{
	const unsigned int nrx = 3;
	__u32 receiver[LOOP_MSGS];
	struct loop_rx *lr;
	pid_t pids[3];
	unsigned int i, j, from_child;
	unsigned char seq;

	lr = mbox_shared_alloc(sizeof(*lr));
	ASSERT_NE(NULL, lr);
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
					MBOX_POLICY_SHARED, 0600, &lr->id));
	for (i = 0; i < nrx; i++) {
		pids[i] = mbox_spawn(loop_receiver_child, lr);
		ASSERT_LT(0, pids[i]);
		mbox_track_pid(&self->cl, pids[i]);
	}
	/*
	 * Every receiver waits before the first send: one that came late
	 * would find the mailbox destroyed already (ENOENT), and fewer
	 * would compete.
	 */
	for (i = 0; i < nrx; i++)
		ASSERT_EQ(0, mbox_wait_blocked(pids[i]));

	for (i = 0; i < LOOP_MSGS; i++) {
		seq = i;
		receiver[i] = 0;
		ASSERT_EQ(0, mbox_send_full(self->fd, lr->id, &seq, 1, 0,
					    MBOX_SEND_SYNC, 0, &receiver[i]));
	}
	/* Every message was received before its send returned: stop them. */
	ASSERT_EQ(0, mbox_destroy(self->fd, lr->id));
	for (i = 0; i < nrx; i++)
		EXPECT_EQ(0, mbox_reap(pids[i]));

	EXPECT_EQ(0, lr->bad);
	for (i = 0; i < LOOP_MSGS; i++) {
		EXPECT_EQ(1, lr->count[i]) {
			TH_LOG("message %u received %u times", i, lr->count[i]);
		}
		/* The sender learnt who took it, and it was one of them. */
		EXPECT_EQ(lr->got_by[i], receiver[i]);
		from_child = 0;
		for (j = 0; j < nrx; j++)
			from_child |= receiver[i] == pids[j];
		EXPECT_TRUE(from_child);
	}
	munmap(lr, sizeof(*lr));
}

TEST_F(msgq, blocked_receivers_served_in_order)
{
	__u32 receiver_pid;
	struct rx *rx;
	pid_t pids[3];
	char msg[4];
	__u32 id;
	int i;

	rx = mbox_shared_alloc(3 * sizeof(*rx));
	ASSERT_NE(NULL, rx);
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
					MBOX_POLICY_SHARED, 0600, &id));
	/* Each receiver starts waiting after the previous one. */
	for (i = 0; i < 3; i++) {
		rx[i].id = id;
		pids[i] = mbox_spawn(receiver_child, &rx[i]);
		ASSERT_LT(0, pids[i]);
		mbox_track_pid(&self->cl, pids[i]);
		ASSERT_EQ(0, mbox_wait_blocked(pids[i]));
	}
	for (i = 0; i < 3; i++) {
		snprintf(msg, sizeof(msg), "r%d", i);
		receiver_pid = 0;
		EXPECT_EQ(0, mbox_send_full(self->fd, id, msg, 2, 0,
					    MBOX_SEND_SYNC, 0, &receiver_pid));
		EXPECT_EQ(pids[i], receiver_pid);
	}
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(0, mbox_reap(pids[i]));
		snprintf(msg, sizeof(msg), "r%d", i);
		EXPECT_EQ(2, rx[i].len);
		EXPECT_EQ(0, memcmp(rx[i].buf, msg, 2));
	}
	EXPECT_EQ(0, mbox_destroy(self->fd, id));
	munmap(rx, 3 * sizeof(*rx));
}

/* ---- order: priorities and selective receive ---------------------------- */

TEST_F(msgq, priorities_higher_first_fifo_within)
{
	static const struct {
		const char *msg;
		__u32 prio;
	} in[] = {
		{ "a0", 0 }, { "b0", 5 }, { "c0", MBOX_PRIO_MAX }, { "b1", 5 },
		{ "a1", 0 }, { "c1", MBOX_PRIO_MAX }, { "d0", 1 }, { "b2", 5 },
	}, out[] = {
		{ "c0", MBOX_PRIO_MAX }, { "c1", MBOX_PRIO_MAX }, { "b0", 5 },
		{ "b1", 5 }, { "b2", 5 }, { "d0", 1 }, { "a0", 0 }, { "a1", 0 },
	};
	struct mbox_recv r;
	char buf[16];
	unsigned int i;
	__u32 id;

	ASSERT_EQ(0, make_box(self->fd, 16, &id));
	for (i = 0; i < MBOX_ARRAY_SIZE(in); i++)
		ASSERT_EQ(0, mbox_send(self->fd, id, in[i].msg, 2, in[i].prio,
				       MBOX_NONBLOCK));
	EXPECT_EQ(-EINVAL, mbox_send(self->fd, id, "xx", 2, MBOX_PRIO_MAX + 1,
				     MBOX_NONBLOCK));
	for (i = 0; i < MBOX_ARRAY_SIZE(out); i++) {
		mbox_recv_init(&r, id, buf, sizeof(buf), MBOX_NONBLOCK);
		ASSERT_EQ(0, mbox_recv_ex(self->fd, &r));
		EXPECT_EQ(2, r.len);
		EXPECT_EQ(0, memcmp(buf, out[i].msg, 2)) {
			TH_LOG("#%u: got %.2s, expected %s", i, buf, out[i].msg);
		}
		EXPECT_EQ(out[i].prio, r.priority);
	}
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
}

TEST_F(msgq, selective_receive_from_one_sender)
{
	static const char * const a_msgs[] = { "A0", "A1", "A2" };
	static const char * const b_msgs[] = { "B0", "B1", "B2" };
	static const __u32 b_prios[] = { 0, 5, 0 };
	static const char * const b_order[] = { "B1", "B0", "B2" };
	struct sender a = { .msgs = a_msgs, .n = 3 };
	struct sender b = { .msgs = b_msgs, .prios = b_prios, .n = 3 };
	struct senders ss;
	struct mbox_recv r;
	char buf[16];
	__u32 id;
	int i;

	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 8,
					MBOX_POLICY_SHARED, 0600, &id));
	a.id = b.id = id;
	ASSERT_EQ(0, senders_init(&ss));
	ASSERT_EQ(0, senders_start(&ss, &self->cl, -1, -1, &a));
	ASSERT_EQ(0, senders_start(&ss, &self->cl, -1, -1, &b));

	/* B's messages only, highest priority first, though A's are older. */
	for (i = 0; i < 3; i++) {
		mbox_recv_init(&r, id, buf, sizeof(buf),
			       MBOX_RECV_FROM | MBOX_NONBLOCK);
		r.from_pid = ss.pids[1];
		ASSERT_EQ(0, mbox_recv_ex(self->fd, &r));
		EXPECT_EQ(2, r.len);
		EXPECT_EQ(0, memcmp(buf, b_order[i], 2));
		EXPECT_EQ(ss.pids[1], r.sender_pid);
	}
	mbox_recv_init(&r, id, buf, sizeof(buf), MBOX_RECV_FROM | MBOX_NONBLOCK);
	r.from_pid = ss.pids[1];
	EXPECT_EQ(-EAGAIN, mbox_recv_ex(self->fd, &r));
	mbox_recv_init(&r, id, buf, sizeof(buf), MBOX_RECV_FROM | MBOX_DEADLINE);
	r.from_pid = ss.pids[1];
	r.deadline_ns = mbox_deadline_ms(20);
	EXPECT_EQ(-ETIMEDOUT, mbox_recv_ex(self->fd, &r));
	/* A process that sent nothing. */
	mbox_recv_init(&r, id, buf, sizeof(buf), MBOX_RECV_FROM | MBOX_NONBLOCK);
	r.from_pid = getpid();
	EXPECT_EQ(-EAGAIN, mbox_recv_ex(self->fd, &r));

	/* A's are all there, in order, for FROM A and for anyone. */
	mbox_recv_init(&r, id, buf, sizeof(buf), MBOX_RECV_FROM | MBOX_NONBLOCK);
	r.from_pid = ss.pids[0];
	ASSERT_EQ(0, mbox_recv_ex(self->fd, &r));
	EXPECT_EQ(0, memcmp(buf, "A0", 2));
	EXPECT_EQ(ss.pids[0], r.sender_pid);
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "A1"));
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "A2"));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));

	EXPECT_EQ(0, senders_finish(&ss));
	EXPECT_EQ(0, mbox_destroy(self->fd, id));
}

/* ---- sizes -------------------------------------------------------------- */

TEST_F(msgq, too_small_buffer_emsgsize_keeps_message)
{
	char msg[100], buf[128];
	struct mbox_recv r;
	__u32 id, len;

	memset(msg, 'e', sizeof(msg));
	memcpy(msg, "head", 4);
	ASSERT_EQ(0, make_box(self->fd, 4, &id));
	ASSERT_EQ(0, mbox_send(self->fd, id, msg, sizeof(msg), 0, MBOX_NONBLOCK));
	ASSERT_EQ(0, mbox_send(self->fd, id, "tiny", 4, 0, MBOX_NONBLOCK));

	/* Too small, by much or by one, or nothing at all: the needed size. */
	len = 10;
	EXPECT_EQ(-EMSGSIZE, mbox_recv(self->fd, id, buf, &len, MBOX_NONBLOCK));
	EXPECT_EQ(sizeof(msg), len);
	len = sizeof(msg) - 1;
	EXPECT_EQ(-EMSGSIZE, mbox_recv(self->fd, id, buf, &len, MBOX_NONBLOCK));
	EXPECT_EQ(sizeof(msg), len);
	mbox_recv_init(&r, id, NULL, 0, MBOX_NONBLOCK);
	EXPECT_EQ(-EMSGSIZE, mbox_recv_ex(self->fd, &r));
	EXPECT_EQ(sizeof(msg), r.len);
	/* Even when blocking: a message is there, it just does not fit. */
	len = 10;
	EXPECT_EQ(-EMSGSIZE, mbox_recv(self->fd, id, buf, &len, 0));

	/* Still first in line, and whole. */
	len = sizeof(msg);
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(0, mbox_recv(self->fd, id, buf, &len, MBOX_NONBLOCK));
	EXPECT_EQ(sizeof(msg), len);
	EXPECT_EQ(0, memcmp(buf, msg, sizeof(msg)));
	/* An exact fit is fine. */
	len = 4;
	ASSERT_EQ(0, mbox_recv(self->fd, id, buf, &len, MBOX_NONBLOCK));
	EXPECT_EQ(4, len);
	EXPECT_EQ(0, memcmp(buf, "tiny", 4));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
}

TEST_F(msgq, fixed_msg_size_rejects_other_lengths)
{
	char msg[32];
	__u32 id, len;

	memset(msg, 'f', sizeof(msg));
	ASSERT_EQ(0, mbox_create_sized(self->fd, 0, 4, 0, 0, 16, 0600, &id));
	EXPECT_EQ(-EMSGSIZE, mbox_send(self->fd, id, msg, 15, 0, MBOX_NONBLOCK));
	EXPECT_EQ(-EMSGSIZE, mbox_send(self->fd, id, msg, 17, 0, MBOX_NONBLOCK));
	EXPECT_EQ(-EMSGSIZE, mbox_send(self->fd, id, msg, 1, 0, MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_send(self->fd, id, msg, 16, 0, MBOX_NONBLOCK));

	len = sizeof(msg);
	EXPECT_EQ(0, mbox_recv(self->fd, id, msg, &len, MBOX_NONBLOCK));
	EXPECT_EQ(16, len);
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
}

TEST_F(msgq, max_msg_size_respected)
{
	unsigned long long dflt = 0;
	char *big;
	__u32 id, len;

	ASSERT_EQ(0, mbox_param_get("default_msg_size", &dflt));
	ASSERT_LT(0, dflt);
	ASSERT_GT(1U << 24, dflt);
	big = calloc(1, dflt + 1);
	ASSERT_NE(NULL, big);
	memset(big, 'M', dflt + 1);

	ASSERT_EQ(0, mbox_create_sized(self->fd, 0, 4, 128, 0, 0, 0600, &id));
	EXPECT_EQ(-EMSGSIZE, mbox_send(self->fd, id, big, 129, 0, MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_send(self->fd, id, big, 128, 0, MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_send(self->fd, id, big, 1, 0, MBOX_NONBLOCK));
	len = 128;
	EXPECT_EQ(0, mbox_recv(self->fd, id, big, &len, MBOX_NONBLOCK));
	EXPECT_EQ(128, len);
	len = 128;
	EXPECT_EQ(0, mbox_recv(self->fd, id, big, &len, MBOX_NONBLOCK));
	EXPECT_EQ(1, len);
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));

	/* max_msg_size 0 is the module's default_msg_size. */
	ASSERT_EQ(0, make_box(self->fd, 4, &id));
	EXPECT_EQ(-EMSGSIZE, mbox_send(self->fd, id, big, dflt + 1, 0,
				       MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_send(self->fd, id, big, dflt, 0, MBOX_NONBLOCK));
	len = dflt + 1;
	EXPECT_EQ(0, mbox_recv(self->fd, id, big, &len, MBOX_NONBLOCK));
	EXPECT_EQ(dflt, len);
	free(big);
}

/* ---- credentials -------------------------------------------------------- */

struct thread_send {
	int fd;
	__u32 id;
	int ret;
};

static void *thread_send(void *arg)
{
	struct thread_send *t = arg;

	t->ret = mbox_send(t->fd, t->id, "thread", 6, 0, MBOX_NONBLOCK);
	return NULL;
}

TEST_F(msgq, sender_credentials_stamped)
{
	static const char * const one[] = { "creds" };
	struct sender nb = { .msgs = one, .n = 1 };
	struct sender other = { .msgs = one, .n = 1 };
	struct thread_send ts = { 0 };
	struct senders ss;
	struct mbox_recv r;
	pthread_t thread;
	char buf[16];
	__u32 id;
	int i;

	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 8,
					MBOX_POLICY_SHARED, 0622, &id));

	/* Ours, from the main thread and from another thread. */
	ASSERT_EQ(0, mbox_send(self->fd, id, "main", 4, 0, MBOX_NONBLOCK));
	ts.fd = self->fd;
	ts.id = id;
	ASSERT_EQ(0, pthread_create(&thread, NULL, thread_send, &ts));
	ASSERT_EQ(0, pthread_join(thread, NULL));
	ASSERT_EQ(0, ts.ret);
	for (i = 0; i < 2; i++) {
		mbox_recv_init(&r, id, buf, sizeof(buf), MBOX_NONBLOCK);
		ASSERT_EQ(0, mbox_recv_ex(self->fd, &r));
		EXPECT_EQ(getpid(), r.sender_pid);	/* the process */
		EXPECT_EQ(geteuid(), r.sender_uid);
		EXPECT_EQ(getegid(), r.sender_gid);
	}

	if (!mbox_is_root()) {
		/* Other users' take a drop to them: root only. */
		EXPECT_EQ(0, mbox_destroy(self->fd, id));
		return;
	}

	/* nobody's, and a user's whose uid and gid differ. */
	nb.id = other.id = id;
	ASSERT_EQ(0, senders_init(&ss));
	ASSERT_EQ(0, senders_start(&ss, &self->cl, MBOX_NOBODY, MBOX_NOBODY, &nb));
	ASSERT_EQ(0, senders_start(&ss, &self->cl, MBOX_OTHER_UID,
				   MBOX_OTHER_UID + 1, &other));

	mbox_recv_init(&r, id, buf, sizeof(buf), MBOX_NONBLOCK);
	ASSERT_EQ(0, mbox_recv_ex(self->fd, &r));
	EXPECT_EQ(ss.pids[0], r.sender_pid);
	EXPECT_EQ(MBOX_NOBODY, r.sender_uid);
	EXPECT_EQ(MBOX_NOBODY, r.sender_gid);
	EXPECT_EQ(0, memcmp(buf, "creds", 5));

	mbox_recv_init(&r, id, buf, sizeof(buf), MBOX_NONBLOCK);
	ASSERT_EQ(0, mbox_recv_ex(self->fd, &r));
	EXPECT_EQ(ss.pids[1], r.sender_pid);
	EXPECT_EQ(MBOX_OTHER_UID, r.sender_uid);
	EXPECT_EQ(MBOX_OTHER_UID + 1, r.sender_gid);

	EXPECT_EQ(0, senders_finish(&ss));
	EXPECT_EQ(0, mbox_destroy(self->fd, id));
}

/* ---- deadlines and non-blocking ----------------------------------------- */

TEST_F(msgq, deadline_recv_on_empty_etimedout)
{
	__u64 deadline;
	char buf[16];
	__u32 id, len;
	struct mbox_recv r;

	ASSERT_EQ(0, make_box(self->fd, 4, &id));
	deadline = mbox_deadline_ms(50);
	mbox_recv_init(&r, id, buf, sizeof(buf), MBOX_DEADLINE);
	r.deadline_ns = deadline;
	EXPECT_EQ(-ETIMEDOUT, mbox_recv_ex(self->fd, &r));
	/* Not before the deadline. */
	EXPECT_LE(deadline, mbox_now_ns());

	/* A deadline in the past fails where the call would block ... */
	r.deadline_ns = 1;
	EXPECT_EQ(-ETIMEDOUT, mbox_recv_ex(self->fd, &r));
	r.deadline_ns = mbox_now_ns() / 2;
	EXPECT_EQ(-ETIMEDOUT, mbox_recv_ex(self->fd, &r));

	/* ... and nowhere else. */
	ASSERT_EQ(0, mbox_send(self->fd, id, "here", 4, 0, MBOX_NONBLOCK));
	mbox_recv_init(&r, id, buf, sizeof(buf), MBOX_DEADLINE);
	r.deadline_ns = 1;
	EXPECT_EQ(0, mbox_recv_ex(self->fd, &r));
	EXPECT_EQ(4, r.len);
	len = sizeof(buf);
	EXPECT_EQ(-EAGAIN, mbox_recv(self->fd, id, buf, &len, MBOX_NONBLOCK));
}

TEST_F(msgq, deadline_send_on_full_etimedout)
{
	__u64 deadline;
	__u32 id;

	ASSERT_EQ(0, make_box(self->fd, 1, &id));
	/* A past deadline does not stop a send that need not wait. */
	ASSERT_EQ(0, mbox_send_full(self->fd, id, "full", 4, 0, MBOX_DEADLINE,
				    1, NULL));

	deadline = mbox_deadline_ms(50);
	EXPECT_EQ(-ETIMEDOUT, mbox_send_full(self->fd, id, "over", 4, 0,
					     MBOX_DEADLINE, deadline, NULL));
	EXPECT_LE(deadline, mbox_now_ns());
	EXPECT_EQ(-ETIMEDOUT, mbox_send_full(self->fd, id, "over", 4, 0,
					     MBOX_DEADLINE, 1, NULL));
	EXPECT_EQ(-ETIMEDOUT, mbox_send_full(self->fd, id, "over", 4, 0,
					     MBOX_DEADLINE | MBOX_SEND_SYNC,
					     1, NULL));

	/* None of the timed-out sends delivered anything. */
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "full"));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
}

TEST_F(msgq, nonblock_with_deadline_einval)
{
	struct mbox_recv r;
	char buf[16];
	__u32 id;

	ASSERT_EQ(0, make_box(self->fd, 4, &id));
	EXPECT_EQ(-EINVAL, mbox_send_full(self->fd, id, "both", 4, 0,
					  MBOX_NONBLOCK | MBOX_DEADLINE,
					  mbox_deadline_ms(1000), NULL));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));

	ASSERT_EQ(0, mbox_send(self->fd, id, "kept", 4, 0, MBOX_NONBLOCK));
	mbox_recv_init(&r, id, buf, sizeof(buf), MBOX_NONBLOCK | MBOX_DEADLINE);
	r.deadline_ns = mbox_deadline_ms(1000);
	EXPECT_EQ(-EINVAL, mbox_recv_ex(self->fd, &r));
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "kept"));
}

TEST_F(msgq, o_nonblock_endpoint_acts_as_nonblock)
{
	char buf[16];
	__u32 id, len;
	int ep, flags;

	ep = mbox_dev_open_flags(O_NONBLOCK);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, make_box(ep, 1, &id));

	len = sizeof(buf);
	EXPECT_EQ(-EAGAIN, mbox_recv(ep, id, buf, &len, 0));
	EXPECT_EQ(0, mbox_send(ep, id, "one", 3, 0, 0));
	EXPECT_EQ(-EAGAIN, mbox_send(ep, id, "two", 3, 0, 0));
	EXPECT_EQ(-EAGAIN, mbox_send(ep, id, "two", 3, 0, MBOX_SEND_SYNC));

	/* Cleared with fcntl: it waits again (here, until a deadline). */
	flags = fcntl(ep, F_GETFL);
	ASSERT_LE(0, flags);
	ASSERT_EQ(0, fcntl(ep, F_SETFL, flags & ~O_NONBLOCK));
	EXPECT_EQ(-ETIMEDOUT, mbox_send_full(ep, id, "two", 3, 0, MBOX_DEADLINE,
					     mbox_deadline_ms(20), NULL));

	/* Set with fcntl. */
	ASSERT_EQ(0, fcntl(ep, F_SETFL, flags | O_NONBLOCK));
	EXPECT_EQ(-EAGAIN, mbox_send(ep, id, "two", 3, 0, 0));
	EXPECT_TRUE(mbox_recv_is(ep, id, "one"));
	len = sizeof(buf);
	EXPECT_EQ(-EAGAIN, mbox_recv(ep, id, buf, &len, 0));
	close(ep);
}

/* ---- signals ------------------------------------------------------------ */

TEST_F(msgq, signal_interrupts_recv_eintr_nothing_lost)
{
	struct mbox_recv r;
	struct mbox_bg bg;
	char buf[16];
	__u32 id;

	ASSERT_EQ(0, make_box(self->fd, 4, &id));
	sig_count = 0;
	ASSERT_EQ(0, mbox_sigaction(SIGUSR1, on_signal, 0));

	mbox_recv_init(&r, id, buf, sizeof(buf), 0);
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_RECV, &r));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	ASSERT_EQ(0, pthread_kill(bg.thread, SIGUSR1));
	EXPECT_EQ(-EINTR, mbox_bg_join(&bg));
	EXPECT_EQ(1, sig_count);

	/* A message sent afterwards is received, once. */
	ASSERT_EQ(0, mbox_send(self->fd, id, "after", 5, 0, MBOX_NONBLOCK));
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "after"));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
}

TEST_F(msgq, signal_with_sa_restart_restarts_recv)
{
	struct mbox_recv r;
	struct mbox_bg bg;
	char buf[16];
	__u32 id;

	ASSERT_EQ(0, make_box(self->fd, 4, &id));
	sig_count = 0;
	ASSERT_EQ(0, mbox_sigaction(SIGUSR1, on_signal, SA_RESTART));

	mbox_recv_init(&r, id, buf, sizeof(buf), 0);
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_RECV, &r));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	ASSERT_EQ(0, pthread_kill(bg.thread, SIGUSR1));
	ASSERT_TRUE(wait_sig_count(1));

	/* Back in the call, still waiting. */
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	EXPECT_FALSE(mbox_bg_done(&bg));

	ASSERT_EQ(0, mbox_send(self->fd, id, "restarted", 9, 0, MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_bg_join(&bg));
	EXPECT_EQ(9, r.len);
	EXPECT_EQ(0, memcmp(buf, "restarted", 9));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
}

TEST_F(msgq, signal_restart_keeps_absolute_deadline)
{
	struct mbox_recv r;
	struct mbox_bg bg;
	char buf[16];
	__u32 id;

	ASSERT_EQ(0, make_box(self->fd, 4, &id));
	sig_count = 0;
	ASSERT_EQ(0, mbox_sigaction(SIGUSR1, on_signal, SA_RESTART));

	/* Far enough for the thread to block first, even under TCG. */
	mbox_recv_init(&r, id, buf, sizeof(buf), MBOX_DEADLINE);
	r.deadline_ns = mbox_deadline_ms(4000);
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_RECV, &r));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	ASSERT_EQ(0, pthread_kill(bg.thread, SIGUSR1));
	ASSERT_TRUE(wait_sig_count(1));

	/* It times out at the deadline it was given, not later, not before. */
	EXPECT_EQ(-ETIMEDOUT, mbox_bg_join(&bg));
	EXPECT_LE(r.deadline_ns, mbox_now_ns());
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
}

TEST_F(msgq, signal_interrupts_sync_send_nothing_delivered)
{
	struct mbox_send s;
	struct mbox_bg bg;
	__u32 id, rdv;

	sig_count = 0;
	ASSERT_EQ(0, mbox_sigaction(SIGUSR1, on_signal, 0));

	/* A synchronous send whose message is queued, waiting for a taker. */
	ASSERT_EQ(0, make_box(self->fd, 4, &id));
	mbox_send_init(&s, id, "sync", 4, 0, MBOX_SEND_SYNC);
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_SEND, &s));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	ASSERT_EQ(0, pthread_kill(bg.thread, SIGUSR1));
	EXPECT_EQ(-EINTR, mbox_bg_join(&bg));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
	/* The mailbox works on. */
	EXPECT_EQ(0, mbox_send(self->fd, id, "next", 4, 0, MBOX_NONBLOCK));
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "next"));

	/* The same on a rendezvous mailbox, for an asynchronous send. */
	ASSERT_EQ(0, make_box(self->fd, 0, &rdv));
	mbox_send_init(&s, rdv, "rdv", 3, 0, 0);
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_SEND, &s));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	ASSERT_EQ(0, pthread_kill(bg.thread, SIGUSR1));
	EXPECT_EQ(-EINTR, mbox_bg_join(&bg));
	EXPECT_TRUE(mbox_queue_empty(self->fd, rdv));
	EXPECT_EQ(2, sig_count);
}

TEST_F(msgq, signal_interrupts_send_on_full_nothing_delivered)
{
	struct mbox_send s;
	struct mbox_bg bg;
	__u32 id;

	sig_count = 0;
	ASSERT_EQ(0, mbox_sigaction(SIGUSR1, on_signal, 0));
	ASSERT_EQ(0, make_box(self->fd, 1, &id));
	ASSERT_EQ(0, mbox_send(self->fd, id, "full", 4, 0, MBOX_NONBLOCK));

	mbox_send_init(&s, id, "more", 4, 0, 0);
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_SEND, &s));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	ASSERT_EQ(0, pthread_kill(bg.thread, SIGUSR1));
	EXPECT_EQ(-EINTR, mbox_bg_join(&bg));

	EXPECT_TRUE(mbox_recv_is(self->fd, id, "full"));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
}

/* ---- destruction under blocked tasks ------------------------------------ */

TEST_F(msgq, destroy_wakes_blocked_senders_eidrm)
{
	struct blocker b = { .send = true };
	struct mbox_send s;
	struct mbox_bg bg;
	char buf[16];
	__u32 id, len;
	pid_t pid;
	int ep2;

	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 1,
					MBOX_POLICY_SHARED, 0600, &id));
	ASSERT_EQ(0, mbox_send(self->fd, id, "full", 4, 0, MBOX_NONBLOCK));
	ep2 = mbox_dev_open();
	ASSERT_LE(0, ep2);
	ASSERT_EQ(0, mbox_open_id(ep2, id, MBOX_OPEN_SEND));

	/* A thread and a process, blocked on the full queue. */
	mbox_send_init(&s, id, "thread", 6, 0, 0);
	ASSERT_EQ(0, mbox_bg_start(&bg, ep2, MBOX_IOC_SEND, &s));
	b.id = id;
	pid = mbox_spawn(blocker_child, &b);
	ASSERT_LT(0, pid);
	mbox_track_pid(&self->cl, pid);
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	ASSERT_EQ(0, mbox_wait_blocked(pid));

	ASSERT_EQ(0, mbox_destroy(self->fd, id));
	EXPECT_EQ(-EIDRM, mbox_bg_join(&bg));
	EXPECT_EQ(EIDRM, mbox_reap(pid));

	/* Later operations, poll, then CLOSE. */
	EXPECT_EQ(-EIDRM, mbox_send(ep2, id, "x", 1, 0, MBOX_NONBLOCK));
	EXPECT_EQ(-EIDRM, mbox_send(ep2, id, "x", 1, 0, 0));
	EXPECT_EQ(-EIDRM, mbox_send(self->fd, id, "x", 1, 0, 0));
	len = sizeof(buf);
	EXPECT_EQ(-EIDRM, mbox_recv(self->fd, id, buf, &len, 0));
	EXPECT_TRUE(poll_now(ep2, POLLOUT) & POLLHUP);
	EXPECT_TRUE(poll_now(self->fd, POLLIN) & POLLHUP);
	EXPECT_EQ(0, mbox_close_id(ep2, id));
	EXPECT_FALSE(poll_now(ep2, POLLOUT) & POLLHUP);
	EXPECT_EQ(-EBADF, mbox_send(ep2, id, "x", 1, 0, MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_close_id(self->fd, id));
	close(ep2);
}

TEST_F(msgq, destroy_wakes_blocked_receivers_eidrm)
{
	struct blocker b = { .send = false };
	struct mbox_recv r1, r2;
	struct mbox_bg bg1, bg2;
	char buf1[16], buf2[16];
	__u32 id;
	pid_t pid;
	int ep2;

	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
					MBOX_POLICY_SHARED, 0600, &id));
	ep2 = mbox_dev_open();
	ASSERT_LE(0, ep2);
	ASSERT_EQ(0, mbox_open_id(ep2, id, MBOX_OPEN_RECV));

	/* Two threads on two endpoints and a process, all waiting. */
	mbox_recv_init(&r1, id, buf1, sizeof(buf1), 0);
	mbox_recv_init(&r2, id, buf2, sizeof(buf2), 0);
	ASSERT_EQ(0, mbox_bg_start(&bg1, self->fd, MBOX_IOC_RECV, &r1));
	ASSERT_EQ(0, mbox_bg_start(&bg2, ep2, MBOX_IOC_RECV, &r2));
	b.id = id;
	pid = mbox_spawn(blocker_child, &b);
	ASSERT_LT(0, pid);
	mbox_track_pid(&self->cl, pid);
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg1));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg2));
	ASSERT_EQ(0, mbox_wait_blocked(pid));

	ASSERT_EQ(0, mbox_destroy(ep2, id));
	EXPECT_EQ(-EIDRM, mbox_bg_join(&bg1));
	EXPECT_EQ(-EIDRM, mbox_bg_join(&bg2));
	EXPECT_EQ(EIDRM, mbox_reap(pid));

	EXPECT_EQ(-EIDRM, mbox_send(self->fd, id, "x", 1, 0, MBOX_NONBLOCK));
	EXPECT_TRUE(poll_now(ep2, POLLIN) & POLLHUP);
	EXPECT_EQ(0, mbox_close_id(ep2, id));
	EXPECT_EQ(0, mbox_close_id(self->fd, id));
	close(ep2);
}

TEST_F(msgq, destroy_wakes_sync_sender_eidrm)
{
	struct blocker b = { .send = true, .sync = true };
	struct mbox_send s;
	struct mbox_bg bg;
	__u32 id;
	pid_t pid;

	/* Room in the queue: they wait for a receiver, not for space. */
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
					MBOX_POLICY_SHARED, 0600, &id));
	mbox_send_init(&s, id, "sync", 4, 0, MBOX_SEND_SYNC);
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_SEND, &s));
	b.id = id;
	pid = mbox_spawn(blocker_child, &b);
	ASSERT_LT(0, pid);
	mbox_track_pid(&self->cl, pid);
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	ASSERT_EQ(0, mbox_wait_blocked(pid));

	ASSERT_EQ(0, mbox_destroy(self->fd, id));
	EXPECT_EQ(-EIDRM, mbox_bg_join(&bg));
	EXPECT_EQ(EIDRM, mbox_reap(pid));
	EXPECT_EQ(0, mbox_close_id(self->fd, id));
}

TEST_F(msgq, owner_close_wakes_blocked_sender_eidrm)
{
	struct mbox_send s;
	struct mbox_bg bg;
	__u32 id;
	int owner, ep2;

	owner = mbox_dev_open();
	ep2 = mbox_dev_open();
	ASSERT_LE(0, owner);
	ASSERT_LE(0, ep2);
	ASSERT_EQ(0, make_box(owner, 1, &id));
	ASSERT_EQ(0, mbox_open_id(ep2, id, MBOX_OPEN_SEND));
	ASSERT_EQ(0, mbox_send(ep2, id, "full", 4, 0, MBOX_NONBLOCK));

	mbox_send_init(&s, id, "more", 4, 0, 0);
	ASSERT_EQ(0, mbox_bg_start(&bg, ep2, MBOX_IOC_SEND, &s));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));

	/* The owner's endpoint ends: the mailbox goes with it. */
	close(owner);
	EXPECT_EQ(-EIDRM, mbox_bg_join(&bg));
	EXPECT_EQ(-EIDRM, mbox_send(ep2, id, "x", 1, 0, MBOX_NONBLOCK));
	EXPECT_TRUE(poll_now(ep2, POLLOUT) & POLLHUP);
	EXPECT_EQ(0, mbox_close_id(ep2, id));
	close(ep2);
}

/* ---- poll and epoll ----------------------------------------------------- */

TEST_F(msgq, poll_in_and_out_on_bounded)
{
	__u32 id;
	int ep_send, ep_none;

	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 2,
					MBOX_POLICY_SHARED, 0600, &id));
	ep_send = mbox_dev_open();
	ep_none = mbox_dev_open();
	ASSERT_LE(0, ep_send);
	ASSERT_LE(0, ep_none);
	ASSERT_EQ(0, mbox_open_id(ep_send, id, MBOX_OPEN_SEND));

	/* Empty: writable, not readable. */
	EXPECT_EQ(POLLOUT, poll_now(self->fd, POLLIN | POLLOUT));
	EXPECT_EQ(POLLOUT, poll_now(ep_send, POLLIN | POLLOUT));
	/* An endpoint with nothing open is neither. */
	EXPECT_EQ(0, poll_now(ep_none, POLLIN | POLLOUT));

	/* One queued: readable where it is open to receive. */
	ASSERT_EQ(0, mbox_send(ep_send, id, "1", 1, 0, MBOX_NONBLOCK));
	EXPECT_EQ(POLLIN | POLLOUT, poll_now(self->fd, POLLIN | POLLOUT));
	EXPECT_EQ(POLLOUT, poll_now(ep_send, POLLIN | POLLOUT));

	/* Full: no longer writable. */
	ASSERT_EQ(0, mbox_send(ep_send, id, "2", 1, 0, MBOX_NONBLOCK));
	EXPECT_EQ(POLLIN, poll_now(self->fd, POLLIN | POLLOUT));
	EXPECT_EQ(0, poll_now(ep_send, POLLIN | POLLOUT));

	EXPECT_TRUE(mbox_recv_is(self->fd, id, "1"));
	EXPECT_EQ(POLLIN | POLLOUT, poll_now(self->fd, POLLIN | POLLOUT));
	EXPECT_EQ(POLLOUT, poll_now(ep_send, POLLIN | POLLOUT));
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "2"));
	EXPECT_EQ(POLLOUT, poll_now(self->fd, POLLIN | POLLOUT));

	EXPECT_EQ(0, mbox_destroy(self->fd, id));
	close(ep_send);
	close(ep_none);
}

TEST_F(msgq, poll_on_zero_capacity)
{
	struct mbox_recv r;
	struct mbox_send s;
	struct mbox_bg bg;
	char buf[16];
	__u32 id;
	int ep_send;

	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 0,
					MBOX_POLICY_SHARED, 0600, &id));
	ep_send = mbox_dev_open();
	ASSERT_LE(0, ep_send);
	ASSERT_EQ(0, mbox_open_id(ep_send, id, MBOX_OPEN_SEND));

	/* No receiver waiting: a send would block. */
	EXPECT_EQ(0, poll_now(ep_send, POLLOUT));

	/* A receiver waits: now it would not. */
	mbox_recv_init(&r, id, buf, sizeof(buf), 0);
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_RECV, &r));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	EXPECT_EQ(POLLOUT, poll_now(ep_send, POLLOUT));
	EXPECT_EQ(0, mbox_send(ep_send, id, "go", 2, 0, MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_bg_join(&bg));
	EXPECT_EQ(2, r.len);
	EXPECT_EQ(0, poll_now(ep_send, POLLOUT));

	/* A blocked sender's message makes the receiver readable. */
	EXPECT_EQ(0, poll_now(self->fd, POLLIN));
	mbox_send_init(&s, id, "wait", 4, 0, 0);
	ASSERT_EQ(0, mbox_bg_start(&bg, ep_send, MBOX_IOC_SEND, &s));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	EXPECT_EQ(POLLIN, poll_now(self->fd, POLLIN));
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "wait"));
	EXPECT_EQ(0, mbox_bg_join(&bg));
	EXPECT_EQ(0, poll_now(self->fd, POLLIN));

	EXPECT_EQ(0, mbox_destroy(self->fd, id));
	close(ep_send);
}

/* Wait until the parent blocks in system call nr, then send to the mailbox. */
struct waker {
	__u32 id;
	long nr;
	bool destroy;	/* destroy it instead */
};

static int waker_child(void *arg)
{
	struct waker *w = arg;
	int fd, ret;

	fd = mbox_dev_open();
	if (fd < 0)
		return fd;
	ret = mbox_wait_blocked_in(getppid(), w->nr, MBOX_WAIT_MS);
	if (!ret && w->destroy)
		ret = mbox_destroy(fd, w->id);
	else if (!ret)
		ret = mbox_open_id(fd, w->id, MBOX_OPEN_SEND);
	if (!ret && !w->destroy)
		ret = mbox_send(fd, w->id, "wake", 4, 0, MBOX_NONBLOCK);
	close(fd);
	return ret;
}

TEST_F_TIMEOUT(msgq, epoll_wait_wakes_on_message_from_other_process, 60)
{
	struct epoll_event ev = { .events = EPOLLIN }, out;
	struct waker w = { .nr = SYS_epoll_pwait };
	struct mbox_recv r;
	char buf[16];
	pid_t pid;
	int epfd, n;

	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
					MBOX_POLICY_SHARED, 0600, &w.id));
	epfd = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, epfd);
	ASSERT_EQ(0, epoll_ctl(epfd, EPOLL_CTL_ADD, self->fd, &ev));
	/* Nothing yet. */
	EXPECT_EQ(0, epoll_wait(epfd, &out, 1, 0));

	pid = mbox_spawn(waker_child, &w);
	ASSERT_LT(0, pid);
	mbox_track_pid(&self->cl, pid);
	/* The raw call, so that the child knows which one to wait for. */
	memset(&out, 0, sizeof(out));
	n = syscall(SYS_epoll_pwait, epfd, &out, 1, 2 * MBOX_WAIT_MS, NULL, 8);
	EXPECT_EQ(1, n);
	EXPECT_TRUE(out.events & EPOLLIN);
	EXPECT_EQ(0, mbox_reap(pid));

	mbox_recv_init(&r, w.id, buf, sizeof(buf), MBOX_NONBLOCK);
	ASSERT_EQ(0, mbox_recv_ex(self->fd, &r));
	EXPECT_EQ(pid, r.sender_pid);
	EXPECT_EQ(0, memcmp(buf, "wake", 4));
	EXPECT_EQ(0, epoll_wait(epfd, &out, 1, 0));

	EXPECT_EQ(0, mbox_destroy(self->fd, w.id));
	close(epfd);
}

TEST_F_TIMEOUT(msgq, poll_wakes_with_pollhup_on_destroy, 60)
{
	struct waker w = { .nr = SYS_ppoll, .destroy = true };
	struct pollfd pfd;
	struct timespec ts = { 2 * MBOX_WAIT_MS / 1000, 0 };
	pid_t pid;
	int n;

	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
					MBOX_POLICY_SHARED, 0600, &w.id));
	pid = mbox_spawn(waker_child, &w);
	ASSERT_LT(0, pid);
	mbox_track_pid(&self->cl, pid);

	pfd.fd = self->fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	n = syscall(SYS_ppoll, &pfd, 1, &ts, NULL, 8);
	EXPECT_EQ(1, n);
	EXPECT_TRUE(pfd.revents & POLLHUP);
	EXPECT_EQ(0, mbox_reap(pid));

	/* Until CLOSE forgets it. */
	EXPECT_TRUE(poll_now(self->fd, POLLIN) & POLLHUP);
	EXPECT_EQ(0, mbox_close_id(self->fd, w.id));
	EXPECT_EQ(0, poll_now(self->fd, POLLIN));
}

/* ---- found in review ------------------------------------------------------ */

TEST_F(msgq, sync_nonblocking_send_needs_waiting_receiver)
{
	__u32 id;

	ASSERT_EQ(0, make_box(self->fd, 4, &id));
	/* Room in the queue is not enough: nobody could take it now. */
	EXPECT_EQ(-EAGAIN, mbox_send(self->fd, id, "s", 1, 0,
				     MBOX_SEND_SYNC | MBOX_NONBLOCK));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
}

TEST_F(msgq, blocked_sender_keeps_its_turn_for_bytes)
{
	static char big[50], small[30], first[60], buf[64];
	__u32 len = sizeof(buf);
	struct mbox_send s;
	struct mbox_bg bg;
	__u32 id;

	ASSERT_EQ(0, mbox_create_sized(self->fd, 0, 8, 64, 100, 0, 0600, &id));
	ASSERT_EQ(0, mbox_send(self->fd, id, first, sizeof(first), 0,
			       MBOX_NONBLOCK));
	mbox_send_init(&s, id, big, sizeof(big), 0, 0);
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_SEND, &s));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	/* 30 bytes would fit, but the blocked 50 go first. */
	EXPECT_EQ(-EAGAIN, mbox_send(self->fd, id, small, sizeof(small), 0,
				     MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_recv(self->fd, id, buf, &len, 0));
	EXPECT_EQ(sizeof(first), len);
	EXPECT_EQ(0, mbox_bg_join(&bg));
	EXPECT_EQ(0, mbox_send(self->fd, id, small, sizeof(small), 0,
			       MBOX_NONBLOCK));
}

TEST_F(msgq, async_rendezvous_send_reports_no_receiver)
{
	struct mbox_send s;
	struct mbox_recv r;
	struct mbox_bg bg;
	char buf[8];
	__u32 id;

	ASSERT_EQ(0, make_box(self->fd, 0, &id));
	mbox_send_init(&s, id, "a", 1, 0, 0);
	s.receiver_pid = 0xa5a5a5a5;
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_SEND, &s));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	mbox_recv_init(&r, id, buf, sizeof(buf), 0);
	ASSERT_EQ(0, mbox_recv_ex(self->fd, &r));
	EXPECT_EQ(0, r.msg_flags & MBOX_MSG_SYNC);
	EXPECT_EQ(0, mbox_bg_join(&bg));
	EXPECT_EQ(0, s.receiver_pid);
}

TEST_F(msgq, recv_from_thread_id_names_its_process)
{
	struct mbox_send s;
	struct mbox_recv r;
	struct mbox_bg bg;
	char buf[8];
	__u32 id;

	ASSERT_EQ(0, make_box(self->fd, 4, &id));
	/* A thread of this process sends; its tid selects the process. */
	mbox_send_init(&s, id, "t", 1, 0, MBOX_SEND_SYNC);
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_SEND, &s));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	mbox_recv_init(&r, id, buf, sizeof(buf), MBOX_RECV_FROM | MBOX_NONBLOCK);
	r.from_pid = bg.tid;
	EXPECT_EQ(0, mbox_recv_ex(self->fd, &r));
	EXPECT_EQ(getpid(), r.sender_pid);
	EXPECT_EQ(0, mbox_bg_join(&bg));
}

TEST_F(msgq, read_only_recv_struct_takes_nothing)
{
	struct mbox_recv *r;
	char buf[8];
	void *page;
	__u32 id;

	ASSERT_EQ(0, make_box(self->fd, 4, &id));
	ASSERT_EQ(0, mbox_send(self->fd, id, "kept", 4, 0, MBOX_NONBLOCK));
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	r = page;
	mbox_recv_init(r, id, buf, sizeof(buf), MBOX_NONBLOCK);
	ASSERT_EQ(0, mprotect(page, 4096, PROT_READ));
	EXPECT_EQ(-EFAULT, mbox_recv_ex(self->fd, r));
	munmap(page, 4096);
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "kept"));
}

struct epoll_waiter {
	int epfd;
	int tid;
};

static void *epoll_wait_one(void *arg)
{
	struct epoll_waiter *w = arg;
	struct epoll_event ev;

	__atomic_store_n(&w->tid, (int)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	return (void *)(long)epoll_wait(w->epfd, &ev, 1, 20000);
}

TEST_F_TIMEOUT(msgq, epoll_wakes_when_a_full_mailbox_is_opened, 60)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct epoll_waiter w = { .tid = 0 };
	pthread_t th;
	void *got;
	__u32 id;
	int ep2;

	/* A system-owned mailbox with a message waiting, not yet open on ep2. */
	ASSERT_EQ(0, mbox_create(self->fd, NULL, MBOX_CREATE_SYSTEM, 4,
				 MBOX_POLICY_SHARED, 0600, &id));
	ASSERT_EQ(0, mbox_send(self->fd, id, "m", 1, 0, MBOX_NONBLOCK));
	ep2 = mbox_dev_open();
	ASSERT_LE(0, ep2);
	w.epfd = epoll_create1(0);
	ASSERT_LE(0, w.epfd);
	ASSERT_EQ(0, epoll_ctl(w.epfd, EPOLL_CTL_ADD, ep2, &ev));
	ASSERT_EQ(0, pthread_create(&th, NULL, epoll_wait_one, &w));
	while (!__atomic_load_n(&w.tid, __ATOMIC_SEQ_CST))
		mbox_sleep_ms(1);
	ASSERT_EQ(0, mbox_wait_blocked_in(w.tid, MBOX_ANY_SYSCALL, MBOX_WAIT_MS));

	/* Readable from the moment the mailbox is open on the endpoint. */
	ASSERT_EQ(0, mbox_open_id(ep2, id, MBOX_OPEN_RECV));
	ASSERT_EQ(0, pthread_join(th, &got));
	EXPECT_EQ(1, (long)got);
	EXPECT_TRUE(mbox_recv_is(ep2, id, "m"));
	EXPECT_EQ(0, mbox_destroy(self->fd, id));
	close(w.epfd);
	close(ep2);
}

TEST_HARNESS_MAIN
