// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests of libmbox (userspace/include/mbox.h), written on the library
 * only: every public function, on success and on its documented
 * failures, and the conventions of the header:
 *
 *  - a failure returns -errno and leaves errno alone (every failing call
 *    here runs with errno set to a sentinel, checked afterwards), and
 *    changes nothing;
 *  - MBOX_DEVICE names the device; mbox_attr_init() gives the defaults;
 *    NULL arguments are -EINVAL;
 *  - timeouts: MBOX_NOWAIT, a relative timeout, MBOX_ABSTIME and
 *    MBOX_FOREVER, and the kernel's own blocking bits refused;
 *  - the library's size_t lengths against the ABI's 32-bit ones.
 *
 * The raw ABI under the library has its own suites (version, mailbox,
 * msgq, direct, stat, and the raw half of call_test).  The batch
 * functions of libmbox 1.1 are batch_test's (its libbatch tests), but
 * for their NULL endpoint here.  Whether a task is
 * blocked is read from /proc, never guessed with a sleep, and no test
 * puts an upper bound on how long anything took.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "libmbox_util.h"
#include "kselftest_harness.h"

/* errno before every call that must fail: it must still be there after. */
#define ERRNO_SENTINEL		4242

/* A libmbox call that must return -err and leave errno alone. */
#define EXPECT_ERR(err, call) do {					\
		int __ret, __errno;					\
		errno = ERRNO_SENTINEL;					\
		__ret = (call);						\
		__errno = errno;					\
		EXPECT_EQ(-(err), __ret);				\
		EXPECT_EQ(ERRNO_SENTINEL, __errno);			\
	} while (0)

/* The same in a child, which may not EXPECT: return code if it fails. */
#define CHILD_ERR(code, err, call) do {					\
		int __ret;						\
		errno = ERRNO_SENTINEL;					\
		__ret = (call);						\
		if (__ret != -(err) || errno != ERRNO_SENTINEL)		\
			return (code);					\
	} while (0)

#define CHILD_OK(code, call) do {					\
		if ((call) != 0)					\
			return (code);					\
	} while (0)

/* Long enough never to matter, short enough that nothing hangs for good. */
#define FAR			MBOX_MS(2 * MBOX_WAIT_MS)

/* A pid that cannot exist: above PID_MAX_LIMIT. */
#define NO_SUCH_PID		0x7ffffff0

#define ALL_FEATURES	(MBOX_FEATURE_VERSION | MBOX_FEATURE_MAILBOX |	\
			 MBOX_FEATURE_DIRECT | MBOX_FEATURE_CALL |	\
			 MBOX_FEATURE_STAT)

/* The fixtures' endpoint: 0, -ENOENT (no module), -EOPNOTSUPP, -errno. */
static int fixture_open(struct mbox_endpoint **ep)
{
	uint64_t features = 0;
	int ret;

	*ep = NULL;
	ret = mbox_endpoint_open(ep);
	if (!ret)
		ret = mbox_endpoint_query(*ep, NULL, NULL, &features);
	if (!ret && (features & ALL_FEATURES) != ALL_FEATURES)
		ret = -EOPNOTSUPP;
	return ret;
}

FIXTURE(libmbox) {
	struct mbox_endpoint *ep;
	struct mbox_cleanup cl;
};

FIXTURE_SETUP(libmbox)
{
	int ret = fixture_open(&self->ep);

	if (ret == -ENOENT)
		SKIP(return, "/dev/mbox is absent: the mbox module is not loaded");
	if (ret == -EOPNOTSUPP)
		SKIP(return, "the loaded module lacks features libmbox 1.0 wraps");
	ASSERT_EQ(0, ret);
}

FIXTURE_TEARDOWN(libmbox)
{
	lib_cleanup_run(&self->cl);
	mbox_endpoint_close(self->ep);
}

/* ---- operations run in a thread (mbox_bg) -------------------------------- */

struct recv_op {
	struct mbox_endpoint *ep;
	uint32_t id;
	uint32_t flags;
	int64_t timeout;
	struct mbox_msg m;
	char buf[64];
};

static int recv_op_fn(void *arg)
{
	struct recv_op *op = arg;

	return mbox_mailbox_receive(op->ep, op->id, &op->m, op->flags,
				    op->timeout);
}

static void recv_op_init(struct recv_op *op, struct mbox_endpoint *ep,
			 uint32_t id, int64_t timeout)
{
	memset(op, 0, sizeof(*op));
	op->ep = ep;
	op->id = id;
	op->timeout = timeout;
	op->m = lib_msg(op->buf, sizeof(op->buf));
}

struct send_op {
	struct mbox_endpoint *ep;
	uint32_t id;
	uint32_t flags;
	int64_t timeout;
	struct mbox_msg m;
};

static int send_op_fn(void *arg)
{
	struct send_op *op = arg;

	return mbox_mailbox_send(op->ep, op->id, &op->m, op->flags,
				 op->timeout);
}

/* A call of a mailbox; the reply buffer starts as '#'s. */
struct call_op {
	struct mbox_endpoint *ep;
	uint32_t id;
	struct mbox_msg req, rep;
	char reqbuf[64];
	char repbuf[64];
};

static int call_op_fn(void *arg)
{
	struct call_op *op = arg;

	return mbox_mailbox_call(op->ep, op->id, &op->req, &op->rep, 0, FAR);
}

static void call_op_init(struct call_op *op, struct mbox_endpoint *ep,
			 uint32_t id, const char *req, size_t rep_len)
{
	memset(op, 0, sizeof(*op));
	op->ep = ep;
	op->id = id;
	snprintf(op->reqbuf, sizeof(op->reqbuf), "%s", req);
	memset(op->repbuf, '#', sizeof(op->repbuf));
	op->req = lib_msg(op->reqbuf, strlen(op->reqbuf));
	op->rep = lib_msg(op->repbuf, rep_len);
}

/* Receive the request of a call on mailbox id: its token, or 0. */
static uint64_t recv_call(struct mbox_endpoint *ep, uint32_t id,
			  const char *req)
{
	char buf[64];
	struct mbox_msg m = lib_msg(buf, sizeof(buf));

	if (mbox_mailbox_receive(ep, id, &m, 0, FAR))
		return 0;
	if (m.len != strlen(req) || memcmp(buf, req, m.len) ||
	    m.flags != (MBOX_MSG_CALL | MBOX_MSG_SYNC))
		return 0;
	return m.token;
}

/* ---- children that send, then stay alive until released ----------------- */

/*
 * A child that opens an endpoint, sends text to mailbox id (or, if id is
 * 0, to process to, by pidfd if pidfd), reports the send's result on the
 * ready pipe, and lives on until the go pipe is closed, so that its pid
 * keeps naming it while the test looks at what it sent.
 */
struct sender {
	uint32_t id;
	pid_t to;
	bool pidfd;
	char text[32];
	uint32_t priority;
	int ready_w;
	int go_r, go_w;
};

static int sender_child(void *arg)
{
	struct sender *s = arg;
	struct mbox_msg m = lib_msg(s->text, strlen(s->text));
	struct mbox_endpoint *ep = NULL;
	int ret, fd;
	char c;

	close(s->go_w);
	m.priority = s->priority;
	ret = mbox_endpoint_open(&ep);
	if (!ret && s->id) {
		ret = mbox_mailbox_open_id(ep, s->id, MBOX_OPEN_SEND);
		if (!ret)
			ret = mbox_mailbox_send(ep, s->id, &m, 0, FAR);
	} else if (!ret && s->pidfd) {
		fd = mbox_pidfd_open(s->to);
		ret = fd < 0 ? fd : mbox_process_send(ep, fd, &m, MBOX_PIDFD,
						      FAR);
	} else if (!ret) {
		ret = mbox_process_send(ep, s->to, &m, 0, FAR);
	}
	mbox_pipe_write_byte(s->ready_w, ret);
	while (read(s->go_r, &c, 1) < 0 && errno == EINTR)
		;
	mbox_endpoint_close(ep);
	return 0;
}

struct senders {
	int ready[2];
	int go[2];
};

static int senders_init(struct senders *ss)
{
	if (pipe(ss->ready))
		return -errno;
	if (pipe(ss->go))
		return -errno;
	return 0;
}

/*
 * Start a sender as uid/gid ((uid_t)-1: as the test), wait for its send:
 * the send's 0 or errno (positive), or -errno if the child did not start.
 */
static int sender_start(struct senders *ss, struct mbox_cleanup *cl,
			struct sender *s, uid_t uid, gid_t gid, pid_t *pid)
{
	s->ready_w = ss->ready[1];
	s->go_r = ss->go[0];
	s->go_w = ss->go[1];
	*pid = mbox_spawn_as(uid, gid, sender_child, s);
	if (*pid < 0)
		return *pid;
	mbox_track_pid(cl, *pid);
	return mbox_pipe_read_byte(ss->ready[0], MBOX_WAIT_MS);
}

/* Let the senders exit. */
static void senders_release(struct senders *ss)
{
	close(ss->go[1]);
	close(ss->go[0]);
	close(ss->ready[0]);
	close(ss->ready[1]);
}

/* ---- endpoints ---------------------------------------------------------- */

TEST_F(libmbox, endpoint_open_query_close)
{
	uint32_t major = 0, minor = 0;
	struct mbox_endpoint *ep = NULL;
	uint64_t features = 0;
	int fd;

	errno = ERRNO_SENTINEL;
	ASSERT_EQ(0, mbox_endpoint_open(&ep));
	ASSERT_NE(NULL, ep);
	fd = mbox_endpoint_fd(ep);
	EXPECT_LE(0, fd);
	EXPECT_NE(mbox_endpoint_fd(self->ep), fd);
	/* The library's fds do not leak into exec'd programs. */
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	errno = ERRNO_SENTINEL;
	EXPECT_EQ(0, mbox_endpoint_query(ep, &major, &minor, &features));
	EXPECT_EQ(MBOX_ABI_MAJOR, major);
	EXPECT_LE(MBOX_ABI_MINOR, minor);
	EXPECT_EQ(ALL_FEATURES, features & ALL_FEATURES);
	/* Every output is optional. */
	EXPECT_EQ(0, mbox_endpoint_query(ep, NULL, NULL, NULL));
	EXPECT_EQ(0, mbox_endpoint_close(ep));
	/* Successes leave errno alone too. */
	EXPECT_EQ(ERRNO_SENTINEL, errno);
	/* The fd went with the endpoint. */
	EXPECT_EQ(-1, fcntl(fd, F_GETFD));
	/* Closing no endpoint is nothing, as free(NULL) is. */
	EXPECT_EQ(0, mbox_endpoint_close(NULL));
}

TEST_F(libmbox, endpoint_fd_polls_readable_when_a_message_waits)
{
	int fd = mbox_endpoint_fd(self->ep);
	uint32_t id;

	ASSERT_EQ(0, lib_create(self->ep, NULL, 0, 2, 0600, &id));
	EXPECT_EQ(POLLOUT, poll_now(fd, POLLIN | POLLOUT));
	ASSERT_EQ(0, lib_send_str(self->ep, id, "ready", 0, MBOX_NOWAIT));
	EXPECT_EQ(POLLIN | POLLOUT, poll_now(fd, POLLIN | POLLOUT));
	ASSERT_TRUE(lib_recv_is(self->ep, id, "ready"));
	EXPECT_EQ(0, poll_now(fd, POLLIN));
}

TEST_F(libmbox, device_env_missing_path_enoent)
{
	struct mbox_endpoint *ep, *untouched = (struct mbox_endpoint *)&ep;

	ep = untouched;
	ASSERT_EQ(0, setenv("MBOX_DEVICE", "/nonexistent/mbox", 1));
	EXPECT_ERR(ENOENT, mbox_endpoint_open(&ep));
	EXPECT_EQ(untouched, ep);

	/* The default path, named explicitly. */
	ASSERT_EQ(0, setenv("MBOX_DEVICE", "/dev/mbox", 1));
	ASSERT_EQ(0, mbox_endpoint_open(&ep));
	EXPECT_EQ(0, mbox_endpoint_query(ep, NULL, NULL, NULL));
	EXPECT_EQ(0, mbox_endpoint_close(ep));
	ASSERT_EQ(0, unsetenv("MBOX_DEVICE"));
}

TEST_F(libmbox, device_env_not_an_mbox_device_enotty)
{
	struct mbox_endpoint *ep = NULL;
	uint32_t id = 0;

	/* Any file opens; its ioctls are not mbox's. */
	ASSERT_EQ(0, setenv("MBOX_DEVICE", "/dev/null", 1));
	ASSERT_EQ(0, mbox_endpoint_open(&ep));
	EXPECT_ERR(ENOTTY, mbox_endpoint_query(ep, NULL, NULL, NULL));
	EXPECT_ERR(ENOTTY, mbox_mailbox_create(ep, NULL, NULL, &id));
	EXPECT_EQ(0, id);
	EXPECT_EQ(0, mbox_endpoint_close(ep));
	ASSERT_EQ(0, unsetenv("MBOX_DEVICE"));
}

