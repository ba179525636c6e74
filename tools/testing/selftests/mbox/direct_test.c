// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests of direct links between processes (spec sections 3 and 4,
 * Documentation/abi.rst "Direct links", "Blocking" and "poll, select,
 * epoll"): enabling, querying and disabling direct receiving; sending by
 * pid and by pidfd; symmetric receive(Q) and asymmetric receive(ANY);
 * one link per pair; a bounded queue per direction; the send and blocking
 * modes; signals; message sizes; poll and epoll; pid namespaces; kill(2)
 * permissions; quotas; peers that exit or close; pid reuse; a receiver
 * that comes and goes under senders; and every errno path.
 *
 * Peers are "agents": child processes that each hold an endpoint of their
 * own and run, one at a time, the ioctls the test asks for through a pipe
 * and a MAP_SHARED command block, so that a test drives several processes
 * step by step without sleeps.  Whether a task is blocked is read from
 * /proc (mbox_wait_blocked()); nothing asserts how long anything took.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/mbox.h>

#include "mbox_util.h"
#include "kselftest_harness.h"

_Static_assert(sizeof(struct mbox_direct) == 32, "mbox_direct layout");

/* ---- agents ------------------------------------------------------------- */

#define AGENT_MSG_MAX	256
#define AGENTS_MAX	8
/* What an agent call returns when the agent did not answer: not an errno. */
#define AGENT_LOST	(-10000)

enum agent_op {
	A_OPEN,		/* open a new endpoint (closing the old one) */
	A_CLOSE,	/* close the endpoint */
	A_DIRECT,	/* MBOX_IOC_DIRECT with d */
	A_SEND,		/* MBOX_IOC_SEND of msg[len] */
	A_SEND_N,	/* count sends of "<msg><i>": how many went, err */
	A_RECV,		/* MBOX_IOC_RECV into buf, len bytes */
	A_PIDFD,	/* pidfd_open(to): the fd, kept */
	A_CLOSE_FD,	/* close(to) */
	A_GETPID,	/* getpid(), in the agent's pid namespace */
};

/*
 * One agent, in MAP_SHARED memory: the command block the test fills, the
 * result block the agent fills, and the pipes that pass the turn.
 */
struct agent {
	pid_t pid;		/* in the test's pid namespace */
	bool in_pidns;		/* a helper's child, in a new pid namespace */
	bool stopped;
	int cmd_r, res_w;	/* the agent's ends of its two pipes */
	int cmd_w, res_r;	/* the test's ends */
	int keep_fd;		/* an inherited fd it keeps (a pidfd), or -1 */
	/* command */
	int op;
	__u32 flags;
	__u32 addr;
	__u32 to;
	__u32 prio;
	__u32 len;
	__u32 count;
	unsigned int deadline_ms;	/* MBOX_DEADLINE: from the call */
	bool bad_buf;			/* pass an unmapped buffer */
	struct mbox_direct d;
	char msg[AGENT_MSG_MAX];
	/* result */
	int ret;
	int err;
	__u32 receiver_pid;
	struct mbox_recv r;
	char buf[AGENT_MSG_MAX];
};

/* An address that is never mapped. */
#define BAD_PTR		((void *)8)

static void agent_close_other_fds(struct agent *a)
{
	int fd;

	for (fd = 3; fd < 1024; fd++)
		if (fd != a->cmd_r && fd != a->res_w && fd != a->keep_fd)
			close(fd);
}

static void agent_do(struct agent *a, int *fd)
{
	char m[AGENT_MSG_MAX + 16];
	struct mbox_send s;
	__u32 i;
	int ret = 0;

	switch (a->op) {
	case A_OPEN:
		if (*fd >= 0)
			close(*fd);
		*fd = mbox_dev_open();
		ret = *fd < 0 ? *fd : 0;
		break;
	case A_CLOSE:
		ret = close(*fd) ? -errno : 0;
		*fd = -1;
		break;
	case A_DIRECT:
		ret = mbox_direct_ex(*fd, &a->d);
		break;
	case A_SEND:
		mbox_send_init(&s, a->to, a->bad_buf ? BAD_PTR : a->msg,
			       a->len, a->prio, a->flags);
		s.addr = a->addr;
		if (a->flags & MBOX_DEADLINE)
			s.deadline_ns = mbox_deadline_ms(a->deadline_ms);
		ret = mbox_ioctl(*fd, MBOX_IOC_SEND, &s);
		a->receiver_pid = s.receiver_pid;
		break;
	case A_SEND_N:
		a->err = 0;
		for (i = 0; i < a->count; i++) {
			int len = snprintf(m, sizeof(m), "%s%u", a->msg, i);

			a->err = mbox_send_direct(*fd, a->addr, a->to, m, len,
						  a->prio, a->flags, 0, NULL);
			if (a->err)
				break;
		}
		ret = i;
		break;
	case A_RECV:
		memset(a->buf, 0, sizeof(a->buf));
		mbox_recv_direct_init(&a->r, a->addr, a->to,
				      a->bad_buf ? BAD_PTR : a->buf,
				      a->len ?: sizeof(a->buf), a->flags);
		if (a->flags & MBOX_DEADLINE)
			a->r.deadline_ns = mbox_deadline_ms(a->deadline_ms);
		ret = mbox_recv_ex(*fd, &a->r);
		break;
	case A_PIDFD:
		ret = mbox_pidfd_open(a->to);
		break;
	case A_CLOSE_FD:
		ret = close(a->to) ? -errno : 0;
		break;
	case A_GETPID:
		ret = getpid();
		break;
	default:
		ret = -EINVAL;
	}
	a->ret = ret;
}

/* The agent's life: open an endpoint, then run commands until EOF. */
static int agent_main(void *arg)
{
	struct agent *a = arg;
	unsigned char c;
	ssize_t n;
	int fd;

	/* Never outlive the test (set after any change of credentials). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	agent_close_other_fds(a);
	fd = mbox_dev_open();
	a->ret = fd < 0 ? fd : 0;
	if (mbox_pipe_write_byte(a->res_w, 0))
		return 1;
	for (;;) {
		n = read(a->cmd_r, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		agent_do(a, &fd);
		if (mbox_pipe_write_byte(a->res_w, 0))
			return 1;
	}
	return 0;
}

static int agent_pipes(struct agent *a, int keep_fd)
{
	int cmd[2], res[2];

	memset(a, 0, sizeof(*a));
	a->keep_fd = keep_fd;
	a->cmd_r = a->cmd_w = a->res_r = a->res_w = -1;
	if (pipe2(cmd, O_CLOEXEC))
		return -errno;
	if (pipe2(res, O_CLOEXEC)) {
		close(cmd[0]);
		close(cmd[1]);
		return -errno;
	}
	a->cmd_r = cmd[0];
	a->cmd_w = cmd[1];
	a->res_r = res[0];
	a->res_w = res[1];
	return 0;
}

/*
 * The test's side, once the agent has its copies of the pipes.  The
 * agent's fields stay as they are: it reads them from shared memory.
 */
static void agent_parent_side(struct agent *a)
{
	close(a->cmd_r);
	close(a->res_w);
}

/* Wait for the agent's result: its ret, or AGENT_LOST. */
static int agent_result(struct agent *a)
{
	if (mbox_pipe_read_byte(a->res_r, MBOX_WAIT_MS) != 0)
		return AGENT_LOST;
	return a->ret;
}

/* Start the prepared command without waiting for its result. */
static int agent_post(struct agent *a)
{
	return mbox_pipe_write_byte(a->cmd_w, 0) ? AGENT_LOST : 0;
}

static int agent_call(struct agent *a)
{
	int ret = agent_post(a);

	return ret ? ret : agent_result(a);
}

/* Clear the command block for op. */
static void agent_prep(struct agent *a, int op)
{
	a->op = op;
	a->flags = a->addr = a->to = a->prio = a->len = a->count = 0;
	a->deadline_ms = 0;
	a->bad_buf = false;
	memset(&a->d, 0, sizeof(a->d));
	memset(a->msg, 0, sizeof(a->msg));
}

static int agent_op(struct agent *a, int op)
{
	agent_prep(a, op);
	return agent_call(a);
}

/* MBOX_IOC_DIRECT: enable (flags 0 or ANYONE), QUERY or DISABLE; a->d. */
static int agent_direct(struct agent *a, __u32 flags, __u32 capacity,
			__u32 max_msg_size, __u64 max_bytes)
{
	agent_prep(a, A_DIRECT);
	a->d.flags = flags;
	a->d.capacity = capacity;
	a->d.max_msg_size = max_msg_size;
	a->d.max_bytes = max_bytes;
	return agent_call(a);
}

static int agent_links(struct agent *a)
{
	int ret = agent_direct(a, MBOX_DIRECT_QUERY, 0, 0, 0);

	return ret ? ret : (int)a->d.links;
}

static void agent_prep_send(struct agent *a, __u32 addr, __u32 to,
			    const char *msg, __u32 prio, __u32 flags)
{
	agent_prep(a, A_SEND);
	a->addr = addr;
	a->to = to;
	a->len = strlen(msg);
	memcpy(a->msg, msg, a->len);
	a->prio = prio;
	a->flags = flags;
}

/* Send the string msg; a->receiver_pid after a synchronous send. */
static int agent_send(struct agent *a, __u32 addr, __u32 to, const char *msg,
		      __u32 prio, __u32 flags)
{
	agent_prep_send(a, addr, to, msg, prio, flags);
	return agent_call(a);
}

/* Start a send that will block; agent_result() gives its outcome. */
static int agent_send_start(struct agent *a, __u32 addr, __u32 to,
			    const char *msg, __u32 flags,
			    unsigned int deadline_ms)
{
	agent_prep_send(a, addr, to, msg, 0, flags);
	a->deadline_ms = deadline_ms;
	return agent_post(a);
}

/* count non-blocking sends of "<tag><i>": how many went; a->err. */
static int agent_send_n(struct agent *a, __u32 addr, __u32 to,
			const char *tag, __u32 count)
{
	agent_prep(a, A_SEND_N);
	a->addr = addr;
	a->to = to;
	a->count = count;
	a->flags = MBOX_NONBLOCK;
	strncpy(a->msg, tag, sizeof(a->msg) - 1);
	return agent_call(a);
}

static void agent_prep_recv(struct agent *a, __u32 addr, __u32 from,
			    __u32 flags)
{
	agent_prep(a, A_RECV);
	a->addr = addr;
	a->to = from;
	a->flags = flags;
}

/* Receive into a->buf; a->r holds the out fields. */
static int agent_recv(struct agent *a, __u32 addr, __u32 from, __u32 flags)
{
	agent_prep_recv(a, addr, from, flags);
	if (flags & MBOX_DEADLINE)
		a->deadline_ms = MBOX_WAIT_MS;
	return agent_call(a);
}

/* Whether the last receive got exactly msg. */
static bool agent_got(struct agent *a, const char *msg)
{
	return a->r.len == strlen(msg) && !memcmp(a->buf, msg, a->r.len);
}

/* Receive without blocking: whether it is msg, from sender_pid. */
static bool agent_recv_is(struct agent *a, __u32 addr, __u32 from,
			  const char *msg, pid_t sender_pid)
{
	return !agent_recv(a, addr, from, MBOX_NONBLOCK) && agent_got(a, msg) &&
	       a->r.sender_pid == (__u32)sender_pid;
}

/* Receive(ANY), waiting up to MBOX_WAIT_MS: whether it is msg, from pid. */
static bool agent_recv_wait_is(struct agent *a, const char *msg,
			       pid_t sender_pid)
{
	return !agent_recv(a, MBOX_ADDR_PID, 0, MBOX_DEADLINE) &&
	       agent_got(a, msg) && a->r.sender_pid == (__u32)sender_pid;
}

static bool agent_empty(struct agent *a)
{
	return agent_recv(a, MBOX_ADDR_PID, 0, MBOX_NONBLOCK) == -EAGAIN;
}

/* A pidfd of pid opened by the agent (kept there): the fd or -errno. */
static int agent_pidfd(struct agent *a, pid_t pid)
{
	agent_prep(a, A_PIDFD);
	a->to = pid;
	return agent_call(a);
}

/*
 * Let the agent go (EOF on its command pipe) and reap it: its exit
 * status.  An agent in a pid namespace is reaped by its helper.
 */
static int agent_stop(struct agent *a)
{
	int ret = 0;

	if (a->stopped)
		return 0;
	a->stopped = true;
	close(a->cmd_w);
	a->cmd_w = -1;
	if (!a->in_pidns)
		ret = mbox_reap(a->pid);
	close(a->res_r);
	a->res_r = -1;
	return ret;
}

/* ---- the fixture -------------------------------------------------------- */

FIXTURE(direct) {
	int fd;
	struct mbox_cleanup cl;
	struct agent *ag;	/* AGENTS_MAX of them, MAP_SHARED */
	unsigned int nag;
	bool restore_user_bytes;
	unsigned long long saved_user_bytes;
};

FIXTURE_SETUP(direct)
{
	__u64 features = 0;

	self->ag = NULL;
	self->fd = mbox_dev_open();
	if (self->fd == -ENOENT)
		SKIP(return, "/dev/mbox is absent: the mbox module is not loaded");
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, mbox_features(self->fd, &features));
	if (!(features & MBOX_FEATURE_DIRECT))
		SKIP(return, "the loaded module has no MBOX_FEATURE_DIRECT");
	self->ag = mbox_shared_alloc(AGENTS_MAX * sizeof(*self->ag));
	ASSERT_NE(NULL, self->ag);
}

FIXTURE_TEARDOWN(direct)
{
	unsigned int i;

	/* Kills the agents (and pid namespace helpers) not reaped yet. */
	mbox_cleanup_run(&self->cl);
	if (self->restore_user_bytes)
		mbox_param_set("max_user_bytes", self->saved_user_bytes);
	for (i = 0; self->ag && i < self->nag; i++) {
		if (self->ag[i].cmd_w >= 0)
			close(self->ag[i].cmd_w);
		if (self->ag[i].res_r >= 0)
			close(self->ag[i].res_r);
	}
	if (self->ag)
		munmap(self->ag, AGENTS_MAX * sizeof(*self->ag));
	if (self->fd >= 0)
		close(self->fd);
}

/*
 * A new agent running as uid/gid ((uid_t)-1: as the test), keeping
 * keep_fd (or -1); NULL on failure.
 */
static struct agent *agent_new_as(FIXTURE_DATA(direct) *self, uid_t uid,
				  gid_t gid, int keep_fd)
{
	struct agent *a;
	pid_t pid;

	if (self->nag >= AGENTS_MAX)
		return NULL;
	a = &self->ag[self->nag];
	if (agent_pipes(a, keep_fd))
		return NULL;
	self->nag++;
	pid = mbox_spawn_as(uid, gid, agent_main, a);
	if (pid < 0)
		return NULL;
	a->pid = pid;
	mbox_track_pid(&self->cl, pid);
	agent_parent_side(a);
	if (agent_result(a))
		return NULL;
	return a;
}

static struct agent *agent_new(FIXTURE_DATA(direct) *self)
{
	return agent_new_as(self, (uid_t)-1, (gid_t)-1, -1);
}

/* The helper that makes a pid namespace and starts agents in it. */
struct pidns_helper {
	struct agent *ag;
	unsigned int n;
	int ready_w;	/* one byte: 0 once every pid is published, or errno */
};

static int pidns_helper_main(void *arg)
{
	struct pidns_helper *h = arg;
	unsigned int i;
	int ret = 0, st;
	pid_t pid;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (unshare(CLONE_NEWPID)) {
		ret = errno == EPERM || errno == EINVAL ? MBOX_CHILD_ENONS :
							  errno;
		mbox_pipe_write_byte(h->ready_w, ret);
		return ret;
	}
	/* The first agent is pid 1 there: the namespace ends with it. */
	for (i = 0; i < h->n; i++) {
		pid = mbox_spawn(agent_main, &h->ag[i]);
		if (pid < 0) {
			mbox_pipe_write_byte(h->ready_w, -pid);
			return -pid;
		}
		h->ag[i].pid = pid;	/* as the test's namespace sees it */
	}
	mbox_pipe_write_byte(h->ready_w, 0);
	for (i = 3; i < 1024; i++)
		close(i);
	/*
	 * In whatever order they end: pid 1 exits only once every other
	 * process of its namespace has been reaped, and we are their parent.
	 */
	for (i = 0; i < h->n; i++) {
		do {
			pid = waitpid(-1, &st, 0);
		} while (pid < 0 && errno == EINTR);
		if (pid < 0)
			return errno;
		/*
		 * When pid 1 ends first, the kernel kills the others of its
		 * namespace: SIGKILL is how they may end.
		 */
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
			continue;
		st = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (st && !ret)
			ret = st;
	}
	return ret;
}

