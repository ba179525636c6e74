/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the mbox selftests, over the raw ioctls of uapi/linux/mbox.h.
 *
 * Every helper returns 0 (or a non-negative value where said) on success
 * and -errno on failure, so that a test reads EXPECT_EQ(-EAGAIN, ...).
 *
 * Children: the kselftest harness longjmps out of a failed ASSERT, which
 * must never happen in a forked child or in a thread.  Child functions
 * (mbox_child_fn) therefore use no EXPECT/ASSERT: they return 0 or a
 * positive errno (a negative one is turned positive), which becomes their
 * exit status; mbox_reap() gives it back to the test.
 */
#ifndef _MBOX_SELFTEST_UTIL_H
#define _MBOX_SELFTEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/mbox.h>

/*
 * TEST_F() of the 6.12 harness keeps "child" across its setjmp() in a
 * non-volatile local; when GCC inlines a test body into that wrapper it
 * warns that a longjmp() may clobber it.  That is the harness's business,
 * not the tests': silence it for every file that includes this one first.
 */
#pragma GCC diagnostic ignored "-Wclobbered"

#define MBOX_DEV_PATH		"/dev/" MBOX_DEVICE_NAME
#define MBOX_PARAM_DIR		"/sys/module/mbox/parameters/"

/*
 * The users tests drop to as "other users", as root.  make check runs
 * every suite a second time as a user of its own (uid and gid 2000, see
 * tools/testing/vm/guest-tests.sh), which must be neither of these, nor
 * MBOX_OTHER_UID + 1 (a gid of msgq_test's).
 */
#define MBOX_NOBODY		65534	/* uid and gid of nobody/nogroup */
#define MBOX_OTHER_UID		1000	/* a third user, neither root nor nobody */

/* How long to wait for a task to block, or for a child: generous, for TCG. */
#define MBOX_WAIT_MS		20000

/* Exit statuses of a child that could not even start its work. */
#define MBOX_CHILD_EDROP	250	/* dropping privileges failed */
#define MBOX_CHILD_ECAPS	251	/* capabilities left after dropping */

#define MBOX_ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static inline __u64 mbox_ptr(const void *p)
{
	return (__u64)(uintptr_t)p;
}

/*
 * ioctl() with the -errno convention: -errno, or what it returned (0; a
 * batch's count of entries done, as sendmmsg() and recvmmsg() return).
 */
