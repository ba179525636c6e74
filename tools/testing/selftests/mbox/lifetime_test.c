// SPDX-License-Identifier: GPL-2.0
/*
 * Lifetime races of mbox (Documentation/testing.rst, "Lifetime races"):
 * what happens to everything that waits on, uses or pins an object while
 * that object goes away, under concurrency, many times over.  The single
 * cases are in msgq_test, call_test and direct_test.
 *
 *  - destroy with 8 tasks blocked on a mailbox: receivers, senders on a
 *    full and on a capacity-0 mailbox, synchronous senders, callers whose
 *    request is queued or awaits its reply, pollers in poll() and
 *    epoll_wait(): every one wakes (EIDRM, EPOLLHUP), none hangs;
 *  - destroy (and direct DISABLE) at random moments under receivers and
 *    senders: each returns a message or the documented error, and every
 *    message is received at most once, exactly once where the ABI says
 *    a successful send was received; a call being copied out by its
 *    receiver when the destroy comes fails too (a bug this found);
 *  - process-owned mailboxes whose owning endpoint goes (close(2),
 *    MBOX_IOC_CLOSE, the last of forked children sharing it), CLOSE under
 *    the endpoint's own blocked receivers, direct inboxes whose endpoint
 *    closes (blocked senders: ECONNRESET; what a closed or exited peer
 *    sent stays receivable);
 *  - close(2) of an endpoint shared by threads blocked in ioctls, poll,
 *    epoll_wait and epoll_ctl, with the fd number reused at once: only
 *    documented results, and the endpoint is released after its last
 *    user (its process-owned mailbox disappears, the module's reference
 *    count comes back); epoll registrations of closed endpoints;
 *  - as root: rmmod refused while an endpoint is open, watched by epoll,
 *    inherited by a child, passed with SCM_RIGHTS or in flight in a unix
 *    socket (the errno is EWOULDBLOCK, see Documentation/design.rst),
 *    never kept by an epoll registration, the /proc listing or a sysfs
 *    file left open; and insmod/rmmod cycles with work in between, whose
 *    slab cache is empty at each unload.  The module is left loaded as
 *    the VM loaded it: from /lib/mbox/mbox.ko (MBOX_KO), no parameters.
 *
 * Each test repeats its scenario a number of rounds sized for the debug
 * kernel under TCG, doubled on others; MBOX_LIFETIME_ROUNDS=N multiplies
 * every count (and the harness's timeouts) for stress runs,
 * MBOX_LIFETIME_SEED fixes the random choices.  Nothing asserts on
 * timing: a task that should have woken and did not shows as a thread
 * still running after MBOX_WAIT_MS ("hung"), not as a slow test.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/mbox.h>

#include "mbox_util.h"
#include "kselftest_harness.h"

/* ---- rounds and randomness ---------------------------------------------- */

/* MBOX_LIFETIME_ROUNDS: how many times the default rounds (1..1000). */
static unsigned int life_scale(void)
{
	static unsigned int scale;
	const char *env;

	if (!scale) {
		env = getenv("MBOX_LIFETIME_ROUNDS");
		scale = env ? strtoul(env, NULL, 0) : 1;
		if (scale < 1)
			scale = 1;
		if (scale > 1000)
			scale = 1000;
	}
	return scale;
}

/*
 * A kernel with kmemleak is the debug kernel (KASAN, lockdep...), about
 * ten times slower than Debian's under TCG: the counts below are sized
 * for it, and doubled elsewhere.
 */
static bool slow_kernel(void)
{
	return !access("/sys/kernel/debug/kmemleak", F_OK);
}

static unsigned int rounds(unsigned int base)
{
	return base * life_scale() * (slow_kernel() ? 1 : 2);
}

/*
 * The seed of the random choices (MBOX_LIFETIME_SEED, else the time), for
 * the record: threads make the runs differ anyway.
 */
static unsigned int life_seed;
static __thread unsigned int rng;

static unsigned int rnd(unsigned int n)
{
	if (!rng)
		rng = (life_seed ^ ((unsigned int)gettid() * 2654435761u)) | 1;
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return n ? rng % n : rng;
}

/* A pause of 0..max_us microseconds, sometimes none at all. */
static void random_pause(unsigned int max_us)
{
	unsigned int us = rnd(max_us + 1);
	struct timespec ts = { 0, (long)us * 1000 };

	if (us < max_us / 8) {
		while (us--)
			sched_yield();
		return;
	}
	nanosleep(&ts, NULL);
}

/* ---- threads ------------------------------------------------------------ */

/* What join_bg() returns for a thread still running after MBOX_WAIT_MS. */
#define HUNG		100000

/* Join a mbox_bg thread: fn's 0 or -errno, or HUNG. */
static int join_bg(struct mbox_bg *bg)
{
	struct timespec ts;

	if (!bg->started)
		return -ESRCH;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += MBOX_WAIT_MS / 1000;
	if (pthread_timedjoin_np(bg->thread, NULL, &ts))
		return HUNG;
	bg->started = false;
	return bg->ret;
}

/* Wait until thread bg sleeps in any system call (poll, epoll_wait). */
static int wait_bg_sleeping(struct mbox_bg *bg)
{
	pid_t tid = mbox_bg_tid(bg);

	if (tid < 0)
		return tid;
	return mbox_wait_blocked_in(tid, MBOX_ANY_SYSCALL, MBOX_WAIT_MS);
}

/* One operation that may block, run in a thread of its own. */
enum op {
	OP_RECV,	/* MBOX_IOC_RECV from addr/id */
	OP_SEND,	/* MBOX_IOC_SEND to addr/id */
	OP_SYNC_SEND,	/* the same, MBOX_SEND_SYNC */
	OP_CALL,	/* MBOX_IOC_CALL to addr/id */
	OP_POLL,	/* poll(fd, POLLIN) */
	OP_EPOLL,	/* epoll_wait(fd), fd an epoll instance */
	OP_EPOLL_CTL,	/* epoll_ctl ADD and DEL of fd on epfd, in a loop */
	OP_IOCTLS,	/* STAT of id and VERSION on fd, in a loop */
};

struct op_thread {
	struct mbox_bg bg;
	enum op op;
	int fd;			/* the endpoint; OP_EPOLL: the epoll fd */
	int epfd;		/* OP_EPOLL_CTL: the epoll instance */
	__u32 addr;		/* MBOX_ADDR_* */
	__u32 id;		/* mailbox id, or pid */
	bool far_deadline;	/* block with a deadline MBOX_WAIT_MS away */
	unsigned int wait_ms;	/* if not 0: a deadline (timeout) this near */
	short revents;		/* OP_POLL, OP_EPOLL: what was reported */
	__u32 len;		/* OP_RECV: the length received */
	char buf[64];		/* OP_RECV: the message; OP_CALL: the reply */
};

static int op_fn(void *arg)
{
	struct op_thread *t = arg;
	unsigned int ms = t->wait_ms ?: MBOX_WAIT_MS;
	struct epoll_event ev;
	struct pollfd pfd;
	struct mbox_stat st;
	struct mbox_version v;
	struct mbox_recv r;
	struct mbox_call c;
	__u64 deadline = 0;
	__u32 flags = 0;
	int ret, i;

	if (t->wait_ms || t->far_deadline) {
		flags = MBOX_DEADLINE;
		deadline = mbox_deadline_ms(ms);
	}
	switch (t->op) {
	case OP_RECV:
		mbox_recv_init(&r, t->id, t->buf, sizeof(t->buf), flags);
		r.addr = t->addr;
		r.deadline_ns = deadline;
		ret = mbox_recv_ex(t->fd, &r);
		t->len = r.len;
		return ret;
	case OP_SEND:
	case OP_SYNC_SEND:
		if (t->op == OP_SYNC_SEND)
			flags |= MBOX_SEND_SYNC;
		return mbox_send_direct(t->fd, t->addr, t->id, "lifetime", 8,
					0, flags, deadline, NULL);
	case OP_CALL:
		mbox_call_init(&c, t->addr, t->id, "call", 4, t->buf,
			       sizeof(t->buf), flags);
		c.deadline_ns = deadline;
		return mbox_call_ex(t->fd, &c);
	case OP_POLL:
		pfd = (struct pollfd) { .fd = t->fd, .events = POLLIN };
		ret = poll(&pfd, 1, ms);
		if (ret < 0)
			return -errno;
		t->revents = pfd.revents;
		return ret ? 0 : -ETIMEDOUT;
	case OP_EPOLL:
		ret = epoll_wait(t->fd, &ev, 1, ms);
		if (ret < 0)
			return -errno;
		t->revents = ret ? (short)ev.events : 0;
		return ret ? 0 : -ETIMEDOUT;
	case OP_EPOLL_CTL:
		/* Each result documented by epoll_ctl(2) for a closed fd. */
		for (i = 0; i < 16; i++) {
			ev = (struct epoll_event) { .events = EPOLLIN };
			if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->fd, &ev) &&
			    errno != EBADF && errno != EEXIST)
				return -errno;
			if (epoll_ctl(t->epfd, EPOLL_CTL_DEL, t->fd, NULL) &&
			    errno != EBADF && errno != ENOENT)
				return -errno;
		}
		return 0;
	case OP_IOCTLS:
		/*
		 * On the endpoint, on a closed fd (EBADF), or on a new
		 * endpoint that got the fd number, once the mailbox is gone
		 * (ENOENT).
		 */
		for (i = 0; i < 16; i++) {
			memset(&st, 0, sizeof(st));
			st.size = sizeof(st);
			st.id = t->id;
			ret = mbox_ioctl(t->fd, MBOX_IOC_STAT, &st);
			if (ret && ret != -EBADF && ret != -ENOENT)
				return ret;
			v = (struct mbox_version) { .size = sizeof(v) };
			ret = mbox_ioctl(t->fd, MBOX_IOC_VERSION, &v);
			if (ret && ret != -EBADF)
				return ret;
		}
		return 0;
	}
	return -EINVAL;
}

static int op_start(struct op_thread *t)
{
	return mbox_bg_run(&t->bg, op_fn, t);
}

/* ---- mailboxes and the module ------------------------------------------- */

static int stat_id(int fd, __u32 id, struct mbox_stat *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	st->id = id;
	return mbox_ioctl(fd, MBOX_IOC_STAT, st);
}

/*
 * Wait until STAT of mailbox id shows want blocked senders (senders) or
 * receivers: they are then linked in its queue, where a destroy finds
 * them.  0, -ETIMEDOUT, or STAT's error.
 */
static int wait_stat_blocked(int fd, __u32 id, bool senders, __u32 want)
{
	__u64 end = mbox_deadline_ms(MBOX_WAIT_MS);
	unsigned int tries = 0;
	struct mbox_stat st;
	int ret;

	for (;;) {
		ret = stat_id(fd, id, &st);
		if (ret)
			return ret;
		if ((senders ? st.nr_senders : st.nr_receivers) == want)
			return 0;
		if (mbox_now_ns() > end)
			return -ETIMEDOUT;
		if (++tries < 50)
			sched_yield();
		else
			mbox_sleep_ms(1);
	}
}

/* Read a small sysfs or procfs file as a number: >= 0, or -errno. */
static long long read_number(const char *path)
{
	char buf[64];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	return strtoll(buf, NULL, 10);
}

/*
 * The module's reference count: one per open endpoint (each file holds
 * its module), or -errno (not a module, or not loaded).
 */
static long long module_refcnt(void)
{
	return read_number("/sys/module/mbox/refcnt");
}

/* Wait until the module's reference count is want: 0 or -ETIMEDOUT. */
static int wait_refcnt(long long want)
{
	__u64 end = mbox_deadline_ms(MBOX_WAIT_MS);

	while (module_refcnt() != want) {
		if (mbox_now_ns() > end)
			return -ETIMEDOUT;
		mbox_sleep_ms(1);
	}
	return 0;
}

/* ---- the fixture -------------------------------------------------------- */

/* System-owned mailboxes a test may have alive at once, for the teardown. */
#define LIFE_IDS	8

FIXTURE(life) {
	int fd;
	__u64 features;
	__u32 ids[LIFE_IDS];	/* system-owned mailboxes to destroy */
	pid_t pids[16];		/* children to kill */
	bool module_out;	/* the test unloaded the module: reload it */
};

/* Remember system-owned mailbox id in slot i, for the teardown. */
static void track(FIXTURE_DATA(life) *self, unsigned int i, __u32 id)
{
	self->ids[i] = id;
}

static int module_load(void);