/*
 * n agents in a new pid namespace (the first is its pid 1), keeping
 * keep_fd; *out gets the first.  0, -EOPNOTSUPP if pid namespaces
 * cannot be made here, or another -errno.
 */
static int agents_new_pidns(FIXTURE_DATA(direct) *self, unsigned int n,
			    int keep_fd, struct agent **out, pid_t *helper)
{
	struct pidns_helper h;
	int ready[2], ret;
	unsigned int i;
	pid_t pid;

	if (self->nag + n > AGENTS_MAX)
		return -ENOSPC;
	if (pipe2(ready, O_CLOEXEC))
		return -errno;
	h.ag = &self->ag[self->nag];
	h.n = n;
	h.ready_w = ready[1];
	for (i = 0; i < n; i++) {
		ret = agent_pipes(&h.ag[i], keep_fd);
		if (ret)
			return ret;
		h.ag[i].in_pidns = true;
		self->nag++;
	}
	pid = mbox_spawn(pidns_helper_main, &h);
	if (pid < 0)
		return pid;
	mbox_track_pid(&self->cl, pid);
	*helper = pid;
	close(ready[1]);
	for (i = 0; i < n; i++)
		agent_parent_side(&h.ag[i]);
	ret = mbox_pipe_read_byte(ready[0], MBOX_WAIT_MS);
	close(ready[0]);
	if (ret == MBOX_CHILD_ENONS) {
		mbox_reap(pid);
		return -EOPNOTSUPP;
	}
	if (ret)
		return ret < 0 ? ret : -ret;
	for (i = 0; i < n; i++)
		if (agent_result(&h.ag[i]))
			return -EIO;
	*out = h.ag;
	return 0;
}

/* ---- helpers of the test process itself --------------------------------- */

/* Receive one direct message; *r and buf[size] hold what came. */
static int recv_direct(int fd, __u32 addr, __u32 from, __u32 flags,
		       char *buf, __u32 size, struct mbox_recv *r)
{
	mbox_recv_direct_init(r, addr, from, buf, size, flags);
	if (flags & MBOX_DEADLINE)
		r->deadline_ns = mbox_deadline_ms(MBOX_WAIT_MS);
	return mbox_recv_ex(fd, r);
}

static bool got(const struct mbox_recv *r, const char *buf, const char *msg)
{
	return r->len == strlen(msg) && !memcmp(buf, msg, r->len);
}

/* Non-blocking receive(ANY): whether it is msg, sent by sender_pid. */
static bool recv_any_is(int fd, const char *msg, pid_t sender_pid)
{
	__u32 from = 0;

	return mbox_recv_direct_is(fd, MBOX_ADDR_PID, 0, msg, &from) &&
	       from == (__u32)sender_pid;
}

/* Receive(ANY) waiting up to MBOX_WAIT_MS: whether it is msg from pid. */
static bool recv_wait_is(int fd, const char *msg, pid_t sender_pid)
{
	struct mbox_recv r;
	char buf[AGENT_MSG_MAX];

	if (recv_direct(fd, MBOX_ADDR_PID, 0, MBOX_DEADLINE, buf, sizeof(buf),
			&r))
		return false;
	return got(&r, buf, msg) && r.sender_pid == (__u32)sender_pid;
}


/* ---- enable, query, disable --------------------------------------------- */

TEST_F(direct, enable_reports_what_is_in_force)
{
	unsigned long long def = 0;
	struct mbox_direct d, q;
	int ep;

	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 4, 100, 0, &d));
	EXPECT_EQ(4, d.capacity);
	EXPECT_EQ(100, d.max_msg_size);
	EXPECT_EQ(400, d.max_bytes);	/* capacity * max_msg_size */
	EXPECT_EQ(0, d.links);
	EXPECT_EQ(getpid(), d.pid);

	ASSERT_EQ(0, mbox_direct_query(self->fd, &q));
	EXPECT_EQ(4, q.capacity);
	EXPECT_EQ(100, q.max_msg_size);
	EXPECT_EQ(400, q.max_bytes);
	EXPECT_EQ(0, q.links);
	EXPECT_EQ(getpid(), q.pid);
	EXPECT_EQ(MBOX_DIRECT_QUERY, q.flags);	/* not ANYONE */
	/* QUERY changes nothing, whatever limits it carries. */
	memset(&q, 0, sizeof(q));
	q.flags = MBOX_DIRECT_QUERY;
	q.capacity = 9;
	q.max_msg_size = 9;
	ASSERT_EQ(0, mbox_direct_ex(self->fd, &q));
	EXPECT_EQ(4, q.capacity);
	EXPECT_EQ(100, q.max_msg_size);

	/* Defaults, on a fresh endpoint: the module's default message size. */
	ASSERT_EQ(0, mbox_direct_disable(self->fd));
	ep = mbox_dev_open();
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, mbox_direct_enable(ep, MBOX_DIRECT_ANYONE, 2, 0, 0, &d));
	if (!mbox_param_get("default_msg_size", &def))
		EXPECT_EQ(def, d.max_msg_size);
	EXPECT_LT(0, d.max_msg_size);
	EXPECT_EQ(2, d.capacity);
	EXPECT_EQ(2ULL * d.max_msg_size, d.max_bytes);
	/* QUERY tells whether it accepts messages from anyone. */
	ASSERT_EQ(0, mbox_direct_query(ep, &q));
	EXPECT_EQ(MBOX_DIRECT_QUERY | MBOX_DIRECT_ANYONE, q.flags);
	EXPECT_EQ(getpid(), d.pid);
	ASSERT_EQ(0, mbox_direct_disable(ep));

	/* An explicit byte limit, and unbounded. */
	ASSERT_EQ(0, mbox_direct_enable(ep, 0, 8, 64, 100, &d));
	EXPECT_EQ(100, d.max_bytes);
	EXPECT_EQ(64, d.max_msg_size);
	ASSERT_EQ(0, mbox_direct_disable(ep));
	ASSERT_EQ(0, mbox_direct_enable(ep, 0, MBOX_UNBOUNDED, 64, 0, &d));
	EXPECT_EQ(MBOX_UNBOUNDED, d.capacity);
	ASSERT_EQ(0, mbox_direct_disable(ep));
	ASSERT_EQ(0, mbox_direct_enable(ep, 0, 0, 64, 0, &d));
	EXPECT_EQ(0, d.capacity);
	EXPECT_EQ(64, d.max_msg_size);
	close(ep);
}

/* QUERY from another thread names the process, not the thread. */
struct query_arg {
	int fd;
	int ret;
	pid_t tid;
	struct mbox_direct d;
};

static void *query_thread(void *data)
{
	struct query_arg *q = data;

	q->tid = gettid();
	q->ret = mbox_direct_query(q->fd, &q->d);
	return NULL;
}

TEST_F(direct, pid_is_the_process_also_from_a_thread)
{
	struct query_arg q = { .fd = self->fd };
	pthread_t t;

	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 1, 0, 0, NULL));
	ASSERT_EQ(0, pthread_create(&t, NULL, query_thread, &q));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, q.ret);
	EXPECT_NE(getpid(), q.tid);
	EXPECT_EQ(getpid(), q.d.pid);
}

TEST_F(direct, enable_twice_eexist_second_endpoint_ebusy)
{
	struct mbox_direct d;
	struct agent *a;
	int ep2, ep3;

	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 2, 0, 0, NULL));
	/* The same endpoint: EEXIST, whatever the flags and limits. */
	EXPECT_EQ(-EEXIST, mbox_direct_enable(self->fd, 0, 2, 0, 0, NULL));
	EXPECT_EQ(-EEXIST, mbox_direct_enable(self->fd, MBOX_DIRECT_ANYONE,
					      5, 0, 0, NULL));
	ASSERT_EQ(0, mbox_direct_query(self->fd, &d));
	EXPECT_EQ(2, d.capacity);

	/* Another endpoint of the same process: EBUSY, one per process. */
	ep2 = mbox_dev_open();
	ASSERT_LE(0, ep2);
	ep3 = mbox_dev_open();
	ASSERT_LE(0, ep3);
	EXPECT_EQ(-EBUSY, mbox_direct_enable(ep2, 0, 2, 0, 0, NULL));
	EXPECT_EQ(-EBUSY, mbox_direct_enable(ep3, MBOX_DIRECT_ANYONE, 0, 0,
					     0, NULL));
	EXPECT_EQ(-EBADF, mbox_direct_query(ep2, NULL));

	/* Another process may, on its own endpoint. */
	a = agent_new(self);
	ASSERT_NE(NULL, a);
	EXPECT_EQ(0, agent_direct(a, 0, 2, 0, 0));
	EXPECT_EQ(a->pid, a->d.pid);

	/* Once the first is disabled, the second endpoint may. */
	ASSERT_EQ(0, mbox_direct_disable(self->fd));
	ASSERT_EQ(0, mbox_direct_enable(ep2, 0, 3, 0, 0, &d));
	EXPECT_EQ(3, d.capacity);
	EXPECT_EQ(-EBUSY, mbox_direct_enable(self->fd, 0, 2, 0, 0, NULL));
	/* Sends reach the process through its new endpoint. */
	EXPECT_EQ(0, agent_send(a, MBOX_ADDR_PID, getpid(), "to-ep2", 0,
				MBOX_NONBLOCK));
	EXPECT_TRUE(recv_any_is(ep2, "to-ep2", a->pid));
	/* And closing it frees the slot too. */
	close(ep2);
	EXPECT_EQ(0, mbox_direct_enable(ep3, 0, 2, 0, 0, NULL));
	close(ep3);
	EXPECT_EQ(0, agent_stop(a));
}

TEST_F(direct, query_and_disable_without_direct_ebadf)
{
	struct mbox_recv r;
	char buf[8];

	EXPECT_EQ(-EBADF, mbox_direct_query(self->fd, NULL));
	EXPECT_EQ(-EBADF, mbox_direct_disable(self->fd));
	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 1, 0, 0, NULL));
	EXPECT_EQ(0, mbox_direct_query(self->fd, NULL));
	EXPECT_EQ(0, mbox_direct_disable(self->fd));
	EXPECT_EQ(-EBADF, mbox_direct_query(self->fd, NULL));
	EXPECT_EQ(-EBADF, mbox_direct_disable(self->fd));
	/* Nor can it receive direct messages. */
	EXPECT_EQ(-EBADF, recv_direct(self->fd, MBOX_ADDR_PID, 0,
				      MBOX_NONBLOCK, buf, sizeof(buf), &r));
	/* It can be enabled again. */
	EXPECT_EQ(0, mbox_direct_enable(self->fd, 0, 1, 0, 0, NULL));
}

TEST_F(direct, bad_flags_and_limits_einval)
{
	static const __u32 bad[] = {
		MBOX_NONBLOCK, MBOX_DEADLINE, 1U << 5, 1U << 31,
		MBOX_DIRECT_ANYONE | MBOX_DIRECT_QUERY,
		MBOX_DIRECT_ANYONE | MBOX_DIRECT_DISABLE,
		MBOX_DIRECT_QUERY | MBOX_DIRECT_DISABLE,
		MBOX_DIRECT_ANYONE | MBOX_DIRECT_QUERY | MBOX_DIRECT_DISABLE,
	};
	unsigned long long ceiling = 1 << 20;
	struct mbox_direct d;
	struct {
		struct mbox_direct d;
		__u64 extra;
	} big;
	unsigned int i;

	/* Without direct, then with it: EINVAL first, and nothing changes. */
	for (i = 0; i < MBOX_ARRAY_SIZE(bad); i++) {
		memset(&d, 0, sizeof(d));
		d.flags = bad[i];
		d.capacity = 1;
		EXPECT_EQ(-EINVAL, mbox_direct_ex(self->fd, &d)) {
			TH_LOG("flags %#x", bad[i]);
		}
	}
	EXPECT_EQ(-EBADF, mbox_direct_query(self->fd, NULL));

	/* Limits as for CREATE. */
	mbox_param_get("max_msg_size", &ceiling);
	EXPECT_EQ(-EINVAL, mbox_direct_enable(self->fd, 0, 1, ceiling + 1, 0,
					      NULL));
	EXPECT_EQ(-EINVAL, mbox_direct_enable(self->fd, 0, 4, 100, 99, NULL));
	EXPECT_EQ(-EBADF, mbox_direct_query(self->fd, NULL));

	/* The size rules of every ioctl. */
	memset(&d, 0, sizeof(d));
	d.size = 4;
	EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, MBOX_IOC_DIRECT, &d));
	memset(&big, 0, sizeof(big));
	big.d.size = sizeof(big);
	big.d.capacity = 1;
	big.extra = 1;
	EXPECT_EQ(-E2BIG, mbox_ioctl(self->fd, MBOX_IOC_DIRECT, &big));
	EXPECT_EQ(-EBADF, mbox_direct_query(self->fd, NULL));
	big.extra = 0;
	EXPECT_EQ(0, mbox_ioctl(self->fd, MBOX_IOC_DIRECT, &big));
	EXPECT_EQ(getpid(), big.d.pid);
	EXPECT_EQ(0, big.extra);

	/* With direct on, bad flags still change nothing. */
	for (i = 0; i < MBOX_ARRAY_SIZE(bad); i++) {
		memset(&d, 0, sizeof(d));
		d.flags = bad[i];
		EXPECT_EQ(-EINVAL, mbox_direct_ex(self->fd, &d));
	}
	ASSERT_EQ(0, mbox_direct_query(self->fd, &d));
	EXPECT_EQ(1, d.capacity);
	EXPECT_EQ(-EFAULT, mbox_ioctl(self->fd, MBOX_IOC_DIRECT, BAD_PTR));
}

TEST_F(direct, disable_then_sends_econnrefused)
{
	struct agent *a;
	pid_t me = getpid();
	int pidfd;

	pidfd = mbox_pidfd_open(me);
	ASSERT_LE(0, pidfd);
	a = agent_new_as(self, (uid_t)-1, (gid_t)-1, pidfd);
	ASSERT_NE(NULL, a);

	EXPECT_EQ(-ECONNREFUSED, agent_send(a, MBOX_ADDR_PID, me, "never", 0,
					    MBOX_NONBLOCK));
	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 4, 0, 0, NULL));
	EXPECT_EQ(0, agent_send(a, MBOX_ADDR_PID, me, "queued", 0,
				MBOX_NONBLOCK));
	ASSERT_EQ(0, mbox_direct_disable(self->fd));
	EXPECT_EQ(-ECONNREFUSED, agent_send(a, MBOX_ADDR_PID, me, "off", 0,
					    MBOX_NONBLOCK));
	EXPECT_EQ(-ECONNREFUSED, agent_send(a, MBOX_ADDR_PIDFD, pidfd, "off",
					    0, MBOX_NONBLOCK));
	/* Blocking or not, at once. */
	EXPECT_EQ(-ECONNREFUSED, agent_send(a, MBOX_ADDR_PID, me, "off", 0,
					    0));

	/* Enabled again: reachable again, and what was queued went with it. */
	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 4, 0, 0, NULL));
	EXPECT_TRUE(mbox_direct_empty(self->fd));
	EXPECT_EQ(0, agent_send(a, MBOX_ADDR_PIDFD, pidfd, "again", 0,
				MBOX_NONBLOCK));
	EXPECT_TRUE(recv_any_is(self->fd, "again", a->pid));
	EXPECT_EQ(0, agent_stop(a));
	close(pidfd);
}

/* ---- receive(ANY) and receive(Q) ---------------------------------------- */

