// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests of calls, the extended rendezvous (spec section 5,
 * Documentation/abi.rst "Calls: the extended rendezvous", module/call.c):
 * calls and replies, reply-and-receive, tokens, servers and clients in
 * processes and threads, shared mailboxes and direct links, capacity 0,
 * non-blocking and timed calls, signals, callers and servers that go
 * away, and the EINVAL/EFAULT paths of MBOX_IOC_CALL and MBOX_IOC_REPLY.
 *
 * Two kinds of tests share the fixture's endpoint:
 *
 *  - semantics, written on libmbox (mbox_mailbox_call(),
 *    mbox_call_reply(), mbox_*_reply_receive(), ...), as a program
 *    would use calls: every test from call_and_reply to
 *    server_pool_each_call_answered_once;
 *  - the raw ABI, on the ioctls with struct mbox_call and struct
 *    mbox_reply (mbox_util.h), for what the library cannot express or
 *    hides: the rest of the file, from "The raw ABI" on: an endpoint
 *    opened O_NONBLOCK, a bad struct mbox_recv pointer in
 *    reply-and-receive, raw flags, reserved fields, struct sizes and
 *    unreadable or unwritable buffers.
 *
 * Whether a task is blocked is read from /proc (mbox_bg_wait_blocked(),
 * mbox_wait_blocked()), never guessed with a sleep; nothing asserts how
 * long anything took.  Deadlines are only used where the test is about a
 * deadline, or as a far safety net in children.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "libmbox_util.h"
#include "kselftest_harness.h"

FIXTURE(call) {
	struct mbox_endpoint *ep;
	int fd;		/* ep's, for the raw ABI tests */
	uint64_t features;
	struct mbox_cleanup cl;
};

FIXTURE_SETUP(call)
{
	int ret;

	self->features = 0;
	self->ep = NULL;
	self->fd = -1;
	ret = mbox_endpoint_open(&self->ep);
	if (ret == -ENOENT)
		SKIP(return, "/dev/mbox is absent: the mbox module is not loaded");
	ASSERT_EQ(0, ret);
	self->fd = mbox_endpoint_fd(self->ep);
	ASSERT_EQ(0, mbox_endpoint_query(self->ep, NULL, NULL,
					 &self->features));
	if (!(self->features & MBOX_FEATURE_MAILBOX))
		SKIP(return, "the loaded module has no MBOX_FEATURE_MAILBOX");
	if (!(self->features & MBOX_FEATURE_CALL))
		SKIP(return, "the loaded module has no MBOX_FEATURE_CALL");
}

FIXTURE_TEARDOWN(call)
{
	lib_cleanup_run(&self->cl);
	mbox_endpoint_close(self->ep);
}

#define NEED_DIRECT()							\
	do {								\
		if (!(self->features & MBOX_FEATURE_DIRECT))		\
			SKIP(return, "no MBOX_FEATURE_DIRECT");	\
	} while (0)

/* Far enough never to matter, near enough that nothing hangs for good. */
#define FAR_MS		(2 * MBOX_WAIT_MS)
#define FAR		MBOX_MS(FAR_MS)

/* What a call or a receive names: which libmbox function it takes. */
enum dest {
	TO_MAILBOX,	/* mbox_mailbox_*(), a mailbox id */
	TO_PID,		/* mbox_process_*(), a pid (0: receive(ANY)) */
	TO_PIDFD,	/* mbox_process_*() with MBOX_PIDFD */
};

/* A process-owned mailbox of endpoint ep. */
static int make_box(struct mbox_endpoint *ep, uint32_t capacity, uint32_t *id)
{
	return lib_create(ep, NULL, 0, capacity, 0600, id);
}

/* Direct receiving on ep, capacity messages per link. */
static int enable_direct(struct mbox_endpoint *ep, uint32_t capacity)
{
	struct mbox_attr a;

	mbox_attr_init(&a);
	a.capacity = capacity;
	return mbox_process_enable(ep, &a, 0);
}

static int lib_call(struct mbox_endpoint *ep, enum dest dest, uint32_t to,
		    const struct mbox_msg *req, struct mbox_msg *rep,
		    uint32_t flags, int64_t timeout)
{
	if (dest == TO_MAILBOX)
		return mbox_mailbox_call(ep, to, req, rep, flags, timeout);
	return mbox_process_call(ep, to, req, rep,
				 flags | (dest == TO_PIDFD ? MBOX_PIDFD : 0),
				 timeout);
}

/* Receive into buf on ep (a mailbox, or direct), waiting up to FAR_MS. */
static int recv_wait(struct mbox_endpoint *ep, enum dest dest, uint32_t from,
		     void *buf, size_t size, struct mbox_msg *m)
{
	*m = lib_msg(buf, size);
	if (dest == TO_MAILBOX)
		return mbox_mailbox_receive(ep, from, m, 0, FAR);
	return mbox_process_receive(ep, from, m,
				    dest == TO_PIDFD ? MBOX_PIDFD : 0, FAR);
}

/* Receive one request from mailbox id: whether it is the call req. */
static bool recv_call_is(struct mbox_endpoint *ep, uint32_t id,
			 const char *req, uint64_t *token)
{
	struct mbox_msg m;
	char buf[64];

	*token = 0;
	if (recv_wait(ep, TO_MAILBOX, id, buf, sizeof(buf), &m))
		return false;
	*token = m.token;
	return m.len == strlen(req) && !memcmp(buf, req, m.len) &&
	       (m.flags & MBOX_MSG_CALL) && m.token;
}

/* A receive of mailbox id in a thread (mbox_bg): FOREVER, or NOWAIT. */
struct receiver {
	struct mbox_bg bg;
	struct mbox_endpoint *ep;
	uint32_t id;
	int64_t timeout;
	struct mbox_msg m;
	char buf[64];
};

static int receiver_fn(void *arg)
{
	struct receiver *rv = arg;

	return mbox_mailbox_receive(rv->ep, rv->id, &rv->m, 0, rv->timeout);
}

static int receiver_start(struct receiver *rv, struct mbox_endpoint *ep,
			  uint32_t id)
{
	rv->ep = ep;
	rv->id = id;
	rv->timeout = MBOX_FOREVER;
	rv->m = lib_msg(rv->buf, sizeof(rv->buf));
	return mbox_bg_run(&rv->bg, receiver_fn, rv);
}

/* ---- a call in a thread ------------------------------------------------- */

/*
 * A call run in a thread of its own (mbox_bg), with its buffers.  The
 * reply buffer is filled with '#' first, to see what the kernel wrote.
 */
struct caller {
	struct mbox_bg bg;
	struct mbox_endpoint *ep;
	enum dest dest;
	uint32_t to;
	int64_t timeout;
	struct mbox_msg req, rep;
	char reqbuf[64];
	char reply[64];
};

static int caller_fn(void *arg)
{
	struct caller *k = arg;

	return lib_call(k->ep, k->dest, k->to, &k->req, &k->rep, 0,
			k->timeout);
}

/* Prepare the call; change k->req or k->rep at will before caller_run(). */
static void caller_init(struct caller *k, struct mbox_endpoint *ep,
			enum dest dest, uint32_t to, const char *req,
			int64_t timeout, uint32_t prio)
{
	k->ep = ep;
	k->dest = dest;
	k->to = to;
	k->timeout = timeout;
	snprintf(k->reqbuf, sizeof(k->reqbuf), "%s", req);
	memset(k->reply, '#', sizeof(k->reply));
	k->req = lib_msg(k->reqbuf, strlen(k->reqbuf));
	k->req.priority = prio;
	k->rep = lib_msg(k->reply, sizeof(k->reply));
}

static int caller_run(struct caller *k)
{
	return mbox_bg_run(&k->bg, caller_fn, k);
}

static int caller_start_to(struct caller *k, struct mbox_endpoint *ep,
			   enum dest dest, uint32_t to, const char *req,
			   int64_t timeout, uint32_t prio)
{
	caller_init(k, ep, dest, to, req, timeout, prio);
	return caller_run(k);
}

/* Start a blocking call of mailbox id; 0 once it is blocked. */
static int caller_start(struct caller *k, struct mbox_endpoint *ep,
			uint32_t id, const char *req)
{
	int ret = caller_start_to(k, ep, TO_MAILBOX, id, req, MBOX_FOREVER, 0);

	return ret ?: mbox_bg_wait_blocked(&k->bg);
}

/* Whether the finished call got exactly the reply rep. */
static bool caller_got(struct caller *k, const char *rep)
{
	return k->rep.len == strlen(rep) &&
	       !memcmp(k->reply, rep, k->rep.len);
}

/* ---- requests and replies of the many-call tests ------------------------ */

#define REQ_MAGIC	0x43414c4cU	/* "CALL" */
#define REP_MAGIC	0x52504c59U	/* "RPLY" */

struct call_req {
	uint32_t magic;
	uint32_t client;	/* who: process and thread, or a call number */
	uint32_t seq;		/* its how-manyth call */
	pid_t pid;		/* the caller's own idea of its pid */
};

struct call_rep {
	uint32_t magic;
	uint32_t client;
	uint32_t seq;
	uint32_t value;		/* answer_of(client, seq) */
	pid_t sender_pid;	/* the caller, as the kernel stamped it */
	pid_t server;		/* the server's getpid() */
};

static uint32_t answer_of(uint32_t client, uint32_t seq)
{
	return (client + 1) * 2654435761U ^ (seq + 7) * 40503U;
}

/* The server's side: the reply to a received request. */
static bool make_rep(const struct mbox_msg *m, const struct call_req *req,
		     struct call_rep *rep)
{
	memset(rep, 0, sizeof(*rep));
	rep->magic = REP_MAGIC;
	rep->client = req->client;
	rep->seq = req->seq;
	rep->value = answer_of(req->client, req->seq);
	rep->sender_pid = m->pid;
	rep->server = getpid();
	return m->len == sizeof(*req) && req->magic == REQ_MAGIC &&
	       (m->flags & MBOX_MSG_CALL) && m->token &&
	       m->pid == req->pid;
}

/* The client's side: whether rep answers (client, seq) from this process. */
static bool rep_ok(const struct mbox_msg *m, const struct call_rep *rep,
		   uint32_t client, uint32_t seq)
{
	return m->len == sizeof(*rep) && rep->magic == REP_MAGIC &&
	       rep->client == client && rep->seq == seq &&
	       rep->value == answer_of(client, seq) &&
	       rep->sender_pid == getpid() && m->pid == rep->server;
}

/* One call of (client, seq) on ep to dest/to; 0, -errno, or -EBADMSG. */
static int do_call(struct mbox_endpoint *ep, enum dest dest, uint32_t to,
		   uint32_t client, uint32_t seq, pid_t *server_pid)
{
	struct call_req req = {
		.magic = REQ_MAGIC,
		.client = client,
		.seq = seq,
		.pid = getpid(),
	};
	struct mbox_msg m = lib_msg(&req, sizeof(req)), r;
	struct call_rep rep;
	int ret;

	memset(&rep, 0, sizeof(rep));
	r = lib_msg(&rep, sizeof(rep) + 8);
	ret = lib_call(ep, dest, to, &m, &r, 0, FAR);
	if (ret)
		return ret;
	if (server_pid)
		*server_pid = r.pid;
	return rep_ok(&r, &rep, client, seq) ? 0 : -EBADMSG;
}