static inline int mbox_ioctl(int fd, unsigned long cmd, void *arg)
{
	int ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

/* ---- endpoints ---------------------------------------------------------- */

/* Open a new endpoint: an fd, or -errno (-ENOENT: module not loaded). */
static inline int mbox_dev_open_flags(int oflags)
{
	int fd = open(MBOX_DEV_PATH, O_RDWR | O_CLOEXEC | oflags);

	return fd < 0 ? -errno : fd;
}

static inline int mbox_dev_open(void)
{
	return mbox_dev_open_flags(0);
}

static inline int mbox_features(int fd, __u64 *features)
{
	struct mbox_version v = { .size = sizeof(v) };
	int ret = mbox_ioctl(fd, MBOX_IOC_VERSION, &v);

	if (!ret)
		*features = v.features;
	return ret;
}

/* ---- mailboxes ---------------------------------------------------------- */

/* CREATE with every field given; c->size is set here.  *id on success. */
static inline int mbox_create_ex(int fd, struct mbox_create *c, __u32 *id)
{
	int ret;

	c->size = sizeof(*c);
	ret = mbox_ioctl(fd, MBOX_IOC_CREATE, c);
	if (!ret && id)
		*id = c->id;
	return ret;
}

/* CREATE with the module's default sizes; name may be NULL. */
static inline int mbox_create(int fd, const char *name, __u32 flags,
			      __u32 capacity, __u32 policy, __u32 mode,
			      __u32 *id)
{
	struct mbox_create c = {
		.flags = flags,
		.name = mbox_ptr(name),
		.capacity = capacity,
		.mode = mode,
		.policy = policy,
	};

	return mbox_create_ex(fd, &c, id);
}

/* CREATE with explicit sizes (0 for the defaults). */
static inline int mbox_create_sized(int fd, __u32 flags, __u32 capacity,
				    __u32 max_msg_size, __u64 max_bytes,
				    __u32 msg_size, __u32 mode, __u32 *id)
{
	struct mbox_create c = {
		.flags = flags,
		.capacity = capacity,
		.max_msg_size = max_msg_size,
		.max_bytes = max_bytes,
		.msg_size = msg_size,
		.mode = mode,
		.policy = MBOX_POLICY_SHARED,
	};

	return mbox_create_ex(fd, &c, id);
}

static inline int mbox_open_id(int fd, __u32 id, __u32 rights)
{
	struct mbox_open o = { .size = sizeof(o), .flags = rights, .id = id };

	return mbox_ioctl(fd, MBOX_IOC_OPEN, &o);
}

/* OPEN by name; *id (may be NULL) gets the mailbox's id. */
static inline int mbox_open_name(int fd, const char *name, __u32 rights,
				 __u32 *id)
{
	struct mbox_open o = {
		.size = sizeof(o),
		.flags = rights,
		.name = mbox_ptr(name),
	};
	int ret = mbox_ioctl(fd, MBOX_IOC_OPEN, &o);

	if (!ret && id)
		*id = o.id;
	return ret;
}

static inline int mbox_close_id(int fd, __u32 id)
{
	struct mbox_id m = { .size = sizeof(m), .id = id };

	return mbox_ioctl(fd, MBOX_IOC_CLOSE, &m);
}

static inline int mbox_destroy(int fd, __u32 id)
{
	struct mbox_id m = { .size = sizeof(m), .id = id };

	return mbox_ioctl(fd, MBOX_IOC_DESTROY, &m);
}

static inline int mbox_set(int fd, __u32 id, __u32 flags, __u32 uid,
			   __u32 gid, __u32 mode)
{
	struct mbox_set s = {
		.size = sizeof(s),
		.flags = flags,
		.id = id,
		.uid = uid,
		.gid = gid,
		.mode = mode,
	};

	return mbox_ioctl(fd, MBOX_IOC_SET, &s);
}

/* ---- messages ----------------------------------------------------------- */

static inline void mbox_send_init(struct mbox_send *s, __u32 id,
				  const void *buf, __u32 len, __u32 prio,
				  __u32 flags)
{
	memset(s, 0, sizeof(*s));
	s->size = sizeof(*s);
	s->flags = flags;
	s->addr = MBOX_ADDR_MAILBOX;
	s->to = id;
	s->buf = mbox_ptr(buf);
	s->len = len;
	s->priority = prio;
}

/* SEND with everything: deadline_ns is used with MBOX_DEADLINE. */
static inline int mbox_send_full(int fd, __u32 id, const void *buf, __u32 len,
				 __u32 prio, __u32 flags, __u64 deadline_ns,
				 __u32 *receiver_pid)
{
	struct mbox_send s;
	int ret;

	mbox_send_init(&s, id, buf, len, prio, flags);
	s.deadline_ns = deadline_ns;
	ret = mbox_ioctl(fd, MBOX_IOC_SEND, &s);
	if (!ret && receiver_pid)
		*receiver_pid = s.receiver_pid;
	return ret;
}

static inline int mbox_send(int fd, __u32 id, const void *buf, __u32 len,
			    __u32 prio, __u32 flags)
{
	return mbox_send_full(fd, id, buf, len, prio, flags, 0, NULL);
}

static inline void mbox_recv_init(struct mbox_recv *r, __u32 id, void *buf,
				  __u32 len, __u32 flags)
{
	memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->flags = flags;
	r->addr = MBOX_ADDR_MAILBOX;
	r->from = id;
	r->buf = mbox_ptr(buf);
	r->len = len;
}

/* RECV of a prepared struct (mbox_recv_init, then any extra field). */
static inline int mbox_recv_ex(int fd, struct mbox_recv *r)
{
	return mbox_ioctl(fd, MBOX_IOC_RECV, r);
}

/* RECV into buf of *len bytes; *len becomes the message's length. */
static inline int mbox_recv(int fd, __u32 id, void *buf, __u32 *len,
			    __u32 flags)
{
	struct mbox_recv r;
	int ret;

	mbox_recv_init(&r, id, buf, *len, flags);
	ret = mbox_recv_ex(fd, &r);
	if (!ret || ret == -EMSGSIZE)
		*len = r.len;
	return ret;
}

/* Receive one message without blocking: whether it is exactly msg. */
static inline bool mbox_recv_is(int fd, __u32 id, const char *msg)
{
	char buf[256];
	__u32 len = sizeof(buf);

	if (mbox_recv(fd, id, buf, &len, MBOX_NONBLOCK))
		return false;
	return len == strlen(msg) && !memcmp(buf, msg, len);
}

/* Whether a non-blocking receive finds nothing (EAGAIN). */
static inline bool mbox_queue_empty(int fd, __u32 id)
{
	char buf[256];
	__u32 len = sizeof(buf);

	return mbox_recv(fd, id, buf, &len, MBOX_NONBLOCK) == -EAGAIN;
}

/* ---- direct links ------------------------------------------------------- */

/* MBOX_IOC_DIRECT with d's flags and limits; d->size is set here. */
static inline int mbox_direct_ex(int fd, struct mbox_direct *d)
{
	d->size = sizeof(*d);
	return mbox_ioctl(fd, MBOX_IOC_DIRECT, d);
}

/*
 * Enable direct receiving on this endpoint (flags 0 or MBOX_DIRECT_ANYONE)
 * with these limits (0: the defaults); *out (may be NULL) gets what
 * the module reports.
 */
static inline int mbox_direct_enable(int fd, __u32 flags, __u32 capacity,
				     __u32 max_msg_size, __u64 max_bytes,
				     struct mbox_direct *out)
{
	struct mbox_direct d = {
		.flags = flags,
		.capacity = capacity,
		.max_msg_size = max_msg_size,
		.max_bytes = max_bytes,
	};
	int ret = mbox_direct_ex(fd, &d);

	if (out)
		*out = d;
	return ret;
}

static inline int mbox_direct_query(int fd, struct mbox_direct *out)
{
	struct mbox_direct d = { .flags = MBOX_DIRECT_QUERY };
	int ret = mbox_direct_ex(fd, &d);

	if (out)
		*out = d;
	return ret;
}

static inline int mbox_direct_disable(int fd)
{
	struct mbox_direct d = { .flags = MBOX_DIRECT_DISABLE };

	return mbox_direct_ex(fd, &d);
}

/* The number of links QUERY reports, or -errno. */
static inline int mbox_direct_links(int fd)
{
	struct mbox_direct d;
	int ret = mbox_direct_query(fd, &d);

	return ret ? ret : (int)d.links;
}

/* pidfd_open(2): a pidfd (close-on-exec) or -errno. */
static inline int mbox_pidfd_open(pid_t pid)
{
	int fd = syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : fd;
}

/*
 * SEND to a process: addr MBOX_ADDR_PID (to a pid) or MBOX_ADDR_PIDFD (to
 * a pidfd); deadline_ns with MBOX_DEADLINE; *receiver_pid (may be NULL)
 * with MBOX_SEND_SYNC.
 */
static inline int mbox_send_direct(int fd, __u32 addr, __u32 to,
				   const void *buf, __u32 len, __u32 prio,
				   __u32 flags, __u64 deadline_ns,
				   __u32 *receiver_pid)
{
	struct mbox_send s;
	int ret;

	mbox_send_init(&s, to, buf, len, prio, flags);
	s.addr = addr;
	s.deadline_ns = deadline_ns;
	ret = mbox_ioctl(fd, MBOX_IOC_SEND, &s);
	if (!ret && receiver_pid)
		*receiver_pid = s.receiver_pid;
	return ret;
}

/* SEND the string msg (without its NUL) to pid, priority 0. */
static inline int mbox_send_pid(int fd, pid_t pid, const char *msg,
				__u32 flags)
{
	return mbox_send_direct(fd, MBOX_ADDR_PID, pid, msg, strlen(msg), 0,
				flags, 0, NULL);
}

/* SEND the string msg (without its NUL) through a pidfd, priority 0. */
static inline int mbox_send_pidfd(int fd, int pidfd, const char *msg,
				  __u32 flags)
{
	return mbox_send_direct(fd, MBOX_ADDR_PIDFD, pidfd, msg, strlen(msg),
				0, flags, 0, NULL);
}

/*
 * Prepare a direct RECV: from 0 with MBOX_ADDR_PID is receive(ANY); a pid
 * (MBOX_ADDR_PID) or a pidfd (MBOX_ADDR_PIDFD) is receive(Q).
 */
static inline void mbox_recv_direct_init(struct mbox_recv *r, __u32 addr,
					 __u32 from, void *buf, __u32 len,
					 __u32 flags)
{
	mbox_recv_init(r, from, buf, len, flags);
	r->addr = addr;
}

/*
 * Receive one direct message without blocking: whether it is exactly msg
 * (a string, without its NUL).  *sender_pid (may be NULL) gets its sender.
 */
static inline bool mbox_recv_direct_is(int fd, __u32 addr, __u32 from,
				       const char *msg, __u32 *sender_pid)
{
	struct mbox_recv r;
	char buf[256];

	mbox_recv_direct_init(&r, addr, from, buf, sizeof(buf), MBOX_NONBLOCK);
	if (mbox_recv_ex(fd, &r))
		return false;
	if (sender_pid)
		*sender_pid = r.sender_pid;
	return r.len == strlen(msg) && !memcmp(buf, msg, r.len);
}

/* Whether a non-blocking receive(ANY) finds nothing (EAGAIN). */
static inline bool mbox_direct_empty(int fd)
{
	struct mbox_recv r;
	char buf[256];

	mbox_recv_direct_init(&r, MBOX_ADDR_PID, 0, buf, sizeof(buf),
			      MBOX_NONBLOCK);
	return mbox_recv_ex(fd, &r) == -EAGAIN;
}

/* ---- time --------------------------------------------------------------- */

static inline __u64 mbox_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* An absolute CLOCK_MONOTONIC deadline, for MBOX_DEADLINE: now + ms. */
static inline __u64 mbox_deadline_ms(unsigned int ms)
{
	return mbox_now_ns() + (__u64)ms * 1000000ULL;
}

static inline void mbox_sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- module parameters -------------------------------------------------- */

static inline int mbox_param_get(const char *name, unsigned long long *val)
{
	char path[128], buf[64];
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), MBOX_PARAM_DIR "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	err = errno;
	close(fd);
	if (n <= 0)
		return n < 0 ? -err : -EIO;
	buf[n] = '\0';
	*val = strtoull(buf, NULL, 0);
	return 0;
}