TEST_F(direct, recv_any_reports_each_sender)
{
	struct agent *s1, *s2, *nob;
	struct mbox_recv r;
	pid_t me = getpid();
	char buf[64];
	int pidfd;

	pidfd = mbox_pidfd_open(me);
	ASSERT_LE(0, pidfd);
	ASSERT_EQ(0, mbox_direct_enable(self->fd, MBOX_DIRECT_ANYONE, 8, 0, 0,
					NULL));
	s1 = agent_new_as(self, (uid_t)-1, (gid_t)-1, pidfd);
	ASSERT_NE(NULL, s1);
	s2 = agent_new_as(self, (uid_t)-1, (gid_t)-1, pidfd);
	ASSERT_NE(NULL, s2);
	/* Another user, as root; unprivileged, one more of ours. */
	if (mbox_is_root())
		nob = agent_new_as(self, MBOX_NOBODY, MBOX_NOBODY, pidfd);
	else
		nob = agent_new_as(self, (uid_t)-1, (gid_t)-1, pidfd);
	ASSERT_NE(NULL, nob);

	/* Senders need no direct receiving of their own. */
	ASSERT_EQ(0, agent_send(s1, MBOX_ADDR_PID, me, "one", 0,
				MBOX_NONBLOCK));
	ASSERT_EQ(0, agent_send(s2, MBOX_ADDR_PIDFD, pidfd, "two", 0,
				MBOX_NONBLOCK));
	ASSERT_EQ(0, agent_send(nob, MBOX_ADDR_PID, me, "three", 0, 0));
	ASSERT_EQ(0, agent_send(s1, MBOX_ADDR_PIDFD, pidfd, "four", 0, 0));

	/* In sending order, each with its sender, uid and gid. */
	ASSERT_EQ(0, recv_direct(self->fd, MBOX_ADDR_PID, 0, MBOX_NONBLOCK,
				 buf, sizeof(buf), &r));
	EXPECT_TRUE(got(&r, buf, "one"));
	EXPECT_EQ(s1->pid, r.sender_pid);
	EXPECT_EQ(geteuid(), r.sender_uid);
	EXPECT_EQ(getegid(), r.sender_gid);
	EXPECT_EQ(0, r.msg_flags);
	EXPECT_EQ(0, r.priority);
	EXPECT_EQ(0, r.token);
	EXPECT_EQ(0, r.__pad);

	ASSERT_EQ(0, recv_direct(self->fd, MBOX_ADDR_PID, 0, MBOX_NONBLOCK,
				 buf, sizeof(buf), &r));
	EXPECT_TRUE(got(&r, buf, "two"));
	EXPECT_EQ(s2->pid, r.sender_pid);

	ASSERT_EQ(0, recv_direct(self->fd, MBOX_ADDR_PID, 0, MBOX_NONBLOCK,
				 buf, sizeof(buf), &r));
	EXPECT_TRUE(got(&r, buf, "three"));
	EXPECT_EQ(nob->pid, r.sender_pid);
	EXPECT_EQ(mbox_is_root() ? MBOX_NOBODY : geteuid(), r.sender_uid);
	EXPECT_EQ(mbox_is_root() ? MBOX_NOBODY : getegid(), r.sender_gid);

	ASSERT_EQ(0, recv_direct(self->fd, MBOX_ADDR_PID, 0, MBOX_NONBLOCK,
				 buf, sizeof(buf), &r));
	EXPECT_TRUE(got(&r, buf, "four"));
	EXPECT_EQ(s1->pid, r.sender_pid);
	EXPECT_TRUE(mbox_direct_empty(self->fd));

	EXPECT_EQ(0, agent_stop(s1));
	EXPECT_EQ(0, agent_stop(s2));
	EXPECT_EQ(0, agent_stop(nob));
	close(pidfd);
}

TEST_F(direct, recv_from_q_by_pid_and_pidfd_leaves_others_queued)
{
	struct agent *s1, *s2;
	struct mbox_recv r;
	char buf[16];
	pid_t me = getpid();
	int fd1, fd2;

	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 8, 0, 0, NULL));
	s1 = agent_new(self);
	ASSERT_NE(NULL, s1);
	s2 = agent_new(self);
	ASSERT_NE(NULL, s2);
	fd1 = mbox_pidfd_open(s1->pid);
	ASSERT_LE(0, fd1);
	fd2 = mbox_pidfd_open(s2->pid);
	ASSERT_LE(0, fd2);

	ASSERT_EQ(0, agent_send(s1, MBOX_ADDR_PID, me, "a1", 0, MBOX_NONBLOCK));
	ASSERT_EQ(0, agent_send(s2, MBOX_ADDR_PID, me, "b1", 0, MBOX_NONBLOCK));
	ASSERT_EQ(0, agent_send(s1, MBOX_ADDR_PID, me, "a2", 0, MBOX_NONBLOCK));
	ASSERT_EQ(0, agent_send(s2, MBOX_ADDR_PID, me, "b2", 0, MBOX_NONBLOCK));
	ASSERT_EQ(0, agent_send(s1, MBOX_ADDR_PID, me, "a3", 0, MBOX_NONBLOCK));

	/* receive(Q): only Q's messages, in Q's order. */
	EXPECT_TRUE(mbox_recv_direct_is(self->fd, MBOX_ADDR_PID, s2->pid, "b1",
					NULL));
	EXPECT_TRUE(mbox_recv_direct_is(self->fd, MBOX_ADDR_PIDFD, fd2, "b2",
					NULL));
	EXPECT_FALSE(mbox_recv_direct_is(self->fd, MBOX_ADDR_PIDFD, fd2, "",
					 NULL));
	EXPECT_TRUE(mbox_recv_direct_is(self->fd, MBOX_ADDR_PIDFD, fd1, "a1",
					NULL));
	/* Nothing of s2 left: EAGAIN, while s1's wait. */
	EXPECT_EQ(-EAGAIN, recv_direct(self->fd, MBOX_ADDR_PIDFD, fd2,
				       MBOX_NONBLOCK, buf, sizeof(buf), &r));
	EXPECT_EQ(-EAGAIN, recv_direct(self->fd, MBOX_ADDR_PID, s2->pid,
				       MBOX_NONBLOCK, buf, sizeof(buf), &r));
	/* receive(ANY) takes what the selective receives left. */
	EXPECT_TRUE(recv_any_is(self->fd, "a2", s1->pid));
	EXPECT_TRUE(mbox_recv_direct_is(self->fd, MBOX_ADDR_PID, s1->pid, "a3",
					NULL));
	EXPECT_TRUE(mbox_direct_empty(self->fd));

	EXPECT_EQ(0, agent_stop(s1));
	EXPECT_EQ(0, agent_stop(s2));
	close(fd1);
	close(fd2);
}

TEST_F(direct, blocked_recv_from_q_ignores_other_peers)
{
	struct agent *s1, *s2;
	pid_t me = getpid();
	struct mbox_recv r;
	struct mbox_bg bg;
	char buf[16];

	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 4, 0, 0, NULL));
	s1 = agent_new(self);
	ASSERT_NE(NULL, s1);
	s2 = agent_new(self);
	ASSERT_NE(NULL, s2);

	mbox_recv_direct_init(&r, MBOX_ADDR_PID, s1->pid, buf, sizeof(buf), 0);
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_RECV, &r));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	/* s2's message is queued, and the receiver waits on. */
	ASSERT_EQ(0, agent_send(s2, MBOX_ADDR_PID, me, "from-s2", 0,
				MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_bg_wait_blocked(&bg));
	EXPECT_FALSE(mbox_bg_done(&bg));
	ASSERT_EQ(0, agent_send(s1, MBOX_ADDR_PID, me, "from-s1", 0,
				MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_bg_join(&bg));
	EXPECT_TRUE(got(&r, buf, "from-s1"));
	EXPECT_EQ(s1->pid, r.sender_pid);
	EXPECT_TRUE(recv_any_is(self->fd, "from-s2", s2->pid));
	EXPECT_EQ(0, agent_stop(s1));
	EXPECT_EQ(0, agent_stop(s2));
}

TEST_F(direct, ring_of_three_all_to_all)
{
	struct agent *p[3];
	int i, j, k, pidfd[3];
	char msg[32];

	for (i = 0; i < 3; i++) {
		p[i] = agent_new(self);
		ASSERT_NE(NULL, p[i]);
		ASSERT_EQ(0, agent_direct(p[i], 0, 4, 0, 0));
		EXPECT_EQ(p[i]->pid, p[i]->d.pid);
	}
	/* Each opens a pidfd of the next one. */
	for (i = 0; i < 3; i++) {
		pidfd[i] = agent_pidfd(p[i], p[(i + 1) % 3]->pid);
		ASSERT_LE(0, pidfd[i]);
	}
	/* Each sends to the next by pidfd and to the one before by pid. */
	for (i = 0; i < 3; i++) {
		snprintf(msg, sizeof(msg), "%d->%d", i, (i + 1) % 3);
		ASSERT_EQ(0, agent_send(p[i], MBOX_ADDR_PIDFD, pidfd[i], msg, 0,
					MBOX_NONBLOCK));
		snprintf(msg, sizeof(msg), "%d->%d", i, (i + 2) % 3);
		ASSERT_EQ(0, agent_send(p[i], MBOX_ADDR_PID,
					p[(i + 2) % 3]->pid, msg, 0,
					MBOX_NONBLOCK));
	}
	for (i = 0; i < 3; i++) {
		j = (i + 1) % 3;	/* sent by pid in round j */
		k = (i + 2) % 3;	/* sent by pidfd in round k */
		/* Symmetric first: the later sender, by pid. */
		snprintf(msg, sizeof(msg), "%d->%d", j, i);
		EXPECT_TRUE(agent_recv_is(p[i], MBOX_ADDR_PID, p[j]->pid, msg,
					  p[j]->pid));
		/* Then asymmetric: the other one, and who it was. */
		snprintf(msg, sizeof(msg), "%d->%d", k, i);
		EXPECT_TRUE(agent_recv_is(p[i], MBOX_ADDR_PID, 0, msg,
					  p[k]->pid));
		EXPECT_TRUE(agent_empty(p[i]));
	}
	/* Three pairs: each process has two links. */
	for (i = 0; i < 3; i++)
		EXPECT_EQ(2, agent_links(p[i]));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0, agent_stop(p[i]));
}

TEST_F(direct, priority_first_then_sending_order)
{
	static const char * const order[] = {
		"a31", "a5", "b5", "a0", "a0b", "b0",
	};
	struct agent *s1, *s2;
	pid_t me = getpid();
	struct mbox_recv r;
	char buf[16];
	unsigned int i;

	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 8, 0, 0, NULL));
	s1 = agent_new(self);
	ASSERT_NE(NULL, s1);
	s2 = agent_new(self);
	ASSERT_NE(NULL, s2);

	ASSERT_EQ(0, agent_send(s1, MBOX_ADDR_PID, me, "a0", 0, MBOX_NONBLOCK));
	ASSERT_EQ(0, agent_send(s2, MBOX_ADDR_PID, me, "b5", 5, MBOX_NONBLOCK));
	ASSERT_EQ(0, agent_send(s1, MBOX_ADDR_PID, me, "a5", 5, MBOX_NONBLOCK));
	ASSERT_EQ(0, agent_send(s1, MBOX_ADDR_PID, me, "a0b", 0,
				MBOX_NONBLOCK));
	ASSERT_EQ(0, agent_send(s2, MBOX_ADDR_PID, me, "b0", 0, MBOX_NONBLOCK));
	ASSERT_EQ(0, agent_send(s1, MBOX_ADDR_PID, me, "a31", MBOX_PRIO_MAX,
				MBOX_NONBLOCK));

	/* receive(Q): Q's highest first, FIFO within a priority. */
	ASSERT_EQ(0, recv_direct(self->fd, MBOX_ADDR_PID, s2->pid,
				 MBOX_NONBLOCK, buf, sizeof(buf), &r));
	EXPECT_TRUE(got(&r, buf, "b5"));
	EXPECT_EQ(5, r.priority);
	ASSERT_EQ(0, recv_direct(self->fd, MBOX_ADDR_PID, s1->pid,
				 MBOX_NONBLOCK, buf, sizeof(buf), &r));
	EXPECT_TRUE(got(&r, buf, "a31"));
	EXPECT_EQ(MBOX_PRIO_MAX, r.priority);

	/* Everyone again, for receive(ANY) across the links. */
	ASSERT_EQ(0, agent_send(s1, MBOX_ADDR_PID, me, "a31", MBOX_PRIO_MAX,
				MBOX_NONBLOCK));
	ASSERT_EQ(0, agent_send(s2, MBOX_ADDR_PID, me, "b5", 5, MBOX_NONBLOCK));
	/*
	 * Queued now, in sending order: a0(0) a5(5) a0b(0) b0(0) a31(31)
	 * b5(5): by priority, then that order.
	 */
	for (i = 0; i < MBOX_ARRAY_SIZE(order); i++) {
		ASSERT_EQ(0, recv_direct(self->fd, MBOX_ADDR_PID, 0,
					 MBOX_NONBLOCK, buf, sizeof(buf), &r));
		EXPECT_TRUE(got(&r, buf, order[i])) {
			TH_LOG("#%u: wanted %s, got %.*s", i, order[i],
			       (int)r.len, buf);
		}
		EXPECT_EQ(order[i][0] == 'a' ? s1->pid : s2->pid,
			  r.sender_pid);
	}
	EXPECT_TRUE(mbox_direct_empty(self->fd));
	EXPECT_EQ(0, agent_stop(s1));
	EXPECT_EQ(0, agent_stop(s2));
}

/* A thread id names its process. */
static void *idle_thread(void *arg)
{
	int *p = arg;
	char c;

	__atomic_store_n(&p[2], (int)gettid(), __ATOMIC_SEQ_CST);
	while (read(p[0], &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

TEST_F(direct, thread_id_names_its_process)
{
	int ctl[3] = { -1, -1, 0 };
	struct agent *a;
	pthread_t t;
	pid_t tid;
	__u64 end;

	ASSERT_EQ(0, pipe(ctl));
	ASSERT_EQ(0, pthread_create(&t, NULL, idle_thread, ctl));
	end = mbox_deadline_ms(MBOX_WAIT_MS);
	while (!(tid = __atomic_load_n(&ctl[2], __ATOMIC_SEQ_CST)) &&
	       mbox_now_ns() < end)
		mbox_sleep_ms(1);
	ASSERT_NE(0, tid);
	ASSERT_NE(getpid(), tid);

	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 4, 0, 0, NULL));
	a = agent_new(self);
	ASSERT_NE(NULL, a);
	/* Sent to the thread, received by the process. */
	agent_prep_send(a, MBOX_ADDR_PID, tid, "to-thread", 0, MBOX_SEND_SYNC);
	ASSERT_EQ(0, agent_post(a));
	ASSERT_EQ(0, mbox_wait_blocked(a->pid));
	EXPECT_TRUE(recv_any_is(self->fd, "to-thread", a->pid));
	EXPECT_EQ(0, agent_result(a));
	EXPECT_EQ(getpid(), a->receiver_pid);

	/* The agent's receive(Q) from our thread id takes our messages. */
	ASSERT_EQ(0, agent_direct(a, 0, 4, 0, 0));
	ASSERT_EQ(0, mbox_send_pid(self->fd, a->pid, "from-thread-owner", 0));
	EXPECT_TRUE(agent_recv_is(a, MBOX_ADDR_PID, tid, "from-thread-owner",
				  getpid()));

	close(ctl[1]);
	pthread_join(t, NULL);
	close(ctl[0]);
	EXPECT_EQ(0, agent_stop(a));
}

/* ---- one link per pair -------------------------------------------------- */

TEST_F(direct, one_link_per_pair_however_many_messages)
{
	struct agent *a, *b, *c, *d;
	pid_t me = getpid();
	char msg[16];
	int i;

	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 4, 0, 0, NULL));
	a = agent_new(self);
	ASSERT_NE(NULL, a);
	ASSERT_EQ(0, agent_direct(a, 0, 4, 0, 0));
	EXPECT_EQ(0, a->d.links);
	EXPECT_EQ(0, mbox_direct_links(self->fd));

	/* Many messages both ways, by pid and by pidfd. */
	for (i = 0; i < 20; i++) {
		snprintf(msg, sizeof(msg), "p%d", i);
		ASSERT_EQ(0, mbox_send_pid(self->fd, a->pid, msg, 0));
		EXPECT_TRUE(agent_recv_is(a, MBOX_ADDR_PID, 0, msg, me));
		snprintf(msg, sizeof(msg), "a%d", i);
		ASSERT_EQ(0, agent_send(a, MBOX_ADDR_PID, me, msg, 0, 0));
		EXPECT_TRUE(recv_any_is(self->fd, msg, a->pid));
	}
	EXPECT_EQ(1, mbox_direct_links(self->fd));
	EXPECT_EQ(1, agent_links(a));

	/* Two more peers: b receives too, c and d only send. */
	b = agent_new(self);
	ASSERT_NE(NULL, b);
	ASSERT_EQ(0, agent_direct(b, 0, 4, 0, 0));
	c = agent_new(self);
	ASSERT_NE(NULL, c);
	d = agent_new(self);
	ASSERT_NE(NULL, d);
	/* b's first message to us makes the link on both sides. */
	ASSERT_EQ(0, agent_send(b, MBOX_ADDR_PID, me, "b", 0, 0));
	EXPECT_EQ(1, agent_links(b));
	/* More messages than its queue takes: the link is made once. */
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, agent_send(c, MBOX_ADDR_PID, me, "c", 0, 0));
	EXPECT_EQ(-EAGAIN, agent_send(c, MBOX_ADDR_PID, me, "c", 0,
				      MBOX_NONBLOCK));
	EXPECT_EQ(3, mbox_direct_links(self->fd));
	ASSERT_EQ(0, agent_send(d, MBOX_ADDR_PID, me, "d", 0, 0));
	EXPECT_EQ(4, mbox_direct_links(self->fd));
	/* d has no direct receiving: nothing to count there. */
	EXPECT_EQ(-EBADF, agent_links(d));
	/* Our replies use the links that exist. */
	ASSERT_EQ(0, mbox_send_pid(self->fd, b->pid, "re-b", 0));
	EXPECT_EQ(4, mbox_direct_links(self->fd));
	EXPECT_EQ(1, agent_links(b));
	EXPECT_EQ(1, agent_links(a));

	EXPECT_EQ(0, agent_stop(a));
	EXPECT_EQ(0, agent_stop(b));
	EXPECT_EQ(0, agent_stop(c));
	EXPECT_EQ(0, agent_stop(d));
}