/* ---- the basics --------------------------------------------------------- */

TEST_F(call, call_and_reply)
{
	struct caller k;
	struct mbox_msg m;
	char buf[64];
	uint32_t id;

	ASSERT_EQ(0, make_box(self->ep, 4, &id));
	ASSERT_EQ(0, caller_start(&k, self->ep, id, "ping"));
	EXPECT_FALSE(mbox_bg_done(&k.bg));

	ASSERT_EQ(0, recv_wait(self->ep, TO_MAILBOX, id, buf, sizeof(buf),
			       &m));
	EXPECT_EQ(4, m.len);
	EXPECT_EQ(0, memcmp(buf, "ping", 4));
	/* A call is a synchronous send, with a token. */
	EXPECT_EQ(MBOX_MSG_CALL | MBOX_MSG_SYNC, m.flags);
	EXPECT_NE(0, m.token);
	EXPECT_EQ(getpid(), m.pid);
	EXPECT_EQ(geteuid(), m.uid);
	EXPECT_EQ(getegid(), m.gid);

	/* Received, but not answered: the caller still waits. */
	ASSERT_EQ(0, mbox_bg_wait_blocked(&k.bg));
	EXPECT_FALSE(mbox_bg_done(&k.bg));

	EXPECT_EQ(0, mbox_call_reply(self->ep, m.token, "pong!", 5));
	EXPECT_EQ(0, mbox_bg_join(&k.bg));
	EXPECT_TRUE(caller_got(&k, "pong!"));
	/* Only the reply was written. */
	EXPECT_EQ('#', k.reply[5]);
	EXPECT_EQ(getpid(), k.rep.pid);
	EXPECT_TRUE(lib_queue_empty(self->ep, id));
}

TEST_F(call, empty_request_and_empty_reply)
{
	struct caller k;
	struct mbox_msg m;
	char buf[16];
	uint32_t id;

	ASSERT_EQ(0, make_box(self->ep, 4, &id));
	ASSERT_EQ(0, caller_start(&k, self->ep, id, ""));
	ASSERT_EQ(0, recv_wait(self->ep, TO_MAILBOX, id, buf, sizeof(buf),
			       &m));
	EXPECT_EQ(0, m.len);
	EXPECT_NE(0, m.flags & MBOX_MSG_CALL);
	EXPECT_EQ(0, mbox_call_reply(self->ep, m.token, NULL, 0));
	EXPECT_EQ(0, mbox_bg_join(&k.bg));
	EXPECT_EQ(0, k.rep.len);
	EXPECT_EQ('#', k.reply[0]);
}

/* What a caller child saw, in shared memory. */
struct client {
	enum dest dest;
	uint32_t to;	/* mailbox id (opened to send first) or pid */
	char req[32];
	int ret;
	size_t reply_len;
	char reply[64];
	pid_t server_pid;
	int exit_r;		/* client_exit_child: read, then exit */
	int exit_w;		/* ... and close this first */
};

/* One call on an endpoint of its own; the result in *cl. */
static int client_child(void *arg)
{
	struct client *cl = arg;
	struct mbox_endpoint *ep;
	struct mbox_msg req, rep;

	cl->ret = mbox_endpoint_open(&ep);
	if (cl->ret)
		return cl->ret;
	cl->ret = cl->dest == TO_MAILBOX ?
		  mbox_mailbox_open_id(ep, cl->to, MBOX_OPEN_SEND) : 0;
	if (cl->ret)
		return cl->ret;
	req = lib_msg(cl->req, strlen(cl->req));
	rep = lib_msg(cl->reply, sizeof(cl->reply));
	cl->ret = lib_call(ep, cl->dest, cl->to, &req, &rep, 0, FAR);
	cl->reply_len = rep.len;
	cl->server_pid = rep.pid;
	mbox_endpoint_close(ep);
	return cl->ret;
}

TEST_F(call, request_carries_callers_credentials)
{
	struct client *cl;
	struct mbox_msg m;
	char buf[64];
	pid_t pid;
	uint32_t id;
	/* Root has nobody call; a user calls as itself. */
	bool root = mbox_is_root();
	uid_t uid = root ? MBOX_NOBODY : geteuid();
	gid_t gid = root ? MBOX_NOBODY : getegid();

	cl = mbox_shared_alloc(sizeof(*cl));
	ASSERT_NE(NULL, cl);
	/* Others may send: nobody calls. */
	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, NULL, 2, 0622,
				       &id));
	cl->dest = TO_MAILBOX;
	cl->to = id;
	strcpy(cl->req, "who am i");
	pid = root ? mbox_spawn_as(uid, gid, client_child, cl) :
		     mbox_spawn(client_child, cl);
	ASSERT_LT(0, pid);
	mbox_track_pid(&self->cl, pid);

	ASSERT_EQ(0, recv_wait(self->ep, TO_MAILBOX, id, buf, sizeof(buf),
			       &m));
	EXPECT_EQ(8, m.len);
	EXPECT_EQ(0, memcmp(buf, "who am i", 8));
	EXPECT_NE(0, m.flags & MBOX_MSG_CALL);
	EXPECT_NE(0, m.token);
	EXPECT_EQ(pid, m.pid);
	EXPECT_EQ(uid, m.uid);
	EXPECT_EQ(gid, m.gid);
	EXPECT_EQ(0, mbox_call_reply(self->ep, m.token, "nobody", 6));

	EXPECT_EQ(0, mbox_reap(pid));
	EXPECT_EQ(0, cl->ret);
	EXPECT_EQ(6, cl->reply_len);
	EXPECT_EQ(0, memcmp(cl->reply, "nobody", 6));
	EXPECT_EQ(getpid(), cl->server_pid);
	EXPECT_EQ(0, mbox_mailbox_destroy(self->ep, id));
	munmap(cl, sizeof(*cl));
}

TEST_F(call, calls_received_by_priority)
{
	struct caller lo, hi;
	struct mbox_msg m;
	char buf[16];
	uint32_t id;

	ASSERT_EQ(0, make_box(self->ep, 4, &id));
	ASSERT_EQ(0, caller_start_to(&lo, self->ep, TO_MAILBOX, id, "lo",
				     MBOX_FOREVER, 1));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&lo.bg));
	ASSERT_EQ(0, caller_start_to(&hi, self->ep, TO_MAILBOX, id, "hi",
				     MBOX_FOREVER, 9));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&hi.bg));

	ASSERT_EQ(0, recv_wait(self->ep, TO_MAILBOX, id, buf, sizeof(buf),
			       &m));
	EXPECT_EQ(9, m.priority);
	EXPECT_EQ(0, memcmp(buf, "hi", 2));
	EXPECT_EQ(0, mbox_call_reply(self->ep, m.token, "HI", 2));
	ASSERT_EQ(0, recv_wait(self->ep, TO_MAILBOX, id, buf, sizeof(buf),
			       &m));
	EXPECT_EQ(1, m.priority);
	EXPECT_EQ(0, memcmp(buf, "lo", 2));
	EXPECT_EQ(0, mbox_call_reply(self->ep, m.token, "LO", 2));
	EXPECT_EQ(0, mbox_bg_join(&hi.bg));
	EXPECT_EQ(0, mbox_bg_join(&lo.bg));
	EXPECT_TRUE(caller_got(&hi, "HI"));
	EXPECT_TRUE(caller_got(&lo, "LO"));
}

/* ---- tokens ------------------------------------------------------------- */

TEST_F(call, each_call_gets_its_own_reply_and_token)
{
	const char *reqs[3] = { "c0", "c1", "c2" };
	const char *reps[3] = { "reply-0", "reply-1!", "reply-2!!" };
	uint64_t tokens[3], token;
	struct caller k[3], late;
	int i, j;
	uint32_t id;

	ASSERT_EQ(0, make_box(self->ep, 4, &id));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, caller_start(&k[i], self->ep, id, reqs[i]));
	for (i = 0; i < 3; i++) {
		EXPECT_TRUE(recv_call_is(self->ep, id, reqs[i], &tokens[i]));
		for (j = 0; j < i; j++)
			EXPECT_NE(tokens[j], tokens[i]);
	}
	/* Answered out of order: each caller gets the reply to its token. */
	EXPECT_EQ(0, mbox_call_reply(self->ep, tokens[2], reps[2],
				     strlen(reps[2])));
	EXPECT_EQ(0, mbox_call_reply(self->ep, tokens[0], reps[0],
				     strlen(reps[0])));
	EXPECT_EQ(0, mbox_bg_join(&k[2].bg));
	EXPECT_EQ(0, mbox_bg_join(&k[0].bg));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&k[1].bg));
	EXPECT_EQ(0, mbox_call_reply(self->ep, tokens[1], reps[1],
				     strlen(reps[1])));
	EXPECT_EQ(0, mbox_bg_join(&k[1].bg));
	for (i = 0; i < 3; i++)
		EXPECT_TRUE(caller_got(&k[i], reps[i]));

	/*
	 * A new call may take a freed slot, but never an old token: the old
	 * tokens do not answer it.
	 */
	ASSERT_EQ(0, caller_start(&late, self->ep, id, "late"));
	EXPECT_TRUE(recv_call_is(self->ep, id, "late", &token));
	for (i = 0; i < 3; i++) {
		EXPECT_NE(tokens[i], token);
		EXPECT_EQ(-ENOENT, mbox_call_reply(self->ep, tokens[i], "x",
						   1));
	}
	EXPECT_FALSE(mbox_bg_done(&late.bg));
	EXPECT_EQ(0, mbox_call_reply(self->ep, token, "on time", 7));
	EXPECT_EQ(0, mbox_bg_join(&late.bg));
	EXPECT_TRUE(caller_got(&late, "on time"));
}