static inline int mbox_param_set(const char *name, unsigned long long val)
{
	char path[128], buf[32];
	int fd, len, ret = 0;

	snprintf(path, sizeof(path), MBOX_PARAM_DIR "%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%llu\n", val);
	if (write(fd, buf, len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

/* ---- names and shared memory -------------------------------------------- */

/* A mailbox name unique to this test process: "/mbox-selftest-<pid>-<tag>". */
static inline const char *mbox_test_name(char *buf, size_t size,
					 const char *tag)
{
	snprintf(buf, size, "/mbox-selftest-%d-%s", (int)getpid(), tag);
	return buf;
}

/* Zeroed memory shared with forked children; NULL on failure. */
static inline void *mbox_shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* ---- root or not -------------------------------------------------------- */

/*
 * Every suite runs as root and as an unprivileged user (no capabilities).
 * A test that cannot run unprivileged (it writes module parameters, drops
 * to other users, makes pid namespaces) starts with MBOX_NEED_ROOT(); one
 * whose outcome depends on CAP_IPC_OWNER, CAP_SYS_RESOURCE or CAP_KILL
 * checks, when mbox_is_root() is false, what an unprivileged caller gets.
 */
static inline bool mbox_is_root(void)
{
	return geteuid() == 0;
}

/* In a test: SKIP it unless it runs as root; "needs root to <what>". */
#define MBOX_NEED_ROOT(what) do {					\
		if (!mbox_is_root())					\
			SKIP(return, "needs root to %s (uid %d here)",	\
			     what, (int)geteuid());			\
	} while (0)

/*
 * Root's mailboxes, for the unprivileged run: make check's guest
 * (tools/testing/vm/guest-tests.sh) creates them as root, system-owned,
 * before it runs the suites as an unprivileged user, and destroys them
 * afterwards.  Tests see with them what a user may do to another user's
 * mailboxes.  Nothing is to be sent to them: no one could receive it.
 */
#define MBOX_ROOT_PRIVATE	"/mbox-selftest-root-0600"	/* mode 0600 */
#define MBOX_ROOT_SENDONLY	"/mbox-selftest-root-0622"	/* mode 0622 */
#define MBOX_ROOT_ABSENT	"no " MBOX_ROOT_SENDONLY ": make check's guest " \
				"creates root's mailboxes for the unprivileged run"

/*
 * In a test: the id of MBOX_ROOT_SENDONLY, which OPEN (to send) on fd
 * gives; SKIP if it does not exist.
 */
#define MBOX_ROOT_MAILBOX(fd, idp) do {					\
		int __ret = mbox_open_name(fd, MBOX_ROOT_SENDONLY,	\
					   MBOX_OPEN_SEND, idp);	\
		if (__ret == -ENOENT)					\
			SKIP(return, MBOX_ROOT_ABSENT);			\
		ASSERT_EQ(0, __ret);					\
	} while (0)

/* ---- children ----------------------------------------------------------- */

typedef int (*mbox_child_fn)(void *arg);

/* Drop to uid/gid with no supplementary groups and no capabilities. */
static inline int mbox_drop_privileges(uid_t uid, gid_t gid)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3];
	int i;

	if (setgroups(0, NULL) || setresgid(gid, gid, gid) ||
	    setresuid(uid, uid, uid))
		return MBOX_CHILD_EDROP;
	if (syscall(SYS_capget, &hdr, caps))
		return MBOX_CHILD_ECAPS;
	for (i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		if (caps[i].effective || caps[i].permitted)
			return MBOX_CHILD_ECAPS;
	return 0;
}