/* ---- capacity: one bounded queue per direction -------------------------- */

TEST_F(direct, each_peer_has_its_own_bounded_queue)
{
	struct agent *s1, *s2;
	pid_t me = getpid();
	char msg[16];
	int i;

	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 3, 0, 0, NULL));
	s1 = agent_new(self);
	ASSERT_NE(NULL, s1);
	s2 = agent_new(self);
	ASSERT_NE(NULL, s2);

	EXPECT_EQ(3, agent_send_n(s1, MBOX_ADDR_PID, me, "s1-", 4));
	EXPECT_EQ(-EAGAIN, s1->err);
	/* s1's full queue does not hold s2 up. */
	EXPECT_EQ(3, agent_send_n(s2, MBOX_ADDR_PID, me, "s2-", 4));
	EXPECT_EQ(-EAGAIN, s2->err);

	/* One taken from s1 makes room for s1 only. */
	EXPECT_TRUE(mbox_recv_direct_is(self->fd, MBOX_ADDR_PID, s1->pid,
					"s1-0", NULL));
	EXPECT_EQ(-EAGAIN, agent_send(s2, MBOX_ADDR_PID, me, "s2-x", 0,
				      MBOX_NONBLOCK));
	EXPECT_EQ(0, agent_send(s1, MBOX_ADDR_PID, me, "s1-x", 0,
				MBOX_NONBLOCK));
	EXPECT_EQ(-EAGAIN, agent_send(s1, MBOX_ADDR_PID, me, "s1-y", 0,
				      MBOX_NONBLOCK));

	/* Everything accepted is there, once, in order; nothing else. */
	for (i = 0; i < 3; i++) {
		snprintf(msg, sizeof(msg), "s2-%d", i);
		EXPECT_TRUE(mbox_recv_direct_is(self->fd, MBOX_ADDR_PID,
						s2->pid, msg, NULL));
	}
	EXPECT_TRUE(recv_any_is(self->fd, "s1-1", s1->pid));
	EXPECT_TRUE(recv_any_is(self->fd, "s1-2", s1->pid));
	EXPECT_TRUE(recv_any_is(self->fd, "s1-x", s1->pid));
	EXPECT_TRUE(mbox_direct_empty(self->fd));
	EXPECT_EQ(0, agent_stop(s1));
	EXPECT_EQ(0, agent_stop(s2));
}

TEST_F(direct, each_direction_has_its_own_queue)
{
	struct agent *a;
	pid_t me = getpid();

	/* We take 1 message per peer, the agent 2. */
	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 1, 0, 0, NULL));
	a = agent_new(self);
	ASSERT_NE(NULL, a);
	ASSERT_EQ(0, agent_direct(a, 0, 2, 0, 0));

	ASSERT_EQ(0, mbox_send_pid(self->fd, a->pid, "to-a-1", MBOX_NONBLOCK));
	ASSERT_EQ(0, mbox_send_pid(self->fd, a->pid, "to-a-2", MBOX_NONBLOCK));
	EXPECT_EQ(-EAGAIN, mbox_send_pid(self->fd, a->pid, "to-a-3",
					 MBOX_NONBLOCK));
	/* The other direction of the same link is empty and sized by us. */
	EXPECT_EQ(0, agent_send(a, MBOX_ADDR_PID, me, "to-me-1", 0,
				MBOX_NONBLOCK));
	EXPECT_EQ(-EAGAIN, agent_send(a, MBOX_ADDR_PID, me, "to-me-2", 0,
				      MBOX_NONBLOCK));
	EXPECT_EQ(1, mbox_direct_links(self->fd));
	EXPECT_EQ(1, agent_links(a));

	/* Emptying one direction does not open the other. */
	EXPECT_TRUE(agent_recv_is(a, MBOX_ADDR_PID, me, "to-a-1", me));
	EXPECT_EQ(-EAGAIN, agent_send(a, MBOX_ADDR_PID, me, "to-me-2", 0,
				      MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_send_pid(self->fd, a->pid, "to-a-3", MBOX_NONBLOCK));
	EXPECT_TRUE(recv_any_is(self->fd, "to-me-1", a->pid));
	EXPECT_EQ(0, agent_send(a, MBOX_ADDR_PID, me, "to-me-2", 0,
				MBOX_NONBLOCK));
	EXPECT_TRUE(recv_any_is(self->fd, "to-me-2", a->pid));
	EXPECT_TRUE(agent_recv_is(a, MBOX_ADDR_PID, 0, "to-a-2", me));
	EXPECT_TRUE(agent_recv_is(a, MBOX_ADDR_PID, 0, "to-a-3", me));
	EXPECT_TRUE(agent_empty(a));
	EXPECT_EQ(0, agent_stop(a));
}

TEST_F(direct, byte_limit_per_link)
{
	struct agent *s1, *s2;
	pid_t me = getpid();
	char big[65];

	memset(big, 'x', 64);
	big[64] = '\0';
	/* 8 messages of up to 64 bytes, but 100 bytes, per link. */
	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 8, 64, 100, NULL));
	s1 = agent_new(self);
	ASSERT_NE(NULL, s1);
	s2 = agent_new(self);
	ASSERT_NE(NULL, s2);

	EXPECT_EQ(0, agent_send(s1, MBOX_ADDR_PID, me, big, 0, MBOX_NONBLOCK));
	EXPECT_EQ(-EAGAIN, agent_send(s1, MBOX_ADDR_PID, me, big, 0,
				      MBOX_NONBLOCK));
	big[36] = '\0';
	EXPECT_EQ(0, agent_send(s1, MBOX_ADDR_PID, me, big, 0, MBOX_NONBLOCK));
	EXPECT_EQ(-EAGAIN, agent_send(s1, MBOX_ADDR_PID, me, "1", 0,
				      MBOX_NONBLOCK));
	big[36] = 'x';
	/* The other link has its own 100 bytes. */
	EXPECT_EQ(0, agent_send(s2, MBOX_ADDR_PID, me, big, 0, MBOX_NONBLOCK));
	EXPECT_TRUE(mbox_recv_direct_is(self->fd, MBOX_ADDR_PID, s1->pid, big,
					NULL));
	EXPECT_EQ(0, agent_send(s1, MBOX_ADDR_PID, me, "1", 0, MBOX_NONBLOCK));
	EXPECT_EQ(0, agent_stop(s1));
	EXPECT_EQ(0, agent_stop(s2));
}

TEST_F(direct, blocking_send_waits_for_room_in_its_own_queue)
{
	struct agent *s1, *s2;
	pid_t me = getpid();

	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 1, 0, 0, NULL));
	s1 = agent_new(self);
	ASSERT_NE(NULL, s1);
	s2 = agent_new(self);
	ASSERT_NE(NULL, s2);

	ASSERT_EQ(0, agent_send(s1, MBOX_ADDR_PID, me, "s1-first", 0, 0));
	ASSERT_EQ(0, agent_send_start(s1, MBOX_ADDR_PID, me, "s1-second", 0,
				      0));
	ASSERT_EQ(0, mbox_wait_blocked(s1->pid));
	/* s2's queue is its own: its blocking send returns at once. */
	EXPECT_EQ(0, agent_send(s2, MBOX_ADDR_PID, me, "s2", 0, 0));
	EXPECT_TRUE(mbox_recv_direct_is(self->fd, MBOX_ADDR_PID, s2->pid, "s2",
					NULL));
	EXPECT_TRUE(mbox_still_blocked(s1->pid));

	/* Room on s1's link lets it in. */
	EXPECT_TRUE(recv_any_is(self->fd, "s1-first", s1->pid));
	EXPECT_EQ(0, agent_result(s1));
	EXPECT_TRUE(recv_wait_is(self->fd, "s1-second", s1->pid));
	EXPECT_TRUE(mbox_direct_empty(self->fd));
	EXPECT_EQ(0, agent_stop(s1));
	EXPECT_EQ(0, agent_stop(s2));
}

TEST_F(direct, zero_capacity_nonblocking_send_needs_waiting_receiver)
{
	struct agent *s1, *s2;
	pid_t me = getpid();
	struct mbox_recv r;
	struct mbox_bg bg;
	char buf[16];

	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 0, 0, 0, NULL));
	s1 = agent_new(self);
	ASSERT_NE(NULL, s1);
	s2 = agent_new(self);
	ASSERT_NE(NULL, s2);

	/* Nobody receiving: no queue to put it in. */
	EXPECT_EQ(-EAGAIN, agent_send(s1, MBOX_ADDR_PID, me, "early", 0,
				      MBOX_NONBLOCK));
	EXPECT_TRUE(mbox_direct_empty(self->fd));

	/* A receiver waiting for s2 only: still no. */
	mbox_recv_direct_init(&r, MBOX_ADDR_PID, s2->pid, buf, sizeof(buf), 0);
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_RECV, &r));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	EXPECT_EQ(-EAGAIN, agent_send(s1, MBOX_ADDR_PID, me, "not-for-q", 0,
				      MBOX_NONBLOCK));
	EXPECT_EQ(0, agent_send(s2, MBOX_ADDR_PID, me, "for-q", 0,
				MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_bg_join(&bg));
	EXPECT_TRUE(got(&r, buf, "for-q"));

	/* A receiver waiting for anyone: handed off at once. */
	mbox_recv_direct_init(&r, MBOX_ADDR_PID, 0, buf, sizeof(buf), 0);
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_RECV, &r));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	EXPECT_EQ(0, agent_send(s1, MBOX_ADDR_PID, me, "handoff", 0,
				MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_bg_join(&bg));
	EXPECT_TRUE(got(&r, buf, "handoff"));
	EXPECT_EQ(s1->pid, r.sender_pid);
	EXPECT_TRUE(mbox_direct_empty(self->fd));
	EXPECT_EQ(0, agent_stop(s1));
	EXPECT_EQ(0, agent_stop(s2));
}

TEST_F(direct, zero_capacity_blocking_send_completes_when_receiver_comes)
{
	struct agent *s;
	pid_t me = getpid();
	struct mbox_recv r;
	char buf[16];

	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 0, 0, 0, NULL));
	s = agent_new(self);
	ASSERT_NE(NULL, s);

	ASSERT_EQ(0, agent_send_start(s, MBOX_ADDR_PID, me, "rendezvous", 0,
				      0));
	ASSERT_EQ(0, mbox_wait_blocked(s->pid));
	/* Offered while its sender waits: poll sees it. */
	EXPECT_TRUE(poll_now(self->fd, POLLIN) & POLLIN);
	EXPECT_TRUE(mbox_still_blocked(s->pid));
	ASSERT_EQ(0, recv_direct(self->fd, MBOX_ADDR_PID, 0, MBOX_NONBLOCK,
				 buf, sizeof(buf), &r));
	EXPECT_TRUE(got(&r, buf, "rendezvous"));
	EXPECT_EQ(s->pid, r.sender_pid);
	/* An asynchronous send, though its sender waited for the hand-off. */
	EXPECT_EQ(0, r.msg_flags);
	EXPECT_EQ(0, agent_result(s));
	EXPECT_EQ(0, s->receiver_pid);
	EXPECT_TRUE(mbox_direct_empty(self->fd));

	/* A timed one with no receiver delivers nothing. */
	agent_prep_send(s, MBOX_ADDR_PID, me, "timed", 0, MBOX_DEADLINE);
	s->deadline_ms = 50;
	EXPECT_EQ(-ETIMEDOUT, agent_call(s));
	EXPECT_TRUE(mbox_direct_empty(self->fd));
	EXPECT_EQ(0, agent_stop(s));
}

TEST_F(direct, unbounded_takes_many)
{
	struct agent *s;
	pid_t me = getpid();
	struct mbox_direct d;
	char msg[16];
	int i;

	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, MBOX_UNBOUNDED, 16, 0,
					&d));
	EXPECT_EQ(MBOX_UNBOUNDED, d.capacity);
	s = agent_new(self);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(300, agent_send_n(s, MBOX_ADDR_PID, me, "u", 300));
	EXPECT_EQ(0, s->err);
	for (i = 0; i < 300; i++) {
		snprintf(msg, sizeof(msg), "u%d", i);
		ASSERT_TRUE(recv_any_is(self->fd, msg, s->pid)) {
			TH_LOG("message %d", i);
		}
	}
	EXPECT_TRUE(mbox_direct_empty(self->fd));
	EXPECT_EQ(0, agent_stop(s));
}

/* ---- send modes and blocking modes -------------------------------------- */

TEST_F(direct, sync_send_waits_and_reports_receiver)
{
	struct agent *a;
	pid_t me = getpid();
	struct mbox_recv r;
	struct mbox_send s;
	struct mbox_bg bg;
	char buf[16];
	int pidfd;

	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 4, 0, 0, NULL));
	pidfd = mbox_pidfd_open(me);
	ASSERT_LE(0, pidfd);
	a = agent_new_as(self, (uid_t)-1, (gid_t)-1, pidfd);
	ASSERT_NE(NULL, a);

	/* Non-blocking and synchronous: only with a receiver waiting. */
	EXPECT_EQ(-EAGAIN, agent_send(a, MBOX_ADDR_PID, me, "nb-sync", 0,
				      MBOX_SEND_SYNC | MBOX_NONBLOCK));
	EXPECT_TRUE(mbox_direct_empty(self->fd));
	mbox_recv_direct_init(&r, MBOX_ADDR_PID, 0, buf, sizeof(buf), 0);
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_RECV, &r));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	EXPECT_EQ(0, agent_send(a, MBOX_ADDR_PID, me, "nb-sync", 0,
				MBOX_SEND_SYNC | MBOX_NONBLOCK));
	EXPECT_EQ(me, a->receiver_pid);
	EXPECT_EQ(0, mbox_bg_join(&bg));
	EXPECT_TRUE(got(&r, buf, "nb-sync"));
	EXPECT_EQ(MBOX_MSG_SYNC, r.msg_flags);

	/* Queued (there is room), yet the sender waits for the receive. */
	ASSERT_EQ(0, agent_send_start(a, MBOX_ADDR_PIDFD, pidfd, "sync",
				      MBOX_SEND_SYNC, 0));
	ASSERT_EQ(0, mbox_wait_blocked(a->pid));
	ASSERT_EQ(0, recv_direct(self->fd, MBOX_ADDR_PID, 0, MBOX_NONBLOCK,
				 buf, sizeof(buf), &r));
	EXPECT_TRUE(got(&r, buf, "sync"));
	EXPECT_EQ(MBOX_MSG_SYNC, r.msg_flags);
	EXPECT_EQ(a->pid, r.sender_pid);
	EXPECT_EQ(0, agent_result(a));
	EXPECT_EQ(me, a->receiver_pid);

	/* The other way, to a process that receives later. */
	ASSERT_EQ(0, agent_direct(a, 0, 4, 0, 0));
	mbox_send_init(&s, a->pid, "back", 4, 0, MBOX_SEND_SYNC);
	s.addr = MBOX_ADDR_PID;
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_SEND, &s));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	EXPECT_TRUE(agent_recv_wait_is(a, "back", me));
	EXPECT_EQ(MBOX_MSG_SYNC, a->r.msg_flags);
	EXPECT_EQ(0, mbox_bg_join(&bg));
	EXPECT_EQ(a->pid, s.receiver_pid);

	/* An asynchronous send reports no receiver. */
	mbox_send_init(&s, a->pid, "async", 5, 0, MBOX_NONBLOCK);
	s.addr = MBOX_ADDR_PID;
	s.receiver_pid = 12345;
	s.__pad = 1;
	ASSERT_EQ(0, mbox_ioctl(self->fd, MBOX_IOC_SEND, &s));
	EXPECT_EQ(0, s.receiver_pid);
	EXPECT_EQ(0, s.__pad);
	EXPECT_TRUE(agent_recv_is(a, MBOX_ADDR_PID, 0, "async", me));
	EXPECT_EQ(0, a->r.msg_flags);
	EXPECT_EQ(0, agent_stop(a));
	close(pidfd);
}