TEST_F(call, double_reply_and_made_up_tokens_enoent)
{
	struct caller k;
	uint64_t token;
	uint32_t id;

	ASSERT_EQ(0, make_box(self->ep, 4, &id));
	/* No call received yet. */
	EXPECT_EQ(-ENOENT, mbox_call_reply(self->ep, 0, "x", 1));
	EXPECT_EQ(-ENOENT, mbox_call_reply(self->ep, 1ULL << 32 | 1, "x", 1));

	ASSERT_EQ(0, caller_start(&k, self->ep, id, "req"));
	ASSERT_TRUE(recv_call_is(self->ep, id, "req", &token));
	EXPECT_EQ(-ENOENT, mbox_call_reply(self->ep, 0, "x", 1));
	EXPECT_EQ(-ENOENT, mbox_call_reply(self->ep, ~0ULL, "x", 1));
	EXPECT_EQ(-ENOENT, mbox_call_reply(self->ep, token + 1, "x", 1));
	EXPECT_EQ(-ENOENT, mbox_call_reply(self->ep, token ^ (1ULL << 32),
					   "x", 1));
	EXPECT_EQ(-ENOENT, mbox_call_reply(self->ep, token ^ (1ULL << 63),
					   "x", 1));
	/* None of that answered the call. */
	ASSERT_EQ(0, mbox_bg_wait_blocked(&k.bg));
	EXPECT_FALSE(mbox_bg_done(&k.bg));

	EXPECT_EQ(0, mbox_call_reply(self->ep, token, "first", 5));
	EXPECT_EQ(0, mbox_bg_join(&k.bg));
	EXPECT_TRUE(caller_got(&k, "first"));
	/* One-shot. */
	EXPECT_EQ(-ENOENT, mbox_call_reply(self->ep, token, "second", 6));
	EXPECT_EQ(-ENOENT, mbox_call_reply(self->ep, token, "third", 5));
}

TEST_F(call, reply_on_another_endpoint_enoent)
{
	struct mbox_endpoint *ep2, *ep3;
	struct caller k;
	uint64_t token;
	uint32_t id;

	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, NULL, 4, 0600,
				       &id));
	ASSERT_EQ(0, mbox_endpoint_open(&ep2));
	ASSERT_EQ(0, mbox_endpoint_open(&ep3));
	ASSERT_EQ(0, mbox_mailbox_open_id(ep2, id,
					  MBOX_OPEN_RECV | MBOX_OPEN_SEND));

	ASSERT_EQ(0, caller_start(&k, self->ep, id, "req"));
	ASSERT_TRUE(recv_call_is(ep2, id, "req", &token));
	/* Neither the creator (a receiver too) nor a bare endpoint owes it. */
	EXPECT_EQ(-ENOENT, mbox_call_reply(self->ep, token, "no", 2));
	EXPECT_EQ(-ENOENT, mbox_call_reply(ep3, token, "no", 2));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&k.bg));
	EXPECT_FALSE(mbox_bg_done(&k.bg));

	EXPECT_EQ(0, mbox_call_reply(ep2, token, "yes", 3));
	EXPECT_EQ(0, mbox_bg_join(&k.bg));
	EXPECT_TRUE(caller_got(&k, "yes"));
	EXPECT_EQ(getpid(), k.rep.pid);
	mbox_endpoint_close(ep3);
	mbox_endpoint_close(ep2);
	EXPECT_EQ(0, mbox_mailbox_destroy(self->ep, id));
}

TEST_F(call, reply_too_long_emsgsize_then_shorter)
{
	static char page[4096];
	struct caller k;
	uint64_t token;
	uint32_t id;

	ASSERT_EQ(0, make_box(self->ep, 4, &id));
	/* The caller takes at most 8 bytes (its buffer is larger). */
	caller_init(&k, self->ep, TO_MAILBOX, id, "small", MBOX_FOREVER, 0);
	k.rep.len = 8;
	ASSERT_EQ(0, caller_run(&k));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&k.bg));
	ASSERT_TRUE(recv_call_is(self->ep, id, "small", &token));

	EXPECT_EQ(-EMSGSIZE, mbox_call_reply(self->ep, token, "123456789", 9));
	EXPECT_EQ(-EMSGSIZE, mbox_call_reply(self->ep, token, page,
					     sizeof(page)));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&k.bg));
	EXPECT_FALSE(mbox_bg_done(&k.bg));
	/* The token stays good for a reply that fits. */
	EXPECT_EQ(0, mbox_call_reply(self->ep, token, "12345678", 8));
	EXPECT_EQ(0, mbox_bg_join(&k.bg));
	EXPECT_TRUE(caller_got(&k, "12345678"));
	EXPECT_EQ('#', k.reply[8]);
	EXPECT_EQ(-ENOENT, mbox_call_reply(self->ep, token, "1234", 4));

	/* A caller that takes no reply at all: only an empty one fits. */
	caller_init(&k, self->ep, TO_MAILBOX, id, "none", MBOX_FOREVER, 0);
	k.rep.len = 0;
	ASSERT_EQ(0, caller_run(&k));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&k.bg));
	ASSERT_TRUE(recv_call_is(self->ep, id, "none", &token));
	EXPECT_EQ(-EMSGSIZE, mbox_call_reply(self->ep, token, "1", 1));
	EXPECT_EQ(0, mbox_call_reply(self->ep, token, "", 0));
	EXPECT_EQ(0, mbox_bg_join(&k.bg));
	EXPECT_EQ(0, k.rep.len);
	EXPECT_EQ('#', k.reply[0]);
}

/* ---- capacity 0, non-blocking and timed calls --------------------------- */

TEST_F(call, zero_capacity_call_completes_when_received)
{
	struct caller k, k2;
	struct receiver rv;
	struct mbox_msg m;
	uint64_t token;
	char buf[64];
	uint32_t id;

	ASSERT_EQ(0, make_box(self->ep, 0, &id));
	ASSERT_EQ(0, caller_start(&k, self->ep, id, "rdv"));
	EXPECT_FALSE(mbox_bg_done(&k.bg));
	/* Offered to receivers while the caller waits. */
	token = 0;
	m = lib_msg(buf, sizeof(buf));
	ASSERT_EQ(0, mbox_mailbox_receive(self->ep, id, &m, 0, MBOX_NOWAIT));
	EXPECT_EQ(3, m.len);
	EXPECT_EQ(0, memcmp(buf, "rdv", 3));
	EXPECT_NE(0, m.flags & MBOX_MSG_CALL);
	token = m.token;
	EXPECT_TRUE(lib_queue_empty(self->ep, id));
	/* Now it waits for the reply. */
	ASSERT_EQ(0, mbox_bg_wait_blocked(&k.bg));
	EXPECT_FALSE(mbox_bg_done(&k.bg));
	EXPECT_EQ(0, mbox_call_reply(self->ep, token, "ok", 2));
	EXPECT_EQ(0, mbox_bg_join(&k.bg));
	EXPECT_TRUE(caller_got(&k, "ok"));
	EXPECT_EQ(getpid(), k.rep.pid);

	/* A server already waiting takes it at once. */
	ASSERT_EQ(0, receiver_start(&rv, self->ep, id));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&rv.bg));
	ASSERT_EQ(0, caller_start_to(&k2, self->ep, TO_MAILBOX, id, "rdv2",
				     MBOX_FOREVER, 0));
	ASSERT_EQ(0, mbox_bg_join(&rv.bg));
	EXPECT_EQ(4, rv.m.len);
	EXPECT_NE(0, rv.m.flags & MBOX_MSG_CALL);
	ASSERT_EQ(0, mbox_bg_wait_blocked(&k2.bg));
	EXPECT_EQ(0, mbox_call_reply(self->ep, rv.m.token, "ok2", 3));
	EXPECT_EQ(0, mbox_bg_join(&k2.bg));
	EXPECT_TRUE(caller_got(&k2, "ok2"));
}

TEST_F(call, nonblocking_call_needs_a_waiting_receiver)
{
	const uint32_t caps[2] = { 0, 4 };
	struct mbox_msg req, rep;
	struct receiver rv;
	struct caller k;
	char reply[16];
	unsigned int i;
	uint32_t id;

	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, NULL,
					       caps[i], 0600, &id));
		/* Nobody waits: EAGAIN, even with room in the queue. */
		req = lib_msg("nb", 2);
		rep = lib_msg(reply, sizeof(reply));
		EXPECT_EQ(-EAGAIN, mbox_mailbox_call(self->ep, id, &req, &rep,
						     0, MBOX_NOWAIT));
		EXPECT_TRUE(lib_queue_empty(self->ep, id));

		/* A receiver blocked in a receive: it takes the request. */
		ASSERT_EQ(0, receiver_start(&rv, self->ep, id));
		ASSERT_EQ(0, mbox_bg_wait_blocked(&rv.bg));
		ASSERT_EQ(0, caller_start_to(&k, self->ep, TO_MAILBOX, id,
					     "nb2", MBOX_NOWAIT, 0));
		ASSERT_EQ(0, mbox_bg_join(&rv.bg));
		EXPECT_EQ(3, rv.m.len);
		EXPECT_NE(0, rv.m.flags & MBOX_MSG_CALL);
		/* Non-blocking is for the request: it waits for the reply. */
		ASSERT_EQ(0, mbox_bg_wait_blocked(&k.bg));
		EXPECT_EQ(0, mbox_call_reply(self->ep, rv.m.token, "done", 4));
		EXPECT_EQ(0, mbox_bg_join(&k.bg));
		EXPECT_TRUE(caller_got(&k, "done"));

		/* The receiver is gone: EAGAIN again. */
		req = lib_msg("nb", 2);
		rep = lib_msg(reply, sizeof(reply));
		EXPECT_EQ(-EAGAIN, mbox_mailbox_call(self->ep, id, &req, &rep,
						     0, MBOX_NOWAIT));
		EXPECT_TRUE(lib_queue_empty(self->ep, id));
		EXPECT_EQ(0, mbox_mailbox_destroy(self->ep, id));
	}
}

TEST_F(call, deadline_nobody_receives_etimedout)
{
	const uint32_t caps[2] = { 0, 4 };
	struct mbox_msg req, rep;
	char reply[16];
	uint64_t deadline;
	unsigned int i;
	uint32_t id;

	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, make_box(self->ep, caps[i], &id));
		req = lib_msg("late", 4);
		rep = lib_msg(reply, sizeof(reply));
		deadline = mbox_deadline_ms(50);
		EXPECT_EQ(-ETIMEDOUT, mbox_mailbox_call(self->ep, id, &req,
							&rep, MBOX_ABSTIME,
							deadline));
		EXPECT_LE(deadline, mbox_now_ns());
		/* Nothing was left behind. */
		EXPECT_TRUE(lib_queue_empty(self->ep, id));
		/* A deadline already past. */
		EXPECT_EQ(-ETIMEDOUT, mbox_mailbox_call(self->ep, id, &req,
							&rep, MBOX_ABSTIME, 1));
		EXPECT_TRUE(lib_queue_empty(self->ep, id));
		EXPECT_EQ(0, mbox_mailbox_close(self->ep, id));
	}
}