/*
 * Drop to real, effective and saved uids ruid/euid/suid and gid gid, with
 * no supplementary groups.  With none of the uids 0 no capability is left;
 * with one of them 0 the permitted set survives, so only kill(2)-style
 * checks on the real and saved uids are meaningful then.
 */
static inline int mbox_drop_privileges_res(uid_t ruid, uid_t euid, uid_t suid,
					   gid_t gid)
{
	if (setgroups(0, NULL) || setresgid(gid, gid, gid) ||
	    setresuid(ruid, euid, suid))
		return MBOX_CHILD_EDROP;
	return 0;
}

/*
 * Fork a child that runs fn(arg), as uid/gid unless uid is (uid_t)-1 (then
 * as the caller), and exits with its result.  Returns the pid or -errno.
 */
static inline pid_t mbox_spawn_as(uid_t uid, gid_t gid, mbox_child_fn fn,
				  void *arg)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int ret = 0;

		if (uid != (uid_t)-1)
			ret = mbox_drop_privileges(uid, gid);
		if (!ret)
			ret = fn(arg);
		if (ret < 0)
			ret = -ret;
		_exit(ret > 255 ? 255 : ret);
	}
	return pid;
}

static inline pid_t mbox_spawn(mbox_child_fn fn, void *arg)
{
	return mbox_spawn_as((uid_t)-1, (gid_t)-1, fn, arg);
}