TEST_F(direct, recv_blocking_nonblocking_and_timed)
{
	struct agent *a;
	struct mbox_recv r;
	struct mbox_bg bg;
	char buf[16];
	int fl;

	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 4, 0, 0, NULL));
	a = agent_new(self);
	ASSERT_NE(NULL, a);

	EXPECT_EQ(-EAGAIN, recv_direct(self->fd, MBOX_ADDR_PID, 0,
				       MBOX_NONBLOCK, buf, sizeof(buf), &r));
	EXPECT_EQ(-EAGAIN, recv_direct(self->fd, MBOX_ADDR_PID, a->pid,
				       MBOX_NONBLOCK, buf, sizeof(buf), &r));
	mbox_recv_direct_init(&r, MBOX_ADDR_PID, 0, buf, sizeof(buf),
			      MBOX_DEADLINE);
	r.deadline_ns = mbox_deadline_ms(50);
	EXPECT_EQ(-ETIMEDOUT, mbox_recv_ex(self->fd, &r));
	EXPECT_LE(r.deadline_ns, mbox_now_ns());
	/* A deadline already past fails at once. */
	mbox_recv_direct_init(&r, MBOX_ADDR_PID, a->pid, buf, sizeof(buf),
			      MBOX_DEADLINE);
	r.deadline_ns = 1;
	EXPECT_EQ(-ETIMEDOUT, mbox_recv_ex(self->fd, &r));
	mbox_recv_direct_init(&r, MBOX_ADDR_PID, 0, buf, sizeof(buf),
			      MBOX_NONBLOCK | MBOX_DEADLINE);
	EXPECT_EQ(-EINVAL, mbox_recv_ex(self->fd, &r));

	/* Blocking: until a message comes. */
	mbox_recv_direct_init(&r, MBOX_ADDR_PID, 0, buf, sizeof(buf), 0);
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_RECV, &r));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	ASSERT_EQ(0, agent_send(a, MBOX_ADDR_PID, getpid(), "wake", 0, 0));
	EXPECT_EQ(0, mbox_bg_join(&bg));
	EXPECT_TRUE(got(&r, buf, "wake"));

	/* A timed receive with a message there takes it. */
	ASSERT_EQ(0, agent_send(a, MBOX_ADDR_PID, getpid(), "there", 0, 0));
	mbox_recv_direct_init(&r, MBOX_ADDR_PID, 0, buf, sizeof(buf),
			      MBOX_DEADLINE);
	r.deadline_ns = 1;
	EXPECT_EQ(0, mbox_recv_ex(self->fd, &r));
	EXPECT_TRUE(got(&r, buf, "there"));

	/* An O_NONBLOCK endpoint acts as MBOX_NONBLOCK. */
	fl = fcntl(self->fd, F_GETFL);
	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, fl | O_NONBLOCK));
	EXPECT_EQ(-EAGAIN, recv_direct(self->fd, MBOX_ADDR_PID, 0, 0, buf,
				       sizeof(buf), &r));
	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, fl));
	EXPECT_EQ(0, agent_stop(a));
}

TEST_F(direct, send_nonblocking_and_timed_on_full_link)
{
	struct agent *a;
	struct mbox_send s;
	int fl;

	a = agent_new(self);
	ASSERT_NE(NULL, a);
	ASSERT_EQ(0, agent_direct(a, 0, 1, 0, 0));
	ASSERT_EQ(0, mbox_send_pid(self->fd, a->pid, "fills", 0));

	EXPECT_EQ(-EAGAIN, mbox_send_pid(self->fd, a->pid, "x", MBOX_NONBLOCK));
	mbox_send_init(&s, a->pid, "x", 1, 0, MBOX_DEADLINE);
	s.addr = MBOX_ADDR_PID;
	s.deadline_ns = mbox_deadline_ms(50);
	EXPECT_EQ(-ETIMEDOUT, mbox_ioctl(self->fd, MBOX_IOC_SEND, &s));
	EXPECT_LE(s.deadline_ns, mbox_now_ns());
	s.deadline_ns = 0;
	EXPECT_EQ(-ETIMEDOUT, mbox_ioctl(self->fd, MBOX_IOC_SEND, &s));
	s.flags = MBOX_DEADLINE | MBOX_NONBLOCK;
	EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, MBOX_IOC_SEND, &s));
	s.flags = MBOX_DEADLINE | MBOX_SEND_SYNC;
	s.deadline_ns = 1;
	EXPECT_EQ(-ETIMEDOUT, mbox_ioctl(self->fd, MBOX_IOC_SEND, &s));

	fl = fcntl(self->fd, F_GETFL);
	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, fl | O_NONBLOCK));
	EXPECT_EQ(-EAGAIN, mbox_send_pid(self->fd, a->pid, "x", 0));
	ASSERT_EQ(0, fcntl(self->fd, F_SETFL, fl));

	/* None of the failed sends delivered anything. */
	EXPECT_TRUE(agent_recv_is(a, MBOX_ADDR_PID, 0, "fills", getpid()));
	EXPECT_TRUE(agent_empty(a));
	EXPECT_EQ(0, agent_stop(a));
}

TEST_F(direct, signal_interrupts_recv_nothing_lost)
{
	struct agent *a;
	struct mbox_recv r;
	struct mbox_bg bg;
	char buf[16];

	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 4, 0, 0, NULL));
	a = agent_new(self);
	ASSERT_NE(NULL, a);
	sig_count = 0;

	/* Without SA_RESTART: EINTR. */
	ASSERT_EQ(0, mbox_sigaction(SIGUSR1, on_signal, 0));
	mbox_recv_direct_init(&r, MBOX_ADDR_PID, a->pid, buf, sizeof(buf), 0);
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_RECV, &r));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	ASSERT_EQ(0, pthread_kill(bg.thread, SIGUSR1));
	EXPECT_EQ(-EINTR, mbox_bg_join(&bg));
	EXPECT_EQ(1, sig_count);
	ASSERT_EQ(0, agent_send(a, MBOX_ADDR_PID, getpid(), "after", 0, 0));
	EXPECT_TRUE(recv_any_is(self->fd, "after", a->pid));
	EXPECT_TRUE(mbox_direct_empty(self->fd));

	/* With SA_RESTART: back in the call, and it gets the message. */
	ASSERT_EQ(0, mbox_sigaction(SIGUSR1, on_signal, SA_RESTART));
	mbox_recv_direct_init(&r, MBOX_ADDR_PID, 0, buf, sizeof(buf), 0);
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_RECV, &r));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	ASSERT_EQ(0, pthread_kill(bg.thread, SIGUSR1));
	ASSERT_TRUE(wait_sig_count(2));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	EXPECT_FALSE(mbox_bg_done(&bg));
	ASSERT_EQ(0, agent_send(a, MBOX_ADDR_PID, getpid(), "restarted", 0, 0));
	EXPECT_EQ(0, mbox_bg_join(&bg));
	EXPECT_TRUE(got(&r, buf, "restarted"));
	EXPECT_TRUE(mbox_direct_empty(self->fd));

	/* A restarted timed receive keeps its absolute deadline. */
	mbox_recv_direct_init(&r, MBOX_ADDR_PID, a->pid, buf, sizeof(buf),
			      MBOX_DEADLINE);
	r.deadline_ns = mbox_deadline_ms(1000);
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_RECV, &r));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	ASSERT_EQ(0, pthread_kill(bg.thread, SIGUSR1));
	ASSERT_TRUE(wait_sig_count(3));
	EXPECT_EQ(-ETIMEDOUT, mbox_bg_join(&bg));
	EXPECT_LE(r.deadline_ns, mbox_now_ns());
	EXPECT_TRUE(mbox_direct_empty(self->fd));
	EXPECT_EQ(0, agent_stop(a));
}

TEST_F(direct, signal_interrupts_send_nothing_delivered)
{
	struct agent *a;
	struct mbox_send s;
	struct mbox_bg bg;

	a = agent_new(self);
	ASSERT_NE(NULL, a);
	ASSERT_EQ(0, agent_direct(a, 0, 1, 0, 0));
	sig_count = 0;
	ASSERT_EQ(0, mbox_sigaction(SIGUSR1, on_signal, 0));

	/* A synchronous send, queued, waiting for its receiver. */
	mbox_send_init(&s, a->pid, "sync", 4, 0, MBOX_SEND_SYNC);
	s.addr = MBOX_ADDR_PID;
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_SEND, &s));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	ASSERT_EQ(0, pthread_kill(bg.thread, SIGUSR1));
	EXPECT_EQ(-EINTR, mbox_bg_join(&bg));
	EXPECT_TRUE(agent_empty(a));

	/* An asynchronous send blocked on the full link. */
	ASSERT_EQ(0, mbox_send_pid(self->fd, a->pid, "full", 0));
	mbox_send_init(&s, a->pid, "more", 4, 0, 0);
	s.addr = MBOX_ADDR_PID;
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_SEND, &s));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	ASSERT_EQ(0, pthread_kill(bg.thread, SIGUSR1));
	EXPECT_EQ(-EINTR, mbox_bg_join(&bg));
	EXPECT_EQ(2, sig_count);
	EXPECT_TRUE(agent_recv_is(a, MBOX_ADDR_PID, 0, "full", getpid()));
	EXPECT_TRUE(agent_empty(a));

	/* With SA_RESTART the send goes on, and is delivered once. */
	ASSERT_EQ(0, mbox_sigaction(SIGUSR1, on_signal, SA_RESTART));
	ASSERT_EQ(0, mbox_send_pid(self->fd, a->pid, "full", 0));
	mbox_send_init(&s, a->pid, "more", 4, 0, 0);
	s.addr = MBOX_ADDR_PID;
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_SEND, &s));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	ASSERT_EQ(0, pthread_kill(bg.thread, SIGUSR1));
	ASSERT_TRUE(wait_sig_count(3));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	EXPECT_FALSE(mbox_bg_done(&bg));
	EXPECT_TRUE(agent_recv_is(a, MBOX_ADDR_PID, 0, "full", getpid()));
	EXPECT_EQ(0, mbox_bg_join(&bg));
	EXPECT_TRUE(agent_recv_is(a, MBOX_ADDR_PID, 0, "more", getpid()));
	EXPECT_TRUE(agent_empty(a));
	EXPECT_EQ(0, agent_stop(a));
}

TEST_F(direct, message_sizes_emsgsize)
{
	struct agent *a;
	pid_t me = getpid();
	struct mbox_recv r;
	struct mbox_bg bg;
	char buf[32];

	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 4, 16, 0, NULL));
	a = agent_new(self);
	ASSERT_NE(NULL, a);

	/* Longer than the receiver's max_msg_size: nothing delivered. */
	EXPECT_EQ(-EMSGSIZE, agent_send(a, MBOX_ADDR_PID, me,
					"seventeen-bytes!!", 0, MBOX_NONBLOCK));
	EXPECT_TRUE(mbox_direct_empty(self->fd));
	EXPECT_EQ(0, agent_send(a, MBOX_ADDR_PID, me, "sixteen-bytes!!!", 0,
				MBOX_NONBLOCK));
	EXPECT_EQ(0, agent_send(a, MBOX_ADDR_PID, me, "", 0, MBOX_NONBLOCK));

	/* A too-small buffer: EMSGSIZE with the length, the message stays. */
	EXPECT_EQ(-EMSGSIZE, recv_direct(self->fd, MBOX_ADDR_PID, 0,
					 MBOX_NONBLOCK, buf, 4, &r));
	EXPECT_EQ(16, r.len);
	EXPECT_EQ(-EMSGSIZE, recv_direct(self->fd, MBOX_ADDR_PID, a->pid, 0,
					 buf, 15, &r));
	EXPECT_EQ(16, r.len);
	ASSERT_EQ(0, recv_direct(self->fd, MBOX_ADDR_PID, a->pid,
				 MBOX_NONBLOCK, buf, 16, &r));
	EXPECT_TRUE(got(&r, buf, "sixteen-bytes!!!"));
	/* An empty message fits any buffer. */
	ASSERT_EQ(0, recv_direct(self->fd, MBOX_ADDR_PID, 0, MBOX_NONBLOCK,
				 buf, 0, &r));
	EXPECT_EQ(0, r.len);
	EXPECT_EQ(a->pid, r.sender_pid);

	/* Blocked with a too-small buffer: woken with EMSGSIZE, kept. */
	mbox_recv_direct_init(&r, MBOX_ADDR_PID, 0, buf, 2, 0);
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_RECV, &r));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	ASSERT_EQ(0, agent_send(a, MBOX_ADDR_PID, me, "longer", 0, 0));
	EXPECT_EQ(-EMSGSIZE, mbox_bg_join(&bg));
	EXPECT_EQ(6, r.len);
	EXPECT_TRUE(recv_any_is(self->fd, "longer", a->pid));
	EXPECT_TRUE(mbox_direct_empty(self->fd));
	EXPECT_EQ(0, agent_stop(a));
}

/* ---- poll and epoll ----------------------------------------------------- */

TEST_F(direct, poll_reports_pollin_for_direct_message)
{
	struct agent *a;

	a = agent_new(self);
	ASSERT_NE(NULL, a);
	/* No direct receiving, no mailbox: nothing at all. */
	EXPECT_EQ(0, poll_now(self->fd, POLLIN | POLLOUT));
	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 2, 0, 0, NULL));
	/* Direct links never count for POLLOUT. */
	EXPECT_EQ(0, poll_now(self->fd, POLLIN | POLLOUT));

	ASSERT_EQ(0, agent_send(a, MBOX_ADDR_PID, getpid(), "ping", 0, 0));
	EXPECT_EQ(POLLIN, poll_now(self->fd, POLLIN | POLLOUT));
	EXPECT_TRUE(recv_any_is(self->fd, "ping", a->pid));
	EXPECT_EQ(0, poll_now(self->fd, POLLIN | POLLOUT));

	/* Also a message from the agent taken only by receive(Q). */
	ASSERT_EQ(0, agent_send(a, MBOX_ADDR_PID, getpid(), "pong", 0, 0));
	EXPECT_TRUE(poll_now(self->fd, POLLIN) & POLLIN);
	EXPECT_TRUE(mbox_recv_direct_is(self->fd, MBOX_ADDR_PID, a->pid,
					"pong", NULL));
	EXPECT_EQ(0, poll_now(self->fd, POLLIN));
	EXPECT_EQ(0, agent_stop(a));
}

/* Wait for the parent to block in epoll_pwait, then send it a message. */
static int epoll_waker_child(void *arg)
{
	int fd = mbox_dev_open(), ret;

	if (fd < 0)
		return fd;
	ret = mbox_wait_blocked_in(getppid(), SYS_epoll_pwait, MBOX_WAIT_MS);
	if (!ret)
		ret = mbox_send_pid(fd, getppid(), "epoll", 0);
	close(fd);
	return ret;
}

TEST_F(direct, epoll_wakes_on_direct_message)
{
	struct epoll_event ev = { .events = EPOLLIN }, out;
	pid_t pid;
	int epfd, n;

	/* Watched before direct receiving is enabled: it wakes all the same. */
	epfd = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, epfd);
	ASSERT_EQ(0, epoll_ctl(epfd, EPOLL_CTL_ADD, self->fd, &ev));
	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 2, 0, 0, NULL));
	EXPECT_EQ(0, epoll_wait(epfd, &out, 1, 0));

	pid = mbox_spawn(epoll_waker_child, NULL);
	ASSERT_LT(0, pid);
	mbox_track_pid(&self->cl, pid);
	memset(&out, 0, sizeof(out));
	n = syscall(SYS_epoll_pwait, epfd, &out, 1, 2 * MBOX_WAIT_MS, NULL, 8);
	EXPECT_EQ(1, n);
	EXPECT_TRUE(out.events & EPOLLIN);
	EXPECT_EQ(0, mbox_reap(pid));

	EXPECT_TRUE(recv_any_is(self->fd, "epoll", pid));
	EXPECT_EQ(0, epoll_wait(epfd, &out, 1, 0));
	close(epfd);
}

/* ---- pid namespaces ----------------------------------------------------- */