FIXTURE_SETUP(life)
{
	const char *env = getenv("MBOX_LIFETIME_SEED");

	life_seed = env ? strtoul(env, NULL, 0) :
			  (unsigned int)(mbox_now_ns() ^ getpid());
	self->fd = mbox_dev_open();
	if (self->fd == -ENOENT)
		SKIP(return, "/dev/mbox is absent: the mbox module is not loaded");
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, mbox_features(self->fd, &self->features));
	if (!(self->features & MBOX_FEATURE_MAILBOX))
		SKIP(return, "the loaded module has no MBOX_FEATURE_MAILBOX");
}

FIXTURE_TEARDOWN(life)
{
	unsigned int i;
	int fd;

	for (i = 0; i < MBOX_ARRAY_SIZE(self->pids); i++) {
		if (self->pids[i] > 0 &&
		    waitpid(self->pids[i], NULL, WNOHANG) == 0) {
			kill(self->pids[i], SIGKILL);
			waitpid(self->pids[i], NULL, 0);
		}
	}
	fd = mbox_dev_open();
	for (i = 0; fd >= 0 && i < LIFE_IDS; i++)
		if (self->ids[i])
			mbox_destroy(fd, self->ids[i]);
	if (fd >= 0)
		close(fd);
	if (self->fd >= 0)
		close(self->fd);
	/*
	 * A test that unloaded the module and failed before it could load
	 * it again: load it here, or every later test of this boot would
	 * find no /dev/mbox and skip.
	 */
	if (self->module_out && module_load()) {
		TH_LOG("could not load mbox again: later tests of this boot will find no /dev/mbox");
		_metadata->exit_code = KSFT_FAIL;
	}
}

/*
 * Remember a child for the teardown to kill, in a ring: the teardown kills
 * only children not reaped yet (waitpid() of anything else fails).
 */
static void track_pid(FIXTURE_DATA(life) *self, pid_t pid)
{
	static unsigned int next;

	self->pids[next++ % MBOX_ARRAY_SIZE(self->pids)] = pid;
}

#define NEED_FEATURE(bit, what) do {					\
		if (!(self->features & (bit)))				\
			SKIP(return, "the loaded module has no " what);	\
	} while (0)

/* Open n endpoints into eps[]. */
static void open_eps(struct __test_metadata *_metadata, int *eps, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		eps[i] = mbox_dev_open();
		ASSERT_LE(0, eps[i]);
	}
}

static void close_eps(int *eps, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (eps[i] >= 0)
			close(eps[i]);
}

/* ---- destroy with 8 tasks blocked --------------------------------------- */

#define NWAIT		8	/* tasks blocked at once */
#define NEPS		4	/* endpoints they share */

enum blocked_kind {
	B_RECEIVERS,		/* receive from an empty mailbox */
	B_SENDERS_FULL,		/* send to a full mailbox (capacity 1) */
	B_SENDERS_RENDEZVOUS,	/* send to a capacity-0 mailbox */
	B_SYNC_SENDERS,		/* synchronous sends, 4 queued, 4 for room */
	B_CALLERS,		/* calls: 3 received, 5 queued or for room */
	B_POLLERS,		/* 4 in poll(), 4 in epoll_wait() */
};

/*
 * Rounds of: a system-owned mailbox open on NEPS endpoints, NWAIT tasks of
 * one kind blocked on it (half with a deadline far away, half without),
 * destroyed by one of the endpoints.  Every task wakes with EIDRM (pollers:
 * EPOLLHUP); then every endpoint sees EIDRM and EPOLLHUP until it closes
 * the mailbox, and no call can be answered any more.
 */
static void destroy_wakes_all(struct __test_metadata *_metadata,
			      FIXTURE_DATA(life) *self,
			      enum blocked_kind kind, unsigned int nrounds)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct op_thread t[NWAIT];
	int eps[NEPS], epfd[NWAIT / 2];
	unsigned int round, i;
	__u64 tokens[3];
	struct mbox_stat st;
	struct mbox_recv r;
	__u32 id, cap, len;
	char buf[16];
	int ret;

	open_eps(_metadata, eps, NEPS);
	for (i = 0; i < NWAIT / 2; i++) {
		epfd[i] = epoll_create1(EPOLL_CLOEXEC);
		ASSERT_LE(0, epfd[i]);
	}
	for (round = 0; round < nrounds; round++) {
		cap = kind == B_SENDERS_FULL ? 1 :
		      kind == B_SENDERS_RENDEZVOUS ? 0 : 4;
		ASSERT_EQ(0, mbox_create(self->fd, NULL, MBOX_CREATE_SYSTEM,
					 cap, MBOX_POLICY_SHARED, 0600, &id));
		track(self, 0, id);
		for (i = 0; i < NEPS; i++) {
			ASSERT_EQ(0, mbox_open_id(eps[i], id, kind == B_POLLERS ?
						  MBOX_OPEN_RECV :
						  MBOX_OPEN_SEND | MBOX_OPEN_RECV));
		}
		if (kind == B_SENDERS_FULL) {
			ASSERT_EQ(0, mbox_send(self->fd, id, "full", 4, 0,
					       MBOX_NONBLOCK));
		}

		memset(t, 0, sizeof(t));
		for (i = 0; i < NWAIT; i++) {
			t[i].fd = eps[i % NEPS];
			t[i].addr = MBOX_ADDR_MAILBOX;
			t[i].id = id;
			t[i].far_deadline = (i + round) & 1;
			switch (kind) {
			case B_RECEIVERS:
				t[i].op = OP_RECV;
				break;
			case B_SENDERS_FULL:
			case B_SENDERS_RENDEZVOUS:
				t[i].op = OP_SEND;
				break;
			case B_SYNC_SENDERS:
				t[i].op = OP_SYNC_SEND;
				break;
			case B_CALLERS:
				t[i].op = OP_CALL;
				break;
			case B_POLLERS:
				t[i].op = i < NWAIT / 2 ? OP_POLL : OP_EPOLL;
				if (t[i].op == OP_EPOLL) {
					t[i].fd = epfd[i - NWAIT / 2];
					ASSERT_EQ(0, epoll_ctl(t[i].fd,
							       EPOLL_CTL_ADD,
							       eps[i % NEPS],
							       &ev));
				}
				break;
			}
			ASSERT_EQ(0, op_start(&t[i]));
		}

		/* All of them blocked on the mailbox. */
		switch (kind) {
		case B_RECEIVERS:
			ASSERT_EQ(0, wait_stat_blocked(self->fd, id, false,
						       NWAIT));
			break;
		case B_CALLERS:
			/*
			 * 4 requests queued and 4 callers waiting for room;
			 * take 3: those callers then wait for their replies,
			 * 3 more requests come in, 5 callers are left
			 * blocked in their send.
			 */
			ASSERT_EQ(0, wait_stat_blocked(self->fd, id, true,
						       NWAIT));
			for (i = 0; i < 3; i++) {
				mbox_recv_init(&r, id, buf, sizeof(buf),
					       MBOX_NONBLOCK);
				ASSERT_EQ(0, mbox_recv_ex(eps[0], &r));
				ASSERT_NE(0, r.token);
				tokens[i] = r.token;
			}
			ASSERT_EQ(0, wait_stat_blocked(self->fd, id, true,
						       NWAIT - 3));
			break;
		case B_POLLERS:
			/* Half the rounds, destroy before they sleep. */
			if (round & 1)
				break;
			for (i = 0; i < NWAIT; i++) {
				ASSERT_EQ(0, wait_bg_sleeping(&t[i].bg));
			}
			break;
		default:
			ASSERT_EQ(0, wait_stat_blocked(self->fd, id, true,
						       NWAIT));
			break;
		}

		/* Any endpoint of the owner may destroy it. */
		ASSERT_EQ(0, mbox_destroy(eps[rnd(NEPS)], id));
		track(self, 0, 0);
		for (i = 0; i < NWAIT; i++) {
			ret = join_bg(&t[i].bg);
			if (kind == B_POLLERS) {
				EXPECT_EQ(0, ret) TH_LOG("round %u, poller %u", round, i);
				EXPECT_TRUE(t[i].revents & POLLHUP)
					TH_LOG("round %u, poller %u: revents %#x",
					       round, i, t[i].revents);
			} else {
				EXPECT_EQ(-EIDRM, ret)
					TH_LOG("round %u, task %u (%s)", round, i,
					       ret == HUNG ? "hung" : strerror(-ret));
			}
		}
		ASSERT_FALSE(_metadata->exit_code) TH_LOG("round %u", round);

		/* Gone; EIDRM and EPOLLHUP until each endpoint closes it. */
		EXPECT_EQ(-ENOENT, stat_id(self->fd, id, &st));
		for (i = 0; kind == B_CALLERS && i < 3; i++) {
			EXPECT_EQ(-ENOENT, mbox_reply(eps[0], tokens[i], "r", 1));
		}
		for (i = 0; i < NEPS; i++) {
			EXPECT_TRUE(poll_now(eps[i], POLLIN) & POLLHUP);
			len = sizeof(buf);
			EXPECT_EQ(-EIDRM, mbox_recv(eps[i], id, buf, &len,
						    MBOX_NONBLOCK));
			EXPECT_EQ(0, mbox_close_id(eps[i], id));
			EXPECT_EQ(0, poll_now(eps[i], POLLIN));
		}
		EXPECT_TRUE(poll_now(self->fd, POLLIN) & POLLHUP);
		EXPECT_EQ(0, mbox_close_id(self->fd, id));
		for (i = 0; kind == B_POLLERS && i < NWAIT / 2; i++) {
			ASSERT_EQ(0, epoll_ctl(epfd[i], EPOLL_CTL_DEL,
					       eps[(i + NWAIT / 2) % NEPS], NULL));
		}
		ASSERT_FALSE(_metadata->exit_code) TH_LOG("round %u", round);
	}
	for (i = 0; i < NWAIT / 2; i++)
		close(epfd[i]);
	close_eps(eps, NEPS);
}

TEST_F_TIMEOUT(life, destroy_wakes_8_receivers_eidrm, 120)
{
	destroy_wakes_all(_metadata, self, B_RECEIVERS, rounds(8));
}

TEST_F_TIMEOUT(life, destroy_wakes_8_senders_on_full_mailbox_eidrm, 120)
{
	destroy_wakes_all(_metadata, self, B_SENDERS_FULL, rounds(8));
}

TEST_F_TIMEOUT(life, destroy_wakes_8_senders_on_rendezvous_eidrm, 120)
{
	destroy_wakes_all(_metadata, self, B_SENDERS_RENDEZVOUS, rounds(8));
}

TEST_F_TIMEOUT(life, destroy_wakes_8_sync_senders_eidrm, 120)
{
	destroy_wakes_all(_metadata, self, B_SYNC_SENDERS, rounds(8));
}

TEST_F_TIMEOUT(life, destroy_wakes_8_callers_queued_or_awaiting_reply, 120)
{
	NEED_FEATURE(MBOX_FEATURE_CALL, "MBOX_FEATURE_CALL");
	destroy_wakes_all(_metadata, self, B_CALLERS, rounds(8));
}

TEST_F_TIMEOUT(life, destroy_wakes_8_pollers_and_epollers_epollhup, 120)
{
	destroy_wakes_all(_metadata, self, B_POLLERS, rounds(6));
}

/* ---- destroy at random moments ------------------------------------------ */

#define RACE_SENDERS	3
#define RACE_RECEIVERS	5
#define RACE_PER_SENDER	256
#define RACE_ROWS	(RACE_SENDERS + 1)	/* the last row: sent first */

/* Every message of a race: sent (1 async, 2 sync) and received. */
struct ledger {
	unsigned char sent[RACE_ROWS][RACE_PER_SENDER];
	unsigned char got[RACE_ROWS][RACE_PER_SENDER];
	pid_t pid[RACE_ROWS];	/* if not 0, the process of each row */
	int dups;		/* messages received twice */
	int strays;		/* messages no one sent, or from elsewhere */
	int received;
};

/* A sender or a receiver of a race. */
struct racer {
	struct mbox_bg bg;
	struct ledger *lg;
	int fd;
	__u32 addr;		/* MBOX_ADDR_MAILBOX or MBOX_ADDR_PID */
	__u32 to;		/* mailbox id, or pid (receivers: 0, any) */
	unsigned int row;	/* sender: its row of the ledger */
	int mode;		/* sender: 0 async, 1 sync, 2 alternating */
	bool far_deadline;	/* block with a far deadline, else none */
};

static __u32 tag_of(unsigned int row, unsigned int n)
{
	return row << 16 | n;
}