/*
 * Wait for a child: its exit status (0..255), 128 + the signal that killed
 * it, or -errno.
 */
static inline int mbox_reap(pid_t pid)
{
	int status;

	if (pid <= 0)
		return -ECHILD;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -ECHILD;
}

/* Run fn(arg) in a child as uid/gid, without capabilities; its status. */
static inline int mbox_run_as(uid_t uid, gid_t gid, mbox_child_fn fn,
			      void *arg)
{
	pid_t pid = mbox_spawn_as(uid, gid, fn, arg);

	return pid < 0 ? pid : mbox_reap(pid);
}

/* Run fn(arg) in a child with the caller's credentials; its status. */
static inline int mbox_run(mbox_child_fn fn, void *arg)
{
	return mbox_run_as((uid_t)-1, (gid_t)-1, fn, arg);
}

static inline int mbox_run_as_nobody(mbox_child_fn fn, void *arg)
{
	return mbox_run_as(MBOX_NOBODY, MBOX_NOBODY, fn, arg);
}

/* Exit status of a child whose unshare(CLONE_NEWPID) was refused. */
#define MBOX_CHILD_ENONS	252

struct mbox_pidns_run {
	mbox_child_fn fn;
	void *arg;
};

static inline int mbox_pidns_child(void *data)
{
	struct mbox_pidns_run *run = data;
	pid_t pid;

	/* If the test dies, so does this child, and with it the namespace. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (unshare(CLONE_NEWPID))
		return errno == EPERM || errno == EINVAL ? MBOX_CHILD_ENONS :
							   errno;
	/* The first child is pid 1 of the new namespace. */
	pid = mbox_spawn(run->fn, run->arg);
	return pid < 0 ? pid : mbox_reap(pid);
}

/*
 * Run fn(arg) as pid 1 of a new pid namespace (a child unshares, then
 * forks it); its status, MBOX_CHILD_ENONS if pid namespaces cannot be
 * made, or -errno.  The namespace ends when fn returns: every process
 * fn started there is killed.
 */
static inline int mbox_run_in_new_pidns(mbox_child_fn fn, void *arg)
{
	struct mbox_pidns_run run = { .fn = fn, .arg = arg };

	return mbox_run(mbox_pidns_child, &run);
}