TEST_F(libmbox, null_endpoint_einval)
{
	struct mbox_process_info pinfo;
	struct mbox_msg m = lib_msg("x", 1), rep = lib_msg(NULL, 0);
	struct mbox_info info;
	uint32_t id = 0;

	EXPECT_ERR(EINVAL, mbox_endpoint_open(NULL));
	EXPECT_ERR(EINVAL, mbox_endpoint_fd(NULL));
	EXPECT_ERR(EINVAL, mbox_endpoint_query(NULL, NULL, NULL, NULL));
	EXPECT_ERR(EINVAL, mbox_mailbox_create(NULL, NULL, NULL, &id));
	EXPECT_ERR(EINVAL, mbox_mailbox_open(NULL, "/x", MBOX_OPEN_SEND, &id));
	EXPECT_ERR(EINVAL, mbox_mailbox_open_id(NULL, 1, MBOX_OPEN_SEND));
	EXPECT_ERR(EINVAL, mbox_mailbox_close(NULL, 1));
	EXPECT_ERR(EINVAL, mbox_mailbox_destroy(NULL, 1));
	EXPECT_ERR(EINVAL, mbox_mailbox_chown(NULL, 1, 0, 0));
	EXPECT_ERR(EINVAL, mbox_mailbox_chmod(NULL, 1, 0600));
	EXPECT_ERR(EINVAL, mbox_mailbox_stat(NULL, 1, &info));
	EXPECT_ERR(EINVAL, mbox_mailbox_next(NULL, 1, &info));
	EXPECT_ERR(EINVAL, mbox_mailbox_send(NULL, 1, &m, 0, MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_mailbox_receive(NULL, 1, &m, 0, MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_mailbox_call(NULL, 1, &m, &rep, 0,
					     MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_mailbox_reply_receive(NULL, 1, "x", 1, 1, &m,
						      0, MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_process_enable(NULL, NULL, 0));
	EXPECT_ERR(EINVAL, mbox_process_disable(NULL));
	EXPECT_ERR(EINVAL, mbox_process_query(NULL, &pinfo));
	EXPECT_ERR(EINVAL, mbox_process_send(NULL, getpid(), &m, 0,
					     MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_process_receive(NULL, 0, &m, 0, MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_process_call(NULL, getpid(), &m, &rep, 0,
					     MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_process_reply_receive(NULL, 1, "x", 1, 0, &m,
						      0, MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_call_reply(NULL, 1, "x", 1));
	/* libmbox 1.1 */
	EXPECT_ERR(EINVAL, mbox_mailbox_send_batch(NULL, 1, &m, 1, 0,
						   MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_mailbox_receive_batch(NULL, 1, &m, 1, 0,
						      MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_process_send_batch(NULL, getpid(), &m, 1, 0,
						   MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_process_receive_batch(NULL, 0, &m, 1, 0,
						      MBOX_NOWAIT));
	EXPECT_EQ(0, id);
}

TEST_F(libmbox, null_arguments_einval)
{
	struct mbox_msg m, rep = lib_msg(NULL, 0);
	struct call_op k;
	struct mbox_bg bg;
	uint64_t token;
	uint32_t id;

	ASSERT_EQ(0, lib_create(self->ep, NULL, 0, 4, 0600, &id));
	EXPECT_ERR(EINVAL, mbox_mailbox_create(self->ep, NULL, NULL, NULL));
	EXPECT_ERR(EINVAL, mbox_mailbox_open(self->ep, NULL, MBOX_OPEN_SEND,
					     &id));
	EXPECT_ERR(EINVAL, mbox_mailbox_stat(self->ep, id, NULL));
	EXPECT_ERR(EINVAL, mbox_mailbox_next(self->ep, 1, NULL));
	EXPECT_ERR(EINVAL, mbox_process_query(self->ep, NULL));

	/* No message, or a length without a buffer: nothing sent. */
	EXPECT_ERR(EINVAL, mbox_mailbox_send(self->ep, id, NULL, 0,
					     MBOX_NOWAIT));
	m = lib_msg(NULL, 1);
	EXPECT_ERR(EINVAL, mbox_mailbox_send(self->ep, id, &m, 0, MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_mailbox_call(self->ep, id, NULL, &rep, 0,
					     MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_mailbox_call(self->ep, id, &rep, NULL, 0,
					     MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_mailbox_call(self->ep, id, &m, &rep, 0,
					     MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_mailbox_call(self->ep, id, &rep, &m, 0,
					     MBOX_NOWAIT));
	EXPECT_TRUE(lib_queue_empty(self->ep, id));

	/* Nor is anything taken. */
	ASSERT_EQ(0, lib_send_str(self->ep, id, "stays", 0, MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_mailbox_receive(self->ep, id, NULL, 0,
						MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_mailbox_receive(self->ep, id, &m, 0,
						MBOX_NOWAIT));
	EXPECT_TRUE(lib_recv_is(self->ep, id, "stays"));

	/* Replies: nothing is answered. */
	call_op_init(&k, self->ep, id, "req", 8);
	ASSERT_EQ(0, mbox_bg_run(&bg, call_op_fn, &k));
	token = recv_call(self->ep, id, "req");
	ASSERT_NE(0, token);
	EXPECT_ERR(EINVAL, mbox_call_reply(self->ep, token, NULL, 1));
	EXPECT_ERR(EINVAL, mbox_mailbox_reply_receive(self->ep, token, "r", 1,
						      id, NULL, 0,
						      MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_mailbox_reply_receive(self->ep, token, NULL, 1,
						      id, &rep, 0,
						      MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_process_reply_receive(self->ep, token, "r", 1,
						      0, NULL, 0,
						      MBOX_NOWAIT));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	EXPECT_EQ(0, mbox_call_reply(self->ep, token, "answer", 6));
	EXPECT_EQ(0, mbox_bg_join(&bg));
	EXPECT_EQ(6, k.rep.len);
	EXPECT_EQ(0, memcmp(k.repbuf, "answer", 6));
}

/* ---- attributes and create ---------------------------------------------- */

TEST_F(libmbox, attr_init_defaults_process_owned_shared_0600)
{
	struct mbox_endpoint *ep2;
	struct mbox_info info;
	struct mbox_attr a;
	unsigned int i;
	uint32_t id;

	memset(&a, 0xa5, sizeof(a));
	mbox_attr_init(&a);
	EXPECT_EQ(16, a.capacity);
	EXPECT_EQ(0, a.max_msg_size);
	EXPECT_EQ(0, a.max_bytes);
	EXPECT_EQ(0, a.msg_size);
	EXPECT_EQ(0600, a.mode);
	EXPECT_EQ(MBOX_POLICY_SHARED, a.policy);
	EXPECT_EQ(0, a.flags);
	for (i = 0; i < MBOX_ARRAY_SIZE(a.reserved); i++)
		EXPECT_EQ(0, a.reserved[i]);

	/* What the kernel makes of them. */
	ASSERT_EQ(0, mbox_endpoint_open(&ep2));
	ASSERT_EQ(0, mbox_mailbox_create(ep2, NULL, &a, &id));
	ASSERT_EQ(0, mbox_mailbox_stat(self->ep, id, &info));
	EXPECT_EQ(id, info.id);
	EXPECT_EQ(16, info.capacity);
	EXPECT_EQ(0600, info.mode);
	EXPECT_EQ(MBOX_POLICY_SHARED, info.policy);
	EXPECT_EQ(0, info.flags);
	EXPECT_EQ(0, info.msg_size);
	EXPECT_LT(0, info.max_msg_size);
	EXPECT_EQ(16ULL * info.max_msg_size, info.max_bytes);
	EXPECT_EQ(geteuid(), info.uid);
	EXPECT_EQ(getegid(), info.gid);

	/* Process-owned: its creator alone receives, and takes it along. */
	EXPECT_ERR(EPERM, mbox_mailbox_open_id(self->ep, id, MBOX_OPEN_RECV));
	ASSERT_EQ(0, mbox_mailbox_open_id(self->ep, id, MBOX_OPEN_SEND));
	ASSERT_EQ(0, lib_send_str(self->ep, id, "m", 0, MBOX_NOWAIT));
	EXPECT_TRUE(lib_recv_is(ep2, id, "m"));
	EXPECT_EQ(0, mbox_endpoint_close(ep2));
	EXPECT_ERR(EIDRM, lib_send_str(self->ep, id, "m", 0, MBOX_NOWAIT));
	EXPECT_ERR(ENOENT, mbox_mailbox_stat(self->ep, id, &info));
}

TEST_F(libmbox, create_without_attr_takes_the_defaults)
{
	struct mbox_info info;
	char name[64];
	uint32_t id;

	mbox_test_name(name, sizeof(name), "defaults");
	errno = ERRNO_SENTINEL;
	ASSERT_EQ(0, mbox_mailbox_create(self->ep, name, NULL, &id));
	EXPECT_EQ(ERRNO_SENTINEL, errno);
	ASSERT_EQ(0, mbox_mailbox_stat(self->ep, id, &info));
	EXPECT_STREQ(name, info.name);
	EXPECT_EQ(16, info.capacity);
	EXPECT_EQ(0600, info.mode);
	EXPECT_EQ(MBOX_POLICY_SHARED, info.policy);
	EXPECT_EQ(0, info.flags);
	EXPECT_EQ(1, info.nr_open);
	/* The creator has it open both ways. */
	ASSERT_EQ(0, lib_send_str(self->ep, id, "both", 0, MBOX_NOWAIT));
	EXPECT_TRUE(lib_recv_is(self->ep, id, "both"));
}

TEST_F(libmbox, create_errors_change_nothing)
{
	const uint32_t untouched = 0xdeadbeef;
	char name[64], longname[MBOX_NAME_MAX + 2];
	struct mbox_info info;
	struct mbox_attr a;
	uint32_t id, first;

	mbox_test_name(name, sizeof(name), "taken");
	ASSERT_EQ(0, mbox_mailbox_create(self->ep, name, NULL, &first));

	id = untouched;
	mbox_attr_init(&a);
	a.reserved[3] = 1;
	EXPECT_ERR(EINVAL, mbox_mailbox_create(self->ep, NULL, &a, &id));
	mbox_attr_init(&a);
	a.mode = 0777;
	EXPECT_ERR(EINVAL, mbox_mailbox_create(self->ep, NULL, &a, &id));
	mbox_attr_init(&a);
	a.policy = MBOX_POLICY_PAIR + 1;
	EXPECT_ERR(EINVAL, mbox_mailbox_create(self->ep, NULL, &a, &id));
	mbox_attr_init(&a);
	a.flags = 1U << 5;
	EXPECT_ERR(EINVAL, mbox_mailbox_create(self->ep, NULL, &a, &id));
	EXPECT_ERR(EINVAL, mbox_mailbox_create(self->ep, "no-slash", NULL,
					       &id));
	EXPECT_ERR(EINVAL, mbox_mailbox_create(self->ep, "", NULL, &id));
	EXPECT_ERR(EINVAL, mbox_mailbox_create(self->ep, "/a space", NULL,
					       &id));
	memset(longname, 'n', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	EXPECT_ERR(ENAMETOOLONG, mbox_mailbox_create(self->ep, longname, NULL,
						     &id));
	EXPECT_ERR(EEXIST, mbox_mailbox_create(self->ep, name, NULL, &id));
	EXPECT_EQ(untouched, id);

	/* The name still names the first one, and it is as it was. */
	ASSERT_EQ(0, mbox_mailbox_stat(self->ep, first, &info));
	EXPECT_STREQ(name, info.name);
	EXPECT_EQ(1, info.nr_open);
}

/* ---- open, close, destroy ----------------------------------------------- */

TEST_F(libmbox, open_by_name_and_by_id)
{
	struct mbox_endpoint *ep2, *ep3, *ep4;
	uint32_t id, got = 0;
	char name[64];

	mbox_test_name(name, sizeof(name), "open");
	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, name, 4, 0600,
				       &id));
	ASSERT_EQ(0, mbox_endpoint_open(&ep2));
	ASSERT_EQ(0, mbox_endpoint_open(&ep3));
	ASSERT_EQ(0, mbox_endpoint_open(&ep4));

	errno = ERRNO_SENTINEL;
	EXPECT_EQ(0, mbox_mailbox_open(ep2, name, MBOX_OPEN_SEND, &got));
	EXPECT_EQ(ERRNO_SENTINEL, errno);
	EXPECT_EQ(id, got);
	/* The id is an optional output. */
	EXPECT_EQ(0, mbox_mailbox_open(ep3, name, MBOX_OPEN_RECV, NULL));
	EXPECT_EQ(0, mbox_mailbox_open_id(ep4, id,
					  MBOX_OPEN_SEND | MBOX_OPEN_RECV));

	ASSERT_EQ(0, lib_send_str(ep2, id, "2 to 3", 0, MBOX_NOWAIT));
	EXPECT_TRUE(lib_recv_is(ep3, id, "2 to 3"));
	ASSERT_EQ(0, lib_send_str(ep4, id, "4 to 4", 0, MBOX_NOWAIT));
	EXPECT_TRUE(lib_recv_is(ep4, id, "4 to 4"));
	/* Only the rights asked for. */
	EXPECT_ERR(EBADF, lib_send_str(ep3, id, "no", 0, MBOX_NOWAIT));
	EXPECT_FALSE(lib_recv_is(ep2, id, "no"));
	mbox_endpoint_close(ep4);
	mbox_endpoint_close(ep3);
	mbox_endpoint_close(ep2);
}

TEST_F(libmbox, open_errors)
{
	struct mbox_endpoint *ep2, *ep3;
	uint32_t id, owned, excl, gone, got = 0;
	char name[64], missing[64];
	struct mbox_attr a;

	mbox_test_name(name, sizeof(name), "errors");
	mbox_test_name(missing, sizeof(missing), "missing");
	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, name, 4, 0600,
				       &id));
	ASSERT_EQ(0, mbox_endpoint_open(&ep2));
	ASSERT_EQ(0, mbox_endpoint_open(&ep3));

	EXPECT_ERR(ENOENT, mbox_mailbox_open(ep2, missing, MBOX_OPEN_SEND,
					     &got));
	EXPECT_ERR(ENOENT, mbox_mailbox_open_id(ep2, UINT32_MAX,
						MBOX_OPEN_SEND));
	EXPECT_ERR(EINVAL, mbox_mailbox_open(ep2, "bad name", MBOX_OPEN_SEND,
					     &got));
	/* No right asked, or one that does not exist. */
	EXPECT_ERR(EINVAL, mbox_mailbox_open_id(ep2, id, 0));
	EXPECT_ERR(EINVAL, mbox_mailbox_open_id(ep2, id, 1U << 5));
	/* Open already, by name or id. */
	EXPECT_ERR(EEXIST, mbox_mailbox_open(self->ep, name, MBOX_OPEN_SEND,
					     &got));
	EXPECT_ERR(EEXIST, mbox_mailbox_open_id(self->ep, id, MBOX_OPEN_RECV));
	EXPECT_EQ(0, got);

	/* Receiving from a process-owned mailbox is its creator's. */
	ASSERT_EQ(0, lib_create(ep3, NULL, 0, 4, 0666, &owned));
	EXPECT_ERR(EPERM, mbox_mailbox_open_id(ep2, owned, MBOX_OPEN_RECV));
	EXPECT_EQ(0, mbox_mailbox_open_id(ep2, owned, MBOX_OPEN_SEND));

	/* One receiver at a time on an exclusive one. */
	mbox_attr_init(&a);
	a.flags = MBOX_CREATE_SYSTEM;
	a.policy = MBOX_POLICY_EXCLUSIVE;
	ASSERT_EQ(0, mbox_mailbox_create(self->ep, NULL, &a, &excl));
	mbox_track_id(&self->cl, excl);
	EXPECT_ERR(EBUSY, mbox_mailbox_open_id(ep2, excl, MBOX_OPEN_RECV));
	EXPECT_EQ(0, mbox_mailbox_open_id(ep2, excl, MBOX_OPEN_SEND));

	/* Destroyed. */
	ASSERT_EQ(0, lib_create(self->ep, NULL, MBOX_CREATE_SYSTEM, 1, 0600,
				&gone));
	ASSERT_EQ(0, mbox_mailbox_destroy(self->ep, gone));
	EXPECT_ERR(ENOENT, mbox_mailbox_open_id(ep2, gone, MBOX_OPEN_SEND));
	mbox_endpoint_close(ep3);
	mbox_endpoint_close(ep2);
}

struct two_boxes {
	char private_name[64];	/* mode 0600 */
	uint32_t private_id;
	uint32_t open_id;	/* mode 0622: others may send */
};

static int nobody_open_child(void *arg)
{
	struct two_boxes *b = arg;
	struct mbox_endpoint *ep;
	uint32_t got = 0;

	CHILD_OK(10, mbox_endpoint_open(&ep));
	CHILD_ERR(11, EACCES, mbox_mailbox_open(ep, b->private_name,
						MBOX_OPEN_SEND, &got));
	CHILD_ERR(12, EACCES, mbox_mailbox_open_id(ep, b->private_id,
						   MBOX_OPEN_RECV));
	if (got)
		return 13;
	CHILD_ERR(14, EACCES, mbox_mailbox_open_id(ep, b->open_id,
						   MBOX_OPEN_SEND |
						   MBOX_OPEN_RECV));
	CHILD_OK(15, mbox_mailbox_open_id(ep, b->open_id, MBOX_OPEN_SEND));
	CHILD_OK(16, lib_send_str(ep, b->open_id, "nobody", 0, MBOX_NOWAIT));
	/* Not the owner: may not destroy what it may use. */
	CHILD_ERR(17, EPERM, mbox_mailbox_destroy(ep, b->open_id));
	CHILD_OK(18, mbox_endpoint_close(ep));
	return 0;
}

TEST_F(libmbox, open_as_nobody_eacces)
{
	struct mbox_endpoint *ep2;
	struct two_boxes b;
	uint32_t got = 0;

	if (!mbox_is_root()) {
		/* Unprivileged, the test is the other user, of root's. */
		LIB_ROOT_MAILBOX(self->ep, &b.open_id);
		ASSERT_EQ(0, mbox_endpoint_open(&ep2));
		EXPECT_ERR(EACCES, mbox_mailbox_open(ep2, MBOX_ROOT_PRIVATE,
						     MBOX_OPEN_SEND, &got));
		EXPECT_EQ(0, got);
		EXPECT_ERR(EACCES, mbox_mailbox_open_id(ep2, b.open_id,
							MBOX_OPEN_SEND |
							MBOX_OPEN_RECV));
		EXPECT_EQ(0, mbox_mailbox_open_id(ep2, b.open_id,
						  MBOX_OPEN_SEND));
		/* Not the owner: may not destroy what it may use. */
		EXPECT_ERR(EPERM, mbox_mailbox_destroy(ep2, b.open_id));
		mbox_endpoint_close(ep2);
		return;
	}
	mbox_test_name(b.private_name, sizeof(b.private_name), "private");
	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, b.private_name, 4,
				       0600, &b.private_id));
	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, NULL, 4, 0622,
				       &b.open_id));
	EXPECT_EQ(0, mbox_run_as_nobody(nobody_open_child, &b));
	EXPECT_TRUE(lib_recv_is(self->ep, b.open_id, "nobody"));
}

TEST_F(libmbox, close_errors_and_effects)
{
	struct mbox_endpoint *ep2;
	struct mbox_info info;
	uint32_t id, owned;

	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, NULL, 4, 0600,
				       &id));
	ASSERT_EQ(0, mbox_endpoint_open(&ep2));
	ASSERT_EQ(0, mbox_mailbox_open_id(ep2, id,
					  MBOX_OPEN_SEND | MBOX_OPEN_RECV));
	ASSERT_EQ(0, lib_send_str(self->ep, id, "kept", 0, MBOX_NOWAIT));
	errno = ERRNO_SENTINEL;
	EXPECT_EQ(0, mbox_mailbox_close(ep2, id));
	EXPECT_EQ(ERRNO_SENTINEL, errno);
	EXPECT_ERR(EBADF, mbox_mailbox_close(ep2, id));
	EXPECT_ERR(EBADF, mbox_mailbox_close(ep2, UINT32_MAX));
	EXPECT_ERR(EBADF, lib_send_str(ep2, id, "no", 0, MBOX_NOWAIT));
	EXPECT_FALSE(lib_recv_is(ep2, id, "kept"));
	/* A system-owned mailbox outlives a close, with its messages. */
	EXPECT_TRUE(lib_recv_is(self->ep, id, "kept"));
	mbox_endpoint_close(ep2);

	/* Closing a process-owned one on its creator destroys it. */
	ASSERT_EQ(0, lib_create(self->ep, NULL, 0, 4, 0600, &owned));
	EXPECT_EQ(0, mbox_mailbox_close(self->ep, owned));
	EXPECT_ERR(ENOENT, mbox_mailbox_stat(self->ep, owned, &info));
}

TEST_F(libmbox, destroy_errors_and_effects)
{
	struct mbox_endpoint *ep2, *ep3;
	struct recv_op op;
	struct mbox_bg bg;
	uint32_t id, id2;

	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, NULL, 4, 0600,
				       &id));
	ASSERT_EQ(0, mbox_endpoint_open(&ep2));
	ASSERT_EQ(0, mbox_mailbox_open_id(ep2, id,
					  MBOX_OPEN_SEND | MBOX_OPEN_RECV));
	recv_op_init(&op, ep2, id, MBOX_FOREVER);
	ASSERT_EQ(0, mbox_bg_run(&bg, recv_op_fn, &op));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));

	errno = ERRNO_SENTINEL;
	EXPECT_EQ(0, mbox_mailbox_destroy(self->ep, id));
	EXPECT_EQ(ERRNO_SENTINEL, errno);
	/* The blocked receiver wakes, later uses fail, until a close. */
	EXPECT_EQ(-EIDRM, mbox_bg_join(&bg));
	EXPECT_ERR(EIDRM, lib_send_str(ep2, id, "late", 0, MBOX_NOWAIT));
	EXPECT_ERR(EIDRM, mbox_mailbox_receive(ep2, id, &op.m, 0,
					       MBOX_NOWAIT));
	EXPECT_ERR(ENOENT, mbox_mailbox_destroy(self->ep, id));
	EXPECT_ERR(ENOENT, mbox_mailbox_destroy(self->ep, UINT32_MAX));
	EXPECT_EQ(0, mbox_mailbox_close(ep2, id));
	EXPECT_ERR(EBADF, lib_send_str(ep2, id, "late", 0, MBOX_NOWAIT));
	mbox_endpoint_close(ep2);

	/* It need not be open on the destroying endpoint. */
	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, NULL, 4, 0600,
				       &id2));
	ASSERT_EQ(0, mbox_endpoint_open(&ep3));
	EXPECT_EQ(0, mbox_mailbox_destroy(ep3, id2));
	EXPECT_ERR(EIDRM, lib_send_str(self->ep, id2, "x", 0, MBOX_NOWAIT));
	mbox_endpoint_close(ep3);
}

/* ---- chown, chmod ------------------------------------------------------- */

TEST_F(libmbox, chown_both_unchanged_einval)
{
	struct mbox_info before, after;
	uint32_t id;

	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, NULL, 4, 0600,
				       &id));
	ASSERT_EQ(0, mbox_mailbox_stat(self->ep, id, &before));
	EXPECT_ERR(EINVAL, mbox_mailbox_chown(self->ep, id, (uid_t)-1,
					      (gid_t)-1));
	EXPECT_ERR(ENOENT, mbox_mailbox_chown(self->ep, UINT32_MAX, 0, 0));
	ASSERT_EQ(0, mbox_mailbox_stat(self->ep, id, &after));
	EXPECT_EQ(before.uid, after.uid);
	EXPECT_EQ(before.gid, after.gid);
	EXPECT_EQ(before.mode, after.mode);
}

/* The new owner, nobody, may receive (owner bits) and change the mode. */
static int new_owner_child(void *arg)
{
	uint32_t id = *(uint32_t *)arg;
	struct mbox_endpoint *ep;

	CHILD_OK(10, mbox_endpoint_open(&ep));
	CHILD_OK(11, mbox_mailbox_open_id(ep, id, MBOX_OPEN_RECV));
	if (!lib_recv_is(ep, id, "to nobody"))
		return 12;
	CHILD_OK(13, mbox_mailbox_chmod(ep, id, 0640));
	mbox_endpoint_close(ep);
	return 0;
}

TEST_F(libmbox, chown_changes_owner_and_group_in_stat)
{
	struct mbox_info info;
	uint32_t id;

	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, NULL, 4, 0600,
				       &id));
	errno = ERRNO_SENTINEL;
	EXPECT_EQ(0, mbox_mailbox_chown(self->ep, id, MBOX_NOBODY, (gid_t)-1));
	EXPECT_EQ(ERRNO_SENTINEL, errno);
	ASSERT_EQ(0, mbox_mailbox_stat(self->ep, id, &info));
	EXPECT_EQ(MBOX_NOBODY, info.uid);
	EXPECT_EQ(getegid(), info.gid);
	/* The creator stays the creator. */
	EXPECT_EQ(geteuid(), info.cuid);
	EXPECT_EQ(getegid(), info.cgid);

	EXPECT_EQ(0, mbox_mailbox_chown(self->ep, id, (uid_t)-1, MBOX_NOBODY));
	ASSERT_EQ(0, mbox_mailbox_stat(self->ep, id, &info));
	EXPECT_EQ(MBOX_NOBODY, info.uid);
	EXPECT_EQ(MBOX_NOBODY, info.gid);

	ASSERT_EQ(0, lib_send_str(self->ep, id, "to nobody", 0, MBOX_NOWAIT));
	/* As root, nobody; unprivileged, its creator still (cuid). */
	EXPECT_EQ(0, mbox_is_root() ?
		     mbox_run_as_nobody(new_owner_child, &id) :
		     mbox_run(new_owner_child, &id));
	ASSERT_EQ(0, mbox_mailbox_stat(self->ep, id, &info));
	EXPECT_EQ(0640, info.mode);
	EXPECT_EQ(0, info.nr_msgs);
}