/* Send until done or failed: 0 once all are sent, or the error. */
static int race_sender(void *arg)
{
	struct racer *s = arg;
	unsigned int n;
	bool sync;
	__u32 tag, flags;
	int ret;

	for (n = 0; n < RACE_PER_SENDER; n++) {
		tag = tag_of(s->row, n);
		sync = s->mode == 1 || (s->mode == 2 && (n & 1));
		flags = (sync ? MBOX_SEND_SYNC : 0) |
			(s->far_deadline ? MBOX_DEADLINE : 0);
		ret = mbox_send_direct(s->fd, s->addr, s->to, &tag, sizeof(tag),
				       rnd(MBOX_PRIO_MAX + 1), flags,
				       mbox_deadline_ms(MBOX_WAIT_MS), NULL);
		if (ret)
			return ret;
		__atomic_store_n(&s->lg->sent[s->row][n], sync ? 2 : 1,
				 __ATOMIC_SEQ_CST);
	}
	return 0;
}

/* Receive until it fails: that error. */
static int race_receiver(void *arg)
{
	struct racer *rc = arg;
	struct ledger *lg = rc->lg;
	unsigned int row, n;
	struct mbox_recv r;
	char buf[16];
	__u32 tag;
	int ret;

	for (;;) {
		mbox_recv_init(&r, rc->to, buf, sizeof(buf),
			       rc->far_deadline ? MBOX_DEADLINE : 0);
		r.addr = rc->addr;
		r.deadline_ns = mbox_deadline_ms(MBOX_WAIT_MS);
		ret = mbox_recv_ex(rc->fd, &r);
		if (ret)
			return ret;
		memcpy(&tag, buf, sizeof(tag));
		row = tag >> 16;
		n = tag & 0xffff;
		if (r.len != sizeof(tag) || row >= RACE_ROWS ||
		    n >= RACE_PER_SENDER ||
		    (lg->pid[row] && (pid_t)r.sender_pid != lg->pid[row]))
			__atomic_add_fetch(&lg->strays, 1, __ATOMIC_SEQ_CST);
		else if (__atomic_exchange_n(&lg->got[row][n], 1,
					     __ATOMIC_SEQ_CST))
			__atomic_add_fetch(&lg->dups, 1, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&lg->received, 1, __ATOMIC_SEQ_CST);
	}
}

/* The end of a race: what kills the queue, and what each side then gets. */
struct race_end {
	int (*kill)(int fd, __u32 id);
	int recv_err, recv_err2;	/* the errors receivers may end with */
	int send_err, send_err2;	/* those senders may end with (or 0) */
};

static int disable_direct(int fd, __u32 unused)
{
	return mbox_direct_disable(fd);
}

/*
 * One race: receivers and senders (on the endpoints of eps[]; receivers of
 * direct messages on rx) at work on a queue of capacity cap, which is
 * killed at a random moment.  Then check the ledger: no message received
 * twice; every synchronous send that succeeded received, and on a
 * capacity-0 queue every send that succeeded (both complete only once a
 * receiver has the message); of the asynchronous ones, no more left
 * unreceived (freed by the kill) than the queue holds.
 */
static void race_round(struct __test_metadata *_metadata, const int *eps,
		       int rx, __u32 addr, __u32 to, __u32 cap,
		       const struct race_end *end, int kill_fd)
{
	struct racer snd[RACE_SENDERS], rcv[RACE_RECEIVERS];
	unsigned int i, n, row, lost = 0, prefill;
	struct ledger *lg;
	__u64 until;
	int ret;

	lg = calloc(1, sizeof(*lg));
	ASSERT_NE(NULL, lg);

	/* Some messages already queued. */
	prefill = cap == MBOX_UNBOUNDED ? rnd(8) : rnd(cap + 1);
	for (n = 0; n < prefill; n++) {
		__u32 tag = tag_of(RACE_SENDERS, n);

		ASSERT_EQ(0, mbox_send_direct(eps[0], addr, to, &tag,
					      sizeof(tag), 0, MBOX_NONBLOCK,
					      0, NULL));
		lg->sent[RACE_SENDERS][n] = 1;
	}
	memset(snd, 0, sizeof(snd));
	memset(rcv, 0, sizeof(rcv));
	for (i = 0; i < RACE_RECEIVERS; i++) {
		rcv[i].lg = lg;
		rcv[i].fd = rx >= 0 ? rx : eps[i % NEPS];
		rcv[i].addr = addr;
		rcv[i].to = addr == MBOX_ADDR_MAILBOX ? to : 0;
		rcv[i].far_deadline = rnd(2);
		ASSERT_EQ(0, mbox_bg_run(&rcv[i].bg, race_receiver, &rcv[i]));
	}
	for (i = 0; i < RACE_SENDERS; i++) {
		snd[i].lg = lg;
		snd[i].fd = eps[(i + 1) % NEPS];
		snd[i].addr = addr;
		snd[i].to = to;
		snd[i].row = i;
		snd[i].mode = i;
		snd[i].far_deadline = rnd(2);
		ASSERT_EQ(0, mbox_bg_run(&snd[i].bg, race_sender, &snd[i]));
	}

	/* A random moment: after some messages went through, or a pause. */
	if (rnd(2)) {
		n = rnd(64);
		until = mbox_deadline_ms(MBOX_WAIT_MS);
		while (__atomic_load_n(&lg->received, __ATOMIC_SEQ_CST) < (int)n &&
		       mbox_now_ns() < until)
			sched_yield();
	} else {
		random_pause(3000);
	}
	ASSERT_EQ(0, end->kill(kill_fd, to));

	for (i = 0; i < RACE_RECEIVERS; i++) {
		ret = join_bg(&rcv[i].bg);
		EXPECT_TRUE(ret == end->recv_err || ret == end->recv_err2)
			TH_LOG("receiver %u: %s", i,
			       ret == HUNG ? "hung" : strerror(-ret));
	}
	for (i = 0; i < RACE_SENDERS; i++) {
		ret = join_bg(&snd[i].bg);
		EXPECT_TRUE(!ret || ret == end->send_err || ret == end->send_err2)
			TH_LOG("sender %u: %s", i,
			       ret == HUNG ? "hung" : strerror(-ret));
	}
	EXPECT_EQ(0, lg->dups);
	EXPECT_EQ(0, lg->strays);
	for (row = 0; row < RACE_ROWS; row++) {
		for (n = 0; n < RACE_PER_SENDER; n++) {
			if (!lg->sent[row][n] || lg->got[row][n])
				continue;
			EXPECT_TRUE(lg->sent[row][n] == 1 && cap)
				TH_LOG("capacity %u: message %u of sender %u succeeded (%s) and was never received",
				       cap, n, row,
				       lg->sent[row][n] == 2 ? "sync" : "async");
			lost++;
		}
	}
	if (cap != MBOX_UNBOUNDED) {
		EXPECT_GE(cap, lost) TH_LOG("%u messages freed by the kill", lost);
	}
	free(lg);
}

TEST_F_TIMEOUT(life, destroy_at_random_moments_every_message_once, 180)
{
	static const __u32 caps[] = { 0, 1, 4, MBOX_UNBOUNDED };
	static const struct race_end end = {
		.kill = mbox_destroy,
		.recv_err = -EIDRM, .recv_err2 = -EIDRM,
		.send_err = -EIDRM, .send_err2 = -EIDRM,
	};
	unsigned int round, nrounds = rounds(16), i;
	struct mbox_stat st;
	int eps[NEPS];
	__u32 id, cap;

	TH_LOG("seed %u (MBOX_LIFETIME_SEED)", life_seed);
	open_eps(_metadata, eps, NEPS);
	for (round = 0; round < nrounds; round++) {
		cap = caps[round % MBOX_ARRAY_SIZE(caps)];
		ASSERT_EQ(0, mbox_create(eps[0], NULL, MBOX_CREATE_SYSTEM, cap,
					 MBOX_POLICY_SHARED, 0600, &id));
		track(self, 0, id);
		for (i = 1; i < NEPS; i++) {
			ASSERT_EQ(0, mbox_open_id(eps[i], id,
						  MBOX_OPEN_SEND | MBOX_OPEN_RECV));
		}
		race_round(_metadata, eps, -1, MBOX_ADDR_MAILBOX, id, cap,
			   &end, eps[rnd(NEPS)]);
		track(self, 0, 0);
		EXPECT_EQ(-ENOENT, stat_id(self->fd, id, &st));
		for (i = 0; i < NEPS; i++) {
			EXPECT_EQ(0, mbox_close_id(eps[i], id));
		}
		ASSERT_FALSE(_metadata->exit_code)
			TH_LOG("round %u, capacity %u", round, cap);
	}
	close_eps(eps, NEPS);
}

/* ---- a call being received when its mailbox is destroyed ---------------- */

#define BIG_CALL	(1U << 20)	/* the module's default max_msg_size */