TEST_F(call, deadline_server_never_replies_then_reply_ecanceled)
{
	struct mbox_msg req, rep, m2;
	struct receiver rv;
	char reply[16], buf2[64];
	uint64_t deadline;
	uint32_t id;

	ASSERT_EQ(0, make_box(self->ep, 4, &id));
	/* The server waits first: the request is received at once. */
	ASSERT_EQ(0, receiver_start(&rv, self->ep, id));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&rv.bg));

	req = lib_msg("slow", 4);
	rep = lib_msg(reply, sizeof(reply));
	deadline = mbox_deadline_ms(300);
	EXPECT_EQ(-ETIMEDOUT, mbox_mailbox_call(self->ep, id, &req, &rep,
						MBOX_ABSTIME, deadline));
	EXPECT_LE(deadline, mbox_now_ns());
	ASSERT_EQ(0, mbox_bg_join(&rv.bg));
	EXPECT_EQ(4, rv.m.len);
	EXPECT_NE(0, rv.m.flags & MBOX_MSG_CALL);
	ASSERT_NE(0, rv.m.token);

	/*
	 * The caller gave up: the late reply fails, and fails to receive
	 * too (a message is waiting, and stays).
	 */
	ASSERT_EQ(0, lib_send_str(self->ep, id, "next", 0, MBOX_NOWAIT));
	m2 = lib_msg(buf2, sizeof(buf2));
	EXPECT_EQ(-ECANCELED, mbox_mailbox_reply_receive(self->ep, rv.m.token,
							 "late", 4, id, &m2,
							 0, MBOX_NOWAIT));
	EXPECT_EQ(sizeof(buf2), m2.len);
	/* Used up. */
	EXPECT_EQ(-ENOENT, mbox_call_reply(self->ep, rv.m.token, "late", 4));
	EXPECT_TRUE(lib_recv_is(self->ep, id, "next"));
	EXPECT_TRUE(lib_queue_empty(self->ep, id));
}

/* ---- signals ------------------------------------------------------------ */

TEST_F(call, signal_while_waiting_for_reply_eintr_then_ecanceled)
{
	struct caller k;
	uint64_t token;
	uint32_t id;

	/* Even with SA_RESTART: a delivered request is never sent again. */
	ASSERT_EQ(0, mbox_sigaction(SIGUSR1, on_signal, SA_RESTART));
	sig_count = 0;
	ASSERT_EQ(0, make_box(self->ep, 4, &id));
	ASSERT_EQ(0, caller_start(&k, self->ep, id, "req"));
	ASSERT_TRUE(recv_call_is(self->ep, id, "req", &token));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&k.bg));

	ASSERT_EQ(0, pthread_kill(k.bg.thread, SIGUSR1));
	EXPECT_EQ(-EINTR, mbox_bg_join(&k.bg));
	EXPECT_EQ(1, sig_count);
	EXPECT_EQ('#', k.reply[0]);

	EXPECT_EQ(-ECANCELED, mbox_call_reply(self->ep, token, "late", 4));
	EXPECT_EQ(-ENOENT, mbox_call_reply(self->ep, token, "late", 4));
	/* It was sent once. */
	EXPECT_TRUE(lib_queue_empty(self->ep, id));
}

TEST_F(call, signal_before_receipt_restarts_or_eintr)
{
	struct caller k;
	uint64_t token;
	uint32_t id;

	ASSERT_EQ(0, make_box(self->ep, 0, &id));

	/* SA_RESTART: the call goes on, transparently. */
	ASSERT_EQ(0, mbox_sigaction(SIGUSR1, on_signal, SA_RESTART));
	sig_count = 0;
	ASSERT_EQ(0, caller_start(&k, self->ep, id, "restart"));
	ASSERT_EQ(0, pthread_kill(k.bg.thread, SIGUSR1));
	ASSERT_TRUE(wait_sig_count(1));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&k.bg));
	EXPECT_FALSE(mbox_bg_done(&k.bg));
	ASSERT_TRUE(recv_call_is(self->ep, id, "restart", &token));
	EXPECT_TRUE(lib_queue_empty(self->ep, id));
	EXPECT_EQ(0, mbox_call_reply(self->ep, token, "ok", 2));
	EXPECT_EQ(0, mbox_bg_join(&k.bg));
	EXPECT_TRUE(caller_got(&k, "ok"));

	/* Without it: EINTR, and nothing was delivered. */
	ASSERT_EQ(0, mbox_sigaction(SIGUSR1, on_signal, 0));
	sig_count = 0;
	ASSERT_EQ(0, caller_start(&k, self->ep, id, "intr"));
	ASSERT_EQ(0, pthread_kill(k.bg.thread, SIGUSR1));
	EXPECT_EQ(-EINTR, mbox_bg_join(&k.bg));
	EXPECT_EQ(1, sig_count);
	EXPECT_TRUE(lib_queue_empty(self->ep, id));
}

/* ---- callers that go away ----------------------------------------------- */

/* A caller whose main thread exits (exit_group) once told to. */
static void *client_call_thread(void *arg)
{
	client_child(arg);
	return NULL;
}

static int client_exit_child(void *arg)
{
	struct client *cl = arg;
	pthread_t t;
	char c;

	close(cl->exit_w);
	if (pthread_create(&t, NULL, client_call_thread, cl))
		return 1;
	while (read(cl->exit_r, &c, 1) < 0 && errno == EINTR)
		;
	/* The calling thread is still in its call. */
	return 0;
}

TEST_F(call, caller_killed_or_exited_then_reply_ecanceled)
{
	struct client *cl;
	struct mbox_msg m;
	char buf[64];
	int pipefd[2];
	pid_t pid;
	uint32_t id;

	cl = mbox_shared_alloc(sizeof(*cl));
	ASSERT_NE(NULL, cl);
	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, NULL, 4, 0600,
				       &id));
	cl->dest = TO_MAILBOX;
	cl->to = id;
	strcpy(cl->req, "doomed");

	/* Killed while waiting for the reply. */
	pid = mbox_spawn(client_child, cl);
	ASSERT_LT(0, pid);
	mbox_track_pid(&self->cl, pid);
	ASSERT_EQ(0, recv_wait(self->ep, TO_MAILBOX, id, buf, sizeof(buf),
			       &m));
	EXPECT_EQ(pid, m.pid);
	ASSERT_NE(0, m.token);
	ASSERT_EQ(0, mbox_wait_blocked(pid));
	ASSERT_EQ(0, kill(pid, SIGKILL));
	EXPECT_EQ(128 + SIGKILL, mbox_reap(pid));
	EXPECT_EQ(-ECANCELED, mbox_call_reply(self->ep, m.token, "too late",
					      8));
	EXPECT_EQ(-ENOENT, mbox_call_reply(self->ep, m.token, "too late", 8));

	/* Exited (another thread called exit) while waiting. */
	ASSERT_EQ(0, pipe(pipefd));
	cl->exit_r = pipefd[0];
	cl->exit_w = pipefd[1];
	pid = mbox_spawn(client_exit_child, cl);
	ASSERT_LT(0, pid);
	mbox_track_pid(&self->cl, pid);
	close(pipefd[0]);
	ASSERT_EQ(0, recv_wait(self->ep, TO_MAILBOX, id, buf, sizeof(buf),
			       &m));
	EXPECT_EQ(pid, m.pid);
	ASSERT_NE(0, m.token);
	close(pipefd[1]);
	EXPECT_EQ(0, mbox_reap(pid));
	EXPECT_EQ(-ECANCELED, mbox_call_reply(self->ep, m.token, "too late",
					      8));
	EXPECT_EQ(-ENOENT, mbox_call_reply(self->ep, m.token, "too late", 8));
	EXPECT_TRUE(lib_queue_empty(self->ep, id));
	EXPECT_EQ(0, mbox_mailbox_destroy(self->ep, id));
	munmap(cl, sizeof(*cl));
}

/* ---- servers that go away ----------------------------------------------- */

TEST_F(call, server_endpoint_closed_epipe)
{
	struct mbox_endpoint *ep2;
	struct caller a, b;
	uint64_t token;
	uint32_t id;

	/* System-owned: it outlives the server's endpoint. */
	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, NULL, 4, 0600,
				       &id));
	ASSERT_EQ(0, mbox_endpoint_open(&ep2));
	ASSERT_EQ(0, mbox_mailbox_open_id(ep2, id, MBOX_OPEN_RECV));

	ASSERT_EQ(0, caller_start(&a, self->ep, id, "A"));
	ASSERT_TRUE(recv_call_is(ep2, id, "A", &token));
	ASSERT_EQ(0, caller_start(&b, self->ep, id, "B"));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&a.bg));

	mbox_endpoint_close(ep2);
	/* The received call fails; the queued one waits for another server. */
	EXPECT_EQ(-EPIPE, mbox_bg_join(&a.bg));
	EXPECT_EQ('#', a.reply[0]);
	ASSERT_EQ(0, mbox_bg_wait_blocked(&b.bg));
	EXPECT_FALSE(mbox_bg_done(&b.bg));
	ASSERT_TRUE(recv_call_is(self->ep, id, "B", &token));
	EXPECT_EQ(0, mbox_call_reply(self->ep, token, "b", 1));
	EXPECT_EQ(0, mbox_bg_join(&b.bg));
	EXPECT_TRUE(caller_got(&b, "b"));
	EXPECT_EQ(0, mbox_mailbox_destroy(self->ep, id));
}

TEST_F(call, owner_closes_process_owned_mailbox)
{
	struct mbox_endpoint *ep2;
	struct caller a, b;
	uint64_t token;
	uint32_t id;

	/* The owner's endpoint closes: received EPIPE, queued EIDRM. */
	ASSERT_EQ(0, mbox_endpoint_open(&ep2));
	ASSERT_EQ(0, make_box(ep2, 4, &id));
	ASSERT_EQ(0, mbox_mailbox_open_id(self->ep, id, MBOX_OPEN_SEND));
	ASSERT_EQ(0, caller_start(&a, self->ep, id, "A"));
	ASSERT_TRUE(recv_call_is(ep2, id, "A", &token));
	ASSERT_EQ(0, caller_start(&b, self->ep, id, "B"));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&a.bg));
	mbox_endpoint_close(ep2);
	EXPECT_EQ(-EPIPE, mbox_bg_join(&a.bg));
	EXPECT_EQ(-EIDRM, mbox_bg_join(&b.bg));
	EXPECT_EQ(0, mbox_mailbox_close(self->ep, id));

	/* The owner closes the mailbox (not its endpoint): both EIDRM. */
	ASSERT_EQ(0, mbox_endpoint_open(&ep2));
	ASSERT_EQ(0, make_box(ep2, 4, &id));
	ASSERT_EQ(0, mbox_mailbox_open_id(self->ep, id, MBOX_OPEN_SEND));
	ASSERT_EQ(0, caller_start(&a, self->ep, id, "A"));
	ASSERT_TRUE(recv_call_is(ep2, id, "A", &token));
	ASSERT_EQ(0, caller_start(&b, self->ep, id, "B"));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&a.bg));
	EXPECT_EQ(0, mbox_mailbox_close(ep2, id));
	EXPECT_EQ(-EIDRM, mbox_bg_join(&a.bg));
	EXPECT_EQ(-EIDRM, mbox_bg_join(&b.bg));
	mbox_endpoint_close(ep2);
}

/* A server that receives one call, reports it, and never answers. */
struct holder {
	uint32_t id;
	int ready_w;
	int ret;
	uint64_t token;
	pid_t sender_pid;
};