static int nobody_send_child(void *arg)
{
	uint32_t id = *(uint32_t *)arg;
	struct mbox_endpoint *ep;
	int ret;

	CHILD_OK(10, mbox_endpoint_open(&ep));
	ret = mbox_mailbox_open_id(ep, id, MBOX_OPEN_SEND);
	if (ret == -EACCES)
		return 1;	/* the test's "may not" */
	if (ret)
		return 11;
	CHILD_ERR(12, EPERM, mbox_mailbox_chmod(ep, id, 0666));
	mbox_endpoint_close(ep);
	return 0;
}

TEST_F(libmbox, chmod_changes_mode_in_stat)
{
	bool root = mbox_is_root();
	struct mbox_endpoint *ep2;
	struct mbox_info info;
	uint32_t id;

	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, NULL, 4, 0600,
				       &id));
	/* Another user (root only: it takes a drop to nobody). */
	if (root) {
		EXPECT_EQ(1, mbox_run_as_nobody(nobody_send_child, &id));
	}
	errno = ERRNO_SENTINEL;
	EXPECT_EQ(0, mbox_mailbox_chmod(self->ep, id, 0642));
	EXPECT_EQ(ERRNO_SENTINEL, errno);
	ASSERT_EQ(0, mbox_mailbox_stat(self->ep, id, &info));
	EXPECT_EQ(0642, info.mode);
	if (root) {
		EXPECT_EQ(0, mbox_run_as_nobody(nobody_send_child, &id));
	}
	/* Unprivileged, the mode binds its owner too: 0242, no receiving. */
	if (!root) {
		ASSERT_EQ(0, mbox_endpoint_open(&ep2));
		EXPECT_EQ(0, mbox_mailbox_chmod(self->ep, id, 0242));
		EXPECT_ERR(EACCES, mbox_mailbox_open_id(ep2, id,
							MBOX_OPEN_RECV));
		EXPECT_EQ(0, mbox_mailbox_chmod(self->ep, id, 0642));
		EXPECT_EQ(0, mbox_mailbox_open_id(ep2, id, MBOX_OPEN_RECV));
		mbox_endpoint_close(ep2);
	}

	/* x bits, or bits beyond: refused, the mode stays. */
	EXPECT_ERR(EINVAL, mbox_mailbox_chmod(self->ep, id, 0777));
	EXPECT_ERR(EINVAL, mbox_mailbox_chmod(self->ep, id, 01600));
	EXPECT_ERR(ENOENT, mbox_mailbox_chmod(self->ep, UINT32_MAX, 0600));
	ASSERT_EQ(0, mbox_mailbox_stat(self->ep, id, &info));
	EXPECT_EQ(0642, info.mode);
}