/* Pin the calling thread to CPU 0 (0 or -errno). */
static int pin_cpu0(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/* The server: a receive into untouched memory, at the lowest priority. */
struct slow_server {
	struct mbox_bg bg;
	int fd;
	__u32 id;
	void *buf;		/* BIG_CALL bytes, never touched */
	__u64 token;
};

static int slow_server_fn(void *arg)
{
	struct slow_server *sv = arg;
	struct sched_param sp = { 0 };
	struct mbox_recv r;
	int ret;

	pin_cpu0();
	sched_setscheduler(0, SCHED_IDLE, &sp);
	mbox_recv_init(&r, sv->id, sv->buf, BIG_CALL, MBOX_DEADLINE);
	r.deadline_ns = mbox_deadline_ms(MBOX_WAIT_MS);
	ret = mbox_recv_ex(sv->fd, &r);
	sv->token = r.token;
	return ret;
}

struct big_caller {
	struct mbox_bg bg;
	int fd;
	__u32 id;
	void *buf;
};

static int big_caller_fn(void *arg)
{
	struct big_caller *c = arg;
	struct mbox_call call;
	char reply[16];

	pin_cpu0();
	mbox_call_init(&call, MBOX_ADDR_MAILBOX, c->id, c->buf, BIG_CALL,
		       reply, sizeof(reply), MBOX_DEADLINE);
	call.deadline_ns = mbox_deadline_ms(MBOX_WAIT_MS);
	return mbox_call_ex(c->fd, &call);
}

/*
 * A call handed to a receiver that is still copying it out when the
 * mailbox is destroyed.  The receive succeeds (the request was taken
 * before the destroy), so the call was pending when the mailbox went:
 * its caller fails with EIDRM at once, as for any call pending on a
 * destroyed mailbox, and the server's token answers ENOENT.  The copy
 * is made long (1 MiB into untouched memory) and the receiver runs at
 * SCHED_IDLE on the CPU of the thread that destroys, so that the destroy
 * lands inside it.
 *
 * Regression test: the call used to be put on the list of calls of the
 * dead queue after the destroy had failed that list, and its caller
 * waited for a reply the mailbox could no longer promise (until the
 * server replied or closed).
 */
TEST_F_TIMEOUT(life, destroy_fails_a_call_being_received, 120)
{
	unsigned int round, nrounds = rounds(6);
	struct slow_server sv;
	struct big_caller c;
	struct mbox_stat st;
	int srv, cl, ret;
	__u64 until;
	void *req;
	__u32 id;

	NEED_FEATURE(MBOX_FEATURE_CALL, "MBOX_FEATURE_CALL");
	ASSERT_EQ(0, pin_cpu0());
	req = mmap(NULL, BIG_CALL, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, req);
	memset(req, 'c', BIG_CALL);
	for (round = 0; round < nrounds; round++) {
		srv = mbox_dev_open();
		cl = mbox_dev_open();
		ASSERT_LE(0, srv);
		ASSERT_LE(0, cl);
		/* The server's own: it goes with the test, whatever happens. */
		ASSERT_EQ(0, mbox_create_sized(srv, 0, 4, BIG_CALL, 0, 0, 0600,
					       &id));
		ASSERT_EQ(0, mbox_open_id(cl, id, MBOX_OPEN_SEND));

		memset(&sv, 0, sizeof(sv));
		sv.fd = srv;
		sv.id = id;
		sv.buf = mmap(NULL, BIG_CALL, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, sv.buf);
		ASSERT_EQ(0, mbox_bg_run(&sv.bg, slow_server_fn, &sv));
		ASSERT_EQ(0, wait_stat_blocked(self->fd, id, false, 1));

		memset(&c, 0, sizeof(c));
		c.fd = cl;
		c.id = id;
		c.buf = req;
		ASSERT_EQ(0, mbox_bg_run(&c.bg, big_caller_fn, &c));
		/*
		 * The request handed to the server: the caller waits for the
		 * server to settle it.  No sleep, no yield: the server, at
		 * SCHED_IDLE, runs when this thread stops, mostly.  (When it
		 * ran first and received the call already, the destroy finds
		 * the call on its list: the caller fails with EIDRM too.)
		 */
		until = mbox_deadline_ms(MBOX_WAIT_MS);
		do {
			ASSERT_EQ(0, stat_id(self->fd, id, &st));
			ASSERT_GT(until, mbox_now_ns())
				TH_LOG("round %u: the call never reached the server",
				       round);
		} while (st.nr_senders != 1 && !mbox_bg_done(&sv.bg));
		ASSERT_EQ(0, mbox_destroy(self->fd, id));

		ret = join_bg(&sv.bg);
		EXPECT_EQ(0, ret) TH_LOG("round %u, the server: %s", round,
					 ret == HUNG ? "hung" : strerror(-ret));
		ret = join_bg(&c.bg);
		EXPECT_EQ(-EIDRM, ret)
			TH_LOG("round %u, the caller: %s", round,
			       ret == HUNG || ret == -ETIMEDOUT ?
			       "waited for a reply after the destroy" :
			       strerror(-ret));
		if (ret == HUNG) {
			/* Let it go: the server's endpoint closes. */
			close(srv);
			srv = -1;
			join_bg(&c.bg);
		} else {
			EXPECT_EQ(-ENOENT, mbox_reply(srv, sv.token, "r", 1));
		}
		if (srv >= 0)
			close(srv);
		close(cl);
		munmap(sv.buf, BIG_CALL);
		ASSERT_FALSE(_metadata->exit_code) TH_LOG("round %u", round);
	}
	munmap(req, BIG_CALL);
}

/* ---- process-owned mailboxes: the owning endpoint goes ------------------ */

/*
 * Rounds of: a process-owned mailbox of capacity 2 on endpoint O, two
 * calls received by O and not answered, two messages queued, and four
 * senders and two more callers blocked for room, from two other
 * endpoints.  Then O goes: by close(2), when the received calls fail with
 * EPIPE (the server's endpoint closed) and everything else with EIDRM;
 * or by MBOX_IOC_CLOSE of the mailbox, when the queue is killed first and
 * every one fails with EIDRM, the tokens then answering ENOENT.
 */
TEST_F_TIMEOUT(life, owner_close_wakes_blocked_senders_and_callers, 120)
{
	unsigned int round, nrounds = rounds(10), i;
	struct op_thread t[NWAIT];
	struct mbox_stat st;
	struct mbox_recv r;
	__u64 tokens[2];
	bool by_ioctl;
	int o, s[2], ret;
	char buf[16];
	__u32 id;

	NEED_FEATURE(MBOX_FEATURE_CALL, "MBOX_FEATURE_CALL");
	open_eps(_metadata, s, 2);
	for (round = 0; round < nrounds; round++) {
		by_ioctl = round & 1;
		o = mbox_dev_open();
		ASSERT_LE(0, o);
		ASSERT_EQ(0, mbox_create(o, NULL, 0, 2, MBOX_POLICY_SHARED,
					 0600, &id));
		for (i = 0; i < 2; i++) {
			ASSERT_EQ(0, mbox_open_id(s[i], id, MBOX_OPEN_SEND));
		}

		/* Two calls received, not answered. */
		memset(t, 0, sizeof(t));
		for (i = 0; i < 2; i++) {
			t[i] = (struct op_thread) {
				.op = OP_CALL, .fd = s[0], .id = id,
				.addr = MBOX_ADDR_MAILBOX,
				.far_deadline = (i + round) & 1,
			};
			ASSERT_EQ(0, op_start(&t[i]));
		}
		ASSERT_EQ(0, wait_stat_blocked(s[0], id, true, 2));
		for (i = 0; i < 2; i++) {
			mbox_recv_init(&r, id, buf, sizeof(buf), MBOX_NONBLOCK);
			ASSERT_EQ(0, mbox_recv_ex(o, &r));
			ASSERT_EQ(MBOX_MSG_CALL | MBOX_MSG_SYNC, r.msg_flags);
			tokens[i] = r.token;
		}
		/* A full queue, four senders and two callers waiting. */
		for (i = 0; i < 2; i++) {
			ASSERT_EQ(0, mbox_send(s[1], id, "q", 1, 0,
					       MBOX_NONBLOCK));
		}
		for (i = 2; i < NWAIT; i++) {
			t[i] = (struct op_thread) {
				.op = i < 6 ? OP_SEND : OP_CALL,
				.fd = s[i & 1], .id = id,
				.addr = MBOX_ADDR_MAILBOX,
				.far_deadline = (i + round) & 1,
			};
			ASSERT_EQ(0, op_start(&t[i]));
		}
		ASSERT_EQ(0, wait_stat_blocked(s[0], id, true, NWAIT - 2));

		if (by_ioctl) {
			ASSERT_EQ(0, mbox_close_id(o, id));
		} else {
			ASSERT_EQ(0, close(o));
		}
		for (i = 0; i < NWAIT; i++) {
			ret = join_bg(&t[i].bg);
			EXPECT_EQ(i < 2 && !by_ioctl ? -EPIPE : -EIDRM, ret)
				TH_LOG("round %u, task %u: %s", round, i,
				       ret == HUNG ? "hung" : strerror(-ret));
		}
		if (by_ioctl) {
			for (i = 0; i < 2; i++) {
				EXPECT_EQ(-ENOENT, mbox_reply(o, tokens[i], "r", 1));
			}
			EXPECT_EQ(0, close(o));
		}
		EXPECT_EQ(-ENOENT, stat_id(s[0], id, &st));
		for (i = 0; i < 2; i++) {
			EXPECT_EQ(-EIDRM, mbox_send(s[i], id, "x", 1, 0,
						    MBOX_NONBLOCK));
			EXPECT_EQ(0, mbox_close_id(s[i], id));
		}
		ASSERT_FALSE(_metadata->exit_code) TH_LOG("round %u", round);
	}
	close_eps(s, 2);
}

/*
 * The owning endpoint's own receivers, 8 threads blocked on it, wake with
 * EIDRM when another thread closes the mailbox there (MBOX_IOC_CLOSE).
 */
TEST_F_TIMEOUT(life, owner_ioctl_close_wakes_its_own_8_receivers, 120)
{
	unsigned int round, nrounds = rounds(10), i;
	struct op_thread t[NWAIT];
	struct mbox_stat st;
	char buf[16];
	__u32 id, len;
	int o, ret;

	for (round = 0; round < nrounds; round++) {
		o = mbox_dev_open();
		ASSERT_LE(0, o);
		ASSERT_EQ(0, mbox_create(o, NULL, 0, round & 1 ? 0 : 4,
					 MBOX_POLICY_SHARED, 0600, &id));
		memset(t, 0, sizeof(t));
		for (i = 0; i < NWAIT; i++) {
			t[i] = (struct op_thread) {
				.op = OP_RECV, .fd = o, .id = id,
				.addr = MBOX_ADDR_MAILBOX,
				.far_deadline = (i + round) & 1,
			};
			ASSERT_EQ(0, op_start(&t[i]));
		}
		ASSERT_EQ(0, wait_stat_blocked(self->fd, id, false, NWAIT));
		ASSERT_EQ(0, mbox_close_id(o, id));
		for (i = 0; i < NWAIT; i++) {
			ret = join_bg(&t[i].bg);
			EXPECT_EQ(-EIDRM, ret)
				TH_LOG("round %u, receiver %u: %s", round, i,
				       ret == HUNG ? "hung" : strerror(-ret));
		}
		EXPECT_EQ(-ENOENT, stat_id(self->fd, id, &st));
		len = sizeof(buf);
		EXPECT_EQ(-EBADF, mbox_recv(o, id, buf, &len, MBOX_NONBLOCK));
		EXPECT_EQ(0, close(o));
		ASSERT_FALSE(_metadata->exit_code) TH_LOG("round %u", round);
	}
}

/*
 * MBOX_IOC_CLOSE of a system-owned mailbox by one thread while 4 others
 * of the same endpoint are blocked in RECV on it.  The close succeeds and
 * the endpoint may use the mailbox no more (EBADF); the receives already
 * blocked go on as they started, as a read(2) does when another thread
 * closes its fd (Documentation/design.rst): served by a later send, or
 * woken by the destroy.  None hangs, no message is lost or doubled.
 */
TEST_F_TIMEOUT(life, ioctl_close_under_blocked_receivers_of_the_endpoint, 120)
{
	unsigned int round, nrounds = rounds(8), i, nmsg, got;
	struct op_thread t[4];
	struct mbox_stat st;
	int a, b, ret;
	char buf[16];
	__u32 id, len;

	for (round = 0; round < nrounds; round++) {
		a = mbox_dev_open();
		b = mbox_dev_open();
		ASSERT_LE(0, a);
		ASSERT_LE(0, b);
		ASSERT_EQ(0, mbox_create(b, NULL, MBOX_CREATE_SYSTEM, 4,
					 MBOX_POLICY_SHARED, 0600, &id));
		track(self, 0, id);
		ASSERT_EQ(0, mbox_open_id(a, id, MBOX_OPEN_RECV));
		memset(t, 0, sizeof(t));
		for (i = 0; i < 4; i++) {
			t[i] = (struct op_thread) {
				.op = OP_RECV, .fd = a, .id = id,
				.addr = MBOX_ADDR_MAILBOX,
				.far_deadline = (i + round) & 1,
			};
			ASSERT_EQ(0, op_start(&t[i]));
		}
		ASSERT_EQ(0, wait_stat_blocked(b, id, false, 4));
		ASSERT_EQ(0, mbox_close_id(a, id));
		len = sizeof(buf);
		EXPECT_EQ(-EBADF, mbox_recv(a, id, buf, &len, MBOX_NONBLOCK));
		ASSERT_EQ(0, stat_id(b, id, &st));
		EXPECT_EQ(1, st.nr_open);

		nmsg = rnd(5);
		for (i = 0; i < nmsg; i++)
			ASSERT_EQ(0, mbox_send(b, id, "after", 5, 0, MBOX_NONBLOCK));
		ASSERT_EQ(0, wait_stat_blocked(b, id, false, 4 - nmsg));
		ASSERT_EQ(0, mbox_destroy(b, id));
		track(self, 0, 0);
		for (i = got = 0; i < 4; i++) {
			ret = join_bg(&t[i].bg);
			EXPECT_TRUE(!ret || ret == -EIDRM)
				TH_LOG("round %u, receiver %u: %s", round, i,
				       ret == HUNG ? "hung" : strerror(-ret));
			got += !ret;
		}
		EXPECT_EQ(nmsg, got);
		EXPECT_EQ(0, close(a));
		EXPECT_EQ(0, close(b));
		ASSERT_FALSE(_metadata->exit_code) TH_LOG("round %u", round);
	}
}

/*
 * close(2) of the owning endpoint's fd while 4 threads are blocked in
 * RECV on it: close returns at once, but the file lives on while an
 * ioctl uses it (as for any file), so the mailbox stays, serves its
 * receivers (a message each, or EINTR for those a signal ends) and is
 * destroyed only when the last of them returns: the endpoint is released
 * after its last user, never under it.
 */
TEST_F_TIMEOUT(life, owner_fd_close_waits_for_its_blocked_ioctls, 120)
{
	unsigned int round, nrounds = rounds(10), i, nmsg, got;
	struct op_thread t[4];
	long long refs;
	struct mbox_stat st;
	int o, w, ret;
	__u32 id;

	ASSERT_EQ(0, mbox_sigaction(SIGUSR1, on_signal, 0));
	w = mbox_dev_open();
	ASSERT_LE(0, w);
	for (round = 0; round < nrounds; round++) {
		refs = module_refcnt();
		o = mbox_dev_open();
		ASSERT_LE(0, o);
		ASSERT_EQ(0, mbox_create(o, NULL, 0, round & 1 ? 0 : 4,
					 MBOX_POLICY_SHARED, 0600, &id));
		ASSERT_EQ(0, mbox_open_id(w, id, MBOX_OPEN_SEND));
		memset(t, 0, sizeof(t));
		for (i = 0; i < 4; i++) {
			t[i] = (struct op_thread) {
				.op = OP_RECV, .fd = o, .id = id,
				.addr = MBOX_ADDR_MAILBOX,
				.far_deadline = (i + round) & 1,
			};
			ASSERT_EQ(0, op_start(&t[i]));
		}
		ASSERT_EQ(0, wait_stat_blocked(w, id, false, 4));

		ASSERT_EQ(0, close(o));
		/* Still there: its receivers hold the endpoint's file. */
		ASSERT_EQ(0, stat_id(w, id, &st));
		EXPECT_EQ(4, st.nr_receivers);
		EXPECT_EQ(2, st.nr_open);
		nmsg = rnd(5);
		for (i = 0; i < nmsg; i++) {
			ASSERT_EQ(0, mbox_send(w, id, "served", 6, 0,
					       i & 1 ? MBOX_SEND_SYNC : 0));
		}
		/* The others leave by a signal. */
		for (i = 0; i < 4; i++)
			pthread_kill(t[i].bg.thread, SIGUSR1);
		for (i = got = 0; i < 4; i++) {
			ret = join_bg(&t[i].bg);
			EXPECT_TRUE(!ret || ret == -EINTR)
				TH_LOG("round %u, receiver %u: %s", round, i,
				       ret == HUNG ? "hung" : strerror(-ret));
			if (!ret) {
				got++;
				EXPECT_EQ(6, t[i].len);
				EXPECT_EQ(0, memcmp(t[i].buf, "served", 6));
			}
		}
		EXPECT_EQ(nmsg, got);

		/* The last one out released the endpoint. */
		EXPECT_EQ(-ENOENT, stat_id(w, id, &st));
		EXPECT_EQ(-EIDRM, mbox_send(w, id, "late", 4, 0, MBOX_NONBLOCK));
		EXPECT_EQ(0, mbox_close_id(w, id));
		if (refs >= 0) {
			EXPECT_EQ(refs, module_refcnt());
		}
		ASSERT_FALSE(_metadata->exit_code) TH_LOG("round %u", round);
	}
	close(w);
}

struct sharer {
	int fd;		/* the owning endpoint, inherited */
	__u32 id;	/* its process-owned mailbox */
	int role;	/* 0 sends, 1 waits to be killed, 2 receives */
};

static int sharer_child(void *arg)
{
	struct sharer *sh = arg;
	struct mbox_recv r;
	char buf[16];
	int ret;

	switch (sh->role) {
	case 0:
		return mbox_send(sh->fd, sh->id, "shared", 6, 0, MBOX_NONBLOCK);
	case 1:
		/* Only what the parent sends, which is nothing. */
		mbox_recv_init(&r, sh->id, buf, sizeof(buf), MBOX_RECV_FROM);
		r.from_pid = getppid();
		return mbox_recv_ex(sh->fd, &r);
	default:
		mbox_recv_init(&r, sh->id, buf, sizeof(buf), MBOX_DEADLINE);
		r.deadline_ns = mbox_deadline_ms(MBOX_WAIT_MS);
		ret = mbox_recv_ex(sh->fd, &r);
		if (!ret && (r.len != 6 || memcmp(buf, "shared", 6)))
			ret = -EBADMSG;
		if (close(sh->fd))
			ret = ret ?: -errno;
		return ret;
	}
}

/*
 * fork()ed children share the owning endpoint of a process-owned
 * mailbox, which the parent closes at once: it lives while one of them
 * has it (one sends and exits, one receives, closes and exits, one is
 * killed while it waits in RECV) and goes with the last.
 */
TEST_F_TIMEOUT(life, forked_children_share_the_owner_endpoint, 120)
{
	unsigned int round, nrounds = rounds(4), i;
	struct sharer sh[3];
	struct mbox_stat st;
	long long refs;
	pid_t pid[3];
	int o, w;
	__u32 id;

	w = mbox_dev_open();
	ASSERT_LE(0, w);
	for (round = 0; round < nrounds; round++) {
		refs = module_refcnt();
		o = mbox_dev_open();
		ASSERT_LE(0, o);
		ASSERT_EQ(0, mbox_create(o, NULL, 0, 4, MBOX_POLICY_SHARED,
					 0600, &id));
		ASSERT_EQ(0, mbox_open_id(w, id, MBOX_OPEN_SEND));
		for (i = 0; i < 3; i++) {
			sh[i] = (struct sharer) { .fd = o, .id = id, .role = i };
			pid[i] = mbox_spawn(sharer_child, &sh[i]);
			ASSERT_LT(0, pid[i]);
			track_pid(self, pid[i]);
		}
		ASSERT_EQ(0, close(o));

		EXPECT_EQ(0, mbox_reap(pid[0]));
		EXPECT_EQ(0, mbox_reap(pid[2]));
		/* The one left keeps it, blocked in RECV. */
		ASSERT_EQ(0, wait_stat_blocked(w, id, false, 1));
		ASSERT_EQ(0, stat_id(w, id, &st));
		kill(pid[1], SIGKILL);
		EXPECT_EQ(128 + SIGKILL, mbox_reap(pid[1]));

		EXPECT_EQ(-ENOENT, stat_id(w, id, &st));
		EXPECT_EQ(-EIDRM, mbox_send(w, id, "late", 4, 0, MBOX_NONBLOCK));
		EXPECT_EQ(0, mbox_close_id(w, id));
		if (refs >= 0) {
			EXPECT_EQ(refs, module_refcnt());
		}
		ASSERT_FALSE(_metadata->exit_code) TH_LOG("round %u", round);
	}
	close(w);
}

/* ---- direct links: the receiving endpoint goes -------------------------- */

/*
 * Rounds of: this process reachable through endpoint rx (capacity 0, or
 * 1 and full), 8 threads sending to it from 4 other endpoints, some
 * synchronously, blocked; then rx closes (or disables direct receiving):
 * every sender wakes with ECONNRESET, and a new send is ECONNREFUSED.
 * Half the rounds do not wait for the senders to block: then a sender
 * that comes after the close gets ECONNREFUSED.
 */
TEST_F_TIMEOUT(life, direct_close_wakes_8_blocked_senders_econnreset, 120)
{
	unsigned int round, nrounds = rounds(6), i;
	struct op_thread t[NWAIT];
	pid_t me = getpid();
	int eps[NEPS], rx, ret;
	bool waited;
	__u32 cap;

	NEED_FEATURE(MBOX_FEATURE_DIRECT, "MBOX_FEATURE_DIRECT");
	open_eps(_metadata, eps, NEPS);
	for (round = 0; round < nrounds; round++) {
		cap = round & 1;
		waited = !(round & 2);
		rx = mbox_dev_open();
		ASSERT_LE(0, rx);
		ASSERT_EQ(0, mbox_direct_enable(rx, 0, cap, 0, 0, NULL));
		if (cap) {
			ASSERT_EQ(0, mbox_send_pid(eps[0], me, "full",
						   MBOX_NONBLOCK));
		}
		memset(t, 0, sizeof(t));
		for (i = 0; i < NWAIT; i++) {
			t[i] = (struct op_thread) {
				.op = i & 1 ? OP_SYNC_SEND : OP_SEND,
				.fd = eps[i % NEPS], .id = me,
				.addr = MBOX_ADDR_PID,
				.far_deadline = (i >> 1) & 1,
			};
			ASSERT_EQ(0, op_start(&t[i]));
		}
		for (i = 0; waited && i < NWAIT; i++) {
			ASSERT_EQ(0, mbox_bg_wait_blocked(&t[i].bg));
		}

		if (round & 4) {
			ASSERT_EQ(0, mbox_direct_disable(rx));
			ASSERT_EQ(0, close(rx));
		} else {
			ASSERT_EQ(0, close(rx));
		}
		for (i = 0; i < NWAIT; i++) {
			ret = join_bg(&t[i].bg);
			EXPECT_TRUE(ret == -ECONNRESET ||
				    (!waited && ret == -ECONNREFUSED))
				TH_LOG("round %u, sender %u: %s", round, i,
				       ret == HUNG ? "hung" : strerror(-ret));
		}
		EXPECT_EQ(-ECONNREFUSED, mbox_send_pid(eps[1], me, "late",
						       MBOX_NONBLOCK));
		ASSERT_FALSE(_metadata->exit_code) TH_LOG("round %u", round);
	}
	close_eps(eps, NEPS);
}

/*
 * As destroy_at_random_moments_every_message_once, on a direct inbox of
 * this process killed by MBOX_DIRECT_DISABLE: receivers end with
 * ECONNRESET (or EBADF, for a receive that starts after it), senders with
 * ECONNRESET or ECONNREFUSED (the inbox was gone before they found it).
 */
TEST_F_TIMEOUT(life, direct_disable_at_random_moments_every_message_once, 180)
{
	static const __u32 caps[] = { 0, 1, 4, MBOX_UNBOUNDED };
	static const struct race_end end = {
		.kill = disable_direct,
		.recv_err = -ECONNRESET, .recv_err2 = -EBADF,
		.send_err = -ECONNRESET, .send_err2 = -ECONNREFUSED,
	};
	unsigned int round, nrounds = rounds(16);
	int eps[NEPS], rx;
	__u32 cap;

	NEED_FEATURE(MBOX_FEATURE_DIRECT, "MBOX_FEATURE_DIRECT");
	TH_LOG("seed %u (MBOX_LIFETIME_SEED)", life_seed);
	open_eps(_metadata, eps, NEPS);
	for (round = 0; round < nrounds; round++) {
		cap = caps[round % MBOX_ARRAY_SIZE(caps)];
		rx = mbox_dev_open();
		ASSERT_LE(0, rx);
		ASSERT_EQ(0, mbox_direct_enable(rx, 0, cap, 0, 0, NULL));
		race_round(_metadata, eps, rx, MBOX_ADDR_PID, getpid(), cap,
			   &end, rx);
		EXPECT_EQ(-ECONNREFUSED, mbox_send_pid(eps[0], getpid(), "late",
						       MBOX_NONBLOCK));
		EXPECT_EQ(0, close(rx));
		ASSERT_FALSE(_metadata->exit_code)
			TH_LOG("round %u, capacity %u", round, cap);
	}
	close_eps(eps, NEPS);
}

#define PEER_MSGS	6

struct peer {
	struct ledger *lg;	/* shared with the parent */
	unsigned int row;
	pid_t to;
};

/*
 * A peer sends PEER_MSGS messages to the parent, then: closes its endpoint
 * and exits (row 0), exits (row 1), or blocks in a receive on a mailbox of
 * its own until it is killed (row 2).
 */
static int peer_child(void *arg)
{
	struct peer *p = arg;
	struct mbox_recv r;
	unsigned int n;
	char buf[16];
	__u32 tag, id;
	int fd, ret;

	fd = mbox_dev_open();
	if (fd < 0)
		return fd;
	p->lg->pid[p->row] = getpid();
	for (n = 0; n < PEER_MSGS; n++) {
		tag = tag_of(p->row, n);
		ret = mbox_send_direct(fd, MBOX_ADDR_PID, p->to, &tag,
				       sizeof(tag), 0, MBOX_NONBLOCK, 0, NULL);
		if (ret)
			return ret;
		p->lg->sent[p->row][n] = 1;
	}
	switch (p->row) {
	case 0:
		return close(fd) ? -errno : 0;
	case 1:
		return 0;
	default:
		ret = mbox_create(fd, NULL, 0, 1, MBOX_POLICY_SHARED, 0600, &id);
		if (ret)
			return ret;
		mbox_recv_init(&r, id, buf, sizeof(buf), 0);
		return mbox_recv_ex(fd, &r);
	}
}

/*
 * Three peers send to this process and go away (close, exit, killed)
 * while two threads receive: every message a peer sent before it went is
 * received, once, reported from that peer.
 */
TEST_F_TIMEOUT(life, direct_peer_close_keeps_sent_messages_receivable, 120)
{
	static const struct race_end end = {
		.kill = disable_direct,
		.recv_err = -ECONNRESET, .recv_err2 = -EBADF,
	};
	unsigned int round, nrounds = rounds(4), i, n;
	struct racer rcv[2];
	struct peer peers[3];
	struct ledger *lg;
	pid_t pid[3];
	__u64 until;
	int rx, ret;

	NEED_FEATURE(MBOX_FEATURE_DIRECT, "MBOX_FEATURE_DIRECT");
	lg = mbox_shared_alloc(sizeof(*lg));
	ASSERT_NE(NULL, lg);
	for (round = 0; round < nrounds; round++) {
		memset(lg, 0, sizeof(*lg));
		rx = mbox_dev_open();
		ASSERT_LE(0, rx);
		ASSERT_EQ(0, mbox_direct_enable(rx, 0, round & 1 ? 8 :
						MBOX_UNBOUNDED, 0, 0, NULL));
		memset(rcv, 0, sizeof(rcv));
		for (i = 0; i < 2; i++) {
			rcv[i] = (struct racer) {
				.lg = lg, .fd = rx, .addr = MBOX_ADDR_PID,
				.far_deadline = i,
			};
			ASSERT_EQ(0, mbox_bg_run(&rcv[i].bg, race_receiver,
						 &rcv[i]));
		}
		for (i = 0; i < 3; i++) {
			peers[i] = (struct peer) {
				.lg = lg, .row = i, .to = getpid(),
			};
			pid[i] = mbox_spawn(peer_child, &peers[i]);
			ASSERT_LT(0, pid[i]);
			track_pid(self, pid[i]);
		}
		EXPECT_EQ(0, mbox_reap(pid[0]));
		EXPECT_EQ(0, mbox_reap(pid[1]));
		ASSERT_EQ(0, mbox_wait_blocked(pid[2]));
		kill(pid[2], SIGKILL);
		EXPECT_EQ(128 + SIGKILL, mbox_reap(pid[2]));

		/* Everything they sent arrives, after they are gone. */
		until = mbox_deadline_ms(MBOX_WAIT_MS);
		while (__atomic_load_n(&lg->received, __ATOMIC_SEQ_CST) <
		       3 * PEER_MSGS && mbox_now_ns() < until)
			mbox_sleep_ms(1);
		ASSERT_EQ(0, end.kill(rx, 0));
		for (i = 0; i < 2; i++) {
			ret = join_bg(&rcv[i].bg);
			EXPECT_TRUE(ret == end.recv_err || ret == end.recv_err2)
				TH_LOG("receiver %u: %s", i,
				       ret == HUNG ? "hung" : strerror(-ret));
		}
		EXPECT_EQ(0, lg->dups);
		EXPECT_EQ(0, lg->strays);
		EXPECT_EQ(3 * PEER_MSGS, lg->received);
		for (i = 0; i < 3; i++)
			for (n = 0; n < PEER_MSGS; n++) {
				EXPECT_TRUE(lg->sent[i][n] && lg->got[i][n])
					TH_LOG("message %u of peer %u", n, i);
			}
		EXPECT_EQ(0, close(rx));
		ASSERT_FALSE(_metadata->exit_code) TH_LOG("round %u", round);
	}
	munmap(lg, sizeof(*lg));
}

/* ---- close(2) racing ioctls, poll and epoll ----------------------------- */

#define NCLOSE		8

/*
 * Rounds of: endpoint e (a process-owned mailbox on it, capacity 0)
 * shared by 8 threads: 3 receiving and 1 sending synchronously (short
 * deadlines), 1 in poll() and 1 in epoll_wait() (short timeouts), 1
 * adding and removing e on another epoll, 1 calling STAT and VERSION;
 * another endpoint sends to the mailbox meanwhile.  At a random moment e
 * is closed, and half the rounds an endpoint is opened at once, which
 * mostly gets e's fd number, so that a call may reach either file.
 *
 * Each call returns what is documented for its case: the normal result
 * (a blocked call holds the file, so the endpoint and its mailbox live
 * until it returns), EBADF for a closed fd or a mailbox not open on the
 * new endpoint, POLLNVAL, or what epoll_ctl(2) says for a closed fd.
 * Afterwards the endpoint is released: its mailbox is gone for the other
 * endpoint (ENOENT, EIDRM), the module's reference count is back.
 */
TEST_F_TIMEOUT(life, close_races_blocked_ioctls_polls_and_epoll_ctl, 180)
{
	unsigned int round, nrounds = rounds(16), i;
	struct epoll_event ev = { .events = EPOLLIN };
	struct op_thread t[NCLOSE];
	int e, w, ep1, ep2, reopened, ret;
	long long refs;
	struct mbox_stat st;
	short rev;
	__u32 id;

	TH_LOG("seed %u (MBOX_LIFETIME_SEED)", life_seed);
	w = mbox_dev_open();
	ASSERT_LE(0, w);
	ep1 = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep1);
	ep2 = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, ep2);
	for (round = 0; round < nrounds; round++) {
		refs = module_refcnt();
		e = mbox_dev_open();
		ASSERT_LE(0, e);
		ASSERT_EQ(0, mbox_create(e, NULL, 0, 0, MBOX_POLICY_SHARED,
					 0600, &id));
		ASSERT_EQ(0, mbox_open_id(w, id, MBOX_OPEN_SEND));
		ASSERT_EQ(0, epoll_ctl(ep1, EPOLL_CTL_ADD, e, &ev));

		memset(t, 0, sizeof(t));
		for (i = 0; i < NCLOSE; i++) {
			t[i].fd = e;
			t[i].id = id;
			t[i].addr = MBOX_ADDR_MAILBOX;
			t[i].wait_ms = 1 + rnd(30);
			t[i].op = i < 3 ? OP_RECV : i == 3 ? OP_SYNC_SEND :
				  i == 4 ? OP_POLL : i == 5 ? OP_EPOLL :
				  i == 6 ? OP_EPOLL_CTL : OP_IOCTLS;
			if (t[i].op == OP_EPOLL)
				t[i].fd = ep1;
			t[i].epfd = ep2;
			ASSERT_EQ(0, op_start(&t[i]));
		}
		for (i = rnd(3); i; i--)
			mbox_send(w, id, "w", 1, 0, MBOX_NONBLOCK);

		random_pause(2000);
		ASSERT_EQ(0, close(e));
		reopened = rnd(2) ? mbox_dev_open() : -1;

		for (i = 0; i < NCLOSE; i++) {
			ret = join_bg(&t[i].bg);
			rev = t[i].revents;
			switch (t[i].op) {
			case OP_RECV:
			case OP_SYNC_SEND:
				EXPECT_TRUE(!ret || ret == -ETIMEDOUT ||
					    ret == -EBADF)
					TH_LOG("round %u, thread %u: %s", round,
					       i, ret == HUNG ? "hung" :
					       strerror(-ret));
				break;
			case OP_POLL:
				EXPECT_TRUE(ret == -ETIMEDOUT ||
					    (!ret && (rev == POLLIN ||
						      rev == POLLNVAL)))
					TH_LOG("round %u, poll: %s, revents %#x",
					       round, ret == HUNG ? "hung" :
					       strerror(-ret), rev);
				break;
			case OP_EPOLL:
				EXPECT_TRUE(ret == -ETIMEDOUT ||
					    (!ret && rev == EPOLLIN))
					TH_LOG("round %u, epoll_wait: %s, events %#x",
					       round, ret == HUNG ? "hung" :
					       strerror(-ret), rev);
				break;
			default:
				EXPECT_EQ(0, ret)
					TH_LOG("round %u, thread %u: %s", round,
					       i, ret == HUNG ? "hung" :
					       strerror(-ret));
				break;
			}
		}

		/* Released after its last user: the mailbox went with it. */
		EXPECT_EQ(-ENOENT, stat_id(w, id, &st));
		EXPECT_EQ(-EIDRM, mbox_send(w, id, "late", 4, 0, MBOX_NONBLOCK));
		EXPECT_EQ(0, mbox_close_id(w, id));
		if (reopened >= 0) {
			EXPECT_EQ(-EBADF, mbox_send(reopened, id, "x", 1, 0,
						    MBOX_NONBLOCK));
			/* Its registrations on ep2, if any, go with it. */
			EXPECT_EQ(0, close(reopened));
		}
		if (refs >= 0) {
			EXPECT_EQ(refs, module_refcnt());
		}
		/* Nothing left on either epoll. */
		EXPECT_EQ(0, epoll_wait(ep1, &ev, 1, 0));
		EXPECT_EQ(0, epoll_wait(ep2, &ev, 1, 0));
		ASSERT_FALSE(_metadata->exit_code) TH_LOG("round %u", round);
	}
	close(ep1);
	close(ep2);
	close(w);
}