static int holder_child(void *arg)
{
	struct holder *h = arg;
	struct mbox_endpoint *ep;
	struct mbox_msg m;
	char buf[64];

	h->ret = mbox_endpoint_open(&ep);
	if (!h->ret)
		h->ret = mbox_mailbox_open_id(ep, h->id, MBOX_OPEN_RECV);
	if (!h->ret)
		h->ret = recv_wait(ep, TO_MAILBOX, h->id, buf, sizeof(buf),
				   &m);
	if (!h->ret) {
		h->token = m.token;
		h->sender_pid = m.pid;
	}
	mbox_pipe_write_byte(h->ready_w, h->ret);
	if (h->ret)
		return h->ret;
	for (;;)
		pause();
}

TEST_F(call, server_process_killed_epipe)
{
	struct holder *h;
	struct caller k;
	int pipefd[2];
	pid_t pid;

	h = mbox_shared_alloc(sizeof(*h));
	ASSERT_NE(NULL, h);
	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, NULL, 4, 0600,
				       &h->id));
	ASSERT_EQ(0, pipe(pipefd));
	h->ready_w = pipefd[1];
	pid = mbox_spawn(holder_child, h);
	ASSERT_LT(0, pid);
	mbox_track_pid(&self->cl, pid);

	ASSERT_EQ(0, caller_start_to(&k, self->ep, TO_MAILBOX, h->id, "hold",
				     MBOX_FOREVER, 0));
	ASSERT_EQ(0, mbox_pipe_read_byte(pipefd[0], MBOX_WAIT_MS));
	EXPECT_EQ(getpid(), h->sender_pid);
	EXPECT_NE(0, h->token);
	ASSERT_EQ(0, mbox_bg_wait_blocked(&k.bg));
	EXPECT_FALSE(mbox_bg_done(&k.bg));

	ASSERT_EQ(0, kill(pid, SIGKILL));
	EXPECT_EQ(128 + SIGKILL, mbox_reap(pid));
	EXPECT_EQ(-EPIPE, mbox_bg_join(&k.bg));
	EXPECT_TRUE(lib_queue_empty(self->ep, h->id));
	close(pipefd[0]);
	close(pipefd[1]);
	EXPECT_EQ(0, mbox_mailbox_destroy(self->ep, h->id));
	munmap(h, sizeof(*h));
}

TEST_F(call, destroy_with_calls_queued_eidrm)
{
	struct caller k[3], z;
	uint32_t id, zid;
	int i;

	/* Two in the queue, one waiting for room. */
	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, NULL, 2, 0600,
				       &id));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, caller_start(&k[i], self->ep, id, "q"));
	/* One offered on a rendezvous mailbox. */
	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, NULL, 0, 0600,
				       &zid));
	ASSERT_EQ(0, caller_start(&z, self->ep, zid, "z"));

	EXPECT_EQ(0, mbox_mailbox_destroy(self->ep, id));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(-EIDRM, mbox_bg_join(&k[i].bg));
	EXPECT_FALSE(mbox_bg_done(&z.bg));
	EXPECT_EQ(0, mbox_mailbox_destroy(self->ep, zid));
	EXPECT_EQ(-EIDRM, mbox_bg_join(&z.bg));
}

TEST_F(call, destroy_with_calls_received_eidrm)
{
	struct caller k[3];
	uint64_t tokens[2];
	uint32_t id;
	int i;

	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, NULL, 4, 0600,
				       &id));
	ASSERT_EQ(0, caller_start(&k[0], self->ep, id, "r0"));
	ASSERT_EQ(0, caller_start(&k[1], self->ep, id, "r1"));
	ASSERT_TRUE(recv_call_is(self->ep, id, "r0", &tokens[0]));
	ASSERT_TRUE(recv_call_is(self->ep, id, "r1", &tokens[1]));
	ASSERT_EQ(0, caller_start(&k[2], self->ep, id, "queued"));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, mbox_bg_wait_blocked(&k[i].bg));

	EXPECT_EQ(0, mbox_mailbox_destroy(self->ep, id));
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(-EIDRM, mbox_bg_join(&k[i].bg));
		EXPECT_EQ('#', k[i].reply[0]);
	}
}

/*
 * abi.rst: REPLY gives ENOENT when "no call with that token is owed by
 * this endpoint: never issued here, already answered, or failed".  A call
 * failed by the death of its queue is not owed any more.  (ECANCELED is
 * for a caller that gave up; call.c's mbox_pending_answer() gives it for
 * any call no longer WAITING, FAILED ones included.)
 */
TEST_F(call, reply_to_failed_call_enoent)
{
	struct mbox_endpoint *ep2;
	struct caller k, d;
	uint64_t token, dtoken;
	struct mbox_msg m;
	char buf[16];
	uint32_t id;

	/* Failed with EIDRM: the mailbox was destroyed. */
	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, NULL, 4, 0600,
				       &id));
	ASSERT_EQ(0, caller_start(&k, self->ep, id, "r"));
	ASSERT_TRUE(recv_call_is(self->ep, id, "r", &token));
	EXPECT_EQ(0, mbox_mailbox_destroy(self->ep, id));
	EXPECT_EQ(-EIDRM, mbox_bg_join(&k.bg));
	EXPECT_EQ(-ENOENT, mbox_call_reply(self->ep, token, "late", 4));
	EXPECT_EQ(-ENOENT, mbox_call_reply(self->ep, token, "late", 4));

	/* Failed with ECONNRESET: the inbox was disabled. */
	if (!(self->features & MBOX_FEATURE_DIRECT))
		return;
	ASSERT_EQ(0, mbox_endpoint_open(&ep2));
	ASSERT_EQ(0, enable_direct(ep2, 4));
	ASSERT_EQ(0, caller_start_to(&d, self->ep, TO_PID, getpid(), "d",
				     MBOX_FOREVER, 0));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&d.bg));
	ASSERT_EQ(0, recv_wait(ep2, TO_PID, 0, buf, sizeof(buf), &m));
	dtoken = m.token;
	EXPECT_EQ(0, mbox_process_disable(ep2));
	EXPECT_EQ(-ECONNRESET, mbox_bg_join(&d.bg));
	EXPECT_EQ(-ENOENT, mbox_call_reply(ep2, dtoken, "late", 4));
	mbox_endpoint_close(ep2);
}

/* ---- direct links ------------------------------------------------------- */

/* A server on a direct endpoint: answers n calls from its parent. */
struct dserver {
	int ready_w;
	unsigned int n;
	uint32_t capacity;
	int ret;
	unsigned int served;
	unsigned int bad;
};

static int direct_server_child(void *arg)
{
	struct dserver *ds = arg;
	struct mbox_endpoint *ep;
	struct call_req req;
	struct call_rep rep;
	struct mbox_msg m;
	int ret;

	ret = mbox_endpoint_open(&ep);
	if (!ret)
		ret = enable_direct(ep, ds->capacity);
	mbox_pipe_write_byte(ds->ready_w, ret);
	while (!ret && ds->served < ds->n) {
		ret = recv_wait(ep, TO_PID, 0, &req, sizeof(req), &m);
		if (ret)
			break;
		if (!make_rep(&m, &req, &rep) || m.pid != getppid())
			ds->bad++;
		ret = mbox_call_reply(ep, m.token, &rep, sizeof(rep));
		ds->served++;
	}
	ds->ret = ret;
	mbox_endpoint_close(ep);
	return ret;
}

TEST_F(call, direct_calls_by_pid_and_pidfd)
{
	const uint32_t caps[2] = { 4, 0 };
	struct dserver *ds;
	pid_t server_pid;
	int pipefd[2], pidfd;
	unsigned int i, j;
	pid_t pid;

	NEED_DIRECT();
	ds = mbox_shared_alloc(sizeof(*ds));
	ASSERT_NE(NULL, ds);
	ASSERT_EQ(0, pipe(pipefd));
	for (j = 0; j < 2; j++) {
		memset(ds, 0, sizeof(*ds));
		ds->ready_w = pipefd[1];
		ds->n = 8;
		ds->capacity = caps[j];
		pid = mbox_spawn(direct_server_child, ds);
		ASSERT_LT(0, pid);
		mbox_track_pid(&self->cl, pid);
		ASSERT_EQ(0, mbox_pipe_read_byte(pipefd[0], MBOX_WAIT_MS));
		pidfd = mbox_pidfd_open(pid);
		ASSERT_LE(0, pidfd);

		for (i = 0; i < ds->n; i++) {
			server_pid = 0;
			if (i % 2) {
				EXPECT_EQ(0, do_call(self->ep, TO_PIDFD, pidfd,
						     j, i, &server_pid));
			} else {
				EXPECT_EQ(0, do_call(self->ep, TO_PID, pid, j,
						     i, &server_pid));
			}
			EXPECT_EQ(pid, server_pid);
		}
		EXPECT_EQ(0, mbox_reap(pid));
		EXPECT_EQ(0, ds->ret);
		EXPECT_EQ(ds->n, ds->served);
		EXPECT_EQ(0, ds->bad);
		/* Gone: no more calls to it. */
		server_pid = 0;
		EXPECT_EQ(-ESRCH, do_call(self->ep, TO_PIDFD, pidfd, 0, 0,
					  &server_pid));
		close(pidfd);
	}
	close(pipefd[0]);
	close(pipefd[1]);
	munmap(ds, sizeof(*ds));
}

TEST_F(call, direct_inbox_disabled_econnreset)
{
	struct mbox_endpoint *ep2;
	struct caller a, b;
	struct mbox_msg m;
	char buf[16];

	NEED_DIRECT();
	/* This process is the server, on an endpoint of its own. */
	ASSERT_EQ(0, mbox_endpoint_open(&ep2));
	ASSERT_EQ(0, enable_direct(ep2, 4));
	ASSERT_EQ(0, caller_start_to(&a, self->ep, TO_PID, getpid(), "A",
				     MBOX_FOREVER, 0));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&a.bg));
	ASSERT_EQ(0, recv_wait(ep2, TO_PID, 0, buf, sizeof(buf), &m));
	EXPECT_EQ(1, m.len);
	EXPECT_NE(0, m.flags & MBOX_MSG_CALL);
	EXPECT_EQ(getpid(), m.pid);
	ASSERT_EQ(0, caller_start_to(&b, self->ep, TO_PID, getpid(), "B",
				     MBOX_FOREVER, 0));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&b.bg));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&a.bg));

	/* Received and queued calls alike. */
	EXPECT_EQ(0, mbox_process_disable(ep2));
	EXPECT_EQ(-ECONNRESET, mbox_bg_join(&a.bg));
	EXPECT_EQ(-ECONNRESET, mbox_bg_join(&b.bg));

	/* Closing the direct endpoint: received EPIPE, queued ECONNRESET. */
	ASSERT_EQ(0, enable_direct(ep2, 4));
	ASSERT_EQ(0, caller_start_to(&a, self->ep, TO_PID, getpid(), "A",
				     MBOX_FOREVER, 0));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&a.bg));
	ASSERT_EQ(0, recv_wait(ep2, TO_PID, 0, buf, sizeof(buf), &m));
	ASSERT_EQ(0, caller_start_to(&b, self->ep, TO_PID, getpid(), "B",
				     MBOX_FOREVER, 0));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&b.bg));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&a.bg));
	mbox_endpoint_close(ep2);
	EXPECT_EQ(-EPIPE, mbox_bg_join(&a.bg));
	EXPECT_EQ(-ECONNRESET, mbox_bg_join(&b.bg));
}