/* ---- stat and next ------------------------------------------------------ */

TEST_F(libmbox, stat_reports_attributes_and_counts)
{
	struct mbox_endpoint *ep2;
	struct mbox_info info;
	struct mbox_attr a;
	char name[64];
	unsigned int i;
	uint32_t id;

	mbox_test_name(name, sizeof(name), "stat");
	mbox_attr_init(&a);
	a.flags = MBOX_CREATE_SYSTEM;
	a.capacity = 3;
	a.max_msg_size = 64;
	a.max_bytes = 128;
	a.mode = 0620;
	a.policy = MBOX_POLICY_EXCLUSIVE;
	ASSERT_EQ(0, mbox_mailbox_create(self->ep, name, &a, &id));
	mbox_track_id(&self->cl, id);
	ASSERT_EQ(0, mbox_endpoint_open(&ep2));
	ASSERT_EQ(0, mbox_mailbox_open_id(ep2, id, MBOX_OPEN_SEND));
	ASSERT_EQ(0, lib_send_str(ep2, id, "hello", 0, MBOX_NOWAIT));
	ASSERT_EQ(0, lib_send_str(ep2, id, "worlds!", 0, MBOX_NOWAIT));
	ASSERT_TRUE(lib_recv_is(self->ep, id, "hello"));

	memset(&info, 0xa5, sizeof(info));
	errno = ERRNO_SENTINEL;
	ASSERT_EQ(0, mbox_mailbox_stat(self->ep, id, &info));
	EXPECT_EQ(ERRNO_SENTINEL, errno);
	EXPECT_EQ(id, info.id);
	EXPECT_STREQ(name, info.name);
	EXPECT_EQ(MBOX_CREATE_SYSTEM, info.flags);
	EXPECT_EQ(MBOX_POLICY_EXCLUSIVE, info.policy);
	EXPECT_EQ(0620, info.mode);
	EXPECT_EQ(geteuid(), info.uid);
	EXPECT_EQ(getegid(), info.gid);
	EXPECT_EQ(geteuid(), info.cuid);
	EXPECT_EQ(getegid(), info.cgid);
	EXPECT_EQ(3, info.capacity);
	EXPECT_EQ(64, info.max_msg_size);
	EXPECT_EQ(0, info.msg_size);
	EXPECT_EQ(128, info.max_bytes);
	EXPECT_EQ(1, info.nr_msgs);
	EXPECT_EQ(7, info.nr_bytes);
	EXPECT_EQ(2, info.nr_open);
	EXPECT_EQ(0, info.nr_senders);
	EXPECT_EQ(0, info.nr_receivers);
	EXPECT_EQ(2, info.total_sent);
	EXPECT_EQ(1, info.total_received);
	for (i = 0; i < MBOX_ARRAY_SIZE(info.reserved); i++)
		EXPECT_EQ(0, info.reserved[i]);

	/* Unbounded, fixed size, unnamed. */
	mbox_attr_init(&a);
	a.capacity = MBOX_UNBOUNDED;
	a.msg_size = 8;
	ASSERT_EQ(0, mbox_mailbox_create(self->ep, NULL, &a, &id));
	ASSERT_EQ(0, mbox_mailbox_stat(ep2, id, &info));
	EXPECT_STREQ("", info.name);
	EXPECT_EQ(0, info.flags);
	EXPECT_EQ(MBOX_UNBOUNDED, info.capacity);
	EXPECT_EQ(8, info.msg_size);
	EXPECT_EQ(UINT64_MAX, info.max_bytes);
	mbox_endpoint_close(ep2);
}

static int nobody_stat_child(void *arg)
{
	uint32_t *ids = arg;
	struct mbox_endpoint *ep;
	struct mbox_info info;

	CHILD_OK(10, mbox_endpoint_open(&ep));
	CHILD_ERR(11, EACCES, mbox_mailbox_stat(ep, ids[0], &info));
	CHILD_OK(12, mbox_mailbox_stat(ep, ids[1], &info));
	if (info.id != ids[1] || info.mode != 0622)
		return 13;
	mbox_endpoint_close(ep);
	return 0;
}

TEST_F(libmbox, stat_errors)
{
	struct mbox_info info;
	uint32_t ids[2], id;
	unsigned int seen = 0;

	EXPECT_ERR(ENOENT, mbox_mailbox_stat(self->ep, UINT32_MAX, &info));
	EXPECT_ERR(ENOENT, mbox_mailbox_stat(self->ep, 0, &info));
	EXPECT_ERR(ENOENT, mbox_mailbox_next(self->ep, UINT32_MAX, &info));
	/* Who may not use it may not see it. */
	if (!mbox_is_root()) {
		/* Unprivileged, the test is the other user, of root's. */
		LIB_ROOT_MAILBOX(self->ep, &ids[1]);
		ASSERT_EQ(0, mbox_mailbox_stat(self->ep, ids[1], &info));
		EXPECT_EQ(0622, info.mode);
		EXPECT_EQ(0, info.uid);
		/* Listed, and the 0600 one not. */
		for (id = 1; !mbox_mailbox_next(self->ep, id, &info);
		     id = info.id + 1) {
			EXPECT_STRNE(MBOX_ROOT_PRIVATE, info.name);
			seen += info.id == ids[1];
		}
		EXPECT_EQ(1, seen);
		return;
	}
	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, NULL, 1, 0600,
				       &ids[0]));
	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, NULL, 1, 0622,
				       &ids[1]));
	EXPECT_EQ(0, mbox_run_as_nobody(nobody_stat_child, ids));
}

TEST_F(libmbox, next_lists_every_mailbox_with_its_name)
{
	const char *tags[4] = { "sys-named", NULL, "own-named", NULL };
	char names[4][64];
	struct mbox_endpoint *ep2;
	struct mbox_info info;
	unsigned int i, seen[4] = { 0 }, listed = 0;
	uint32_t ids[4], id, last = 0;
	int ret;

	ASSERT_EQ(0, mbox_endpoint_open(&ep2));
	for (i = 0; i < 4; i++) {
		names[i][0] = '\0';
		if (tags[i])
			mbox_test_name(names[i], sizeof(names[i]), tags[i]);
		/* Two system-owned here, two process-owned elsewhere. */
		ASSERT_EQ(0, lib_create(i < 2 ? self->ep : ep2,
					tags[i] ? names[i] : NULL,
					i < 2 ? MBOX_CREATE_SYSTEM : 0, 2, 0600,
					&ids[i]));
		if (i < 2)
			mbox_track_id(&self->cl, ids[i]);
	}

	for (id = 1; !(ret = mbox_mailbox_next(self->ep, id, &info));
	     id = info.id + 1) {
		ASSERT_LE(id, info.id);
		EXPECT_LT(last, info.id);
		last = info.id;
		listed++;
		for (i = 0; i < 4; i++) {
			if (info.id != ids[i])
				continue;
			seen[i]++;
			EXPECT_STREQ(names[i], info.name);
			EXPECT_EQ(i < 2 ? MBOX_CREATE_SYSTEM : 0, info.flags);
		}
	}
	EXPECT_EQ(-ENOENT, ret);
	EXPECT_LE(4, listed);
	for (i = 0; i < 4; i++)
		EXPECT_EQ(1, seen[i]);

	/* From an id that exists, that one. */
	ASSERT_EQ(0, mbox_mailbox_next(self->ep, ids[2], &info));
	EXPECT_EQ(ids[2], info.id);
	EXPECT_STREQ(names[2], info.name);
	mbox_endpoint_close(ep2);
}

/* ---- send and receive --------------------------------------------------- */

TEST_F(libmbox, receive_reports_sender_priority_and_flags)
{
	struct sender s = { .text = "from nobody", .priority = 7 };
	char buf[64];
	struct mbox_msg m = lib_msg(buf, sizeof(buf));
	struct send_op op;
	struct senders ss;
	struct mbox_bg bg;
	uint32_t id;
	pid_t pid;
	/* Root's sender is nobody; unprivileged, one of its own. */
	bool root = mbox_is_root();
	uid_t uid = root ? MBOX_NOBODY : geteuid();
	gid_t gid = root ? MBOX_NOBODY : getegid();

	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, NULL, 4, 0622,
				       &id));
	ASSERT_EQ(0, senders_init(&ss));
	s.id = id;
	ASSERT_EQ(0, sender_start(&ss, &self->cl, &s, root ? uid : (uid_t)-1,
				  root ? gid : (gid_t)-1, &pid));

	memset(&m, 0xa5, sizeof(m));
	m.buf = buf;
	m.len = sizeof(buf);
	errno = ERRNO_SENTINEL;
	ASSERT_EQ(0, mbox_mailbox_receive(self->ep, id, &m, 0, MBOX_NOWAIT));
	EXPECT_EQ(ERRNO_SENTINEL, errno);
	EXPECT_EQ((void *)buf, m.buf);
	EXPECT_EQ(11, m.len);
	EXPECT_EQ(0, memcmp(buf, "from nobody", 11));
	EXPECT_EQ(7, m.priority);
	EXPECT_EQ(0, m.flags);
	EXPECT_EQ(pid, m.pid);
	EXPECT_EQ(uid, m.uid);
	EXPECT_EQ(gid, m.gid);
	EXPECT_EQ(0, m.token);
	senders_release(&ss);
	EXPECT_EQ(0, mbox_reap(pid));

	/* A synchronous send, from a thread of this process. */
	memset(&op, 0, sizeof(op));
	op.ep = self->ep;
	op.id = id;
	op.flags = MBOX_SEND_SYNC;
	op.timeout = FAR;
	op.m = lib_msg("sync", 4);
	ASSERT_EQ(0, mbox_bg_run(&bg, send_op_fn, &op));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	m = lib_msg(buf, sizeof(buf));
	ASSERT_EQ(0, mbox_mailbox_receive(self->ep, id, &m, 0, MBOX_NOWAIT));
	EXPECT_EQ(0, mbox_bg_join(&bg));
	EXPECT_EQ(4, m.len);
	EXPECT_EQ(MBOX_MSG_SYNC, m.flags);
	EXPECT_EQ(getpid(), m.pid);
	EXPECT_EQ(geteuid(), m.uid);
	EXPECT_EQ(getegid(), m.gid);
	EXPECT_EQ(getpid(), op.m.pid);
}