/*
 * Endpoints registered on one epoll, each with a message waiting, are
 * closed one by one while a thread keeps calling epoll_wait: a closed
 * endpoint's registration goes with its file (no event for it again),
 * one whose fd was dup()ed stays registered until its last fd closes,
 * and each process-owned mailbox goes with its endpoint.
 */
struct epoll_watch {
	int epfd;
	int stop;
	unsigned int bad;	/* events other than EPOLLIN */
};

static int epoll_watch_fn(void *arg)
{
	struct epoll_watch *ew = arg;
	struct epoll_event evs[8];
	int n, i;

	while (!__atomic_load_n(&ew->stop, __ATOMIC_SEQ_CST)) {
		n = epoll_wait(ew->epfd, evs, 8, 1);
		if (n < 0)
			return -errno;
		for (i = 0; i < n; i++)
			if (evs[i].events != EPOLLIN)
				__atomic_add_fetch(&ew->bad, 1,
						   __ATOMIC_SEQ_CST);
	}
	return 0;
}

TEST_F_TIMEOUT(life, epoll_registrations_of_closed_endpoints_vanish, 120)
{
	unsigned int round, nrounds = rounds(6), i, j, order[8];
	struct epoll_event ev, out[8];
	struct epoll_watch ew;
	struct mbox_bg bg;
	struct mbox_stat st;
	int eps[8], dupfd, n;
	__u32 ids[8];

	for (round = 0; round < nrounds; round++) {
		memset(&ew, 0, sizeof(ew));
		ew.epfd = epoll_create1(EPOLL_CLOEXEC);
		ASSERT_LE(0, ew.epfd);
		open_eps(_metadata, eps, 8);
		for (i = 0; i < 8; i++) {
			ASSERT_EQ(0, mbox_create(eps[i], NULL, 0, 2,
						 MBOX_POLICY_SHARED, 0600,
						 &ids[i]));
			ASSERT_EQ(0, mbox_send(eps[i], ids[i], "m", 1, 0,
					       MBOX_NONBLOCK));
			ev = (struct epoll_event) {
				.events = EPOLLIN, .data.u32 = i,
			};
			ASSERT_EQ(0, epoll_ctl(ew.epfd, EPOLL_CTL_ADD, eps[i],
					       &ev));
			order[i] = i;
		}
		ASSERT_EQ(8, epoll_wait(ew.epfd, out, 8, 0));
		/* Endpoint 0 lives on in a dup of its fd. */
		dupfd = dup(eps[0]);
		ASSERT_LE(0, dupfd);

		ASSERT_EQ(0, mbox_bg_run(&bg, epoll_watch_fn, &ew));
		for (i = 7; i > 0; i--) {
			j = rnd(i + 1);
			n = order[i];
			order[i] = order[j];
			order[j] = n;
		}
		for (i = 0; i < 8; i++) {
			random_pause(300);
			ASSERT_EQ(0, close(eps[order[i]]));
			eps[order[i]] = -1;
		}
		/*
		 * epoll_wait() holds a file while it polls it (epi_fget()
		 * of current kernels): the watcher may be the one that
		 * releases an endpoint, on its way out of the call.
		 */
		__atomic_store_n(&ew.stop, 1, __ATOMIC_SEQ_CST);
		EXPECT_EQ(0, join_bg(&bg));
		EXPECT_EQ(0, ew.bad);

		/* Only the dup'ed endpoint is left on the epoll. */
		n = epoll_wait(ew.epfd, out, 8, 0);
		EXPECT_EQ(1, n);
		if (n == 1) {
			EXPECT_EQ(0, out[0].data.u32);
		}
		EXPECT_EQ(0, stat_id(self->fd, ids[0], &st));
		for (i = 1; i < 8; i++) {
			EXPECT_EQ(-ENOENT, stat_id(self->fd, ids[i], &st));
		}
		EXPECT_EQ(0, close(dupfd));
		EXPECT_EQ(0, epoll_wait(ew.epfd, out, 8, 0));
		EXPECT_EQ(-ENOENT, stat_id(self->fd, ids[0], &st));
		/* The fds are closed: their numbers are not registered. */
		ev = (struct epoll_event) { .events = EPOLLIN };
		EXPECT_EQ(-1, epoll_ctl(ew.epfd, EPOLL_CTL_DEL, dupfd, &ev));
		EXPECT_EQ(EBADF, errno);
		EXPECT_EQ(0, close(ew.epfd));
		ASSERT_FALSE(_metadata->exit_code) TH_LOG("round %u", round);
	}
}