/* A nobody caller of a root process that accepts only kill(2)'s rules. */
static int nobody_direct_child(void *arg)
{
	struct mbox_endpoint *ep;
	struct mbox_msg req, rep;
	char reply[8];
	int ret;

	ret = mbox_endpoint_open(&ep);
	if (ret)
		return ret;
	req = lib_msg("x", 1);
	rep = lib_msg(reply, sizeof(reply));
	ret = mbox_process_call(ep, getppid(), &req, &rep, 0, MBOX_NOWAIT);
	mbox_endpoint_close(ep);
	return ret == -EPERM ? 0 : (ret ? ret : 255);
}

TEST_F(call, direct_call_errors)
{
	struct mbox_endpoint *ep2;
	struct mbox_msg req, rep, m;
	char reply[8], buf[8];
	int pipefd[2];

	NEED_DIRECT();
	req = lib_msg("x", 1);
	rep = lib_msg(reply, sizeof(reply));
	/* This process has no direct endpoint yet. */
	EXPECT_EQ(-ECONNREFUSED, mbox_process_call(self->ep, getpid(), &req,
						   &rep, 0, MBOX_NOWAIT));
	EXPECT_EQ(-ESRCH, mbox_process_call(self->ep, 0x7fffffff, &req, &rep,
					    0, MBOX_NOWAIT));
	/* Not a pidfd, and not a file at all. */
	ASSERT_EQ(0, pipe(pipefd));
	EXPECT_EQ(-EINVAL, mbox_process_call(self->ep, pipefd[0], &req, &rep,
					     MBOX_PIDFD, MBOX_NOWAIT));
	close(pipefd[0]);
	close(pipefd[1]);
	EXPECT_EQ(-EBADF, mbox_process_call(self->ep, pipefd[0], &req, &rep,
					    MBOX_PIDFD, MBOX_NOWAIT));

	ASSERT_EQ(0, mbox_endpoint_open(&ep2));
	ASSERT_EQ(0, enable_direct(ep2, 4));
	/* Nobody may not call root without MBOX_DIRECT_ANYONE. */
	if (mbox_is_root()) {
		EXPECT_EQ(0, mbox_run_as_nobody(nobody_direct_child, NULL));
	}
	/* Reachable now, but nobody waits: EAGAIN, nothing queued. */
	EXPECT_EQ(-EAGAIN, mbox_process_call(self->ep, getpid(), &req, &rep,
					     0, MBOX_NOWAIT));
	m = lib_msg(buf, sizeof(buf));
	EXPECT_EQ(-EAGAIN, mbox_process_receive(ep2, 0, &m, 0, MBOX_NOWAIT));
	mbox_endpoint_close(ep2);
}

/* ---- many clients, one server ------------------------------------------- */

#define MC_PROCS	3
#define MC_THREADS	3
#define MC_CALLS	12

struct mc_shared {
	uint32_t id;
	pid_t server_pid;
	unsigned int total;
	int server_ret;
	unsigned int served;
	unsigned int bad;
	unsigned int seen[MC_PROCS][MC_THREADS][MC_CALLS];
	int client_err[MC_PROCS][MC_THREADS];
	unsigned int client_bad[MC_PROCS][MC_THREADS];
};

/* The server: a receive, then reply-and-receive for every call but the last. */
static int mc_server(void *arg)
{
	struct mc_shared *sh = arg;
	struct mbox_endpoint *ep;
	struct call_req req;
	struct call_rep rep;
	struct mbox_msg m;
	unsigned int p, t;
	uint64_t token;
	int ret;

	ret = mbox_endpoint_open(&ep);
	if (ret)
		return ret;
	ret = mbox_mailbox_open_id(ep, sh->id, MBOX_OPEN_RECV);
	if (!ret)
		ret = recv_wait(ep, TO_MAILBOX, sh->id, &req, sizeof(req), &m);
	while (!ret) {
		p = req.client / MC_THREADS;
		t = req.client % MC_THREADS;
		if (!make_rep(&m, &req, &rep) || p >= MC_PROCS ||
		    req.seq >= MC_CALLS)
			sh->bad++;
		else
			sh->seen[p][t][req.seq]++;
		token = m.token;
		if (++sh->served == sh->total) {
			ret = mbox_call_reply(ep, token, &rep, sizeof(rep));
			break;
		}
		m = lib_msg(&req, sizeof(req));
		ret = mbox_mailbox_reply_receive(ep, token, &rep, sizeof(rep),
						 sh->id, &m, 0, FAR);
	}
	sh->server_ret = ret;
	mbox_endpoint_close(ep);
	return ret;
}

struct mc_thread {
	struct mc_shared *sh;
	struct mbox_endpoint *ep;
	unsigned int p, t;
	pthread_t thread;
};

static void *mc_client_thread(void *arg)
{
	struct mc_thread *ct = arg;
	struct mc_shared *sh = ct->sh;
	uint32_t client = ct->p * MC_THREADS + ct->t;
	unsigned int seq;
	pid_t server_pid;
	int ret;

	for (seq = 0; seq < MC_CALLS; seq++) {
		server_pid = 0;
		ret = do_call(ct->ep, TO_MAILBOX, sh->id, client, seq,
			      &server_pid);
		if (!ret && server_pid != sh->server_pid)
			ret = -EBADMSG;
		if (ret == -EBADMSG) {
			sh->client_bad[ct->p][ct->t]++;
		} else if (ret) {
			sh->client_err[ct->p][ct->t] = ret;
			break;
		}
	}
	return NULL;
}

/* A client process: MC_THREADS threads calling on one shared endpoint. */
static int mc_client(struct mc_shared *sh, unsigned int p)
{
	struct mc_thread ct[MC_THREADS];
	unsigned int t, started = 0;
	struct mbox_endpoint *ep;
	int ret;

	ret = mbox_endpoint_open(&ep);
	if (ret)
		return ret;
	ret = mbox_mailbox_open_id(ep, sh->id, MBOX_OPEN_SEND);
	if (ret)
		return ret;
	for (t = 0; t < MC_THREADS; t++) {
		ct[t].sh = sh;
		ct[t].ep = ep;
		ct[t].p = p;
		ct[t].t = t;
		if (pthread_create(&ct[t].thread, NULL, mc_client_thread,
				   &ct[t]))
			break;
		started++;
	}
	for (t = 0; t < started; t++)
		pthread_join(ct[t].thread, NULL);
	mbox_endpoint_close(ep);
	return started == MC_THREADS ? 0 : EAGAIN;
}

static struct mc_shared *mc_sh;
static int mc_client_child(void *arg)
{
	return mc_client(mc_sh, (unsigned int)(uintptr_t)arg);
}

TEST_F_TIMEOUT(call, many_clients_one_server_reply_and_receive, 60)
{
	pid_t server, clients[MC_PROCS];
	struct mc_shared *sh;
	unsigned int p, t, s, missing = 0;

	sh = mbox_shared_alloc(sizeof(*sh));
	ASSERT_NE(NULL, sh);
	mc_sh = sh;
	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, NULL, 4, 0600,
				       &sh->id));
	sh->total = MC_PROCS * MC_THREADS * MC_CALLS;
	server = mbox_spawn(mc_server, sh);
	ASSERT_LT(0, server);
	mbox_track_pid(&self->cl, server);
	sh->server_pid = server;
	for (p = 0; p < MC_PROCS; p++) {
		clients[p] = mbox_spawn(mc_client_child, (void *)(uintptr_t)p);
		ASSERT_LT(0, clients[p]);
		mbox_track_pid(&self->cl, clients[p]);
	}
	for (p = 0; p < MC_PROCS; p++)
		EXPECT_EQ(0, mbox_reap(clients[p]));
	EXPECT_EQ(0, mbox_reap(server));

	EXPECT_EQ(0, sh->server_ret);
	EXPECT_EQ(sh->total, sh->served);
	EXPECT_EQ(0, sh->bad);
	for (p = 0; p < MC_PROCS; p++) {
		for (t = 0; t < MC_THREADS; t++) {
			EXPECT_EQ(0, sh->client_err[p][t]);
			EXPECT_EQ(0, sh->client_bad[p][t]);
			for (s = 0; s < MC_CALLS; s++)
				missing += sh->seen[p][t][s] != 1;
		}
	}
	EXPECT_EQ(0, missing);
	EXPECT_TRUE(lib_queue_empty(self->ep, sh->id));
	EXPECT_EQ(0, mbox_mailbox_destroy(self->ep, sh->id));
	munmap(sh, sizeof(*sh));
}

/* ---- a pool of servers on one mailbox ----------------------------------- */

#define POOL_SERVERS	3
#define POOL_THREADS	4
#define POOL_CALLS	48	/* in all, spread over the threads */

struct pool_shared {
	uint32_t id;
	unsigned int count[POOL_CALLS];
	pid_t handled_by[POOL_CALLS];
	pid_t server_pid[POOL_CALLS];
	int call_ret[POOL_CALLS];
	unsigned int bad;
	int server_ret[POOL_SERVERS];
};

struct pool_server {
	struct pool_shared *sh;
	unsigned int n;
};

/* Serve with reply-and-receive until the mailbox is destroyed. */
static int pool_server_child(void *arg)
{
	struct pool_server *ps = arg;
	struct pool_shared *sh = ps->sh;
	struct mbox_endpoint *ep;
	struct call_req req;
	struct call_rep rep;
	struct mbox_msg m;
	uint64_t token;
	int ret;

	ret = mbox_endpoint_open(&ep);
	if (ret)
		return ret;
	ret = mbox_mailbox_open_id(ep, sh->id, MBOX_OPEN_RECV);
	if (!ret)
		ret = recv_wait(ep, TO_MAILBOX, sh->id, &req, sizeof(req), &m);
	while (!ret) {
		if (!make_rep(&m, &req, &rep) || req.client >= POOL_CALLS) {
			__atomic_fetch_add(&sh->bad, 1, __ATOMIC_SEQ_CST);
		} else {
			__atomic_fetch_add(&sh->count[req.client], 1,
					   __ATOMIC_SEQ_CST);
			sh->handled_by[req.client] = getpid();
		}
		token = m.token;
		m = lib_msg(&req, sizeof(req));
		ret = mbox_mailbox_reply_receive(ep, token, &rep, sizeof(rep),
						 sh->id, &m, 0, FAR);
	}
	sh->server_ret[ps->n] = ret;
	mbox_endpoint_close(ep);
	return ret == -EIDRM ? 0 : ret;
}

struct pool_thread {
	struct pool_shared *sh;
	struct mbox_endpoint *ep;
	unsigned int first;
	pthread_t thread;
};