TEST_F(direct, pidns_child_receives_from_parent_namespace)
{
	struct agent *ns;
	pid_t me = getpid(), helper;
	struct mbox_send s;
	struct mbox_bg bg;
	int pidfd, ret;

	MBOX_NEED_ROOT("make a pid namespace (CAP_SYS_ADMIN)");
	pidfd = mbox_pidfd_open(me);
	ASSERT_LE(0, pidfd);
	ret = agents_new_pidns(self, 2, pidfd, &ns, &helper);
	if (ret == -EOPNOTSUPP)
		SKIP(return, "cannot make a pid namespace here");
	ASSERT_EQ(0, ret);
	ASSERT_EQ(1, agent_op(&ns[0], A_GETPID));
	ASSERT_EQ(2, agent_op(&ns[1], A_GETPID));
	ASSERT_EQ(0, agent_direct(&ns[0], 0, 4, 0, 0));
	/* Its pid, as it sees it. */
	EXPECT_EQ(1, ns[0].d.pid);

	/* Our pid is not visible there: sender_pid 0, by pid or pidfd. */
	ASSERT_EQ(0, mbox_send_pid(self->fd, ns[0].pid, "from-outside", 0));
	EXPECT_TRUE(agent_recv_is(&ns[0], MBOX_ADDR_PID, 0, "from-outside", 0));
	EXPECT_EQ(0, ns[0].r.sender_uid);
	ASSERT_EQ(0, mbox_send_pid(self->fd, ns[0].pid, "again", 0));
	EXPECT_TRUE(agent_recv_is(&ns[0], MBOX_ADDR_PIDFD, pidfd, "again", 0));

	/* A synchronous send learns the receiver's pid as we see it. */
	mbox_send_init(&s, ns[0].pid, "sync", 4, 0, MBOX_SEND_SYNC);
	s.addr = MBOX_ADDR_PID;
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_SEND, &s));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	EXPECT_TRUE(agent_recv_wait_is(&ns[0], "sync", 0));
	EXPECT_EQ(0, mbox_bg_join(&bg));
	EXPECT_EQ(ns[0].pid, s.receiver_pid);

	/* Inside, by pid where visible: pid 2 to pid 1. */
	ASSERT_EQ(0, agent_send(&ns[1], MBOX_ADDR_PID, 1, "inside", 0, 0));
	EXPECT_TRUE(agent_recv_is(&ns[0], MBOX_ADDR_PID, 0, "inside", 2));
	EXPECT_EQ(2, agent_links(&ns[0]));	/* us and pid 2 */

	EXPECT_EQ(0, agent_stop(&ns[1]));
	EXPECT_EQ(0, agent_stop(&ns[0]));
	EXPECT_EQ(0, mbox_reap(helper));
	close(pidfd);
}

TEST_F(direct, pidns_child_sends_to_parent_namespace)
{
	struct agent *ns;
	pid_t me = getpid(), helper;
	struct mbox_recv r;
	char buf[32];
	int pidfd, ret;

	MBOX_NEED_ROOT("make a pid namespace (CAP_SYS_ADMIN)");
	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 4, 0, 0, NULL));
	pidfd = mbox_pidfd_open(me);
	ASSERT_LE(0, pidfd);
	ret = agents_new_pidns(self, 1, pidfd, &ns, &helper);
	if (ret == -EOPNOTSUPP)
		SKIP(return, "cannot make a pid namespace here");
	ASSERT_EQ(0, ret);
	ASSERT_EQ(1, agent_op(ns, A_GETPID));

	/* Our pid number means nothing there: only the pidfd names us. */
	EXPECT_EQ(-ESRCH, agent_send(ns, MBOX_ADDR_PID, me, "lost", 0,
				     MBOX_NONBLOCK));
	EXPECT_EQ(0, agent_send(ns, MBOX_ADDR_PIDFD, pidfd, "by-pidfd", 0,
				MBOX_NONBLOCK));
	/* We see the sender by its pid in our namespace. */
	ASSERT_EQ(0, recv_direct(self->fd, MBOX_ADDR_PID, ns->pid,
				 MBOX_NONBLOCK, buf, sizeof(buf), &r));
	EXPECT_TRUE(got(&r, buf, "by-pidfd"));
	EXPECT_EQ(ns->pid, r.sender_pid);

	/* Synchronous: the receiver (us) is not visible from there. */
	ASSERT_EQ(0, agent_send_start(ns, MBOX_ADDR_PIDFD, pidfd, "sync",
				      MBOX_SEND_SYNC, 0));
	ASSERT_EQ(0, mbox_wait_blocked(ns->pid));
	EXPECT_TRUE(recv_any_is(self->fd, "sync", ns->pid));
	EXPECT_EQ(0, agent_result(ns));
	EXPECT_EQ(0, ns->receiver_pid);

	/* And the reply goes back by its pid as we see it. */
	ASSERT_EQ(0, agent_direct(ns, 0, 4, 0, 0));
	ASSERT_EQ(0, mbox_send_pid(self->fd, ns->pid, "reply", 0));
	EXPECT_TRUE(agent_recv_is(ns, MBOX_ADDR_PIDFD, pidfd, "reply", 0));
	EXPECT_EQ(1, mbox_direct_links(self->fd));
	EXPECT_EQ(1, agent_links(ns));

	EXPECT_EQ(0, agent_stop(ns));
	EXPECT_EQ(0, mbox_reap(helper));
	close(pidfd);
}

/* ---- permissions -------------------------------------------------------- */

TEST_F(direct, other_user_eperm_unless_anyone)
{
	struct agent *nob;
	pid_t me = getpid();
	struct mbox_recv r;
	char buf[16];
	int pidfd;

	MBOX_NEED_ROOT("drop to another user");
	pidfd = mbox_pidfd_open(me);
	ASSERT_LE(0, pidfd);
	nob = agent_new_as(self, MBOX_NOBODY, MBOX_NOBODY, pidfd);
	ASSERT_NE(NULL, nob);

	/* A root process that did not opt in: kill(2) would say no. */
	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 4, 0, 0, NULL));
	EXPECT_EQ(-EPERM, agent_send(nob, MBOX_ADDR_PID, me, "no", 0,
				     MBOX_NONBLOCK));
	EXPECT_EQ(-EPERM, agent_send(nob, MBOX_ADDR_PIDFD, pidfd, "no", 0, 0));
	EXPECT_TRUE(mbox_direct_empty(self->fd));

	/* Opted in: anyone may send. */
	ASSERT_EQ(0, mbox_direct_disable(self->fd));
	ASSERT_EQ(0, mbox_direct_enable(self->fd, MBOX_DIRECT_ANYONE, 4, 0, 0,
					NULL));
	EXPECT_EQ(0, agent_send(nob, MBOX_ADDR_PID, me, "yes", 0,
				MBOX_NONBLOCK));
	EXPECT_EQ(0, agent_send(nob, MBOX_ADDR_PIDFD, pidfd, "yes2", 0, 0));
	ASSERT_EQ(0, recv_direct(self->fd, MBOX_ADDR_PID, nob->pid,
				 MBOX_NONBLOCK, buf, sizeof(buf), &r));
	EXPECT_TRUE(got(&r, buf, "yes"));
	EXPECT_EQ(MBOX_NOBODY, r.sender_uid);
	EXPECT_EQ(MBOX_NOBODY, r.sender_gid);
	EXPECT_TRUE(recv_any_is(self->fd, "yes2", nob->pid));

	/* Root may send to nobody, who did not opt in (CAP_KILL). */
	ASSERT_EQ(0, agent_direct(nob, 0, 4, 0, 0));
	EXPECT_EQ(0, mbox_send_pid(self->fd, nob->pid, "from-root",
				   MBOX_NONBLOCK));
	EXPECT_TRUE(agent_recv_is(nob, MBOX_ADDR_PID, 0, "from-root", me));
	EXPECT_EQ(0, nob->r.sender_uid);
	EXPECT_EQ(0, nob->r.sender_gid);
	EXPECT_EQ(0, agent_stop(nob));
	close(pidfd);
}

TEST_F(direct, same_user_may_other_user_may_not)
{
	struct agent *n1, *n2, *other;
	/* Root drops to nobody; a user is its own non-root user. */
	uid_t uid = mbox_is_root() ? MBOX_NOBODY : (uid_t)-1;

	n1 = agent_new_as(self, uid, uid, -1);
	ASSERT_NE(NULL, n1);
	n2 = agent_new_as(self, uid, uid, -1);
	ASSERT_NE(NULL, n2);

	/* Two processes of one non-root user talk, both ways. */
	ASSERT_EQ(0, agent_direct(n1, 0, 4, 0, 0));
	ASSERT_EQ(0, agent_direct(n2, 0, 4, 0, 0));
	EXPECT_EQ(0, agent_send(n2, MBOX_ADDR_PID, n1->pid, "n2->n1", 0, 0));
	EXPECT_TRUE(agent_recv_is(n1, MBOX_ADDR_PID, 0, "n2->n1", n2->pid));
	EXPECT_EQ(mbox_is_root() ? MBOX_NOBODY : geteuid(),
		  n1->r.sender_uid);
	EXPECT_EQ(0, agent_send(n1, MBOX_ADDR_PID, n2->pid, "n1->n2", 0, 0));
	EXPECT_TRUE(agent_recv_is(n2, MBOX_ADDR_PID, n1->pid, "n1->n2",
				  n1->pid));
	if (!mbox_is_root()) {
		/* Another user takes a drop to it: root only. */
		EXPECT_EQ(0, agent_stop(n1));
		EXPECT_EQ(0, agent_stop(n2));
		return;
	}
	other = agent_new_as(self, MBOX_OTHER_UID, MBOX_OTHER_UID, -1);
	ASSERT_NE(NULL, other);

	/* Between two non-root users: no, either way. */
	ASSERT_EQ(0, agent_direct(other, 0, 4, 0, 0));
	EXPECT_EQ(-EPERM, agent_send(other, MBOX_ADDR_PID, n1->pid, "x", 0,
				     MBOX_NONBLOCK));
	EXPECT_EQ(-EPERM, agent_send(n1, MBOX_ADDR_PID, other->pid, "x", 0,
				     MBOX_NONBLOCK));
	EXPECT_TRUE(agent_empty(n1));
	EXPECT_TRUE(agent_empty(other));
	/* Unless the receiver opted in. */
	ASSERT_EQ(0, agent_direct(n1, MBOX_DIRECT_DISABLE, 0, 0, 0));
	ASSERT_EQ(0, agent_direct(n1, MBOX_DIRECT_ANYONE, 4, 0, 0));
	EXPECT_EQ(0, agent_send(other, MBOX_ADDR_PID, n1->pid, "ok", 0, 0));
	EXPECT_TRUE(agent_recv_is(n1, MBOX_ADDR_PID, 0, "ok", other->pid));
	EXPECT_EQ(MBOX_OTHER_UID, n1->r.sender_uid);
	EXPECT_EQ(MBOX_OTHER_UID, n1->r.sender_gid);
	EXPECT_EQ(-EPERM, agent_send(n1, MBOX_ADDR_PID, other->pid, "x", 0,
				     MBOX_NONBLOCK));

	EXPECT_EQ(0, agent_stop(n1));
	EXPECT_EQ(0, agent_stop(n2));
	EXPECT_EQ(0, agent_stop(other));
}

/* An agent with real, effective and saved uids of its own. */
struct res_agent {
	struct agent *a;
	uid_t ruid, euid, suid;
};

static int res_agent_main(void *arg)
{
	struct res_agent *ra = arg;
	int ret = mbox_drop_privileges_res(ra->ruid, ra->euid, ra->suid,
					   MBOX_NOBODY);

	return ret ? ret : agent_main(ra->a);
}

static struct agent *agent_new_res(FIXTURE_DATA(direct) *self, uid_t ruid,
				   uid_t euid, uid_t suid)
{
	struct res_agent ra = { .ruid = ruid, .euid = euid, .suid = suid };
	pid_t pid;

	if (self->nag >= AGENTS_MAX)
		return NULL;
	ra.a = &self->ag[self->nag];
	if (agent_pipes(ra.a, -1))
		return NULL;
	self->nag++;
	pid = mbox_spawn(res_agent_main, &ra);
	if (pid < 0)
		return NULL;
	ra.a->pid = pid;
	mbox_track_pid(&self->cl, pid);
	agent_parent_side(ra.a);
	return agent_result(ra.a) ? NULL : ra.a;
}

TEST_F(direct, kill_rules_real_and_saved_uids)
{
	struct agent *rx1000, *tx, *rx_root, *nob;

	MBOX_NEED_ROOT("drop to other users");
	/* A receiver running as 1000. */
	rx1000 = agent_new_res(self, MBOX_OTHER_UID, MBOX_OTHER_UID,
			       MBOX_OTHER_UID);
	ASSERT_NE(NULL, rx1000);
	/* A sender whose real uid is 1000, effective nobody. */
	tx = agent_new_res(self, MBOX_OTHER_UID, MBOX_NOBODY, MBOX_NOBODY);
	ASSERT_NE(NULL, tx);
	/* A receiver with effective uid nobody but real and saved root. */
	rx_root = agent_new_res(self, 0, MBOX_NOBODY, 0);
	ASSERT_NE(NULL, rx_root);
	nob = agent_new_as(self, MBOX_NOBODY, MBOX_NOBODY, -1);
	ASSERT_NE(NULL, nob);

	ASSERT_EQ(0, agent_direct(rx1000, 0, 4, 0, 0));
	ASSERT_EQ(0, agent_direct(rx_root, 0, 4, 0, 0));
	/* The sender's real uid matches the receiver's: allowed. */
	EXPECT_EQ(0, agent_send(tx, MBOX_ADDR_PID, rx1000->pid, "ruid", 0, 0));
	EXPECT_TRUE(agent_recv_is(rx1000, MBOX_ADDR_PID, 0, "ruid", tx->pid));
	/* Stamped with the effective ids. */
	EXPECT_EQ(MBOX_NOBODY, rx1000->r.sender_uid);
	/* The receiver's effective uid does not count, its real one does. */
	EXPECT_EQ(-EPERM, agent_send(nob, MBOX_ADDR_PID, rx_root->pid, "x", 0,
				     MBOX_NONBLOCK));
	EXPECT_TRUE(agent_empty(rx_root));

	EXPECT_EQ(0, agent_stop(rx1000));
	EXPECT_EQ(0, agent_stop(tx));
	EXPECT_EQ(0, agent_stop(rx_root));
	EXPECT_EQ(0, agent_stop(nob));
}

/* ---- peers that exit or close ------------------------------------------- */

TEST_F(direct, messages_of_an_exited_sender_stay_receivable)
{
	struct agent *s, *c;
	pid_t me = getpid(), spid;
	struct mbox_recv r;
	char buf[16];
	int sfd;

	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 8, 0, 0, NULL));
	s = agent_new(self);
	ASSERT_NE(NULL, s);
	spid = s->pid;
	sfd = mbox_pidfd_open(spid);
	ASSERT_LE(0, sfd);
	ASSERT_EQ(0, agent_direct(s, 0, 4, 0, 0));
	ASSERT_EQ(0, agent_send(s, MBOX_ADDR_PID, me, "last-1", 0, 0));
	ASSERT_EQ(0, agent_send(s, MBOX_ADDR_PID, me, "last-2", 3, 0));
	ASSERT_EQ(0, agent_send(s, MBOX_ADDR_PID, me, "last-3", 0, 0));
	ASSERT_EQ(0, agent_stop(s));

	/* The sender is gone: nothing can be sent to it ... */
	EXPECT_EQ(-ESRCH, mbox_send_pidfd(self->fd, sfd, "x", MBOX_NONBLOCK));
	/*
	 * ... but what it sent is there, in order, with its pid: its pidfd
	 * still names it for receive(Q), and receive(ANY) takes the rest.
	 */
	ASSERT_EQ(0, recv_direct(self->fd, MBOX_ADDR_PIDFD, sfd,
				 MBOX_NONBLOCK, buf, sizeof(buf), &r));
	EXPECT_EQ(spid, r.sender_pid);
	EXPECT_EQ(6, r.len);
	EXPECT_EQ(0, memcmp(buf, "last-2", 6));
	EXPECT_TRUE(recv_any_is(self->fd, "last-1", spid));
	EXPECT_TRUE(recv_any_is(self->fd, "last-3", spid));
	EXPECT_TRUE(mbox_direct_empty(self->fd));

	/* A sender that closes its endpoint, alive: the same. */
	c = agent_new(self);
	ASSERT_NE(NULL, c);
	ASSERT_EQ(0, agent_direct(c, 0, 4, 0, 0));
	ASSERT_EQ(0, agent_send(c, MBOX_ADDR_PID, me, "closed-1", 0, 0));
	ASSERT_EQ(0, agent_send(c, MBOX_ADDR_PID, me, "closed-2", 0, 0));
	ASSERT_EQ(0, agent_op(c, A_CLOSE));
	EXPECT_TRUE(mbox_recv_direct_is(self->fd, MBOX_ADDR_PID, c->pid,
					"closed-1", NULL));
	EXPECT_EQ(-ECONNREFUSED, mbox_send_pid(self->fd, c->pid, "x",
					       MBOX_NONBLOCK));
	EXPECT_TRUE(recv_any_is(self->fd, "closed-2", c->pid));
	EXPECT_EQ(0, agent_stop(c));
	close(sfd);
}