/* Receive one message, and say whether it came as a synchronous one. */
static int sync_receiver_child(void *arg)
{
	uint32_t id = *(uint32_t *)arg;
	struct mbox_endpoint *ep;
	char buf[16];
	struct mbox_msg m = lib_msg(buf, sizeof(buf));

	CHILD_OK(10, mbox_endpoint_open(&ep));
	CHILD_OK(11, mbox_mailbox_open_id(ep, id, MBOX_OPEN_RECV));
	CHILD_OK(12, mbox_mailbox_receive(ep, id, &m, 0, FAR));
	if (m.len != 4 || memcmp(buf, "sync", 4) || m.flags != MBOX_MSG_SYNC ||
	    m.pid != getppid())
		return 13;
	mbox_endpoint_close(ep);
	return 0;
}

TEST_F(libmbox, sync_send_reports_receiver_pid)
{
	struct mbox_msg m = lib_msg("sync", 4);
	uint32_t id;
	pid_t pid;

	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, NULL, 4, 0600,
				       &id));
	pid = mbox_spawn(sync_receiver_child, &id);
	ASSERT_LT(0, pid);
	mbox_track_pid(&self->cl, pid);
	m.pid = 0;
	errno = ERRNO_SENTINEL;
	EXPECT_EQ(0, mbox_mailbox_send(self->ep, id, &m, MBOX_SEND_SYNC, FAR));
	EXPECT_EQ(ERRNO_SENTINEL, errno);
	EXPECT_EQ(pid, m.pid);
	EXPECT_EQ(0, mbox_reap(pid));
}

TEST_F(libmbox, priority_order_then_fifo)
{
	static const struct {
		const char *text;
		uint32_t priority;
	} sent[] = {
		{ "a1", 1 }, { "b5", 5 }, { "c5", 5 }, { "d0", 0 },
		{ "e31", MBOX_PRIO_MAX },
	};
	static const char *const order[] = { "e31", "b5", "c5", "a1", "d0" };
	struct mbox_msg m;
	char buf[16];
	unsigned int i;
	uint32_t id;

	ASSERT_EQ(0, lib_create(self->ep, NULL, 0, 8, 0600, &id));
	for (i = 0; i < MBOX_ARRAY_SIZE(sent); i++) {
		m = lib_msg(sent[i].text, strlen(sent[i].text));
		m.priority = sent[i].priority;
		ASSERT_EQ(0, mbox_mailbox_send(self->ep, id, &m, 0,
					       MBOX_NOWAIT));
	}
	m = lib_msg("bad", 3);
	m.priority = MBOX_PRIO_MAX + 1;
	EXPECT_ERR(EINVAL, mbox_mailbox_send(self->ep, id, &m, 0, MBOX_NOWAIT));
	for (i = 0; i < MBOX_ARRAY_SIZE(order); i++) {
		m = lib_msg(buf, sizeof(buf));
		ASSERT_EQ(0, mbox_mailbox_receive(self->ep, id, &m, 0,
						  MBOX_NOWAIT));
		EXPECT_EQ(strlen(order[i]), m.len);
		EXPECT_EQ(0, memcmp(buf, order[i], m.len));
		EXPECT_EQ(strtoul(order[i] + 1, NULL, 10), m.priority);
	}
	EXPECT_TRUE(lib_queue_empty(self->ep, id));
}

TEST_F(libmbox, empty_message_without_buffer)
{
	struct mbox_msg m = lib_msg(NULL, 0);
	uint32_t id;

	ASSERT_EQ(0, lib_create(self->ep, NULL, 0, 4, 0600, &id));
	EXPECT_EQ(0, mbox_mailbox_send(self->ep, id, &m, 0, MBOX_NOWAIT));
	m = lib_msg(NULL, 0);
	EXPECT_EQ(0, mbox_mailbox_receive(self->ep, id, &m, 0, MBOX_NOWAIT));
	EXPECT_EQ(0, m.len);
	EXPECT_EQ(getpid(), m.pid);
	/* No buffer for a message that has bytes: too small. */
	ASSERT_EQ(0, lib_send_str(self->ep, id, "abc", 0, MBOX_NOWAIT));
	m = lib_msg(NULL, 0);
	EXPECT_ERR(EMSGSIZE, mbox_mailbox_receive(self->ep, id, &m, 0,
						  MBOX_NOWAIT));
	EXPECT_EQ(3, m.len);
	EXPECT_TRUE(lib_recv_is(self->ep, id, "abc"));
}

TEST_F(libmbox, receive_too_small_emsgsize_reports_length_message_stays)
{
	struct mbox_info info;
	struct mbox_msg m;
	char buf[16];
	uint32_t id;

	ASSERT_EQ(0, lib_create(self->ep, NULL, 0, 4, 0600, &id));
	ASSERT_EQ(0, lib_send_str(self->ep, id, "0123456789", 0, MBOX_NOWAIT));
	memset(buf, 'x', sizeof(buf));
	m = lib_msg(buf, 4);
	m.pid = 12345;
	EXPECT_ERR(EMSGSIZE, mbox_mailbox_receive(self->ep, id, &m, 0,
						  MBOX_NOWAIT));
	EXPECT_EQ(10, m.len);
	/* Only the length: nothing else was reported, nothing copied. */
	EXPECT_EQ(12345, m.pid);
	EXPECT_EQ('x', buf[0]);
	ASSERT_EQ(0, mbox_mailbox_stat(self->ep, id, &info));
	EXPECT_EQ(1, info.nr_msgs);
	EXPECT_EQ(0, info.total_received);
	/* Blocking or not, a too-small buffer fails at once. */
	m = lib_msg(buf, 9);
	EXPECT_ERR(EMSGSIZE, mbox_mailbox_receive(self->ep, id, &m, 0,
						  MBOX_FOREVER));
	EXPECT_EQ(10, m.len);
	/* m.len is now just right. */
	EXPECT_EQ(0, mbox_mailbox_receive(self->ep, id, &m, 0, MBOX_NOWAIT));
	EXPECT_EQ(10, m.len);
	EXPECT_EQ(0, memcmp(buf, "0123456789", 10));
}

TEST_F(libmbox, message_over_4gib_emsgsize_memory_untouched)
{
	const size_t huge = (size_t)UINT32_MAX + 1;
	struct mbox_msg m, rep;
	struct mbox_info info;
	struct mbox_endpoint *ep2;
	void *bad;
	uint32_t id;

	if (sizeof(size_t) <= sizeof(uint32_t))
		SKIP(return, "size_t has 32 bits here");
	/* Neither readable nor writable: any access would be EFAULT. */
	bad = mbox_fault_ptr();
	ASSERT_NE(NULL, bad);
	ASSERT_EQ(0, lib_create(self->ep, NULL, 0, 4, 0600, &id));
	ASSERT_EQ(0, mbox_endpoint_open(&ep2));
	ASSERT_EQ(0, mbox_process_enable(ep2, NULL, 0));

	m = lib_msg(bad, huge);
	EXPECT_ERR(EMSGSIZE, mbox_mailbox_send(self->ep, id, &m, 0,
					       MBOX_NOWAIT));
	m.len = SIZE_MAX;
	EXPECT_ERR(EMSGSIZE, mbox_mailbox_send(self->ep, id, &m, 0,
					       MBOX_NOWAIT));
	/* 4 GiB - 1 fits the ABI: the kernel refuses it before reading. */
	m.len = UINT32_MAX;
	EXPECT_ERR(EMSGSIZE, mbox_mailbox_send(self->ep, id, &m, 0,
					       MBOX_NOWAIT));
	m.len = huge;
	EXPECT_ERR(EMSGSIZE, mbox_process_send(self->ep, getpid(), &m, 0,
					       MBOX_NOWAIT));
	rep = lib_msg(bad, 16);
	EXPECT_ERR(EMSGSIZE, mbox_mailbox_call(self->ep, id, &m, &rep, 0,
					       MBOX_NOWAIT));
	EXPECT_ERR(EMSGSIZE, mbox_process_call(self->ep, getpid(), &m, &rep, 0,
					       MBOX_NOWAIT));
	EXPECT_ERR(EMSGSIZE, mbox_call_reply(self->ep, 1, bad, huge));
	rep = lib_msg(bad, 16);
	EXPECT_ERR(EMSGSIZE, mbox_mailbox_reply_receive(self->ep, 1, bad, huge,
							id, &rep, 0,
							MBOX_NOWAIT));

	ASSERT_EQ(0, mbox_mailbox_stat(self->ep, id, &info));
	EXPECT_EQ(0, info.nr_msgs);
	EXPECT_EQ(0, info.total_sent);
	m = lib_msg(NULL, 0);
	EXPECT_ERR(EAGAIN, mbox_process_receive(ep2, 0, &m, 0, MBOX_NOWAIT));
	mbox_endpoint_close(ep2);
	munmap(bad, 4096);
}

TEST_F(libmbox, receive_buffer_over_4gib_takes_the_message)
{
	const size_t size = ((size_t)4 << 30) + 4096;
	struct mbox_msg m;
	char *big;
	uint32_t id;

	if (sizeof(size_t) <= sizeof(uint32_t))
		SKIP(return, "size_t has 32 bits here");
	/* Address space only: the receive touches the first page. */
	big = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (big == MAP_FAILED)
		SKIP(return, "cannot map 4 GiB of address space");
	ASSERT_EQ(0, lib_create(self->ep, NULL, 0, 4, 0600, &id));
	ASSERT_EQ(0, lib_send_str(self->ep, id, "a big buffer", 0,
				  MBOX_NOWAIT));
	m = lib_msg(big, size);
	EXPECT_EQ(0, mbox_mailbox_receive(self->ep, id, &m, 0, MBOX_NOWAIT));
	EXPECT_EQ(12, m.len);
	EXPECT_EQ(0, memcmp(big, "a big buffer", 12));
	munmap(big, size);
}

/* ---- flags -------------------------------------------------------------- */

TEST_F(libmbox, kernel_blocking_flags_einval_nothing_sent)
{
	const uint32_t kbits[3] = { MBOX_NONBLOCK, MBOX_DEADLINE,
				    MBOX_NONBLOCK | MBOX_DEADLINE };
	struct mbox_msg m, rep;
	struct mbox_endpoint *ep2;
	struct call_op k;
	struct mbox_bg bg;
	char buf[16];
	unsigned int i;
	uint64_t token;
	uint32_t id;

	ASSERT_EQ(0, lib_create(self->ep, NULL, 0, 4, 0600, &id));
	ASSERT_EQ(0, mbox_endpoint_open(&ep2));
	ASSERT_EQ(0, mbox_process_enable(ep2, NULL, 0));
	for (i = 0; i < 3; i++) {
		m = lib_msg("x", 1);
		rep = lib_msg(buf, sizeof(buf));
		EXPECT_ERR(EINVAL, mbox_mailbox_send(self->ep, id, &m,
						     kbits[i], FAR));
		EXPECT_ERR(EINVAL, mbox_mailbox_send(self->ep, id, &m,
						     kbits[i] | MBOX_SEND_SYNC,
						     MBOX_NOWAIT));
		EXPECT_ERR(EINVAL, mbox_mailbox_call(self->ep, id, &m, &rep,
						     kbits[i], FAR));
		EXPECT_ERR(EINVAL, mbox_process_send(self->ep, getpid(), &m,
						     kbits[i], FAR));
		EXPECT_ERR(EINVAL, mbox_process_call(self->ep, getpid(), &m,
						     &rep, kbits[i], FAR));
	}
	EXPECT_TRUE(lib_queue_empty(self->ep, id));
	m = lib_msg(buf, sizeof(buf));
	EXPECT_ERR(EAGAIN, mbox_process_receive(ep2, 0, &m, 0, MBOX_NOWAIT));

	/* Nothing taken either. */
	ASSERT_EQ(0, lib_send_str(self->ep, id, "stays", 0, MBOX_NOWAIT));
	for (i = 0; i < 3; i++) {
		m = lib_msg(buf, sizeof(buf));
		EXPECT_ERR(EINVAL, mbox_mailbox_receive(self->ep, id, &m,
							kbits[i], FAR));
		EXPECT_ERR(EINVAL, mbox_process_receive(ep2, 0, &m, kbits[i],
							FAR));
	}
	EXPECT_TRUE(lib_recv_is(self->ep, id, "stays"));

	/* Nor replied. */
	call_op_init(&k, self->ep, id, "req", 8);
	ASSERT_EQ(0, mbox_bg_run(&bg, call_op_fn, &k));
	token = recv_call(self->ep, id, "req");
	ASSERT_NE(0, token);
	for (i = 0; i < 3; i++) {
		m = lib_msg(buf, sizeof(buf));
		EXPECT_ERR(EINVAL, mbox_mailbox_reply_receive(self->ep, token,
							      "no", 2, id, &m,
							      kbits[i], FAR));
	}
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	EXPECT_EQ(0, mbox_call_reply(self->ep, token, "yes", 3));
	EXPECT_EQ(0, mbox_bg_join(&bg));
	EXPECT_EQ(3, k.rep.len);
	EXPECT_EQ(0, memcmp(k.repbuf, "yes", 3));
	mbox_endpoint_close(ep2);
}