/* ---- the module: rmmod while in use, insmod/rmmod cycles ---------------- */

/* Where the module is loaded from again: where the VM put it. */
static const char *mbox_ko(void)
{
	const char *ko = getenv("MBOX_KO");

	return ko && *ko ? ko : "/lib/mbox/mbox.ko";
}

/*
 * delete_module(2) as rmmod calls it.  Refused while the module's
 * reference count is held (an open endpoint holds it) with EWOULDBLOCK,
 * the EAGAIN of Linux; see Documentation/design.rst.
 */
static int module_unload(void)
{
	return syscall(SYS_delete_module, "mbox", O_NONBLOCK) ? -errno : 0;
}

/*
 * Load mbox.ko without parameters, as the VM's init does: 0 once a new
 * endpoint answers MBOX_IOC_VERSION, or -errno.
 */
static int module_load(void)
{
	__u64 features;
	int fd, ret;

	fd = open(mbox_ko(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, "", 0) ? -errno : 0;
	close(fd);
	if (ret)
		return ret;
	fd = mbox_dev_open();
	if (fd < 0)
		return fd;
	ret = mbox_features(fd, &features);
	close(fd);
	return ret;
}

/* Modules that use mbox (mbox_kunit): they would keep it from unloading. */
static int module_holders(void)
{
	struct dirent *d;
	DIR *dir;
	int n = 0;

	dir = opendir("/sys/module/mbox/holders");
	if (!dir)
		return 0;
	while ((d = readdir(dir)))
		n += d->d_name[0] != '.';
	closedir(dir);
	return n;
}

#define NEED_MODULE_CYCLE() do {					\
		MBOX_NEED_ROOT("unload and load the module");		\
		if (access("/sys/module/mbox/initstate", F_OK))	\
			SKIP(return, "mbox is not a loaded module");	\
		if (access(mbox_ko(), R_OK))				\
			SKIP(return, "no %s to load the module again from (MBOX_KO)", \
			     mbox_ko());				\
		if (module_holders())					\
			SKIP(return, "another module (mbox_kunit?) uses mbox"); \
	} while (0)