static void *pool_client_thread(void *arg)
{
	struct pool_thread *pt = arg;
	struct pool_shared *sh = pt->sh;
	unsigned int i;

	for (i = pt->first; i < POOL_CALLS; i += POOL_THREADS)
		sh->call_ret[i] = do_call(pt->ep, TO_MAILBOX, sh->id, i, 0,
					  &sh->server_pid[i]);
	return NULL;
}

TEST_F_TIMEOUT(call, server_pool_each_call_answered_once, 60)
{
	struct pool_server ps[POOL_SERVERS];
	struct pool_thread pt[POOL_THREADS];
	pid_t servers[POOL_SERVERS];
	struct pool_shared *sh;
	unsigned int i, s, from_pool;

	sh = mbox_shared_alloc(sizeof(*sh));
	ASSERT_NE(NULL, sh);
	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, NULL, 2, 0600,
				       &sh->id));
	for (s = 0; s < POOL_SERVERS; s++) {
		ps[s].sh = sh;
		ps[s].n = s;
		servers[s] = mbox_spawn(pool_server_child, &ps[s]);
		ASSERT_LT(0, servers[s]);
		mbox_track_pid(&self->cl, servers[s]);
	}
	/* The clients: threads of this process, on one endpoint. */
	for (i = 0; i < POOL_THREADS; i++) {
		pt[i].sh = sh;
		pt[i].ep = self->ep;
		pt[i].first = i;
		ASSERT_EQ(0, pthread_create(&pt[i].thread, NULL,
					    pool_client_thread, &pt[i]));
	}
	for (i = 0; i < POOL_THREADS; i++)
		pthread_join(pt[i].thread, NULL);
	/* Every call returned, so it was answered: stop the servers. */
	EXPECT_EQ(0, mbox_mailbox_destroy(self->ep, sh->id));
	for (s = 0; s < POOL_SERVERS; s++) {
		EXPECT_EQ(0, mbox_reap(servers[s]));
		EXPECT_EQ(-EIDRM, sh->server_ret[s]);
	}

	EXPECT_EQ(0, sh->bad);
	for (i = 0; i < POOL_CALLS; i++) {
		EXPECT_EQ(0, sh->call_ret[i]) {
			TH_LOG("call %u: %s", i, strerror(-sh->call_ret[i]));
		}
		EXPECT_EQ(1, sh->count[i]) {
			TH_LOG("call %u answered %u times", i, sh->count[i]);
		}
		/* The caller learnt who answered, and it was one of them. */
		EXPECT_EQ(sh->handled_by[i], sh->server_pid[i]);
		from_pool = 0;
		for (s = 0; s < POOL_SERVERS; s++)
			from_pool |= sh->server_pid[i] == servers[s];
		EXPECT_TRUE(from_pool);
	}
	munmap(sh, sizeof(*sh));
}

/* ---- the raw ABI --------------------------------------------------------- */

/*
 * From here on, the ioctls themselves: what libmbox cannot express (an
 * endpoint opened O_NONBLOCK, a bad struct mbox_recv pointer for
 * MBOX_REPLY_RECV) or checks before the kernel sees it (flags, sizes,
 * reserved fields, unreadable or unwritable buffers).  Through the
 * fixture's fd and mbox_util.h, with helpers of their own.
 */

/* A process-owned mailbox of endpoint fd. */
static int raw_make_box(int fd, __u32 capacity, __u32 *id)
{
	return mbox_create(fd, NULL, 0, capacity, MBOX_POLICY_SHARED, 0600, id);
}

/* Receive on fd (a mailbox, or direct with addr), waiting up to FAR_MS. */
static int raw_recv_wait(int fd, __u32 addr, __u32 from, void *buf,
			 __u32 size, struct mbox_recv *r)
{
	mbox_recv_init(r, from, buf, size, MBOX_DEADLINE);
	r->addr = addr;
	r->deadline_ns = mbox_deadline_ms(FAR_MS);
	return mbox_recv_ex(fd, r);
}

/* Receive one request from mailbox id: whether it is the call req. */
static bool raw_recv_call_is(int fd, __u32 id, const char *req, __u64 *token)
{
	struct mbox_recv r;
	char buf[64];

	*token = 0;
	if (raw_recv_wait(fd, MBOX_ADDR_MAILBOX, id, buf, sizeof(buf), &r))
		return false;
	*token = r.token;
	return r.len == strlen(req) && !memcmp(buf, req, r.len) &&
	       (r.msg_flags & MBOX_MSG_CALL) && r.token;
}

/*
 * A call run in a thread of its own (mbox_bg), with its buffers.  The
 * reply buffer is filled with '#' first, to see what the kernel wrote.
 */
struct raw_caller {
	struct mbox_bg bg;
	struct mbox_call c;
	char req[64];
	char reply[64];
};

/* Prepare the call; change k->c at will before raw_caller_run(). */
static void raw_caller_init(struct raw_caller *k, __u32 addr, __u32 to,
			    const char *req, __u32 flags, __u32 prio)
{
	snprintf(k->req, sizeof(k->req), "%s", req);
	memset(k->reply, '#', sizeof(k->reply));
	mbox_call_init(&k->c, addr, to, k->req, strlen(k->req), k->reply,
		       sizeof(k->reply), flags);
	k->c.priority = prio;
	if (flags & MBOX_DEADLINE)
		k->c.deadline_ns = mbox_deadline_ms(FAR_MS);
}

static int raw_caller_run(struct raw_caller *k, int fd)
{
	return mbox_bg_start(&k->bg, fd, MBOX_IOC_CALL, &k->c);
}

static int raw_caller_start_to(struct raw_caller *k, int fd, __u32 addr,
			       __u32 to, const char *req, __u32 flags,
			       __u32 prio)
{
	raw_caller_init(k, addr, to, req, flags, prio);
	return raw_caller_run(k, fd);
}

/* Start a blocking call of mailbox id; 0 once it is blocked. */
static int raw_caller_start(struct raw_caller *k, int fd, __u32 id,
			    const char *req)
{
	int ret = raw_caller_start_to(k, fd, MBOX_ADDR_MAILBOX, id, req, 0, 0);

	return ret ?: mbox_bg_wait_blocked(&k->bg);
}

/* Whether the finished call got exactly the reply rep. */
static bool raw_caller_got(struct raw_caller *k, const char *rep)
{
	return k->c.reply_len == strlen(rep) &&
	       !memcmp(k->reply, rep, k->c.reply_len);
}

TEST_F(call, nonblocking_endpoint_call_eagain)
{
	char reply[16];
	__u32 id, len;
	int fd2;

	ASSERT_EQ(0, raw_make_box(self->fd, 4, &id));
	fd2 = mbox_dev_open_flags(O_NONBLOCK);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, mbox_open_id(fd2, id, MBOX_OPEN_SEND));
	len = sizeof(reply);
	EXPECT_EQ(-EAGAIN, mbox_call(fd2, id, "nb", 2, reply, &len, 0, 0,
				     NULL));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
	close(fd2);
}

/* ---- reply-and-receive -------------------------------------------------- */

TEST_F(call, reply_and_receive)
{
	static char big[2 * sizeof(((struct raw_caller *)0)->reply)];
	struct raw_caller a, b;
	struct mbox_recv r;
	char buf[64];
	__u64 token;
	void *bad;
	__u32 id;

	bad = mbox_fault_ptr();
	ASSERT_NE(NULL, bad);
	ASSERT_EQ(0, raw_make_box(self->fd, 4, &id));
	ASSERT_EQ(0, raw_caller_start(&a, self->fd, id, "A"));
	ASSERT_EQ(0, raw_caller_start(&b, self->fd, id, "B"));
	ASSERT_TRUE(raw_recv_call_is(self->fd, id, "A", &token));

	/* Reply to A, receive B in the same ioctl. */
	mbox_recv_init(&r, id, buf, sizeof(buf), 0);
	EXPECT_EQ(0, mbox_reply_recv(self->fd, token, "a", 1, &r));
	EXPECT_EQ(0, mbox_bg_join(&a.bg));
	EXPECT_TRUE(raw_caller_got(&a, "a"));
	EXPECT_EQ(1, r.len);
	EXPECT_EQ('B', buf[0]);
	EXPECT_EQ(MBOX_MSG_CALL | MBOX_MSG_SYNC, r.msg_flags);
	EXPECT_NE(0, r.token);
	EXPECT_NE(token, r.token);
	EXPECT_EQ(getpid(), r.sender_pid);
	token = r.token;

	/* A failed reply receives nothing: not even the message waiting. */
	ASSERT_EQ(0, mbox_send(self->fd, id, "plain", 5, 0, MBOX_NONBLOCK));
	mbox_recv_init(&r, id, buf, sizeof(buf), MBOX_NONBLOCK);
	EXPECT_EQ(-ENOENT, mbox_reply_recv(self->fd, token + 1, "b", 1, &r));
	EXPECT_EQ(sizeof(buf), r.len);
	EXPECT_EQ(0, r.token);
	EXPECT_EQ(-EMSGSIZE, mbox_reply_recv(self->fd, token, big,
					     sizeof(b.reply) + 1, &r));
	EXPECT_EQ(sizeof(buf), r.len);
	EXPECT_FALSE(mbox_bg_done(&b.bg));

	/* Now it is: a plain message, without token. */
	EXPECT_EQ(0, mbox_reply_recv(self->fd, token, "b", 1, &r));
	EXPECT_EQ(0, mbox_bg_join(&b.bg));
	EXPECT_TRUE(raw_caller_got(&b, "b"));
	EXPECT_EQ(5, r.len);
	EXPECT_EQ(0, memcmp(buf, "plain", 5));
	EXPECT_EQ(0, r.msg_flags);
	EXPECT_EQ(0, r.token);

	/* The reply is delivered even when the receive then fails. */
	ASSERT_EQ(0, raw_caller_start(&a, self->fd, id, "A2"));
	ASSERT_TRUE(raw_recv_call_is(self->fd, id, "A2", &token));
	mbox_recv_init(&r, id, buf, sizeof(buf), MBOX_NONBLOCK);
	EXPECT_EQ(-EAGAIN, mbox_reply_recv(self->fd, token, "a2", 2, &r));
	EXPECT_EQ(0, mbox_bg_join(&a.bg));
	EXPECT_TRUE(raw_caller_got(&a, "a2"));
	EXPECT_EQ(-ENOENT, mbox_reply(self->fd, token, "a2", 2));

	ASSERT_EQ(0, raw_caller_start(&a, self->fd, id, "A3"));
	ASSERT_TRUE(raw_recv_call_is(self->fd, id, "A3", &token));
	EXPECT_EQ(-EFAULT, mbox_reply_recv(self->fd, token, "a3", 2, bad));
	EXPECT_EQ(0, mbox_bg_join(&a.bg));
	EXPECT_TRUE(raw_caller_got(&a, "a3"));
	EXPECT_EQ(-ENOENT, mbox_reply(self->fd, token, "a3", 2));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
	munmap(bad, 4096);
}