TEST_F(libmbox, unknown_flag_bits_einval)
{
	struct mbox_msg m, rep;
	char buf[16];
	uint32_t id;

	ASSERT_EQ(0, lib_create(self->ep, NULL, 0, 4, 0600, &id));
	m = lib_msg("x", 1);
	rep = lib_msg(buf, sizeof(buf));
	/* Bits the library passes on, the kernel refuses. */
	EXPECT_ERR(EINVAL, mbox_mailbox_send(self->ep, id, &m, 1U << 3,
					     MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_mailbox_send(self->ep, id, &m, 1U << 29,
					     MBOX_NOWAIT));
	/* MBOX_SEND_SYNC means nothing to a call, which is synchronous. */
	EXPECT_ERR(EINVAL, mbox_mailbox_call(self->ep, id, &m, &rep,
					     MBOX_SEND_SYNC, MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_mailbox_call(self->ep, id, &m, &rep, 1U << 29,
					     MBOX_NOWAIT));
	/* MBOX_PIDFD names a process: not for mailboxes. */
	EXPECT_ERR(EINVAL, mbox_mailbox_send(self->ep, id, &m, MBOX_PIDFD,
					     MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_mailbox_call(self->ep, id, &m, &rep,
					     MBOX_PIDFD, MBOX_NOWAIT));
	EXPECT_TRUE(lib_queue_empty(self->ep, id));

	ASSERT_EQ(0, lib_send_str(self->ep, id, "stays", 0, MBOX_NOWAIT));
	m = lib_msg(buf, sizeof(buf));
	EXPECT_ERR(EINVAL, mbox_mailbox_receive(self->ep, id, &m, 1U << 3,
						MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_mailbox_receive(self->ep, id, &m, MBOX_PIDFD,
						MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_mailbox_reply_receive(self->ep, 1, "r", 1, id,
						      &m, MBOX_PIDFD,
						      MBOX_NOWAIT));
	EXPECT_TRUE(lib_recv_is(self->ep, id, "stays"));

	EXPECT_ERR(EINVAL, mbox_process_enable(self->ep, NULL, 1U << 5));
	EXPECT_ERR(EBADF, mbox_process_query(self->ep,
					     &(struct mbox_process_info){}));
}

TEST_F(libmbox, recv_from_takes_only_that_sender)
{
	struct sender a = { .text = "from a" }, b = { .text = "from b" };
	char buf[16];
	struct mbox_msg m;
	struct senders ss;
	pid_t pa, pb;
	uint32_t id;

	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, NULL, 8, 0600,
				       &id));
	ASSERT_EQ(0, senders_init(&ss));
	a.id = b.id = id;
	ASSERT_EQ(0, sender_start(&ss, &self->cl, &a, -1, -1, &pa));
	ASSERT_EQ(0, sender_start(&ss, &self->cl, &b, -1, -1, &pb));

	/* b's message, though a's came first. */
	m = lib_msg(buf, sizeof(buf));
	m.pid = pb;
	EXPECT_EQ(0, mbox_mailbox_receive(self->ep, id, &m, MBOX_RECV_FROM,
					  MBOX_NOWAIT));
	EXPECT_EQ(6, m.len);
	EXPECT_EQ(0, memcmp(buf, "from b", 6));
	EXPECT_EQ(pb, m.pid);
	m = lib_msg(buf, sizeof(buf));
	m.pid = pb;
	EXPECT_ERR(EAGAIN, mbox_mailbox_receive(self->ep, id, &m,
						MBOX_RECV_FROM, MBOX_NOWAIT));
	/* A sender must be named, and exist. */
	m.pid = 0;
	EXPECT_ERR(EINVAL, mbox_mailbox_receive(self->ep, id, &m,
						MBOX_RECV_FROM, MBOX_NOWAIT));
	m.pid = -1;
	EXPECT_ERR(EINVAL, mbox_mailbox_receive(self->ep, id, &m,
						MBOX_RECV_FROM, MBOX_NOWAIT));
	m.pid = NO_SUCH_PID;
	EXPECT_ERR(ESRCH, mbox_mailbox_receive(self->ep, id, &m,
					       MBOX_RECV_FROM, MBOX_NOWAIT));
	/* Without the flag, m.pid is only an output. */
	m = lib_msg(buf, sizeof(buf));
	m.pid = pb;
	EXPECT_EQ(0, mbox_mailbox_receive(self->ep, id, &m, 0, MBOX_NOWAIT));
	EXPECT_EQ(pa, m.pid);
	EXPECT_EQ(0, memcmp(buf, "from a", 6));
	senders_release(&ss);
	EXPECT_EQ(0, mbox_reap(pa));
	EXPECT_EQ(0, mbox_reap(pb));
}

/* ---- timeouts ----------------------------------------------------------- */

TEST_F(libmbox, nowait_eagain)
{
	struct mbox_endpoint *ep2;
	struct mbox_info info;
	struct mbox_msg m, rep;
	uint32_t id, zero;
	char buf[16];

	ASSERT_EQ(0, lib_create(self->ep, NULL, 0, 1, 0600, &id));
	ASSERT_EQ(0, lib_create(self->ep, NULL, 0, 0, 0600, &zero));
	m = lib_msg(buf, sizeof(buf));
	EXPECT_ERR(EAGAIN, mbox_mailbox_receive(self->ep, id, &m, 0,
						MBOX_NOWAIT));
	ASSERT_EQ(0, lib_send_str(self->ep, id, "full", 0, MBOX_NOWAIT));
	EXPECT_ERR(EAGAIN, lib_send_str(self->ep, id, "more", 0, MBOX_NOWAIT));
	EXPECT_ERR(EAGAIN, lib_send_str(self->ep, id, "more", MBOX_SEND_SYNC,
					MBOX_NOWAIT));
	/* No receiver waits: neither a rendezvous nor a call can start. */
	EXPECT_ERR(EAGAIN, lib_send_str(self->ep, zero, "rdv", 0,
					MBOX_NOWAIT));
	m = lib_msg("call", 4);
	rep = lib_msg(buf, sizeof(buf));
	EXPECT_ERR(EAGAIN, mbox_mailbox_call(self->ep, zero, &m, &rep, 0,
					     MBOX_NOWAIT));
	ASSERT_EQ(0, mbox_mailbox_stat(self->ep, id, &info));
	EXPECT_EQ(1, info.nr_msgs);
	EXPECT_EQ(1, info.total_sent);
	ASSERT_EQ(0, mbox_mailbox_stat(self->ep, zero, &info));
	EXPECT_EQ(0, info.total_sent);

	ASSERT_EQ(0, mbox_endpoint_open(&ep2));
	ASSERT_EQ(0, mbox_process_enable(ep2, NULL, 0));
	m = lib_msg(buf, sizeof(buf));
	EXPECT_ERR(EAGAIN, mbox_process_receive(ep2, 0, &m, 0, MBOX_NOWAIT));
	m = lib_msg("call", 4);
	EXPECT_ERR(EAGAIN, mbox_process_call(self->ep, getpid(), &m, &rep, 0,
					     MBOX_NOWAIT));
	mbox_endpoint_close(ep2);
}

TEST_F(libmbox, timeout_etimedout_after_at_least_that_long)
{
	const int64_t t = MBOX_MS(100);
	struct mbox_msg m, rep;
	struct mbox_endpoint *ep2;
	char buf[16];
	uint64_t t0;
	uint32_t id;

	ASSERT_EQ(0, lib_create(self->ep, NULL, 0, 1, 0600, &id));
	m = lib_msg(buf, sizeof(buf));
	t0 = mbox_now_ns();
	EXPECT_ERR(ETIMEDOUT, mbox_mailbox_receive(self->ep, id, &m, 0, t));
	EXPECT_LE(t0 + t, mbox_now_ns());

	ASSERT_EQ(0, lib_send_str(self->ep, id, "full", 0, MBOX_NOWAIT));
	t0 = mbox_now_ns();
	EXPECT_ERR(ETIMEDOUT, lib_send_str(self->ep, id, "more", 0, t));
	EXPECT_LE(t0 + t, mbox_now_ns());

	/* A call: nobody takes the request from the full queue. */
	m = lib_msg("call", 4);
	rep = lib_msg(buf, sizeof(buf));
	t0 = mbox_now_ns();
	EXPECT_ERR(ETIMEDOUT, mbox_mailbox_call(self->ep, id, &m, &rep, 0, t));
	EXPECT_LE(t0 + t, mbox_now_ns());
	EXPECT_TRUE(lib_recv_is(self->ep, id, "full"));
	EXPECT_TRUE(lib_queue_empty(self->ep, id));

	ASSERT_EQ(0, mbox_endpoint_open(&ep2));
	ASSERT_EQ(0, mbox_process_enable(ep2, NULL, 0));
	m = lib_msg(buf, sizeof(buf));
	t0 = mbox_now_ns();
	EXPECT_ERR(ETIMEDOUT, mbox_process_receive(ep2, 0, &m, 0, t));
	EXPECT_LE(t0 + t, mbox_now_ns());
	mbox_endpoint_close(ep2);
}

TEST_F(libmbox, abstime_past_deadline_etimedout_or_queued_message)
{
	struct mbox_msg m;
	char buf[16];
	uint64_t deadline;
	uint32_t id;

	ASSERT_EQ(0, lib_create(self->ep, NULL, 0, 1, 0600, &id));
	m = lib_msg(buf, sizeof(buf));
	/* A deadline already past: nothing there, ETIMEDOUT (not EAGAIN). */
	EXPECT_ERR(ETIMEDOUT, mbox_mailbox_receive(self->ep, id, &m,
						   MBOX_ABSTIME,
						   mbox_now_ns() - 1));
	EXPECT_ERR(ETIMEDOUT, mbox_mailbox_receive(self->ep, id, &m,
						   MBOX_ABSTIME, 0));
	/* A message is there: it is taken, whatever the deadline. */
	ASSERT_EQ(0, lib_send_str(self->ep, id, "past", MBOX_ABSTIME, 1));
	m = lib_msg(buf, sizeof(buf));
	EXPECT_EQ(0, mbox_mailbox_receive(self->ep, id, &m, MBOX_ABSTIME, 1));
	EXPECT_EQ(4, m.len);
	EXPECT_EQ(0, memcmp(buf, "past", 4));

	/* Full: a past deadline does not wait for room. */
	ASSERT_EQ(0, lib_send_str(self->ep, id, "full", 0, MBOX_NOWAIT));
	EXPECT_ERR(ETIMEDOUT, lib_send_str(self->ep, id, "more", MBOX_ABSTIME,
					   mbox_now_ns() - 1));
	EXPECT_TRUE(lib_recv_is(self->ep, id, "full"));

	/* A deadline to come: it is waited for. */
	deadline = mbox_deadline_ms(100);
	m = lib_msg(buf, sizeof(buf));
	EXPECT_ERR(ETIMEDOUT, mbox_mailbox_receive(self->ep, id, &m,
						   MBOX_ABSTIME, deadline));
	EXPECT_LE(deadline, mbox_now_ns());
}

TEST_F(libmbox, forever_blocks_until_a_message)
{
	struct mbox_info info;
	struct send_op sop;
	struct recv_op op;
	struct mbox_bg bg;
	uint32_t id;

	ASSERT_EQ(0, lib_create(self->ep, NULL, 0, 1, 0600, &id));
	recv_op_init(&op, self->ep, id, MBOX_FOREVER);
	ASSERT_EQ(0, mbox_bg_run(&bg, recv_op_fn, &op));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	ASSERT_EQ(0, mbox_mailbox_stat(self->ep, id, &info));
	EXPECT_EQ(1, info.nr_receivers);
	EXPECT_FALSE(mbox_bg_done(&bg));
	ASSERT_EQ(0, lib_send_str(self->ep, id, "wake up", 0, MBOX_NOWAIT));
	EXPECT_EQ(0, mbox_bg_join(&bg));
	EXPECT_EQ(7, op.m.len);
	EXPECT_EQ(0, memcmp(op.buf, "wake up", 7));

	/* A sender blocks as long, for room. */
	ASSERT_EQ(0, lib_send_str(self->ep, id, "full", 0, MBOX_NOWAIT));
	memset(&sop, 0, sizeof(sop));
	sop.ep = self->ep;
	sop.id = id;
	sop.timeout = MBOX_FOREVER;
	sop.m = lib_msg("waited", 6);
	ASSERT_EQ(0, mbox_bg_run(&bg, send_op_fn, &sop));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	ASSERT_EQ(0, mbox_mailbox_stat(self->ep, id, &info));
	EXPECT_EQ(1, info.nr_senders);
	EXPECT_TRUE(lib_recv_is(self->ep, id, "full"));
	EXPECT_EQ(0, mbox_bg_join(&bg));
	EXPECT_TRUE(lib_recv_is(self->ep, id, "waited"));
}

TEST_F(libmbox, timeout_not_extended_by_restarted_signals)
{
	const int64_t t = MBOX_MS(1000);
	struct recv_op op;
	struct mbox_bg bg;
	uint64_t t0, end;
	bool done;
	uint32_t id;

	ASSERT_EQ(0, mbox_sigaction(SIGUSR1, on_signal, SA_RESTART));
	sig_count = 0;
	ASSERT_EQ(0, lib_create(self->ep, NULL, 0, 1, 0600, &id));
	recv_op_init(&op, self->ep, id, t);
	t0 = mbox_now_ns();
	ASSERT_EQ(0, mbox_bg_run(&bg, recv_op_fn, &op));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	/*
	 * Signals keep coming, each restarting the receive: a timeout
	 * taken afresh at every restart would never run out.
	 */
	end = mbox_deadline_ms(MBOX_WAIT_MS);
	while (!mbox_bg_done(&bg) && mbox_now_ns() < end) {
		pthread_kill(bg.thread, SIGUSR1);
		mbox_sleep_ms(20);
	}
	done = mbox_bg_done(&bg);
	EXPECT_TRUE(done) {
		TH_LOG("still waiting %d s later, after %d signals",
		       MBOX_WAIT_MS / 1000, (int)sig_count);
	}
	EXPECT_EQ(-ETIMEDOUT, mbox_bg_join(&bg));
	EXPECT_LE(t0 + t, mbox_now_ns());
	EXPECT_LE(1, sig_count);
}

/* ---- calls -------------------------------------------------------------- */

/*
 * A server: answers n calls, the first after a receive, the others with
 * reply-and-receive, the last with a plain reply.  On mailbox id (open to
 * receive here), or by direct messages if id is 0.  "re:" + the request.
 */
struct server {
	uint32_t id;
	unsigned int n;
	int ready_w;
};

static int server_child(void *arg)
{
	struct server *sv = arg;
	char req[32], rep[40];
	struct mbox_endpoint *ep;
	struct mbox_attr a;
	struct mbox_msg m;
	unsigned int i;
	uint64_t token;
	size_t len;
	int ret;

	CHILD_OK(100, mbox_endpoint_open(&ep));
	mbox_attr_init(&a);
	a.capacity = 4;
	ret = sv->id ? mbox_mailbox_open_id(ep, sv->id, MBOX_OPEN_RECV) :
		       mbox_process_enable(ep, &a, 0);
	mbox_pipe_write_byte(sv->ready_w, ret);
	if (ret)
		return ret;
	m = lib_msg(req, sizeof(req));
	ret = sv->id ? mbox_mailbox_receive(ep, sv->id, &m, 0, FAR) :
		       mbox_process_receive(ep, 0, &m, 0, FAR);
	for (i = 0; !ret; i++) {
		if (m.flags != (MBOX_MSG_CALL | MBOX_MSG_SYNC) || !m.token ||
		    m.pid != getppid() || m.uid != geteuid())
			return 101;
		len = snprintf(rep, sizeof(rep), "re:%.*s", (int)m.len, req);
		token = m.token;
		if (i + 1 == sv->n) {
			ret = mbox_call_reply(ep, token, rep, len);
			break;
		}
		m = lib_msg(req, sizeof(req));
		ret = sv->id ?
		      mbox_mailbox_reply_receive(ep, token, rep, len, sv->id,
						 &m, 0, FAR) :
		      mbox_process_reply_receive(ep, token, rep, len, 0, &m,
						 0, FAR);
	}
	mbox_endpoint_close(ep);
	return ret;
}

TEST_F(libmbox, mailbox_call_reply_receive_loop)
{
	struct server sv = { .n = 6 };
	char req[32], buf[64];
	struct mbox_msg m, rep;
	int pipefd[2];
	unsigned int i;
	pid_t pid;

	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, NULL, 2, 0600,
				       &sv.id));
	ASSERT_EQ(0, pipe(pipefd));
	sv.ready_w = pipefd[1];
	pid = mbox_spawn(server_child, &sv);
	ASSERT_LT(0, pid);
	mbox_track_pid(&self->cl, pid);
	ASSERT_EQ(0, mbox_pipe_read_byte(pipefd[0], MBOX_WAIT_MS));

	for (i = 0; i < sv.n; i++) {
		snprintf(req, sizeof(req), "request %u", i);
		m = lib_msg(req, strlen(req));
		rep = lib_msg(buf, sizeof(buf));
		rep.pid = 0;
		errno = ERRNO_SENTINEL;
		ASSERT_EQ(0, mbox_mailbox_call(self->ep, sv.id, &m, &rep, 0,
					       FAR));
		EXPECT_EQ(ERRNO_SENTINEL, errno);
		EXPECT_EQ(strlen(req) + 3, rep.len);
		EXPECT_EQ(0, memcmp(buf, "re:", 3));
		EXPECT_EQ(0, memcmp(buf + 3, req, strlen(req)));
		EXPECT_EQ(pid, rep.pid);
		/* The request is only read. */
		EXPECT_EQ((void *)req, m.buf);
		EXPECT_EQ(strlen(req), m.len);
	}
	EXPECT_EQ(0, mbox_reap(pid));
	EXPECT_TRUE(lib_queue_empty(self->ep, sv.id));
	close(pipefd[0]);
	close(pipefd[1]);
}

TEST_F(libmbox, call_reply_twice_second_enoent)
{
	struct call_op k;
	struct mbox_msg m;
	struct mbox_bg bg;
	uint64_t token;
	char buf[16];
	uint32_t id;

	ASSERT_EQ(0, lib_create(self->ep, NULL, 0, 4, 0600, &id));
	call_op_init(&k, self->ep, id, "once", 16);
	ASSERT_EQ(0, mbox_bg_run(&bg, call_op_fn, &k));
	token = recv_call(self->ep, id, "once");
	ASSERT_NE(0, token);
	EXPECT_ERR(ENOENT, mbox_call_reply(self->ep, token + 1, "made up", 7));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));

	errno = ERRNO_SENTINEL;
	EXPECT_EQ(0, mbox_call_reply(self->ep, token, "first", 5));
	EXPECT_EQ(ERRNO_SENTINEL, errno);
	EXPECT_EQ(0, mbox_bg_join(&bg));
	EXPECT_EQ(5, k.rep.len);
	EXPECT_EQ(0, memcmp(k.repbuf, "first", 5));
	EXPECT_EQ('#', k.repbuf[5]);
	EXPECT_EQ(getpid(), k.rep.pid);

	/* Used up (abi.rst: ENOENT, "already answered"). */
	EXPECT_ERR(ENOENT, mbox_call_reply(self->ep, token, "second", 6));
	/* A failed reply-and-receive takes nothing. */
	ASSERT_EQ(0, lib_send_str(self->ep, id, "waiting", 0, MBOX_NOWAIT));
	m = lib_msg(buf, sizeof(buf));
	EXPECT_ERR(ENOENT, mbox_mailbox_reply_receive(self->ep, token, "third",
						      5, id, &m, 0,
						      MBOX_NOWAIT));
	EXPECT_EQ(sizeof(buf), m.len);
	EXPECT_TRUE(lib_recv_is(self->ep, id, "waiting"));
}