/*
 * Read one status byte that a child writes to a pipe, waiting up to
 * timeout_ms: the byte (0..255), -EPIPE at end of file, or -errno.
 */
static inline int mbox_pipe_read_byte(int fd, unsigned int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	unsigned char c;
	ssize_t n;
	int ret;

	do {
		ret = poll(&pfd, 1, timeout_ms);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return -errno;
	if (ret == 0)
		return -ETIMEDOUT;
	n = read(fd, &c, 1);
	if (n < 0)
		return -errno;
	return n ? c : -EPIPE;
}

static inline int mbox_pipe_write_byte(int fd, int value)
{
	unsigned char c = value < 0 ? -value : value;

	return write(fd, &c, 1) == 1 ? 0 : -errno;
}

/* ---- is a task blocked in the kernel? ----------------------------------- */

/* Any system call, for mbox_task_blocked_in(). */
#define MBOX_ANY_SYSCALL	(-1L)

/*
 * Whether task tid (a thread id or a pid, in our pid namespace) sleeps in
 * system call nr: its state in /proc/<tid>/stat is S or D, and
 * /proc/<tid>/syscall (when the kernel has it) names that call.  1 if so,
 * 0 if not, -ESRCH if the task is gone.
 */
static inline int mbox_task_blocked_in(pid_t tid, long nr)
{
	char path[64], buf[512], *p;
	ssize_t n;
	long cur;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ESRCH;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return 0;
	if (p[2] == 'Z' || p[2] == 'X')
		return -ESRCH;
	if (p[2] != 'S' && p[2] != 'D')
		return 0;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;	/* no CONFIG_HAVE_ARCH_TRACEHOOK: state only */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = '\0';
	if (buf[0] < '0' || buf[0] > '9')
		return 0;	/* "running" */
	cur = strtol(buf, NULL, 10);
	return nr == MBOX_ANY_SYSCALL || cur == nr;
}

/*
 * Wait, polling every millisecond up to timeout_ms, until task tid is seen
 * sleeping in system call nr twice in a row.  0, -ETIMEDOUT or -ESRCH.
 */
static inline int mbox_wait_blocked_in(pid_t tid, long nr,
				       unsigned int timeout_ms)
{
	__u64 end = mbox_deadline_ms(timeout_ms);
	int seen = 0, ret;

	for (;;) {
		ret = mbox_task_blocked_in(tid, nr);
		if (ret < 0)
			return ret;
		seen = ret ? seen + 1 : 0;
		if (seen >= 2)
			return 0;
		if (mbox_now_ns() > end)
			return -ETIMEDOUT;
		mbox_sleep_ms(1);
	}
}

/* Wait until task tid is blocked in an ioctl (an mbox operation). */
static inline int mbox_wait_blocked(pid_t tid)
{
	return mbox_wait_blocked_in(tid, SYS_ioctl, MBOX_WAIT_MS);
}

/* Whether task tid is, right now, still blocked in an ioctl. */
static inline bool mbox_still_blocked(pid_t tid)
{
	return mbox_task_blocked_in(tid, SYS_ioctl) == 1;
}

/* ---- a call that blocks, in a thread ------------------------------------ */

/*
 * One call run in a thread of its own, e.g. a SEND that will block:
 *
 *	mbox_bg_start(&bg, fd, MBOX_IOC_SEND, &s);	(an ioctl)
 *	mbox_bg_run(&bg, recv_op, &op);			(any fn(arg))
 *	ASSERT_EQ(0, mbox_bg_wait_blocked(&bg));
 *	...
 *	EXPECT_EQ(0, mbox_bg_join(&bg));
 *
 * fn(arg) returns 0 (a batch: its count) or -errno; what it uses must
 * live until the join.
 */
struct mbox_bg {
	pthread_t thread;
	mbox_child_fn fn;
	void *arg;
	int fd;		/* mbox_bg_start(): the ioctl to make */
	unsigned long cmd;
	void *ioc_arg;
	int tid;	/* set by the thread before it calls fn */
	int ret;	/* fn's 0 (or count) or -errno */
	int done;	/* set once ret is */
	bool started;
};

static inline void *mbox_bg_thread(void *data)
{
	struct mbox_bg *bg = data;
	int ret;

	__atomic_store_n(&bg->tid, (int)gettid(), __ATOMIC_SEQ_CST);
	ret = bg->fn(bg->arg);
	__atomic_store_n(&bg->ret, ret, __ATOMIC_SEQ_CST);
	__atomic_store_n(&bg->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static inline int mbox_bg_run(struct mbox_bg *bg, mbox_child_fn fn, void *arg)
{
	int err;

	bg->fn = fn;
	bg->arg = arg;
	bg->tid = 0;
	bg->done = 0;
	bg->started = false;
	err = pthread_create(&bg->thread, NULL, mbox_bg_thread, bg);
	if (err)
		return -err;
	bg->started = true;
	return 0;
}

static inline int mbox_bg_ioctl(void *data)
{
	struct mbox_bg *bg = data;

	return mbox_ioctl(bg->fd, bg->cmd, bg->ioc_arg);
}

static inline int mbox_bg_start(struct mbox_bg *bg, int fd, unsigned long cmd,
				void *arg)
{
	memset(bg, 0, sizeof(*bg));
	bg->fd = fd;
	bg->cmd = cmd;
	bg->ioc_arg = arg;
	return mbox_bg_run(bg, mbox_bg_ioctl, bg);
}

static inline pid_t mbox_bg_tid(struct mbox_bg *bg)
{
	__u64 end = mbox_deadline_ms(MBOX_WAIT_MS);
	int tid;

	while (!(tid = __atomic_load_n(&bg->tid, __ATOMIC_SEQ_CST))) {
		if (mbox_now_ns() > end)
			return -ETIMEDOUT;
		mbox_sleep_ms(1);
	}
	return tid;
}

static inline bool mbox_bg_done(struct mbox_bg *bg)
{
	return __atomic_load_n(&bg->done, __ATOMIC_SEQ_CST);
}

/* Wait until the thread is blocked in an ioctl (-EALREADY: fn returned). */
static inline int mbox_bg_wait_blocked(struct mbox_bg *bg)
{
	pid_t tid = mbox_bg_tid(bg);
	__u64 end = mbox_deadline_ms(MBOX_WAIT_MS);
	int seen = 0;

	if (tid < 0)
		return tid;
	for (;;) {
		if (mbox_bg_done(bg))
			return -EALREADY;
		seen = mbox_task_blocked_in(tid, SYS_ioctl) == 1 ? seen + 1 : 0;
		if (seen >= 2)
			return 0;
		if (mbox_now_ns() > end)
			return -ETIMEDOUT;
		mbox_sleep_ms(1);
	}
}

/* Join the thread: what fn returned. */
static inline int mbox_bg_join(struct mbox_bg *bg)
{
	if (!bg->started)
		return -ESRCH;
	pthread_join(bg->thread, NULL);
	bg->started = false;
	return bg->ret;
}

/* ---- signals ------------------------------------------------------------ */

static inline int mbox_sigaction(int sig, void (*handler)(int), int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL) ? -errno : 0;
}

/* ---- cleanup of what a test made ---------------------------------------- */

/*
 * What a test must undo even when an ASSERT cuts it short: system-owned
 * mailboxes to destroy and children to kill.  Kept in the fixture, run by
 * its teardown.
 */
struct mbox_cleanup {
	__u32 ids[64];
	unsigned int nids;
	pid_t pids[64];
	unsigned int npids;
};

static inline void mbox_track_id(struct mbox_cleanup *c, __u32 id)
{
	if (c->nids < MBOX_ARRAY_SIZE(c->ids))
		c->ids[c->nids++] = id;
}

static inline void mbox_track_pid(struct mbox_cleanup *c, pid_t pid)
{
	if (pid > 0 && c->npids < MBOX_ARRAY_SIZE(c->pids))
		c->pids[c->npids++] = pid;
}

/* CREATE a system-owned mailbox that the teardown will destroy. */
static inline int mbox_create_system(int fd, struct mbox_cleanup *c,
				     const char *name, __u32 capacity,
				     __u32 policy, __u32 mode, __u32 *id)
{
	int ret = mbox_create(fd, name, MBOX_CREATE_SYSTEM, capacity, policy,
			      mode, id);

	if (!ret)
		mbox_track_id(c, *id);
	return ret;
}

/* Destroy the tracked mailboxes (already destroyed: fine), kill children. */
static inline void mbox_cleanup_run(struct mbox_cleanup *c)
{
	unsigned int i;
	int fd = mbox_dev_open();

	if (fd >= 0) {
		for (i = 0; i < c->nids; i++)
			mbox_destroy(fd, c->ids[i]);
		close(fd);
	}
	c->nids = 0;
	for (i = 0; i < c->npids; i++) {
		/* Only a child not reaped yet: never someone else's pid. */
		if (waitpid(c->pids[i], NULL, WNOHANG) == 0) {
			kill(c->pids[i], SIGKILL);
			waitpid(c->pids[i], NULL, 0);
		}
	}
	c->npids = 0;
}


/* ---- calls and direct links --------------------------------------------- */

#ifndef __NR_pidfd_open
#define __NR_pidfd_open		434	/* the same number on every arch */
#endif

/*
 * Zeroed CALL struct: request buf/len to addr/to, reply into reply_buf of
 * reply_len bytes.  deadline_ns is left 0: set it for MBOX_DEADLINE.
 */
static inline void mbox_call_init(struct mbox_call *c, __u32 addr, __u32 to,
				  const void *buf, __u32 len, void *reply_buf,
				  __u32 reply_len, __u32 flags)
{
	memset(c, 0, sizeof(*c));
	c->size = sizeof(*c);
	c->flags = flags;
	c->addr = addr;
	c->to = to;
	c->buf = mbox_ptr(buf);
	c->len = len;
	c->reply_buf = mbox_ptr(reply_buf);
	c->reply_len = reply_len;
}

/* CALL of a prepared struct (mbox_call_init, then any extra field). */
static inline int mbox_call_ex(int fd, struct mbox_call *c)
{
	return mbox_ioctl(fd, MBOX_IOC_CALL, c);
}

/*
 * CALL mailbox id: *reply_len is the reply buffer's size, then the reply's
 * length; server_pid (may be NULL) gets the receiving process.
 */
static inline int mbox_call(int fd, __u32 id, const void *buf, __u32 len,
			    void *reply_buf, __u32 *reply_len, __u32 flags,
			    __u64 deadline_ns, __u32 *server_pid)
{
	struct mbox_call c;
	int ret;

	mbox_call_init(&c, MBOX_ADDR_MAILBOX, id, buf, len, reply_buf,
		       *reply_len, flags);
	c.deadline_ns = deadline_ns;
	ret = mbox_call_ex(fd, &c);
	if (!ret) {
		*reply_len = c.reply_len;
		if (server_pid)
			*server_pid = c.server_pid;
	}
	return ret;
}

/* Zeroed REPLY struct; flags and recv are left 0. */
static inline void mbox_reply_init(struct mbox_reply *r, __u64 token,
				   const void *buf, __u32 len)
{
	memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->token = token;
	r->buf = mbox_ptr(buf);
	r->len = len;
}

static inline int mbox_reply(int fd, __u64 token, const void *buf, __u32 len)
{
	struct mbox_reply r;

	mbox_reply_init(&r, token, buf, len);
	return mbox_ioctl(fd, MBOX_IOC_REPLY, &r);
}

/* Reply-and-receive: reply, then receive as MBOX_IOC_RECV with *recv. */
static inline int mbox_reply_recv(int fd, __u64 token, const void *buf,
				  __u32 len, struct mbox_recv *recv)
{
	struct mbox_reply r;

	mbox_reply_init(&r, token, buf, len);
	r.flags = MBOX_REPLY_RECV;
	r.recv = mbox_ptr(recv);
	return mbox_ioctl(fd, MBOX_IOC_REPLY, &r);
}

/*
 * A page of the address space that can be neither read nor written (a
 * PROT_NONE mapping, never unmapped): a buffer the kernel must fault on.
 * NULL on failure.
 */
static inline void *mbox_fault_ptr(void)
{
	void *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* poll(2) of one fd without waiting: its revents, or -1. */
static inline short poll_now(int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	if (poll(&pfd, 1, 0) < 0)
		return -1;
	return pfd.revents;
}

/* ---- signals: a handler that counts ------------------------------------ */

static volatile sig_atomic_t sig_count;

static inline void on_signal(int sig)
{
	sig_count++;
}

/* Wait, up to MBOX_WAIT_MS, until on_signal() ran n times. */
static inline bool wait_sig_count(int n)
{
	__u64 end = mbox_deadline_ms(MBOX_WAIT_MS);

	while (sig_count < n) {
		if (mbox_now_ns() > end)
			return false;
		mbox_sleep_ms(1);
	}
	return true;
}

#endif /* _MBOX_SELFTEST_UTIL_H */