/* ---- EINVAL and EFAULT -------------------------------------------------- */

/* A struct followed by bytes the kernel does not know. */
struct call_big {
	struct mbox_call c;
	__u64 extra;
};

struct reply_big {
	struct mbox_reply r;
	__u64 extra;
};

TEST_F(call, call_einval_efault)
{
	const __u32 bad_flags[] = { 1U << 2, 1U << 3, 1U << 31,
				    MBOX_NONBLOCK | MBOX_DEADLINE };
	struct call_big big;
	struct mbox_call c;
	struct mbox_recv r;
	struct mbox_bg rbg;
	char reply[16], buf[64];
	unsigned int i;
	__u32 id, rid;
	void *bad;

	bad = mbox_fault_ptr();
	ASSERT_NE(NULL, bad);
	memset(buf, 'b', sizeof(buf));
	ASSERT_EQ(0, mbox_create_sized(self->fd, 0, 4, 16, 0, 0, 0600, &id));

	for (i = 0; i < MBOX_ARRAY_SIZE(bad_flags); i++) {
		mbox_call_init(&c, MBOX_ADDR_MAILBOX, id, "x", 1, reply,
			       sizeof(reply), bad_flags[i]);
		EXPECT_EQ(-EINVAL, mbox_call_ex(self->fd, &c));
	}
	mbox_call_init(&c, MBOX_ADDR_MAILBOX, id, "x", 1, reply, sizeof(reply),
		       MBOX_NONBLOCK);
	c.priority = MBOX_PRIO_MAX + 1;
	EXPECT_EQ(-EINVAL, mbox_call_ex(self->fd, &c));
	c.priority = 0;
	c.addr = MBOX_ADDR_PIDFD + 1;
	EXPECT_EQ(-EINVAL, mbox_call_ex(self->fd, &c));
	c.addr = MBOX_ADDR_MAILBOX;
	c.size = offsetof(struct mbox_call, server_pid);
	EXPECT_EQ(-EINVAL, mbox_call_ex(self->fd, &c));
	c.size = 0;
	EXPECT_EQ(-EINVAL, mbox_call_ex(self->fd, &c));

	/* A longer struct: zeros past the known end are fine, else E2BIG. */
	memset(&big, 0, sizeof(big));
	mbox_call_init(&big.c, MBOX_ADDR_MAILBOX, id, "x", 1, reply,
		       sizeof(reply), MBOX_NONBLOCK);
	big.c.size = sizeof(big);
	big.extra = 1;
	EXPECT_EQ(-E2BIG, mbox_call_ex(self->fd, &big.c));
	big.extra = 0;
	EXPECT_EQ(-EAGAIN, mbox_call_ex(self->fd, &big.c));

	/* The struct itself unreadable. */
	EXPECT_EQ(-EFAULT, mbox_ioctl(self->fd, MBOX_IOC_CALL, bad));
	EXPECT_EQ(-EFAULT, mbox_ioctl(self->fd, MBOX_IOC_CALL, NULL));

	/* Not open to send, too long, not open at all. */
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
					MBOX_POLICY_SHARED, 0600, &rid));
	ASSERT_EQ(0, mbox_close_id(self->fd, rid));
	ASSERT_EQ(0, mbox_open_id(self->fd, rid, MBOX_OPEN_RECV));
	mbox_call_init(&c, MBOX_ADDR_MAILBOX, rid, "x", 1, reply, sizeof(reply),
		       MBOX_NONBLOCK);
	EXPECT_EQ(-EBADF, mbox_call_ex(self->fd, &c));
	c.to = rid + 1000;
	EXPECT_EQ(-EBADF, mbox_call_ex(self->fd, &c));
	mbox_call_init(&c, MBOX_ADDR_MAILBOX, id, buf, 17, reply, sizeof(reply),
		       MBOX_DEADLINE);
	c.deadline_ns = mbox_deadline_ms(FAR_MS);
	EXPECT_EQ(-EMSGSIZE, mbox_call_ex(self->fd, &c));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));

	/*
	 * An unreadable request: EFAULT, and nothing sent, even to a
	 * receiver that waits.
	 */
	mbox_recv_init(&r, id, buf, sizeof(buf), 0);
	ASSERT_EQ(0, mbox_bg_start(&rbg, self->fd, MBOX_IOC_RECV, &r));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&rbg));
	mbox_call_init(&c, MBOX_ADDR_MAILBOX, id, bad, 8, reply, sizeof(reply),
		       MBOX_DEADLINE);
	c.deadline_ns = mbox_deadline_ms(FAR_MS);
	EXPECT_EQ(-EFAULT, mbox_call_ex(self->fd, &c));
	c.flags = MBOX_NONBLOCK;
	EXPECT_EQ(-EFAULT, mbox_call_ex(self->fd, &c));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&rbg));
	EXPECT_FALSE(mbox_bg_done(&rbg));
	ASSERT_EQ(0, mbox_send(self->fd, id, "stop", 4, 0, 0));
	EXPECT_EQ(0, mbox_bg_join(&rbg));
	EXPECT_EQ(4, r.len);
	EXPECT_EQ(0, memcmp(buf, "stop", 4));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
	EXPECT_EQ(0, mbox_destroy(self->fd, rid));
	munmap(bad, 4096);
}

TEST_F(call, reply_einval_efault_token_stays_good)
{
	const __u32 bad_flags[] = { 1U << 0, 1U << 1, 1U << 3, 1U << 31 };
	struct reply_big big;
	struct mbox_reply rp;
	struct mbox_recv r;
	struct raw_caller k;
	unsigned int i;
	__u64 token;
	void *bad;
	__u32 id;

	bad = mbox_fault_ptr();
	ASSERT_NE(NULL, bad);
	ASSERT_EQ(0, raw_make_box(self->fd, 4, &id));
	ASSERT_EQ(0, raw_caller_start(&k, self->fd, id, "req"));
	ASSERT_TRUE(raw_recv_call_is(self->fd, id, "req", &token));

	for (i = 0; i < MBOX_ARRAY_SIZE(bad_flags); i++) {
		mbox_reply_init(&rp, token, "x", 1);
		rp.flags = bad_flags[i];
		EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, MBOX_IOC_REPLY, &rp));
	}
	mbox_reply_init(&rp, token, "x", 1);
	rp.__reserved = 1;
	EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, MBOX_IOC_REPLY, &rp));
	/* MBOX_REPLY_RECV and recv go together. */
	mbox_reply_init(&rp, token, "x", 1);
	rp.flags = MBOX_REPLY_RECV;
	EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, MBOX_IOC_REPLY, &rp));
	mbox_recv_init(&r, id, NULL, 0, MBOX_NONBLOCK);
	mbox_reply_init(&rp, token, "x", 1);
	rp.recv = mbox_ptr(&r);
	EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, MBOX_IOC_REPLY, &rp));
	mbox_reply_init(&rp, token, "x", 1);
	rp.size = offsetof(struct mbox_reply, recv);
	EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, MBOX_IOC_REPLY, &rp));
	memset(&big, 0, sizeof(big));
	mbox_reply_init(&big.r, token, "x", 1);
	big.r.size = sizeof(big);
	big.extra = 1;
	EXPECT_EQ(-E2BIG, mbox_ioctl(self->fd, MBOX_IOC_REPLY, &big.r));
	/* Unreadable struct, unreadable reply. */
	EXPECT_EQ(-EFAULT, mbox_ioctl(self->fd, MBOX_IOC_REPLY, bad));
	EXPECT_EQ(-EFAULT, mbox_ioctl(self->fd, MBOX_IOC_REPLY, NULL));
	EXPECT_EQ(-EFAULT, mbox_reply(self->fd, token, bad, 4));
	EXPECT_EQ(-EFAULT, mbox_reply(self->fd, token, NULL, 4));

	/* None of it answered the call, nor used the token up. */
	ASSERT_EQ(0, mbox_bg_wait_blocked(&k.bg));
	EXPECT_FALSE(mbox_bg_done(&k.bg));
	big.extra = 0;
	big.r.buf = mbox_ptr("good");
	big.r.len = 4;
	EXPECT_EQ(0, mbox_ioctl(self->fd, MBOX_IOC_REPLY, &big.r));
	EXPECT_EQ(0, mbox_bg_join(&k.bg));
	EXPECT_TRUE(raw_caller_got(&k, "good"));
	munmap(bad, 4096);
}

TEST_F(call, caller_reply_buffer_unwritable_efault)
{
	char reqbuf[8] = "req";
	struct mbox_call c;
	struct mbox_bg bg;
	__u64 token;
	void *bad;
	__u32 id;

	bad = mbox_fault_ptr();
	ASSERT_NE(NULL, bad);
	ASSERT_EQ(0, raw_make_box(self->fd, 4, &id));
	mbox_call_init(&c, MBOX_ADDR_MAILBOX, id, reqbuf, 3, bad, 16, 0);
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_CALL, &c));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	ASSERT_TRUE(raw_recv_call_is(self->fd, id, "req", &token));
	/* The reply is delivered; the caller cannot take it: lost. */
	EXPECT_EQ(0, mbox_reply(self->fd, token, "lost", 4));
	EXPECT_EQ(-EFAULT, mbox_bg_join(&bg));
	EXPECT_EQ(-ENOENT, mbox_reply(self->fd, token, "lost", 4));
	munmap(bad, 4096);
}

TEST_F(call, server_receive_fails_no_token_call_stays)
{
	struct mbox_recv r;
	struct raw_caller k;
	char buf[64];
	__u64 token;
	void *bad;
	__u32 id;

	bad = mbox_fault_ptr();
	ASSERT_NE(NULL, bad);
	ASSERT_EQ(0, raw_make_box(self->fd, 4, &id));
	ASSERT_EQ(0, raw_caller_start(&k, self->fd, id, "request"));

	/* Unwritable buffer: EFAULT, the request stays queued. */
	mbox_recv_init(&r, id, bad, sizeof(buf), MBOX_NONBLOCK);
	EXPECT_EQ(-EFAULT, mbox_recv_ex(self->fd, &r));
	/* Too small: EMSGSIZE with the length, no token, still queued. */
	mbox_recv_init(&r, id, buf, 3, MBOX_NONBLOCK);
	EXPECT_EQ(-EMSGSIZE, mbox_recv_ex(self->fd, &r));
	EXPECT_EQ(7, r.len);
	EXPECT_EQ(0, r.token);
	ASSERT_EQ(0, mbox_bg_wait_blocked(&k.bg));
	EXPECT_FALSE(mbox_bg_done(&k.bg));

	/* No token was handed out: the first one is the good one. */
	ASSERT_TRUE(raw_recv_call_is(self->fd, id, "request", &token));
	EXPECT_EQ(0, mbox_reply(self->fd, token, "answer", 6));
	EXPECT_EQ(0, mbox_bg_join(&k.bg));
	EXPECT_TRUE(raw_caller_got(&k, "answer"));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
	munmap(bad, 4096);
}

TEST_HARNESS_MAIN