TEST_F(libmbox, call_reply_too_long_emsgsize_token_stays_good)
{
	struct call_op k;
	struct mbox_bg bg;
	uint64_t token;
	uint32_t id;

	ASSERT_EQ(0, lib_create(self->ep, NULL, 0, 4, 0600, &id));
	/* The caller takes 4 bytes at most. */
	call_op_init(&k, self->ep, id, "short", 4);
	ASSERT_EQ(0, mbox_bg_run(&bg, call_op_fn, &k));
	token = recv_call(self->ep, id, "short");
	ASSERT_NE(0, token);
	EXPECT_ERR(EMSGSIZE, mbox_call_reply(self->ep, token, "12345", 5));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	EXPECT_EQ(0, mbox_call_reply(self->ep, token, "1234", 4));
	EXPECT_EQ(0, mbox_bg_join(&bg));
	EXPECT_EQ(4, k.rep.len);
	EXPECT_EQ(0, memcmp(k.repbuf, "1234", 4));
	EXPECT_EQ('#', k.repbuf[4]);
}

/*
 * Reply-and-receive is two operations in one call: a failure of its
 * receive comes after the reply went out.  -EMSGSIZE tells which half
 * failed by msg.len: the buffer's size (the reply did not fit the caller;
 * the token stays good) or the length needed (the reply went out).
 */
TEST_F(libmbox, reply_receive_fails_after_the_reply_went_out)
{
	struct call_op k;
	struct mbox_msg m;
	struct mbox_bg bg;
	uint64_t token;
	char buf[4];
	uint32_t id;

	ASSERT_EQ(0, lib_create(self->ep, NULL, 0, 4, 0600, &id));

	/* Nothing to receive: -EAGAIN, but the caller has its reply. */
	call_op_init(&k, self->ep, id, "one", 8);
	ASSERT_EQ(0, mbox_bg_run(&bg, call_op_fn, &k));
	token = recv_call(self->ep, id, "one");
	ASSERT_NE(0, token);
	m = lib_msg(buf, sizeof(buf));
	EXPECT_ERR(EAGAIN, mbox_mailbox_reply_receive(self->ep, token, "1", 1,
						      id, &m, 0, MBOX_NOWAIT));
	EXPECT_EQ(0, mbox_bg_join(&bg));
	EXPECT_EQ(1, k.rep.len);
	EXPECT_ERR(ENOENT, mbox_call_reply(self->ep, token, "1", 1));

	/* The reply is too long for the caller: nothing happened. */
	call_op_init(&k, self->ep, id, "two", 2);
	ASSERT_EQ(0, mbox_bg_run(&bg, call_op_fn, &k));
	token = recv_call(self->ep, id, "two");
	ASSERT_NE(0, token);
	ASSERT_EQ(0, lib_send_str(self->ep, id, "next", 0, MBOX_NOWAIT));
	m = lib_msg(buf, sizeof(buf));
	EXPECT_ERR(EMSGSIZE, mbox_mailbox_reply_receive(self->ep, token, "222",
							3, id, &m, 0,
							MBOX_NOWAIT));
	EXPECT_EQ(sizeof(buf), m.len);
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	EXPECT_FALSE(mbox_bg_done(&bg));

	/* The message is too long for the buffer: the reply went out. */
	m = lib_msg(buf, 2);
	EXPECT_ERR(EMSGSIZE, mbox_mailbox_reply_receive(self->ep, token, "22",
							2, id, &m, 0,
							MBOX_NOWAIT));
	EXPECT_EQ(4, m.len);
	EXPECT_EQ(0, mbox_bg_join(&bg));
	EXPECT_EQ(2, k.rep.len);
	EXPECT_EQ(0, memcmp(k.repbuf, "22", 2));
	EXPECT_TRUE(lib_recv_is(self->ep, id, "next"));
}

/* ---- processes ---------------------------------------------------------- */