/* /dev/kmsg from now on (O_NONBLOCK), or -1. */
static int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/*
 * The first kernel message since kmsg_open() (or the last call) that
 * reports a problem, copied to line; false if there is none.  What
 * kmem_cache_destroy() says of a cache left with objects is the point.
 */
static bool kmsg_problem(int fd, char *line, size_t size)
{
	static const char *const bad[] = {
		"Objects remaining", "still has objects", "WARNING", "BUG",
		"Call Trace", "KASAN", "UBSAN", "leak",
	};
	char rec[2048], *msg;
	unsigned int i;
	ssize_t n;

	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)	/* overwritten: go on */
			continue;
		if (n <= 0)
			return false;
		rec[n] = '\0';
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		for (i = 0; i < MBOX_ARRAY_SIZE(bad); i++) {
			if (strstr(msg, bad[i])) {
				n = strcspn(msg, "\n");
				if ((size_t)n >= size)
					n = size - 1;
				memcpy(line, msg, n);
				line[n] = '\0';
				return true;
			}
		}
	}
}

/*
 * Objects in use in slab cache name, after a shrink (which flushes the
 * per-CPU slabs and, with KASAN, the cache's quarantine): >= 0; -EBUSY
 * if the cache is merged with others (the count is not the module's
 * alone: no slab_nomerge); -errno if it cannot be read (no SLUB sysfs,
 * no SLUB_DEBUG).
 */
static long long slab_objects(const char *name)
{
	long long aliases;
	char path[128];
	ssize_t done;
	int fd;

	snprintf(path, sizeof(path), "/sys/kernel/slab/%s/aliases", name);
	aliases = read_number(path);
	if (aliases < 0)
		return aliases;
	if (aliases)
		return -EBUSY;
	snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		/* Without the shrink the count is only higher: not hidden. */
		done = write(fd, "1", 1);
		(void)done;
		close(fd);
	}
	snprintf(path, sizeof(path), "/sys/kernel/slab/%s/objects", name);
	return read_number(path);
}

/* Mailboxes in /proc/driver/mbox/mailboxes (root sees all), or -errno. */
static int proc_mailboxes(void)
{
	char line[1024];
	FILE *f;
	int n = -1;

	f = fopen("/proc/driver/mbox/mailboxes", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

/*
 * Unload the module, which must be unused now; the fixture's teardown
 * loads it again if the test stops before it does.  Nothing the kernel
 * says meanwhile may report a problem (kmsg, if not -1).
 */
static void unload_checked(struct __test_metadata *_metadata,
			   FIXTURE_DATA(life) *self, int kmsg)
{
	char line[512];

	/* No mailbox survives an unload, and ids start again after it. */
	memset(self->ids, 0, sizeof(self->ids));
	self->module_out = true;
	ASSERT_EQ(0, module_unload());
	EXPECT_NE(0, access("/sys/module/mbox", F_OK));
	EXPECT_NE(0, access(MBOX_DEV_PATH, F_OK));
	if (kmsg >= 0) {
		ASSERT_FALSE(kmsg_problem(kmsg, line, sizeof(line)))
			TH_LOG("the kernel, at the unload: %s", line);
	}
}

static void load_checked(struct __test_metadata *_metadata,
			 FIXTURE_DATA(life) *self)
{
	int ret = module_load();

	ASSERT_EQ(0, ret) TH_LOG("loading %s: %s", mbox_ko(), strerror(-ret));
	self->module_out = false;
}

/*
 * As root, with one endpoint open (holding a mailbox with a message, and
 * a thread blocked in RECV on it) rmmod is refused, with EWOULDBLOCK,
 * and the module goes on working; once every endpoint is closed it
 * unloads.
 */
TEST_F_TIMEOUT(life, rmmod_refused_while_an_endpoint_is_open, 60)
{
	struct op_thread t;
	__u32 id, id2, len;
	char buf[16];
	int e, kmsg;

	NEED_MODULE_CYCLE();
	kmsg = kmsg_open();
	ASSERT_EQ(0, mbox_create(self->fd, NULL, MBOX_CREATE_SYSTEM, 4,
				 MBOX_POLICY_SHARED, 0600, &id));
	track(self, 0, id);
	ASSERT_EQ(0, mbox_send(self->fd, id, "kept", 4, 0, MBOX_NONBLOCK));
	ASSERT_EQ(0, mbox_create(self->fd, NULL, 0, 4, MBOX_POLICY_SHARED,
				 0600, &id2));
	memset(&t, 0, sizeof(t));
	t = (struct op_thread) {
		.op = OP_RECV, .fd = self->fd, .id = id2,
		.addr = MBOX_ADDR_MAILBOX, .far_deadline = true,
	};
	ASSERT_EQ(0, op_start(&t));
	ASSERT_EQ(0, wait_stat_blocked(self->fd, id2, false, 1));
	EXPECT_LE(1, module_refcnt());

	EXPECT_EQ(-EWOULDBLOCK, module_unload());

	/* Still at work: the endpoint, its mailboxes, a new endpoint. */
	e = mbox_dev_open();
	ASSERT_LE(0, e);
	EXPECT_EQ(0, mbox_open_id(e, id, MBOX_OPEN_SEND));
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "kept"));
	EXPECT_EQ(0, mbox_send(self->fd, id2, "wake", 4, 0, 0));
	EXPECT_EQ(0, join_bg(&t.bg));
	EXPECT_EQ(-EWOULDBLOCK, module_unload());
	EXPECT_EQ(0, mbox_destroy(e, id));
	track(self, 0, 0);
	len = sizeof(buf);
	EXPECT_EQ(-EAGAIN, mbox_recv(self->fd, id2, buf, &len, MBOX_NONBLOCK));

	/* Closed: it unloads (and its mailboxes go with it). */
	EXPECT_EQ(0, close(e));
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(0, module_refcnt());
	unload_checked(_metadata, self, kmsg);
	load_checked(_metadata, self);
	self->fd = mbox_dev_open();
	ASSERT_LE(0, self->fd);
	if (kmsg >= 0)
		close(kmsg);
}

/*
 * An endpoint watched by an epoll is still open: rmmod is refused.  The
 * registration itself holds nothing: once the endpoint is closed the
 * module unloads, under a thread sleeping in epoll_wait() on that epoll,
 * which then wakes for an endpoint of the module loaded again.
 */
TEST_F_TIMEOUT(life, rmmod_refused_while_epoll_watches_an_open_endpoint, 60)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct op_thread t;
	int e, epfd, kmsg;
	__u32 id;

	NEED_MODULE_CYCLE();
	kmsg = kmsg_open();
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	e = mbox_dev_open();
	ASSERT_LE(0, e);
	ASSERT_EQ(0, mbox_create(e, NULL, 0, 2, MBOX_POLICY_SHARED, 0600, &id));
	epfd = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, epfd);
	ASSERT_EQ(0, epoll_ctl(epfd, EPOLL_CTL_ADD, e, &ev));
	EXPECT_EQ(-EWOULDBLOCK, module_unload());

	/* (A timeout long enough not to end before the event below.) */
	memset(&t, 0, sizeof(t));
	t = (struct op_thread) {
		.op = OP_EPOLL, .fd = epfd, .wait_ms = 3 * MBOX_WAIT_MS,
	};
	ASSERT_EQ(0, op_start(&t));
	ASSERT_EQ(0, wait_bg_sleeping(&t.bg));
	EXPECT_EQ(-EWOULDBLOCK, module_unload());
	EXPECT_EQ(0, close(e));
	EXPECT_EQ(0, module_refcnt());
	unload_checked(_metadata, self, kmsg);
	load_checked(_metadata, self);

	/* The epoll and its sleeper are fine, and see the new module. */
	e = mbox_dev_open();
	ASSERT_LE(0, e);
	ASSERT_EQ(0, mbox_create(e, NULL, 0, 2, MBOX_POLICY_SHARED, 0600, &id));
	ASSERT_EQ(0, mbox_send(e, id, "m", 1, 0, MBOX_NONBLOCK));
	ASSERT_EQ(0, epoll_ctl(epfd, EPOLL_CTL_ADD, e, &ev));
	EXPECT_EQ(0, join_bg(&t.bg));
	EXPECT_EQ(EPOLLIN, t.revents);
	EXPECT_EQ(0, close(e));
	EXPECT_EQ(0, close(epfd));
	self->fd = mbox_dev_open();
	ASSERT_LE(0, self->fd);
	if (kmsg >= 0)
		close(kmsg);
}

/* A child that inherited an endpoint: waits for the word, uses it, exits. */
static int inherited_child(void *arg)
{
	int *a = arg, fd = a[0], go = a[1], ret;
	__u32 id;

	ret = mbox_pipe_read_byte(go, 2 * MBOX_WAIT_MS);
	if (!ret)
		ret = mbox_create(fd, NULL, 0, 2, MBOX_POLICY_SHARED, 0600, &id);
	if (!ret)
		ret = mbox_send(fd, id, "inherited", 9, 0, MBOX_NONBLOCK);
	if (!ret && !mbox_recv_is(fd, id, "inherited"))
		ret = EBADMSG;
	return ret;
}

/*
 * An endpoint that a fork()ed child inherited, closed by the parent, keeps
 * the module in use until the child exits.
 */
TEST_F_TIMEOUT(life, rmmod_refused_while_a_child_holds_an_inherited_endpoint, 60)
{
	int pipefd[2], a[2], kmsg;
	pid_t pid;

	NEED_MODULE_CYCLE();
	kmsg = kmsg_open();
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	ASSERT_EQ(0, pipe(pipefd));
	a[0] = mbox_dev_open();
	ASSERT_LE(0, a[0]);
	a[1] = pipefd[0];
	pid = mbox_spawn(inherited_child, a);
	ASSERT_LT(0, pid);
	track_pid(self, pid);
	EXPECT_EQ(0, close(a[0]));
	EXPECT_EQ(0, close(pipefd[0]));
	EXPECT_EQ(1, module_refcnt());
	EXPECT_EQ(-EWOULDBLOCK, module_unload());
	ASSERT_EQ(0, mbox_pipe_write_byte(pipefd[1], 0));
	EXPECT_EQ(0, mbox_reap(pid));
	EXPECT_EQ(0, close(pipefd[1]));
	EXPECT_EQ(0, module_refcnt());
	unload_checked(_metadata, self, kmsg);
	load_checked(_metadata, self);
	self->fd = mbox_dev_open();
	ASSERT_LE(0, self->fd);
	if (kmsg >= 0)
		close(kmsg);
}

/* Pass fd over unix socket sock (SCM_RIGHTS): 0 or -errno. */
static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))], c = 'f';
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;

	memset(cbuf, 0, sizeof(cbuf));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &mh, 0) == 1 ? 0 : -errno;
}