TEST_F(direct, receiver_close_wakes_blocked_senders_econnreset)
{
	struct agent *rx, *tx;
	struct mbox_send s;
	struct mbox_bg bg;
	int rfd;

	rx = agent_new(self);
	ASSERT_NE(NULL, rx);
	tx = agent_new(self);
	ASSERT_NE(NULL, tx);
	rfd = mbox_pidfd_open(rx->pid);
	ASSERT_LE(0, rfd);
	ASSERT_EQ(0, agent_direct(rx, 0, 1, 0, 0));

	/* Us: blocked on our full link.  tx: a synchronous send, queued. */
	ASSERT_EQ(0, mbox_send_pid(self->fd, rx->pid, "fills", 0));
	mbox_send_init(&s, rx->pid, "blocked", 7, 0, 0);
	s.addr = MBOX_ADDR_PID;
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_SEND, &s));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	ASSERT_EQ(0, agent_send_start(tx, MBOX_ADDR_PID, rx->pid, "sync",
				      MBOX_SEND_SYNC, 0));
	ASSERT_EQ(0, mbox_wait_blocked(tx->pid));

	ASSERT_EQ(0, agent_op(rx, A_CLOSE));
	EXPECT_EQ(-ECONNRESET, mbox_bg_join(&bg));
	EXPECT_EQ(-ECONNRESET, agent_result(tx));

	/* Alive without direct receiving: refused. */
	EXPECT_EQ(-ECONNREFUSED, mbox_send_pid(self->fd, rx->pid, "x",
					       MBOX_NONBLOCK));
	EXPECT_EQ(-ECONNREFUSED, mbox_send_pidfd(self->fd, rfd, "x", 0));
	/* Gone: no such process. */
	EXPECT_EQ(0, agent_stop(rx));
	EXPECT_EQ(-ESRCH, mbox_send_pidfd(self->fd, rfd, "x", 0));
	EXPECT_EQ(-ESRCH, agent_send(tx, MBOX_ADDR_PID, rx->pid, "x", 0, 0));
	EXPECT_EQ(0, agent_stop(tx));
	close(rfd);
}

TEST_F(direct, receiver_disable_or_exit_wakes_blocked_tasks)
{
	struct agent *rx;
	struct mbox_recv r;
	char buf[16];
	struct mbox_send s;
	struct mbox_bg bg;
	int rfd;

	rx = agent_new(self);
	ASSERT_NE(NULL, rx);
	rfd = mbox_pidfd_open(rx->pid);
	ASSERT_LE(0, rfd);

	/* Our own receiver, blocked while we disable: ECONNRESET. */
	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 1, 0, 0, NULL));
	mbox_recv_direct_init(&r, MBOX_ADDR_PID, 0, buf, sizeof(buf), 0);
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_RECV, &r));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	ASSERT_EQ(0, mbox_direct_disable(self->fd));
	EXPECT_EQ(-ECONNRESET, mbox_bg_join(&bg));

	/* DISABLE, as closing does. */
	ASSERT_EQ(0, agent_direct(rx, 0, 0, 0, 0));
	mbox_send_init(&s, rfd, "rdv", 3, 0, 0);
	s.addr = MBOX_ADDR_PIDFD;
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_SEND, &s));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	ASSERT_EQ(0, agent_direct(rx, MBOX_DIRECT_DISABLE, 0, 0, 0));
	EXPECT_EQ(-ECONNRESET, mbox_bg_join(&bg));
	EXPECT_EQ(-ECONNREFUSED, mbox_send_pidfd(self->fd, rfd, "x", 0));

	/* The receiver killed: its exit closes the endpoint. */
	ASSERT_EQ(0, agent_direct(rx, 0, 1, 0, 0));
	ASSERT_EQ(0, mbox_send_pidfd(self->fd, rfd, "fills", 0));
	mbox_send_init(&s, rfd, "blocked", 7, 0, MBOX_SEND_SYNC);
	s.addr = MBOX_ADDR_PIDFD;
	ASSERT_EQ(0, mbox_bg_start(&bg, self->fd, MBOX_IOC_SEND, &s));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
	ASSERT_EQ(0, kill(rx->pid, SIGKILL));
	EXPECT_EQ(-ECONNRESET, mbox_bg_join(&bg));
	EXPECT_EQ(128 + SIGKILL, agent_stop(rx));
	EXPECT_EQ(-ESRCH, mbox_send_pidfd(self->fd, rfd, "x", 0));
	close(rfd);
}

TEST_F(direct, pidfd_of_exited_process_esrch_new_process_gets_nothing)
{
	struct agent *old, *new;
	pid_t old_pid;
	int ofd;

	old = agent_new(self);
	ASSERT_NE(NULL, old);
	old_pid = old->pid;
	ofd = mbox_pidfd_open(old_pid);
	ASSERT_LE(0, ofd);
	ASSERT_EQ(0, agent_direct(old, 0, 4, 0, 0));
	ASSERT_EQ(0, mbox_send_pidfd(self->fd, ofd, "for-old", 0));
	ASSERT_EQ(0, agent_stop(old));

	/* The pidfd names the old process, whatever has its pid now. */
	EXPECT_EQ(-ESRCH, mbox_send_pidfd(self->fd, ofd, "x", 0));
	EXPECT_EQ(-ESRCH, mbox_send_pidfd(self->fd, ofd, "x", MBOX_NONBLOCK));

	/* A new process with direct receiving has nothing of the old one. */
	new = agent_new(self);
	ASSERT_NE(NULL, new);
	ASSERT_EQ(0, agent_direct(new, 0, 4, 0, 0));
	EXPECT_EQ(0, new->d.links);
	EXPECT_TRUE(agent_empty(new));
	EXPECT_EQ(-ESRCH, mbox_send_pidfd(self->fd, ofd, "x", 0));
	EXPECT_TRUE(agent_empty(new));
	EXPECT_EQ(0, mbox_send_pid(self->fd, new->pid, "for-new", 0));
	EXPECT_TRUE(agent_recv_is(new, MBOX_ADDR_PID, 0, "for-new", getpid()));
	EXPECT_TRUE(agent_empty(new));
	EXPECT_EQ(0, agent_stop(new));
	close(ofd);
}

/*
 * Pid reuse, forced: runs as pid 1 of a new pid namespace.  Returns 0,
 * PIDREUSE_SKIP without /proc/sys/kernel/ns_last_pid, or the number of
 * the step that failed.
 */
#define PIDREUSE_SKIP	200

static int wait_byte(int fd)
{
	return mbox_pipe_read_byte(fd, MBOX_WAIT_MS);
}

static int pidreuse_init(void *arg)
{
	int ep, ep_old, pfd, ready[2], go[2], nsfd, len, ret, step = 0;
	struct mbox_recv r;
	char buf[32];
	pid_t a, b;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	ep = mbox_dev_open();
	ep_old = mbox_dev_open();
	if (ep < 0 || ep_old < 0 || pipe(ready) || pipe(go))
		return ++step;
	step++;

	/* A: reachable through ep_old, which we keep when it is gone. */
	a = fork();
	if (a < 0)
		return ++step;
	if (a == 0) {
		ret = mbox_direct_enable(ep_old, 0, 4, 0, 0, NULL);
		mbox_pipe_write_byte(ready[1], ret);
		wait_byte(go[0]);
		_exit(0);
	}
	step++;
	if (wait_byte(ready[0]) != 0)
		return ++step;
	step++;
	pfd = mbox_pidfd_open(a);
	if (pfd < 0)
		return ++step;
	step++;
	if (mbox_send_pid(ep, a, "for-old", 0) ||
	    mbox_send_pidfd(ep, pfd, "for-old-2", 0))
		return ++step;
	step++;
	mbox_pipe_write_byte(go[1], 0);
	if (mbox_reap(a) != 0)
		return ++step;
	step++;
	if (mbox_send_pidfd(ep, pfd, "x", 0) != -ESRCH ||
	    mbox_send_pid(ep, a, "x", 0) != -ESRCH)
		return ++step;
	step++;

	/* The next process gets A's pid. */
	nsfd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
	if (nsfd < 0)
		return errno == ENOENT ? PIDREUSE_SKIP : ++step;
	step++;
	len = snprintf(buf, sizeof(buf), "%d", a - 1);
	if (write(nsfd, buf, len) != len)
		return ++step;
	step++;
	close(nsfd);
	b = fork();
	if (b < 0)
		return ++step;
	if (b == 0) {
		int fd = mbox_dev_open();

		mbox_pipe_write_byte(ready[1], fd < 0 ? fd : 0);
		wait_byte(go[0]);
		ret = mbox_direct_enable(fd, 0, 4, 0, 0, NULL);
		/* Nothing meant for A is here. */
		if (!ret && !mbox_direct_empty(fd))
			ret = 100;
		mbox_pipe_write_byte(ready[1], ret);
		wait_byte(go[0]);
		if (!mbox_recv_direct_is(fd, MBOX_ADDR_PID, 0, "for-new", NULL))
			_exit(101);
		_exit(mbox_direct_empty(fd) ? 0 : 102);
	}
	step++;
	if (b != a) {
		kill(b, SIGKILL);
		mbox_reap(b);
		return ++step;
	}
	step++;
	if (wait_byte(ready[0]) != 0)
		return ++step;
	step++;
	/* B has no direct receiving yet: refused, not delivered to A's. */
	if (mbox_send_pid(ep, b, "x", 0) != -ECONNREFUSED)
		return ++step;
	step++;
	mbox_pipe_write_byte(go[1], 0);
	if (wait_byte(ready[0]) != 0)
		return ++step;
	step++;
	if (mbox_send_pid(ep, b, "for-new", 0))
		return ++step;
	step++;
	/* The old pidfd still names A, not B. */
	if (mbox_send_pidfd(ep, pfd, "x", 0) != -ESRCH)
		return ++step;
	step++;
	mbox_pipe_write_byte(go[1], 0);
	if (mbox_reap(b) != 0)
		return ++step;
	step++;

	/* What was meant for A is still in A's endpoint, from us (pid 1). */
	mbox_recv_direct_init(&r, MBOX_ADDR_PID, 0, buf, sizeof(buf),
			      MBOX_NONBLOCK);
	if (mbox_recv_ex(ep_old, &r) || !got(&r, buf, "for-old") ||
	    r.sender_pid != 1)
		return ++step;
	step++;
	if (!mbox_recv_direct_is(ep_old, MBOX_ADDR_PID, 0, "for-old-2", NULL) ||
	    !mbox_direct_empty(ep_old))
		return ++step;
	close(pfd);
	close(ep);
	close(ep_old);
	return 0;
}

TEST_F(direct, pid_reuse_new_process_never_gets_old_messages)
{
	int ret;

	MBOX_NEED_ROOT("make a pid namespace and set ns_last_pid");
	if (access("/proc/sys/kernel/ns_last_pid", F_OK))
		SKIP(return,
		     "no /proc/sys/kernel/ns_last_pid (CONFIG_CHECKPOINT_RESTORE)");
	ret = mbox_run_in_new_pidns(pidreuse_init, NULL);
	if (ret == MBOX_CHILD_ENONS)
		SKIP(return, "cannot make a pid namespace here");
	if (ret == PIDREUSE_SKIP)
		SKIP(return, "no ns_last_pid in the new pid namespace");
	EXPECT_EQ(0, ret) {
		TH_LOG("step %d failed", ret);
	}
}

/* A process whose leader thread exited, its other thread receiving. */
struct leader_exit {
	int fd;
	int res_w;	/* the thread's results, one byte each */
	int recvs;	/* how many receives the thread makes */
};

static void *leader_exit_thread(void *data)
{
	struct leader_exit *le = data;
	struct mbox_recv r;
	char buf[32];
	int i, ret;

	for (i = 0; i < le->recvs; i++) {
		mbox_recv_direct_init(&r, MBOX_ADDR_PID, 0, buf, sizeof(buf),
				      MBOX_DEADLINE);
		r.deadline_ns = mbox_deadline_ms(MBOX_WAIT_MS);
		ret = mbox_recv_ex(le->fd, &r);
		if (!ret && (r.sender_pid != (__u32)getppid() ||
			     !got(&r, buf, "to-leaderless")))
			ret = -EBADMSG;
		mbox_pipe_write_byte(le->res_w, ret);
	}
	_exit(0);
	return NULL;
}

static int leader_exit_child(void *arg)
{
	struct leader_exit *le = arg;
	pthread_t t;
	int ret;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	le->fd = mbox_dev_open();
	if (le->fd < 0)
		return le->fd;
	ret = mbox_direct_enable(le->fd, 0, 4, 0, 0, NULL);
	if (ret)
		return ret;
	ret = pthread_create(&t, NULL, leader_exit_thread, le);
	if (ret)
		return ret;
	/* Only this thread ends; the process lives on in the other. */
	syscall(SYS_exit, 0);
	return 0;
}

/* A task's state letter in /proc/<pid>/stat, or 0. */
static char task_state(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

TEST_F(direct, process_whose_leader_exited_is_alive)
{
	struct leader_exit le = { .recvs = 2 };
	int res[2], pfd;
	__u64 end;
	pid_t pid;

	ASSERT_EQ(0, pipe2(res, O_CLOEXEC));
	le.res_w = res[1];
	pid = mbox_spawn(leader_exit_child, &le);
	ASSERT_LT(0, pid);
	mbox_track_pid(&self->cl, pid);
	close(res[1]);
	pfd = mbox_pidfd_open(pid);
	ASSERT_LE(0, pfd);

	/* Its leader is a zombie, its other thread alive. */
	end = mbox_deadline_ms(MBOX_WAIT_MS);
	while (task_state(pid) != 'Z' && mbox_now_ns() < end)
		mbox_sleep_ms(1);
	ASSERT_EQ('Z', task_state(pid));
	ASSERT_EQ(0, kill(pid, 0));

	EXPECT_EQ(0, mbox_send_pid(self->fd, pid, "to-leaderless", 0));
	EXPECT_EQ(0, mbox_send_pidfd(self->fd, pfd, "to-leaderless", 0));
	EXPECT_EQ(0, mbox_pipe_read_byte(res[0], MBOX_WAIT_MS));
	EXPECT_EQ(0, mbox_pipe_read_byte(res[0], MBOX_WAIT_MS));
	/* The thread ended the process: now it is gone. */
	EXPECT_EQ(0, mbox_reap(pid));
	EXPECT_EQ(-ESRCH, mbox_send_pidfd(self->fd, pfd, "x", 0));
	close(pfd);
	close(res[0]);
}

/* ---- quota -------------------------------------------------------------- */

#define QUOTA_MSG	100
#define QUOTA_CHARGE	(QUOTA_MSG + MBOX_MSG_OVERHEAD)
#define QUOTA_BYTES	(10 * QUOTA_CHARGE)

/* Messages an unprivileged user fills its quota with: few, but big. */
#define USER_QUOTA_MSG	65536
#define USER_QUOTA_CHARGE (USER_QUOTA_MSG + MBOX_MSG_OVERHEAD)

/*
 * unbounded_links_charged_to_sender_quota unprivileged: the module's
 * max_user_bytes, as it is, binds the test sending to itself.
 */
static void link_quota_unprivileged(struct __test_metadata *_metadata,
				    FIXTURE_DATA(direct) *self)
{
	static char msg[USER_QUOTA_MSG];
	unsigned long long limit, sent = 0;
	pid_t me = getpid();
	struct mbox_recv r;
	int ret;

	ASSERT_EQ(0, mbox_param_get("max_user_bytes", &limit));
	if (limit / USER_QUOTA_CHARGE > 4096)
		SKIP(return, "max_user_bytes is %llu: too much to fill", limit);
	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, MBOX_UNBOUNDED,
					USER_QUOTA_MSG, 0, NULL));
	for (;;) {
		ret = mbox_send_direct(self->fd, MBOX_ADDR_PID, me, msg,
				       sizeof(msg), 0, MBOX_NONBLOCK, 0, NULL);
		if (ret || ++sent > limit / USER_QUOTA_CHARGE)
			break;
	}
	EXPECT_EQ(-ENOSPC, ret);
	EXPECT_EQ(limit / USER_QUOTA_CHARGE, sent) {
		TH_LOG("this user had %llu bytes queued already: a test left them",
		       limit - sent * USER_QUOTA_CHARGE);
	}
	/* Blocking or not; it never waits. */
	EXPECT_EQ(-ENOSPC, mbox_send_direct(self->fd, MBOX_ADDR_PID, me, msg,
					    sizeof(msg), 0, 0, 0, NULL));

	/* One received gives room for one. */
	mbox_recv_direct_init(&r, MBOX_ADDR_PID, 0, msg, sizeof(msg),
			      MBOX_NONBLOCK);
	ASSERT_EQ(0, mbox_recv_ex(self->fd, &r));
	EXPECT_EQ(0, mbox_send_direct(self->fd, MBOX_ADDR_PID, me, msg,
				      sizeof(msg), 0, MBOX_NONBLOCK, 0, NULL));
	EXPECT_EQ(-ENOSPC, mbox_send_direct(self->fd, MBOX_ADDR_PID, me, msg,
					    sizeof(msg), 0, MBOX_NONBLOCK, 0,
					    NULL));

	/* Disabling frees what was queued, and its charge. */
	ASSERT_EQ(0, mbox_direct_disable(self->fd));
	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, MBOX_UNBOUNDED,
					USER_QUOTA_MSG, 0, NULL));
	for (sent = 0; sent < limit / USER_QUOTA_CHARGE; sent++)
		ASSERT_EQ(0, mbox_send_direct(self->fd, MBOX_ADDR_PID, me, msg,
					      sizeof(msg), 0, MBOX_NONBLOCK,
					      0, NULL));
	ASSERT_EQ(0, mbox_direct_disable(self->fd));
}