TEST_F(libmbox, process_enable_query_disable)
{
	struct mbox_process_info info;
	struct mbox_endpoint *ep2;
	struct mbox_attr a;
	unsigned int i;

	mbox_attr_init(&a);
	a.capacity = 4;
	a.max_msg_size = 128;
	errno = ERRNO_SENTINEL;
	ASSERT_EQ(0, mbox_process_enable(self->ep, &a, 0));
	EXPECT_EQ(ERRNO_SENTINEL, errno);
	memset(&info, 0xa5, sizeof(info));
	ASSERT_EQ(0, mbox_process_query(self->ep, &info));
	EXPECT_EQ(getpid(), info.pid);
	EXPECT_EQ(0, info.links);
	EXPECT_EQ(4, info.capacity);
	EXPECT_EQ(128, info.max_msg_size);
	EXPECT_EQ(4 * 128, info.max_bytes);
	for (i = 0; i < MBOX_ARRAY_SIZE(info.reserved); i++)
		EXPECT_EQ(0, info.reserved[i]);

	/* One per endpoint, and one endpoint per process. */
	EXPECT_ERR(EEXIST, mbox_process_enable(self->ep, &a, 0));
	ASSERT_EQ(0, mbox_endpoint_open(&ep2));
	EXPECT_ERR(EBUSY, mbox_process_enable(ep2, NULL, 0));
	EXPECT_ERR(EBADF, mbox_process_query(ep2, &info));

	EXPECT_EQ(0, mbox_process_disable(self->ep));
	EXPECT_ERR(EBADF, mbox_process_query(self->ep, &info));
	EXPECT_ERR(EBADF, mbox_process_disable(self->ep));

	/* Free again, and the library's defaults without attributes. */
	EXPECT_EQ(0, mbox_process_enable(ep2, NULL, MBOX_DIRECT_ANYONE));
	ASSERT_EQ(0, mbox_process_query(ep2, &info));
	EXPECT_EQ(getpid(), info.pid);
	EXPECT_EQ(16, info.capacity);
	EXPECT_LT(0, info.max_msg_size);
	mbox_endpoint_close(ep2);
}

TEST_F(libmbox, process_send_receive_by_pid_and_pidfd)
{
	struct sender a = { .text = "by pid" };
	struct sender b = { .text = "by pidfd", .pidfd = true };
	struct mbox_process_info info;
	char buf[16];
	struct mbox_msg m;
	struct senders ss;
	int pidfd;
	pid_t pa, pb;

	ASSERT_EQ(0, mbox_process_enable(self->ep, NULL, 0));
	ASSERT_EQ(0, senders_init(&ss));
	a.to = b.to = getpid();
	ASSERT_EQ(0, sender_start(&ss, &self->cl, &a, -1, -1, &pa));
	ASSERT_EQ(0, sender_start(&ss, &self->cl, &b, -1, -1, &pb));
	ASSERT_EQ(0, mbox_process_query(self->ep, &info));
	EXPECT_EQ(2, info.links);

	/* receive(Q) by pid takes b's, though a's came first. */
	m = lib_msg(buf, sizeof(buf));
	EXPECT_EQ(0, mbox_process_receive(self->ep, pb, &m, 0, MBOX_NOWAIT));
	EXPECT_EQ(8, m.len);
	EXPECT_EQ(0, memcmp(buf, "by pidfd", 8));
	EXPECT_EQ(pb, m.pid);
	EXPECT_EQ(geteuid(), m.uid);
	m = lib_msg(buf, sizeof(buf));
	EXPECT_ERR(EAGAIN, mbox_process_receive(self->ep, pb, &m, 0,
						MBOX_NOWAIT));

	/* receive(Q) by pidfd. */
	pidfd = mbox_pidfd_open(pa);
	ASSERT_LE(0, pidfd);
	m = lib_msg(buf, sizeof(buf));
	EXPECT_EQ(0, mbox_process_receive(self->ep, pidfd, &m, MBOX_PIDFD,
					  MBOX_NOWAIT));
	EXPECT_EQ(6, m.len);
	EXPECT_EQ(0, memcmp(buf, "by pid", 6));
	EXPECT_EQ(pa, m.pid);

	/* receive(ANY) then finds nothing. */
	m = lib_msg(buf, sizeof(buf));
	EXPECT_ERR(EAGAIN, mbox_process_receive(self->ep, 0, &m, 0,
						MBOX_NOWAIT));
	close(pidfd);
	senders_release(&ss);
	EXPECT_EQ(0, mbox_reap(pa));
	EXPECT_EQ(0, mbox_reap(pb));
}

TEST_F(libmbox, process_call_reply_receive_loop_by_pid_and_pidfd)
{
	struct server sv = { .id = 0, .n = 6 };
	char req[32], buf[64];
	struct mbox_msg m, rep;
	int pipefd[2], pidfd;
	unsigned int i;
	pid_t pid;

	ASSERT_EQ(0, pipe(pipefd));
	sv.ready_w = pipefd[1];
	pid = mbox_spawn(server_child, &sv);
	ASSERT_LT(0, pid);
	mbox_track_pid(&self->cl, pid);
	ASSERT_EQ(0, mbox_pipe_read_byte(pipefd[0], MBOX_WAIT_MS));
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	ASSERT_LE(0, pidfd);

	for (i = 0; i < sv.n; i++) {
		snprintf(req, sizeof(req), "%s %u", i % 2 ? "pidfd" : "pid", i);
		m = lib_msg(req, strlen(req));
		rep = lib_msg(buf, sizeof(buf));
		if (i % 2) {
			ASSERT_EQ(0, mbox_process_call(self->ep, pidfd, &m,
						       &rep, MBOX_PIDFD, FAR));
		} else {
			ASSERT_EQ(0, mbox_process_call(self->ep, pid, &m, &rep,
						       0, FAR));
		}
		EXPECT_EQ(strlen(req) + 3, rep.len);
		EXPECT_EQ(0, memcmp(buf + 3, req, strlen(req)));
		EXPECT_EQ(pid, rep.pid);
	}
	EXPECT_EQ(0, mbox_reap(pid));
	/* Gone: its pidfd still names it, as a process that exited. */
	m = lib_msg("late", 4);
	rep = lib_msg(buf, sizeof(buf));
	EXPECT_ERR(ESRCH, mbox_process_call(self->ep, pidfd, &m, &rep,
					    MBOX_PIDFD, MBOX_NOWAIT));
	close(pidfd);
	close(pipefd[0]);
	close(pipefd[1]);
}

TEST_F(libmbox, process_errors)
{
	struct mbox_msg m = lib_msg("x", 1), rep;
	struct mbox_endpoint *ep2;
	char buf[16];
	int pipefd[2];

	rep = lib_msg(buf, sizeof(buf));
	/* Not a process: pid 0 is "any" to receive only, never negative. */
	EXPECT_ERR(EINVAL, mbox_process_send(self->ep, 0, &m, 0, MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_process_send(self->ep, -1, &m, 0, MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_process_call(self->ep, 0, &m, &rep, 0,
					     MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_process_receive(self->ep, -1, &rep, 0,
						MBOX_NOWAIT));
	EXPECT_ERR(EINVAL, mbox_process_reply_receive(self->ep, 1, "r", 1, -1,
						      &rep, 0, MBOX_NOWAIT));

	/* Nobody in this process receives direct messages yet. */
	EXPECT_ERR(ECONNREFUSED, mbox_process_send(self->ep, getpid(), &m, 0,
						   MBOX_NOWAIT));
	EXPECT_ERR(ECONNREFUSED, mbox_process_call(self->ep, getpid(), &m,
						   &rep, 0, MBOX_NOWAIT));
	EXPECT_ERR(ESRCH, mbox_process_send(self->ep, NO_SUCH_PID, &m, 0,
					    MBOX_NOWAIT));
	EXPECT_ERR(EBADF, mbox_process_receive(self->ep, 0, &rep, 0,
					       MBOX_NOWAIT));
	/* A pidfd that is not one, or no fd at all. */
	ASSERT_EQ(0, pipe(pipefd));
	EXPECT_ERR(EINVAL, mbox_process_send(self->ep, pipefd[0], &m,
					     MBOX_PIDFD, MBOX_NOWAIT));
	close(pipefd[0]);
	close(pipefd[1]);
	EXPECT_ERR(EBADF, mbox_process_send(self->ep, pipefd[0], &m,
					    MBOX_PIDFD, MBOX_NOWAIT));

	/* Reachable now; a call still needs a receiver waiting. */
	ASSERT_EQ(0, mbox_endpoint_open(&ep2));
	ASSERT_EQ(0, mbox_process_enable(ep2, NULL, 0));
	EXPECT_ERR(EAGAIN, mbox_process_call(self->ep, getpid(), &m, &rep, 0,
					     MBOX_NOWAIT));
	/* Receiving from a named sender is by pid, not MBOX_RECV_FROM. */
	rep.pid = getpid();
	EXPECT_ERR(EINVAL, mbox_process_receive(ep2, 0, &rep, MBOX_RECV_FROM,
						MBOX_NOWAIT));
	mbox_endpoint_close(ep2);
}

TEST_F(libmbox, process_anyone_accepts_other_users)
{
	struct sender s = { .text = "nobody here" };
	char buf[16];
	struct mbox_msg m;
	struct senders ss;
	pid_t pid;

	MBOX_NEED_ROOT("drop to another user");
	/* As kill(2) would: nobody may not send to root... */
	ASSERT_EQ(0, mbox_process_enable(self->ep, NULL, 0));
	ASSERT_EQ(0, senders_init(&ss));
	s.to = getpid();
	EXPECT_EQ(EPERM, sender_start(&ss, &self->cl, &s, MBOX_NOBODY,
				      MBOX_NOBODY, &pid));
	/* ...unless root takes messages from anyone. */
	ASSERT_EQ(0, mbox_process_disable(self->ep));
	ASSERT_EQ(0, mbox_process_enable(self->ep, NULL, MBOX_DIRECT_ANYONE));
	ASSERT_EQ(0, sender_start(&ss, &self->cl, &s, MBOX_NOBODY,
				  MBOX_NOBODY, &pid));
	m = lib_msg(buf, sizeof(buf));
	EXPECT_EQ(0, mbox_process_receive(self->ep, 0, &m, 0, MBOX_NOWAIT));
	EXPECT_EQ(11, m.len);
	EXPECT_EQ(pid, m.pid);
	EXPECT_EQ(MBOX_NOBODY, m.uid);
	EXPECT_EQ(MBOX_NOBODY, m.gid);
	senders_release(&ss);
}

/* ---- regressions --------------------------------------------------------- */

/*
 * Bugs these tests found in libmbox before its first release, kept so
 * that they stay fixed.
 */
/*
 * A pidfd is a file descriptor, and 0 is one: a process whose stdin is
 * closed gets its first pidfd there, and the module takes it.
 * process.c's mbox_process_addr() refused pid 0 with MBOX_PIDFD as if it
 * were receive(ANY): -EINVAL from every mbox_process_* call.
 */
TEST_F(libmbox, regression_pidfd_zero_is_a_pidfd)
{
	struct mbox_endpoint *ep2;
	struct mbox_msg m;
	char buf[16];
	int pidfd;

	ASSERT_EQ(0, mbox_endpoint_open(&ep2));
	ASSERT_EQ(0, mbox_process_enable(ep2, NULL, 0));
	close(0);
	pidfd = syscall(SYS_pidfd_open, getpid(), 0);
	ASSERT_EQ(0, pidfd);
	m = lib_msg("to fd 0", 7);
	EXPECT_EQ(0, mbox_process_send(self->ep, pidfd, &m, MBOX_PIDFD,
				       MBOX_NOWAIT));
	m = lib_msg(buf, sizeof(buf));
	EXPECT_EQ(0, mbox_process_receive(ep2, pidfd, &m, MBOX_PIDFD,
					  MBOX_NOWAIT));
	EXPECT_EQ(7, m.len);
	EXPECT_EQ(0, memcmp(buf, "to fd 0", 7));
	close(pidfd);
	mbox_endpoint_close(ep2);
}

/*
 * mbox_process_enable() passed its flags to MBOX_IOC_DIRECT as they were,
 * so the kernel's MBOX_DIRECT_DISABLE and MBOX_DIRECT_QUERY, which have
 * functions of their own, made an "enable" that disables or only asks
 * (and returned 0).  The library refuses the kernel's duplicates elsewhere
 * (MBOX_NONBLOCK, MBOX_DEADLINE): here only MBOX_DIRECT_ANYONE belongs.
 */
TEST_F(libmbox, regression_process_enable_takes_only_anyone)
{
	struct mbox_process_info info;

	ASSERT_EQ(0, mbox_process_enable(self->ep, NULL, 0));
	EXPECT_ERR(EINVAL, mbox_process_enable(self->ep, NULL,
					       MBOX_DIRECT_DISABLE));
	/* Still enabled. */
	EXPECT_EQ(0, mbox_process_query(self->ep, &info));
	EXPECT_ERR(EINVAL, mbox_process_enable(self->ep, NULL,
					       MBOX_DIRECT_QUERY));
}

/*
 * mbox.h: "Start from mbox_attr_init(): the reserved words must stay
 * zero."  mbox_mailbox_create() enforced it (-EINVAL), but
 * mbox_process_enable() ignored attr->reserved, so a program that set
 * them would have broken when a later version gives them meaning.
 */
TEST_F(libmbox, regression_process_enable_reserved_attr_einval)
{
	struct mbox_process_info info;
	struct mbox_attr a;

	mbox_attr_init(&a);
	a.reserved[0] = 1;
	EXPECT_ERR(EINVAL, mbox_process_enable(self->ep, &a, 0));
	EXPECT_ERR(EBADF, mbox_process_query(self->ep, &info));
}

TEST_HARNESS_MAIN