/* An fd received over unix socket sock, or -errno. */
static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))], c;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) != 1)
		return -errno;
	cm = CMSG_FIRSTHDR(&mh);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -EBADMSG;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/*
 * The other end of a passed endpoint: receives it, says so, waits for
 * the word, then uses it (a mailbox, a message) and exits.
 */
static int passed_child(void *arg)
{
	int sock = *(int *)arg, fd, ret;
	__u32 id;

	fd = recv_fd(sock);
	if (fd < 0)
		return fd;
	ret = mbox_pipe_write_byte(sock, 0);
	if (!ret)
		ret = mbox_pipe_read_byte(sock, 2 * MBOX_WAIT_MS);
	if (!ret)
		ret = mbox_create(fd, NULL, 0, 2, MBOX_POLICY_SHARED, 0600, &id);
	if (!ret)
		ret = mbox_send(fd, id, "passed", 6, 0, MBOX_NONBLOCK);
	if (!ret && !mbox_recv_is(fd, id, "passed"))
		ret = EBADMSG;
	return ret;
}

/*
 * An endpoint passed with SCM_RIGHTS to a process that did not have it
 * (the sender then closed its own) keeps the module in use until that
 * process exits; so does one in flight in a unix socket, until the
 * socket is closed.
 */
TEST_F_TIMEOUT(life, rmmod_refused_while_an_endpoint_is_passed_or_in_flight, 60)
{
	int sv[2], e, kmsg;
	pid_t pid;

	NEED_MODULE_CYCLE();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		SKIP(return, "no unix sockets to pass an fd with: %s",
		     strerror(errno));
	kmsg = kmsg_open();
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;

	/* Passed: the child has it, the sender closed its own. */
	pid = mbox_spawn(passed_child, &sv[1]);
	ASSERT_LT(0, pid);
	track_pid(self, pid);
	e = mbox_dev_open();
	ASSERT_LE(0, e);
	ASSERT_EQ(0, send_fd(sv[0], e));
	EXPECT_EQ(0, close(e));
	ASSERT_EQ(0, mbox_pipe_read_byte(sv[0], MBOX_WAIT_MS));
	EXPECT_EQ(1, module_refcnt());
	EXPECT_EQ(-EWOULDBLOCK, module_unload());
	ASSERT_EQ(0, mbox_pipe_write_byte(sv[0], 0));
	EXPECT_EQ(0, mbox_reap(pid));
	EXPECT_EQ(0, close(sv[0]));
	EXPECT_EQ(0, close(sv[1]));
	ASSERT_EQ(0, wait_refcnt(0));
	unload_checked(_metadata, self, kmsg);
	load_checked(_metadata, self);

	/* In flight: sent, never received, the sender's fd closed. */
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	e = mbox_dev_open();
	ASSERT_LE(0, e);
	ASSERT_EQ(0, send_fd(sv[0], e));
	EXPECT_EQ(0, close(e));
	EXPECT_EQ(1, module_refcnt());
	EXPECT_EQ(-EWOULDBLOCK, module_unload());
	EXPECT_EQ(0, close(sv[0]));
	EXPECT_EQ(0, close(sv[1]));
	ASSERT_EQ(0, wait_refcnt(0)) TH_LOG("the endpoint in flight was never released");
	unload_checked(_metadata, self, kmsg);
	load_checked(_metadata, self);
	self->fd = mbox_dev_open();
	ASSERT_LE(0, self->fd);
	if (kmsg >= 0)
		close(kmsg);
}

/*
 * Neither the /proc listing, open in the middle of a read, nor a module
 * parameter's sysfs file keeps the module: it unloads, and they then
 * fail as their filesystems say (EIO, ENODEV) without touching the
 * module that is gone.
 */
TEST_F_TIMEOUT(life, rmmod_with_proc_listing_and_sysfs_files_open, 60)
{
	char buf[64];
	int p, s, i, kmsg;
	__u32 id;

	NEED_MODULE_CYCLE();
	kmsg = kmsg_open();
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, mbox_create(self->fd, NULL, MBOX_CREATE_SYSTEM, 1,
					 MBOX_POLICY_SHARED, 0600, &id));
		track(self, i, id);
	}
	p = open("/proc/driver/mbox/mailboxes", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, p);
	ASSERT_EQ(sizeof(buf), read(p, buf, sizeof(buf)));
	s = open(MBOX_PARAM_DIR "max_msg_size", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, s);
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;

	unload_checked(_metadata, self, kmsg);
	EXPECT_EQ(-1, read(p, buf, sizeof(buf)));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, read(s, buf, sizeof(buf)));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(0, close(p));
	EXPECT_EQ(0, close(s));
	load_checked(_metadata, self);

	/* A new listing, of the new module: no mailbox survived. */
	EXPECT_EQ(0, proc_mailboxes());
	self->fd = mbox_dev_open();
	ASSERT_LE(0, self->fd);
	if (kmsg >= 0)
		close(kmsg);
}

/* A child as another user: sends two messages to mailbox *arg. */
static int other_user_sender(void *arg)
{
	__u32 id = *(__u32 *)arg;
	int fd, ret, i;

	fd = mbox_dev_open();
	if (fd < 0)
		return fd;
	ret = mbox_open_id(fd, id, MBOX_OPEN_SEND);
	for (i = 0; !ret && i < 2; i++)
		ret = mbox_send(fd, id, "nobody", 6, 0, MBOX_NONBLOCK);
	close(fd);
	return ret;
}

/*
 * Work on a freshly loaded module that must leave nothing behind once
 * its endpoints are closed: a named process-owned mailbox with messages,
 * a call received and never answered (its caller fails with EPIPE when
 * the server's endpoint closes), a destroyed system-owned mailbox, a
 * direct inbox with queued messages.
 */
static void work_that_ends(struct __test_metadata *_metadata)
{
	struct op_thread t;
	struct mbox_recv r;
	int a, b, c, i, ret;
	char buf[16];
	__u32 po, sys;

	a = mbox_dev_open();
	b = mbox_dev_open();
	c = mbox_dev_open();
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_LE(0, c);
	ASSERT_EQ(0, mbox_create(a, "/mbox-lifetime-process", 0, 4,
				 MBOX_POLICY_SHARED, 0600, &po));
	ASSERT_EQ(0, mbox_open_id(b, po, MBOX_OPEN_SEND));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, mbox_send(b, po, "po", 2, i, MBOX_NONBLOCK));
	}

	ASSERT_EQ(0, mbox_create(b, NULL, MBOX_CREATE_SYSTEM, 2,
				 MBOX_POLICY_SHARED, 0600, &sys));
	ASSERT_EQ(0, mbox_open_id(c, sys, MBOX_OPEN_SEND));
	memset(&t, 0, sizeof(t));
	t = (struct op_thread) {
		.op = OP_CALL, .fd = c, .id = sys, .addr = MBOX_ADDR_MAILBOX,
		.far_deadline = true,
	};
	ASSERT_EQ(0, op_start(&t));
	mbox_recv_init(&r, sys, buf, sizeof(buf), MBOX_DEADLINE);
	r.deadline_ns = mbox_deadline_ms(MBOX_WAIT_MS);
	ASSERT_EQ(0, mbox_recv_ex(b, &r));
	ASSERT_NE(0, r.token);
	ASSERT_EQ(0, close(b));
	ret = join_bg(&t.bg);
	ASSERT_EQ(-EPIPE, ret) TH_LOG("the caller: %s",
				      ret == HUNG ? "hung" : strerror(-ret));
	ASSERT_EQ(0, mbox_destroy(a, sys));

	if (mbox_direct_enable(c, 0, 4, 0, 0, NULL) == 0) {
		for (i = 0; i < 3; i++) {
			ASSERT_EQ(0, mbox_send_pid(a, getpid(), "direct",
						   MBOX_NONBLOCK));
		}
	}
	ASSERT_EQ(0, close(c));
	ASSERT_EQ(0, close(a));
}

/*
 * Mailboxes left for the unload to free: system-owned, named or not,
 * bounded, unbounded and capacity 0, with messages of root and of
 * nobody queued.  Returns how many.
 */
static int work_left_behind(struct __test_metadata *_metadata)
{
	int d, i;
	__u32 id;

	d = mbox_dev_open();
	if (d < 0)
		return d;
	if (mbox_create(d, "/mbox-lifetime-left", MBOX_CREATE_SYSTEM, 4,
			MBOX_POLICY_SHARED, 0600, &id))
		return -1;
	for (i = 0; i < 3; i++)
		if (mbox_send(d, id, "left", 4, i, MBOX_NONBLOCK))
			return -1;
	if (mbox_create(d, NULL, MBOX_CREATE_SYSTEM, MBOX_UNBOUNDED,
			MBOX_POLICY_SHARED, 0666, &id))
		return -1;
	for (i = 0; i < 10; i++)
		if (mbox_send(d, id, "unbounded", 9, 0, MBOX_NONBLOCK))
			return -1;
	if (mbox_run_as_nobody(other_user_sender, &id))
		return -1;
	if (mbox_create(d, NULL, MBOX_CREATE_SYSTEM, 0, MBOX_POLICY_SHARED,
			0600, &id))
		return -1;
	close(d);
	return 3;
}

/*
 * insmod and rmmod again and again, with work in between: what the
 * endpoints made and closed leaves nothing (no mailbox in the listing,
 * none in the module's slab cache), what is left (system-owned
 * mailboxes with messages of two users) is exactly what the listing and
 * the cache show, and every unload finds the cache empty: the kernel
 * says nothing (kmem_cache_destroy() would report the objects left).
 * 6 cycles on the debug kernel, 30 elsewhere.
 * The module is left loaded as the VM loaded it.
 */
TEST_F_TIMEOUT(life, insmod_rmmod_cycles_leave_nothing_behind, 300)
{
	unsigned int cycle, ncycles;
	long long objs, objs2;
	int kmsg, left;

	NEED_MODULE_CYCLE();
	ncycles = life_scale() * (slow_kernel() ? 6 : 30);
	kmsg = kmsg_open();
	if (kmsg < 0)
		TH_LOG("no /dev/kmsg: what the kernel says at each unload is not checked here");
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	ASSERT_EQ(0, module_refcnt()) TH_LOG("something else holds an endpoint");

	for (cycle = 0; cycle < ncycles; cycle++) {
		unload_checked(_metadata, self, kmsg);
		load_checked(_metadata, self);
		ASSERT_EQ(0, module_refcnt());

		work_that_ends(_metadata);
		ASSERT_EQ(0, module_refcnt()) TH_LOG("cycle %u", cycle);
		EXPECT_EQ(0, proc_mailboxes()) TH_LOG("cycle %u", cycle);
		objs = slab_objects("mbox_mailbox");
		if (cycle == 0 && objs < 0)
			TH_LOG("slab cache mbox_mailbox not counted: %s",
			       objs == -EBUSY ? "merged with others (no slab_nomerge)" :
			       strerror(-objs));
		if (objs >= 0) {
			EXPECT_EQ(0, objs) TH_LOG("cycle %u: mailboxes not freed", cycle);
		}

		left = work_left_behind(_metadata);
		ASSERT_EQ(3, left) TH_LOG("cycle %u", cycle);
		EXPECT_EQ(left, proc_mailboxes()) TH_LOG("cycle %u", cycle);
		objs2 = slab_objects("mbox_mailbox");
		/* (KFENCE may have served some: at most, not exactly.) */
		if (objs2 >= 0) {
			EXPECT_GE(left, objs2) TH_LOG("cycle %u", cycle);
		}
		if (cycle == 0 && objs >= 0)
			TH_LOG("slab cache mbox_mailbox: %lld objects with none left, %lld with %d",
			       objs, objs2, left);
		ASSERT_FALSE(_metadata->exit_code) TH_LOG("cycle %u", cycle);
	}
	unload_checked(_metadata, self, kmsg);
	load_checked(_metadata, self);
	self->fd = mbox_dev_open();
	ASSERT_LE(0, self->fd);
	if (kmsg >= 0)
		close(kmsg);
}

/*
 * MBOX_LIFETIME_ROUNDS scales the harness's timeouts with the rounds: run
 * after the harness registered every test (KSELFTEST_PRIO_TEST), before
 * main().
 */
static void __attribute__((constructor(KSELFTEST_PRIO_XFAIL + 1)))
life_scale_timeouts(void)
{
	struct __test_metadata *t;

	for (t = _life_fixture_object.tests; t; t = t->next)
		t->timeout *= life_scale();
}

TEST_HARNESS_MAIN