TEST_F(direct, unbounded_links_charged_to_sender_quota)
{
	char msg[QUOTA_MSG + 1];
	struct agent *nob;
	pid_t me = getpid();
	int i;

	if (!mbox_is_root()) {
		link_quota_unprivileged(_metadata, self);
		return;
	}
	memset(msg, 'q', QUOTA_MSG);
	msg[QUOTA_MSG] = '\0';
	ASSERT_EQ(0, mbox_param_get("max_user_bytes",
				    &self->saved_user_bytes));
	ASSERT_EQ(0, mbox_direct_enable(self->fd, MBOX_DIRECT_ANYONE,
					MBOX_UNBOUNDED, QUOTA_MSG, 0, NULL));
	nob = agent_new_as(self, MBOX_NOBODY, MBOX_NOBODY, -1);
	ASSERT_NE(NULL, nob);
	self->restore_user_bytes = true;
	ASSERT_EQ(0, mbox_param_set("max_user_bytes", QUOTA_BYTES));

	for (i = 0; i < QUOTA_BYTES / QUOTA_CHARGE; i++)
		ASSERT_EQ(0, agent_send(nob, MBOX_ADDR_PID, me, msg, 0,
					MBOX_NONBLOCK));
	/* Over the quota: ENOSPC, blocking or not; it never waits. */
	EXPECT_EQ(-ENOSPC, agent_send(nob, MBOX_ADDR_PID, me, msg, 0,
				      MBOX_NONBLOCK));
	EXPECT_EQ(-ENOSPC, agent_send(nob, MBOX_ADDR_PID, me, msg, 0, 0));
	/* Root (CAP_SYS_RESOURCE) is not held to it. */
	EXPECT_EQ(0, mbox_send_pid(self->fd, me, msg, 0));

	/* One received gives room for one. */
	EXPECT_TRUE(recv_any_is(self->fd, msg, nob->pid));
	EXPECT_EQ(0, agent_send(nob, MBOX_ADDR_PID, me, msg, 0, 0));
	EXPECT_EQ(-ENOSPC, agent_send(nob, MBOX_ADDR_PID, me, msg, 0, 0));

	/* Disabling frees what was queued, and its charge. */
	ASSERT_EQ(0, mbox_direct_disable(self->fd));
	ASSERT_EQ(0, mbox_direct_enable(self->fd, MBOX_DIRECT_ANYONE,
					MBOX_UNBOUNDED, QUOTA_MSG, 0, NULL));
	for (i = 0; i < QUOTA_BYTES / QUOTA_CHARGE; i++)
		ASSERT_EQ(0, agent_send(nob, MBOX_ADDR_PID, me, msg, 0,
					MBOX_NONBLOCK));
	EXPECT_EQ(-ENOSPC, agent_send(nob, MBOX_ADDR_PID, me, msg, 0,
				      MBOX_NONBLOCK));
	ASSERT_EQ(0, mbox_direct_disable(self->fd));
	EXPECT_EQ(0, agent_stop(nob));
	EXPECT_EQ(0, mbox_param_set("max_user_bytes", self->saved_user_bytes));
	self->restore_user_bytes = false;
}

/* ---- a receiver that comes and goes under senders ----------------------- */

#define TOGGLE_ROUNDS	150

/* Enable, take a little, disable, again; 0 or what went wrong. */
static int toggler_child(void *arg)
{
	struct mbox_recv r;
	char buf[64];
	int fd, i, j, ret;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	fd = mbox_dev_open();
	if (fd < 0)
		return fd;
	for (i = 0; i < TOGGLE_ROUNDS; i++) {
		ret = mbox_direct_enable(fd, 0, i % 3, 0, 0, NULL);
		if (ret)
			return ret;
		for (j = 0; j < 2; j++) {
			mbox_recv_direct_init(&r, MBOX_ADDR_PID, 0, buf,
					      sizeof(buf), MBOX_DEADLINE);
			r.deadline_ns = mbox_deadline_ms(1);
			ret = mbox_recv_ex(fd, &r);
			if (ret && ret != -ETIMEDOUT)
				return ret;
		}
		ret = mbox_direct_disable(fd);
		if (ret)
			return ret;
	}
	close(fd);
	return 0;
}

struct hammer {
	pid_t target;
	int pidfd;
	int stop;
	int bad;		/* an errno no send may give here */
	unsigned int sent;
};

struct hammer_thread_arg {
	struct hammer *h;
	int ep;			/* the thread's own endpoint */
};

/* Send by pid and by pidfd, in every mode, until told to stop. */
static void *hammer_thread(void *data)
{
	struct hammer_thread_arg *arg = data;
	struct hammer *h = arg->h;
	__u32 flags, addr, to;
	unsigned int i;
	int ret;

	for (i = 0; !__atomic_load_n(&h->stop, __ATOMIC_SEQ_CST); i++) {
		flags = i % 3 ? MBOX_DEADLINE : MBOX_NONBLOCK;
		if (i % 5 == 0)
			flags |= MBOX_SEND_SYNC;
		addr = i % 2 ? MBOX_ADDR_PIDFD : MBOX_ADDR_PID;
		to = i % 2 ? (__u32)h->pidfd : (__u32)h->target;
		ret = mbox_send_direct(arg->ep, addr, to, "hammer", 6, i % 4,
				       flags, mbox_deadline_ms(2), NULL);
		switch (ret) {
		case 0:
			__atomic_fetch_add(&h->sent, 1, __ATOMIC_SEQ_CST);
			break;
		case -EAGAIN:
		case -ETIMEDOUT:
		case -ECONNREFUSED:
		case -ECONNRESET:
		case -ESRCH:
			break;
		default:
			__atomic_store_n(&h->bad, ret, __ATOMIC_SEQ_CST);
		}
	}
	return NULL;
}

TEST_F(direct, receiver_toggling_under_senders)
{
	struct hammer_thread_arg arg[2];
	struct hammer h = { .pidfd = -1 };
	pthread_t t[2];
	pid_t pid;
	int i;

	pid = mbox_spawn(toggler_child, NULL);
	ASSERT_LT(0, pid);
	mbox_track_pid(&self->cl, pid);
	h.target = pid;
	h.pidfd = mbox_pidfd_open(pid);
	ASSERT_LE(0, h.pidfd);
	/* Two sender threads, each on an endpoint of its own. */
	for (i = 0; i < 2; i++) {
		arg[i].h = &h;
		arg[i].ep = mbox_dev_open();
		ASSERT_LE(0, arg[i].ep);
	}
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, hammer_thread,
					    &arg[i]));
	EXPECT_EQ(0, mbox_reap(pid));
	__atomic_store_n(&h.stop, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	EXPECT_EQ(0, h.bad);
	EXPECT_EQ(-ESRCH, mbox_send_pidfd(self->fd, h.pidfd, "x", 0));
	close(h.pidfd);
	for (i = 0; i < 2; i++)
		close(arg[i].ep);
}

/* ---- errno paths -------------------------------------------------------- */

TEST_F(direct, send_errno_paths)
{
	struct agent *a, *bare;
	struct mbox_send s;
	int efd, nfd, cfd, ep2;

	a = agent_new(self);
	ASSERT_NE(NULL, a);
	ASSERT_EQ(0, agent_direct(a, 0, 4, 0, 0));
	bare = agent_new(self);
	ASSERT_NE(NULL, bare);

	/* No such process. */
	EXPECT_EQ(-ESRCH, mbox_send_pid(self->fd, 0, "x", MBOX_NONBLOCK));
	EXPECT_EQ(-ESRCH, mbox_send_pid(self->fd, 0x7fffffff, "x", 0));
	EXPECT_EQ(-ESRCH, mbox_send_direct(self->fd, MBOX_ADDR_PID, 0xffffffff,
					   "x", 1, 0, 0, 0, NULL));
	EXPECT_EQ(-ESRCH, mbox_send_direct(self->fd, MBOX_ADDR_PID, 0x80000000,
					   "x", 1, 0, 0, 0, NULL));
	/* Not a pidfd, or not an fd. */
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	nfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, nfd);
	ep2 = mbox_dev_open();
	ASSERT_LE(0, ep2);
	EXPECT_EQ(-EINVAL, mbox_send_pidfd(self->fd, efd, "x", 0));
	EXPECT_EQ(-EINVAL, mbox_send_pidfd(self->fd, nfd, "x", 0));
	EXPECT_EQ(-EINVAL, mbox_send_pidfd(self->fd, ep2, "x", 0));
	EXPECT_EQ(-EINVAL, mbox_send_pidfd(self->fd, self->fd, "x", 0));
	cfd = dup(efd);
	ASSERT_LE(0, cfd);
	close(cfd);
	EXPECT_EQ(-EBADF, mbox_send_pidfd(self->fd, cfd, "x", 0));
	EXPECT_EQ(-EBADF, mbox_send_pidfd(self->fd, -1, "x", 0));
	/* A live process without direct receiving; ourselves, likewise. */
	EXPECT_EQ(-ECONNREFUSED, mbox_send_pid(self->fd, bare->pid, "x", 0));
	EXPECT_EQ(-ECONNREFUSED, mbox_send_pid(self->fd, getpid(), "x", 0));

	/* The checks of every send. */
	mbox_send_init(&s, a->pid, "x", 1, 0, 0);
	s.addr = 3;
	EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, MBOX_IOC_SEND, &s));
	s.addr = MBOX_ADDR_PID;
	s.priority = MBOX_PRIO_MAX + 1;
	EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, MBOX_IOC_SEND, &s));
	s.priority = 0;
	s.flags = 1U << 3;
	EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, MBOX_IOC_SEND, &s));
	s.flags = MBOX_NONBLOCK | MBOX_DEADLINE;
	EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, MBOX_IOC_SEND, &s));
	/* An unreadable message, or struct: EFAULT, nothing delivered. */
	s.flags = 0;
	s.buf = mbox_ptr(BAD_PTR);
	EXPECT_EQ(-EFAULT, mbox_ioctl(self->fd, MBOX_IOC_SEND, &s));
	EXPECT_EQ(-EFAULT, mbox_ioctl(self->fd, MBOX_IOC_SEND, BAD_PTR));
	agent_prep_send(a, MBOX_ADDR_PID, getpid(), "bad", 0, 0);
	a->bad_buf = true;
	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 4, 0, 0, NULL));
	EXPECT_EQ(-EFAULT, agent_call(a));
	EXPECT_TRUE(mbox_direct_empty(self->fd));
	EXPECT_TRUE(agent_empty(a));

	/* After all that, the link works. */
	EXPECT_EQ(0, mbox_send_pid(self->fd, a->pid, "fine", 0));
	EXPECT_TRUE(agent_recv_is(a, MBOX_ADDR_PID, 0, "fine", getpid()));
	close(efd);
	close(nfd);
	close(ep2);
	EXPECT_EQ(0, agent_stop(a));
	EXPECT_EQ(0, agent_stop(bare));
}

TEST_F(direct, recv_errno_paths)
{
	struct agent *a;
	struct mbox_recv r, *ro;
	char buf[16];
	int efd, cfd;

	a = agent_new(self);
	ASSERT_NE(NULL, a);

	/* No direct receiving on this endpoint. */
	EXPECT_EQ(-EBADF, recv_direct(self->fd, MBOX_ADDR_PID, 0,
				      MBOX_NONBLOCK, buf, sizeof(buf), &r));
	EXPECT_EQ(-EBADF, recv_direct(self->fd, MBOX_ADDR_PID, a->pid,
				      MBOX_NONBLOCK, buf, sizeof(buf), &r));
	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 4, 0, 0, NULL));
	ASSERT_EQ(0, agent_send(a, MBOX_ADDR_PID, getpid(), "kept", 0, 0));

	/* Direct receives name the sender in from, not with RECV_FROM. */
	mbox_recv_direct_init(&r, MBOX_ADDR_PID, 0, buf, sizeof(buf),
			      MBOX_NONBLOCK | MBOX_RECV_FROM);
	r.from_pid = a->pid;
	EXPECT_EQ(-EINVAL, mbox_recv_ex(self->fd, &r));
	r.flags = MBOX_NONBLOCK;
	EXPECT_EQ(-EINVAL, mbox_recv_ex(self->fd, &r));
	mbox_recv_direct_init(&r, MBOX_ADDR_PID, a->pid, buf, sizeof(buf),
			      MBOX_NONBLOCK | MBOX_RECV_FROM);
	EXPECT_EQ(-EINVAL, mbox_recv_ex(self->fd, &r));
	mbox_recv_direct_init(&r, 3, 0, buf, sizeof(buf), MBOX_NONBLOCK);
	EXPECT_EQ(-EINVAL, mbox_recv_ex(self->fd, &r));
	mbox_recv_direct_init(&r, MBOX_ADDR_PID, 0, buf, sizeof(buf),
			      1U << 3);
	EXPECT_EQ(-EINVAL, mbox_recv_ex(self->fd, &r));

	/* A bad from. */
	EXPECT_EQ(-ESRCH, recv_direct(self->fd, MBOX_ADDR_PID, 0x7fffffff,
				      MBOX_NONBLOCK, buf, sizeof(buf), &r));
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	EXPECT_EQ(-EINVAL, recv_direct(self->fd, MBOX_ADDR_PIDFD, efd,
				       MBOX_NONBLOCK, buf, sizeof(buf), &r));
	cfd = dup(efd);
	ASSERT_LE(0, cfd);
	close(cfd);
	EXPECT_EQ(-EBADF, recv_direct(self->fd, MBOX_ADDR_PIDFD, cfd,
				      MBOX_NONBLOCK, buf, sizeof(buf), &r));
	close(efd);

	/* An unwritable buffer: EFAULT, and the message stays. */
	mbox_recv_direct_init(&r, MBOX_ADDR_PID, 0, BAD_PTR, sizeof(buf),
			      MBOX_NONBLOCK);
	EXPECT_EQ(-EFAULT, mbox_recv_ex(self->fd, &r));
	mbox_recv_direct_init(&r, MBOX_ADDR_PID, a->pid, BAD_PTR, sizeof(buf),
			      0);
	EXPECT_EQ(-EFAULT, mbox_recv_ex(self->fd, &r));
	EXPECT_EQ(-EFAULT, mbox_ioctl(self->fd, MBOX_IOC_RECV, BAD_PTR));
	/* A struct the result cannot be written to takes nothing. */
	ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	mbox_recv_direct_init(ro, MBOX_ADDR_PID, 0, buf, sizeof(buf),
			      MBOX_NONBLOCK);
	ASSERT_EQ(0, mprotect(ro, 4096, PROT_READ));
	EXPECT_EQ(-EFAULT, mbox_ioctl(self->fd, MBOX_IOC_RECV, ro));
	munmap(ro, 4096);
	EXPECT_TRUE(recv_any_is(self->fd, "kept", a->pid));
	EXPECT_TRUE(mbox_direct_empty(self->fd));
	EXPECT_EQ(0, agent_stop(a));
}

TEST_HARNESS_MAIN
