// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection: a fail-nth sweep through every ioctl path
 * (Documentation/testing.rst, "Fault injection").
 *
 * For each path (one TEST each: an ioctl in one of its meaningful modes,
 * or open(), poll() or epoll_ctl() on an endpoint), and for n = 1, 2, ...:
 * build the path's state, write n to /proc/thread-self/fail-nth, make the
 * one call, read fail-nth back (0: the n-th fault site of this task
 * failed; not 0: the call ended before it), then take a snapshot of the
 * state and tear it down.  Every fault site the call reaches counts:
 * failslab (kmalloc and kmem_cache allocations), fail_page_alloc (pages:
 * the kvmalloc() of large messages, vmalloc, slab refills) and, with
 * CONFIG_FAULT_INJECTION_USERCOPY, every copy_from_user(), copy_to_user()
 * and strncpy_from_user().  failslab and fail_page_alloc skip GFP_KERNEL
 * allocations unless told otherwise: the sweep sets ignore-gfp-wait (and
 * ignore-gfp-highmem, min-order) so that they count, verbose to 0 (a
 * stack trace per fault would be a kernel splat to make check), and
 * "times" high, to tell from its decrement which kind of site a fault
 * hit; the teardown restores them all.
 *
 * The snapshot (struct fsnap): the STAT of every mailbox the iteration
 * made (counts, totals, waiters, owner, mode, name), which is also the
 * listing (MBOX_STAT_NEXT from the first of them), direct receiving
 * (MBOX_DIRECT_QUERY) of each endpoint and of the peer process, poll() of
 * each endpoint, the uid's quota usage (queued bytes and mailboxes, read
 * through the limits with CAP_SYS_RESOURCE dropped, see quota_*()), then
 * everything queued, received without blocking (contents, priority,
 * flags, sender), and what the helper threads got.  Pids and ids are
 * relative, so that the snapshots of two iterations compare.
 *
 * Dry runs without faults give the reference states: "before" (the state
 * built, the call not made) and "done" (the call made and succeeded),
 * and count the call's fault sites (fail-nth armed beyond them).  An
 * iteration whose fault was injected must then end in one of:
 *
 *  - "before", the call failed with an errno the path allows (abi.rst
 *    documents it for that ioctl): nothing happened, nothing was charged,
 *    no message lost, duplicated or half-delivered, no mailbox left;
 *  - "done", the call succeeded: the fault hit something that has a way
 *    around it (kvmalloc() falls back to vmalloc(), kmemleak to its pool,
 *    xa_alloc() retries outside its lock);
 *  - "done", the call failed with EFAULT: the call took effect, then
 *    could not write its result back.  abi.rst ("Conventions of every
 *    ioctl") allows it at the final write-back only, and never for RECV,
 *    which writes its result before the message leaves the queue, nor
 *    for CREATE, OPEN and DIRECT's enable, which undo their work when
 *    that write-back fails (.tail 0: any fault of those must leave them
 *    "before").  Checked exactly by
 *    a second sweep, of the user copies alone (fail_usercopy's "space"
 *    with its task filter: the n-th copy of this task fails), whose
 *    order does not vary as allocations do: only the last @tail copies
 *    may end so (the struct's write-back; for CALL, its reply just
 *    before it); and the fault of the fail-nth sweep must have been a
 *    user copy;
 *  - for REPLY with MBOX_REPLY_RECV, "mid": the reply was delivered and
 *    the receive failed with nothing taken (abi.rst: the receive's errors
 *    come after the reply); and for a RECV that sleeps until a message is
 *    handed to it, "mid" is that message put back, queued;
 *  - the RECV of a call's request whose token cannot be recorded fails
 *    with ENOMEM and leaves the request queued, its caller waiting: that
 *    is "before" too.  One fault cannot cause it (xa_alloc() retries);
 *    recv_call_registration_enomem makes every xarray node allocation of
 *    the receiving thread fail instead, while it holds another call
 *    (a server's only call needs no node);
 *  - for a batch (SEND_BATCH, RECV_BATCH), "partial k", the state of its
 *    first k entries done (a dry run of the batch cut to k entries), the
 *    call returning k, with done k and the fault's errno in error: a
 *    fault at entry k > 0 stops the batch there; and, for a send entry
 *    whose write-back failed after its message went (as SEND's),
 *    "partial k + 1" with k returned, done k and EFAULT, once per entry
 *    in the usercopy sweep.  A batch never ends "done" with EFAULT: a
 *    fault at its header's write-back, its last user copy (exactly that
 *    one, in the usercopy sweep), leaves "done" with the count returned
 *    and done and error not written (abi.rst, "Batches"); a receive
 *    batch loses nothing so.
 *
 * Likewise no single fault makes a large message's allocation fail:
 * kvmalloc() falls back to vmalloc(), which for 4 MiB retries with small
 * pages after its huge-page attempt.  send_64k_no_pages_enomem and
 * send_4m_no_pages_enomem make every page allocation of the sender fail
 * and expect ENOMEM with nothing done.
 *
 * A call that fault n did not reach must have succeeded in state "done";
 * the sweep ends past the most sites a count saw.  Leaks are for
 * kmemleak, which the VM runner reads after rmmod (output.log: "mbox-vm:
 * kmemleak clean").  Each path prints what its faults gave.
 * FAULT_VERBOSE=1 in the environment prints each fault and where the
 * time goes.
 *
 * It needs root (debugfs, module parameters) and a kernel with
 * CONFIG_FAULT_INJECTION and CONFIG_FAULT_INJECTION_DEBUG_FS (make
 * check's debug kernel): it SKIPs elsewhere, with the reason.  The 32-bit
 * build sweeps a few paths through the compat ioctl and SKIPs the rest.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mbox_util.h"
#include "kselftest_harness.h"

#define FAIL_NTH	"/proc/thread-self/fail-nth"
#define MAKE_IT_FAIL	"/proc/thread-self/make-it-fail"
#define SLAB_FAIL	"/sys/kernel/slab/radix_tree_node/failslab"
#define DEBUGFS		"/sys/kernel/debug/"

#define FN_MAX_EP	3	/* endpoints an iteration opens */
#define FN_MAX_BG	2	/* helper threads */
#define FN_MAX_LIST	6	/* mailboxes an iteration makes */
#define FN_MAX_MSGS	16	/* messages a snapshot records */
#define FN_MAX_X	4	/* path-specific facts */
#define FN_NAME		48
#define FN_MAX_N	4000	/* no path has this many fault sites */
#define FN_MAX_UC	32	/* nor this many user copies */
#define FN_MAX_BATCH	4	/* entries of a batch path */
#define FN_UNWRITTEN	0xa5a5a5a5U	/* a batch's done and error, as
					 * given: its header not written */

/* The largest message: above KMALLOC_MAX_SIZE (4 MiB), vmalloc() only. */
#define FN_HUGE		((4U << 20) + 4096)
#define FN_LARGE	(64U << 10)

/* ---- the state, as a snapshot ------------------------------------------- */

/* One message found queued (or received by a helper). */
struct fmsg {
	__u32 where;	/* endpoint << 8 | listing index; 0xff: direct */
	__u32 len;
	__u32 prio;
	__u32 flags;
	__u32 sender;	/* 1: this process, 2: the peer, 0: none, 3: other */
	__u32 sum;	/* of the contents */
};

/* What a helper thread ended with. */
struct fbg_rec {
	__s32 used;
	__s32 blocked;	/* still blocked in its ioctl when the state settled */
	__s32 ret;
	__u32 len;
	__u32 sum;
	__u32 pad;
};

struct fsnap {
	__s64 quota_bytes;	/* the uid's queued bytes (with overhead) */
	__s64 quota_mailboxes;	/* mailboxes the uid created */
	struct {
		struct mbox_stat st;	/* id relative, name pointer 0 */
		char name[FN_NAME];
	} list[FN_MAX_LIST];
	struct mbox_direct dq[FN_MAX_EP];
	struct mbox_direct peer_dq;
	struct fmsg msgs[FN_MAX_MSGS];
	struct fbg_rec bg[FN_MAX_BG];
	__s32 nlist;
	__s32 dq_ret[FN_MAX_EP];
	__s32 poll[FN_MAX_EP];
	__s32 peer_dq_ret;
	__s32 nmsgs;
	__s32 x[FN_MAX_X];
	__s32 pad;
};

/* ---- an iteration's context --------------------------------------------- */

struct fctx;

enum fbg_kind {
	BG_RECV = 1,	/* a blocking RECV: what it got */
	BG_SEND,	/* a blocking SEND of buf */
	BG_CALL,	/* a CALL with a "request": the reply */
	BG_SERVE,	/* a blocking RECV, then the REPLY of a call */
	BG_SEND_WHEN_BLOCKED,	/* SEND once the main thread blocks */
};

struct fbg {
	struct mbox_bg bg;
	struct fctx *ctx;
	int kind;
	int fd;
	__u32 id;
	char buf[256];
	__u32 len;
	bool used;
	bool blocked;
};

/* The peer process: direct receiving of its own, driven over pipes. */
struct fpeer_sh {
	pid_t parent;
	__u32 to;	/* 'S': the pid to send to; 'M': the mailbox id */
	__u32 n;	/* 'S': how many messages */
	__s32 dq_ret;
	struct mbox_direct dq;
	__s32 nmsgs;
	struct fmsg msgs[8];
};

struct fpeer {
	pid_t pid;
	int cmd;	/* our end of its command pipe */
	int res;	/* our end of its result pipe */
	int pidfd;
};

struct fpath;

struct fctx {
	const struct fpath *path;
	int probe_ep;		/* the fixture's: marks and quota probes */
	__u32 probe_id;
	int ep[FN_MAX_EP];
	__u32 mark;		/* the iteration's mailboxes have ids above */
	__u32 id[2];		/* its mailboxes */
	struct fbg bg[FN_MAX_BG];
	struct fpeer peer;
	struct fpeer_sh *sh;	/* shared with the peer */
	int epfd;
	int op_fd;
	pid_t tid;		/* the main thread */
	int op_done;
	__u64 token;
	char name[64];
	char *rbuf;		/* for draining queues */
	size_t rbuf_size;
	char *big;		/* a large payload */
	__u32 big_len;
	union {
		struct mbox_version version;
		struct mbox_create create;
		struct mbox_open open;
		struct mbox_id mid;
		struct mbox_set set;
		struct mbox_stat stat;
		struct mbox_send send;
		struct mbox_recv recv;
		struct mbox_direct direct;
		struct mbox_call call;
		struct mbox_reply reply;
		struct mbox_batch batch;
	} a;
	struct mbox_recv r2;	/* REPLY's MBOX_REPLY_RECV */
	struct mbox_send bs[FN_MAX_BATCH];	/* a batch's entries */
	struct mbox_recv br[FN_MAX_BATCH];
	char bbuf[FN_MAX_BATCH][64];	/* and their buffers */
	int batch_count;	/* the first entries only (a partial ref.) */
	int op_ret;		/* what the call returned, -ENOEXEC if none */
	char rb[256];		/* the call's receive or reply buffer */
	char err[256];		/* what went wrong, outside the call */
	const struct fsnap *qref[3 + FN_MAX_BATCH];	/* the reference
							 * states: their quota */
	int nqref;
	bool quota_exact;	/* dry run: measure, don't compare */
	bool armed;		/* the single call of a path with .single */
	int pfd_bytes;		/* max_user_bytes, open for writing */
	int pfd_mailboxes;	/* max_user_mailboxes */
	bool prepared;		/* debugfs and the parameters set */
};

/*
 * A path.  setup() builds the state from nothing (fresh endpoints, a
 * fresh peer) and the argument; op() is the one system call, returning 0
 * or -errno; mid() reaches the "mid" state without faults; extra() adds
 * path-specific facts to the snapshot, after the queues were drained.
 *
 * A batch path (.batch entries, its argument c->a.batch) has one more
 * reference state per entry k, "partial k": the batch of its first k
 * entries, done.  A fault at entry k > 0 must leave that state, the
 * call returning k, with done k and the entry's errno (ENOMEM, EFAULT),
 * as abi.rst has batches; at entry 0 it is "before", with that errno.  A
 * SEND entry's own write-back comes after its message went (as SEND's,
 * .entry_tail): EFAULT there leaves "partial k + 1" with k returned.
 * The header's write-back, the last user copy, leaves "done" with the
 * count returned and the header as batch_arg() made it.  done_ret is
 * the batch's count without faults.
 */
struct fpath {
	int (*setup)(struct fctx *c);
	int (*op)(struct fctx *c);
	int (*mid)(struct fctx *c);
	void (*extra)(struct fctx *c, struct fsnap *s);
	int fail_errs[4];	/* errnos that leave the state "before" */
	int mid_errs[4];	/* errnos of the state "mid" */
	const char *mid_what;	/* what it is */
	int tail;		/* write-back sites at the end: EFAULT after the work */
	int alt_bg_ret;		/* "done" with bg[0] failed so (RECV of a call) */
	int alt_errs[4];
	int done_ret;		/* what the call returns without faults (a
				 * batch: the count of entries it does) */
	bool single;		/* one call, its faults set up by setup() */
	bool compat;		/* swept by the 32-bit build too */
	size_t rbuf_size;
	int batch;		/* entries of the batch in c->a.batch */
	bool entry_tail;	/* an entry's write-back comes after its work */
};

#define TRY(c, expr) do {						\
		int __r = (expr);					\
		if (__r < 0) {						\
			snprintf((c)->err, sizeof((c)->err),		\
				 "%s:%d: %s: %s", __func__, __LINE__,	\
				 #expr, strerror(-__r));		\
			return __r;					\
		}							\
	} while (0)

/* A hash of the contents; of a large message, 64 bytes every 4 KiB. */
static __u32 fnv(const void *p, size_t len)
{
	const unsigned char *b = p;
	__u32 h = 2166136261u ^ len;
	size_t i;

	for (i = 0; i < len; i++) {
		if (len > 8192 && (i & 4095) == 64)
			i += 4096 - 64;
		if (i < len)
			h = (h ^ b[i]) * 16777619u;
	}
	return h;
}

/* ---- debugfs, module parameters, capabilities --------------------------- */

static int file_read(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	int err;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

static int file_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n, len = strlen(val);
	int err;

	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	err = errno;
	close(fd);
	return n == len ? 0 : -err;
}

/* The fault-injection controls the sweep sets, and their old values. */
struct fknob {
	const char *path;
	const char *val;
	bool required;
	bool saved;
	char old[32];
};

static struct fknob knobs[] = {
	{ .path = "failslab/ignore-gfp-wait", .val = "N", .required = true },
	{ .path = "failslab/cache-filter", .val = "N", .required = false },
	{ .path = "failslab/verbose", .val = "0", .required = true },
	{ .path = "failslab/times", .val = "1000000", .required = true },
	{ .path = "fail_page_alloc/ignore-gfp-wait", .val = "N", .required = false },
	{ .path = "fail_page_alloc/ignore-gfp-highmem", .val = "N", .required = false },
	{ .path = "fail_page_alloc/min-order", .val = "0", .required = false },
	{ .path = "fail_page_alloc/verbose", .val = "0", .required = false },
	{ .path = "fail_page_alloc/times", .val = "1000000", .required = false },
	{ .path = "fail_usercopy/verbose", .val = "0", .required = false },
	{ .path = "fail_usercopy/times", .val = "1000000", .required = false },
	{ .path = "fail_futex/verbose", .val = "0", .required = false },
	{ .path = "fail_make_request/verbose", .val = "0", .required = false },
	{ .path = "fail_function/verbose", .val = "0", .required = false },
};

static void knobs_undo(struct fknob *knobs, unsigned int nr)
{
	char path[128];
	unsigned int i;

	for (i = nr; i-- > 0;) {
		if (!knobs[i].saved)
			continue;
		snprintf(path, sizeof(path), DEBUGFS "%s", knobs[i].path);
		file_write(path, knobs[i].old);
		knobs[i].saved = false;
	}
}

/* 0, or -errno with *what naming the control that could not be set. */
static int knobs_apply(struct fknob *knobs, unsigned int nr, const char **what)
{
	char path[128];
	unsigned int i;
	int ret;

	for (i = 0; i < nr; i++) {
		snprintf(path, sizeof(path), DEBUGFS "%s", knobs[i].path);
		ret = file_read(path, knobs[i].old, sizeof(knobs[i].old));
		if (ret == -ENOENT && !knobs[i].required)
			continue;
		if (!ret) {
			knobs[i].saved = true;
			ret = file_write(path, knobs[i].val);
		}
		if (ret) {
			if (what)
				*what = knobs[i].path;
			knobs_undo(knobs, nr);
			return ret;
		}
	}
	return 0;
}

/* CAP_SYS_RESOURCE in this thread's effective set, or not. */
static int cap_sys_resource(bool on)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d))
		return -errno;
	if (on)
		d[0].effective |= 1U << CAP_SYS_RESOURCE;
	else
		d[0].effective &= ~(1U << CAP_SYS_RESOURCE);
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

/* A module parameter, through a file kept open. */
static int param_write(int fd, unsigned long long val)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%llu\n", val);

	return pwrite(fd, buf, len, 0) == len ? 0 : -errno;
}

/* The parameters the sweep changes, and their values to restore. */
static unsigned long long param_user_bytes, param_user_mailboxes,
	param_msg_size;

/* ---- the quota, read through the limits --------------------------------- */

/*
 * Root goes past the quotas with CAP_SYS_RESOURCE.  Without it in its
 * effective set (prepare() drops it from the test's threads), a send of
 * an empty message (charged MBOX_MSG_OVERHEAD) fits under max_user_bytes
 * = L iff the uid's usage U + 128 <= L.  1 if it fits (the message is
 * taken back at once), 0 if ENOSPC, or -errno.
 */
static int quota_probe_bytes(struct fctx *c, unsigned long long limit)
{
	char buf[8];
	__u32 len = sizeof(buf);
	int ret;

	ret = param_write(c->pfd_bytes, limit);
	if (ret)
		return ret;
	ret = mbox_send(c->probe_ep, c->probe_id, "", 0, 0, MBOX_NONBLOCK);
	if (ret == -ENOSPC)
		return 0;
	if (ret)
		return ret;
	ret = mbox_recv(c->probe_ep, c->probe_id, buf, &len, MBOX_NONBLOCK);
	return ret ? ret : 1;
}

/* Likewise, a CREATE fits under max_user_mailboxes = L iff M + 1 <= L. */
static int quota_probe_mailboxes(struct fctx *c, unsigned long long limit)
{
	__u32 id;
	int ret;

	ret = param_write(c->pfd_mailboxes, limit);
	if (ret)
		return ret;
	ret = mbox_create(c->probe_ep, NULL, 0, 1, MBOX_POLICY_SHARED, 0600,
			  &id);
	if (ret == -ENOSPC)
		return 0;
	if (ret)
		return ret;
	ret = mbox_close_id(c->probe_ep, id);
	return ret ? ret : 1;
}

/* Whether the usage is exactly @val: 1, 0, or -errno. */
static int quota_is(struct fctx *c, bool bytes, __s64 val)
{
	int ret;

	if (bytes) {
		ret = quota_probe_bytes(c, val + MBOX_MSG_OVERHEAD);
		if (ret == 1)
			ret = quota_probe_bytes(c, val + MBOX_MSG_OVERHEAD - 1);
		else if (ret == 0)
			return 0;
	} else {
		ret = quota_probe_mailboxes(c, val + 1);
		if (ret == 1 && val == 0)
			return 1;
		if (ret == 1)
			ret = quota_probe_mailboxes(c, val);
		else if (ret == 0)
			return 0;
	}
	/* Fits at val + 1 unit, not at val: exactly val. */
	return ret < 0 ? ret : !ret;
}

/* The usage, by a search of the limit: >= 0, or -errno. */
static __s64 quota_measure(struct fctx *c, bool bytes)
{
	unsigned long long lo = bytes ? MBOX_MSG_OVERHEAD - 1 : 0;
	unsigned long long hi = lo + 1;
	int ret;

	/* probe(lo) fails: double until a limit fits, then bisect */
	for (;;) {
		ret = bytes ? quota_probe_bytes(c, hi) :
			      quota_probe_mailboxes(c, hi);
		if (ret < 0)
			return ret;
		if (ret)
			break;
		if (hi >= 1ULL << 40)
			return -E2BIG;
		lo = hi;
		hi = lo * 2;
	}
	while (hi - lo > 1) {
		unsigned long long mid = lo + (hi - lo) / 2;

		ret = bytes ? quota_probe_bytes(c, mid) :
			      quota_probe_mailboxes(c, mid);
		if (ret < 0)
			return ret;
		if (ret)
			hi = mid;
		else
			lo = mid;
	}
	return bytes ? (__s64)hi - MBOX_MSG_OVERHEAD : (__s64)hi - 1;
}

/* Whether the parts of two snapshots taken before the quota are equal. */
static bool snap_same_so_far(const struct fsnap *a, const struct fsnap *b)
{
	return a->nlist == b->nlist &&
	       !memcmp(a->list, b->list, sizeof(a->list)) &&
	       !memcmp(a->dq, b->dq, sizeof(a->dq)) &&
	       !memcmp(a->dq_ret, b->dq_ret, sizeof(a->dq_ret)) &&
	       !memcmp(a->poll, b->poll, sizeof(a->poll));
}

/*
 * The usage now, for the snapshot *s being taken: probing whether it is
 * that of a reference state is cheap, first those that *s resembles so
 * far; measuring is not, and is left for dry runs and failures.
 */
static __s64 quota_read(struct fctx *c, bool bytes, const struct fsnap *s)
{
	__s64 tried[3 + FN_MAX_BATCH], val;
	int pass, i, j, ntried = 0, ret;

	for (pass = 0; pass < 2 && !c->quota_exact; pass++) {
		for (i = 0; i < c->nqref; i++) {
			if (snap_same_so_far(s, c->qref[i]) != !pass)
				continue;
			val = bytes ? c->qref[i]->quota_bytes :
				      c->qref[i]->quota_mailboxes;
			for (j = 0; j < ntried && tried[j] != val; j++)
				;
			if (j < ntried)
				continue;
			tried[ntried++] = val;
			ret = quota_is(c, bytes, val);
			if (ret < 0)
				return ret;
			if (ret)
				return val;
		}
	}
	return quota_measure(c, bytes);
}

/* ---- helper threads ----------------------------------------------------- */

static int fbg_fn(void *arg)
{
	struct fbg *b = arg;
	struct mbox_recv r;
	struct mbox_call cl;
	int ret, seen = 0;

	switch (b->kind) {
	case BG_RECV:
	case BG_SERVE:
		mbox_recv_init(&r, b->id, b->buf, sizeof(b->buf), 0);
		ret = mbox_recv_ex(b->fd, &r);
		if (ret)
			return ret;
		b->len = r.len;
		if (b->kind == BG_RECV)
			return 0;
		if (!(r.msg_flags & MBOX_MSG_CALL))
			return 1000;	/* not a call */
		return mbox_reply(b->fd, r.token, "reply", 5);
	case BG_SEND:
		return mbox_send(b->fd, b->id, b->buf, b->len, 0, 0);
	case BG_CALL:
		mbox_call_init(&cl, MBOX_ADDR_MAILBOX, b->id, "request", 7,
			       b->buf, sizeof(b->buf), 0);
		ret = mbox_call_ex(b->fd, &cl);
		if (!ret)
			b->len = cl.reply_len;
		return ret;
	case BG_SEND_WHEN_BLOCKED:
		/* Send once the main thread sleeps in its RECV, if it does. */
		for (;;) {
			if (__atomic_load_n(&b->ctx->op_done, __ATOMIC_SEQ_CST))
				return 1001;	/* it never blocked */
			seen = mbox_task_blocked_in(b->ctx->tid, SYS_ioctl) == 1 ?
			       seen + 1 : 0;
			if (seen >= 2)
				return mbox_send(b->fd, b->id, b->buf, b->len,
						 0, MBOX_NONBLOCK);
			mbox_sleep_ms(1);
		}
	}
	return -EINVAL;
}

/* Start helper i; with @wait, until it blocks in its ioctl. */
static int bg_start(struct fctx *c, int i, int kind, int fd, __u32 id,
		    const char *msg, bool wait)
{
	struct fbg *b = &c->bg[i];
	int ret;

	memset(b, 0, sizeof(*b));
	b->ctx = c;
	b->kind = kind;
	b->fd = fd;
	b->id = id;
	if (msg) {
		b->len = strlen(msg);
		memcpy(b->buf, msg, b->len);
	}
	ret = mbox_bg_run(&b->bg, fbg_fn, b);
	if (ret)
		return ret;
	b->used = true;
	if (!wait)
		return 0;
	ret = mbox_bg_wait_blocked(&b->bg);
	return ret == -EALREADY ? -EPROTO : ret;
}

/* ---- the peer process --------------------------------------------------- */

static __u32 sender_of(pid_t pid, pid_t us, pid_t peer)
{
	if (!pid)
		return 0;
	if (pid == us)
		return 1;
	if (pid == peer)
		return 2;
	return 3;
}

static int peer_cmd(struct fctx *c, char op);

static void peer_main(int cmd, int res, struct fpeer_sh *sh)
{
	struct mbox_recv r;
	char buf[64];
	unsigned char op;
	unsigned int i;
	int fd = -1, ret;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	op = 'R';
	do {
		ret = 0;
		switch (op) {
		case 'R':	/* a fresh endpoint with direct receiving */
			if (fd >= 0)
				close(fd);
			fd = mbox_dev_open();
			ret = fd < 0 ? fd :
			      mbox_direct_enable(fd, MBOX_DIRECT_ANYONE, 8, 0,
						 0, NULL);
			break;
		case 'S':	/* send n messages to pid "to" */
			for (i = 0; i < sh->n && !ret; i++) {
				snprintf(buf, sizeof(buf), "peer-%u", i);
				ret = mbox_send_direct(fd, MBOX_ADDR_PID, sh->to,
						       buf, strlen(buf), i,
						       MBOX_NONBLOCK, 0, NULL);
			}
			break;
		case 'M':	/* open mailbox "to" and send to it */
			ret = mbox_open_id(fd, sh->to, MBOX_OPEN_SEND);
			if (!ret)
				ret = mbox_send(fd, sh->to, "peer-mb", 7, 9,
						MBOX_NONBLOCK);
			break;
		case 'Q':	/* direct receiving, as QUERY reports it */
			sh->dq_ret = mbox_direct_query(fd, &sh->dq);
			sh->dq.pid = 0;
			break;
		case 'D':	/* what is queued for it */
			sh->nmsgs = 0;
			for (;;) {
				mbox_recv_direct_init(&r, MBOX_ADDR_PID, 0, buf,
						      sizeof(buf), MBOX_NONBLOCK);
				if (mbox_recv_ex(fd, &r))
					break;
				if (sh->nmsgs < 8)
					sh->msgs[sh->nmsgs] = (struct fmsg) {
						.where = 0xfe00,
						.len = r.len,
						.prio = r.priority,
						.flags = r.msg_flags,
						.sender = sender_of(r.sender_pid,
							sh->parent, getpid()),
						.sum = fnv(buf, r.len),
					};
				sh->nmsgs++;
			}
			break;
		case 'X':
			_exit(0);
		}
		mbox_pipe_write_byte(res, ret);
	} while (read(cmd, &op, 1) == 1);
	_exit(0);
}

/*
 * The peer, with a fresh endpoint: forked once per test, reset for each
 * iteration (which saves a fork, a slow thing under TCG).
 */
static int peer_start(struct fctx *c)
{
	int cmd[2], res[2], ret;
	pid_t pid;

	if (c->peer.pid > 0)
		return peer_cmd(c, 'R');
	if (pipe2(cmd, O_CLOEXEC))
		return -errno;
	if (pipe2(res, O_CLOEXEC)) {
		ret = -errno;
		close(cmd[0]);
		close(cmd[1]);
		return ret;
	}
	memset(c->sh, 0, sizeof(*c->sh));
	c->sh->parent = getpid();
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		int fd;

		/* Nothing of ours: a copy of an endpoint would keep it open. */
		for (fd = 3; fd < 1024; fd++)
			if (fd != cmd[0] && fd != res[1])
				close(fd);
		peer_main(cmd[0], res[1], c->sh);
	}
	close(cmd[0]);
	close(res[1]);
	if (pid < 0) {
		close(cmd[1]);
		close(res[0]);
		return -errno;
	}
	c->peer.pid = pid;
	c->peer.cmd = cmd[1];
	c->peer.res = res[0];
	ret = mbox_pipe_read_byte(c->peer.res, MBOX_WAIT_MS);
	if (ret)
		return ret > 0 ? -ret : ret;
	c->peer.pidfd = mbox_pidfd_open(pid);
	return c->peer.pidfd < 0 ? c->peer.pidfd : 0;
}

static int peer_cmd(struct fctx *c, char op)
{
	int ret;

	if (write(c->peer.cmd, &op, 1) != 1)
		return -errno;
	if (op == 'X')
		return 0;
	ret = mbox_pipe_read_byte(c->peer.res, MBOX_WAIT_MS);
	return ret > 0 ? -ret : ret;
}

static void peer_stop(struct fctx *c)
{
	if (c->peer.pid <= 0)
		return;
	peer_cmd(c, 'X');
	close(c->peer.cmd);
	close(c->peer.res);
	if (c->peer.pidfd >= 0)
		close(c->peer.pidfd);
	mbox_reap(c->peer.pid);
	c->peer.pid = 0;
	c->peer.pidfd = -1;
}

/* ---- building blocks of the paths --------------------------------------- */

static int ep_open(struct fctx *c, int i)
{
	c->ep[i] = mbox_dev_open();
	return c->ep[i] < 0 ? c->ep[i] : 0;
}

static const char *fname(struct fctx *c, const char *tag)
{
	return mbox_test_name(c->name, sizeof(c->name), tag);
}

/* A mailbox on endpoint i; its id in c->id[slot]. */
static int mk(struct fctx *c, int i, int slot, const char *name, __u32 flags,
	      __u32 capacity, __u32 mode)
{
	return mbox_create(c->ep[i], name, flags, capacity, MBOX_POLICY_SHARED,
			   mode, &c->id[slot]);
}

static int put(struct fctx *c, int i, int slot, const char *msg, __u32 prio)
{
	return mbox_send(c->ep[i], c->id[slot], msg, strlen(msg), prio,
			 MBOX_NONBLOCK);
}

/* ---- one iteration ------------------------------------------------------ */

static void ctx_reset(struct fctx *c)
{
	int i;

	for (i = 0; i < FN_MAX_EP; i++)
		c->ep[i] = -1;
	c->id[0] = c->id[1] = 0;
	memset(c->bg, 0, sizeof(c->bg));
	c->epfd = -1;
	c->op_fd = -1;
	c->op_done = 0;
	c->token = 0;
	c->err[0] = '\0';
	c->tid = gettid();
	memset(&c->a, 0, sizeof(c->a));
	memset(&c->r2, 0, sizeof(c->r2));
	memset(c->bs, 0, sizeof(c->bs));
	memset(c->br, 0, sizeof(c->br));
	memset(c->bbuf, 0, sizeof(c->bbuf));
	c->op_ret = -ENOEXEC;
}

/* The iteration's mailboxes have ids above one made and closed now. */
static int mark_take(struct fctx *c)
{
	TRY(c, mbox_create(c->probe_ep, NULL, 0, 1, MBOX_POLICY_SHARED, 0600,
			   &c->mark));
	TRY(c, mbox_close_id(c->probe_ep, c->mark));
	return 0;
}

/* Every mailbox above the mark, in id order: the listing, STAT_NEXT. */
static void snap_list(struct fctx *c, struct fsnap *s)
{
	struct mbox_stat st;
	char name[FN_NAME];
	__u32 next = c->mark + 1;

	for (;;) {
		memset(&st, 0, sizeof(st));
		memset(name, 0, sizeof(name));
		st.size = sizeof(st);
		st.flags = MBOX_STAT_NEXT;
		st.id = next;
		st.name = mbox_ptr(name);
		st.name_len = sizeof(name);
		if (mbox_ioctl(c->probe_ep, MBOX_IOC_STAT, &st))
			break;
		next = st.id + 1;
		if (s->nlist < FN_MAX_LIST) {
			st.id -= c->mark;
			st.name = 0;
			s->list[s->nlist].st = st;
			memcpy(s->list[s->nlist].name, name, sizeof(name));
		}
		s->nlist++;
	}
}

static void snap_add_msg(struct fsnap *s, const struct fmsg *m)
{
	if (s->nmsgs < FN_MAX_MSGS)
		s->msgs[s->nmsgs] = *m;
	s->nmsgs++;
}

/* Receive, without blocking, everything queued for each endpoint. */
static void snap_drain(struct fctx *c, struct fsnap *s)
{
	int nl = s->nlist < FN_MAX_LIST ? s->nlist : FN_MAX_LIST;
	struct mbox_recv r;
	int i, j, n;

	/* Each mailbox of the listing, then direct messages (j == nl). */
	for (i = 0; i < FN_MAX_EP; i++) {
		if (c->ep[i] < 0)
			continue;
		for (j = 0; j <= nl; j++) {
			bool direct = j == nl;

			for (n = 0; n < 64; n++) {
				if (direct)
					mbox_recv_direct_init(&r, MBOX_ADDR_PID, 0,
							      c->rbuf,
							      c->rbuf_size,
							      MBOX_NONBLOCK);
				else
					mbox_recv_init(&r, s->list[j].st.id +
						       c->mark, c->rbuf,
						       c->rbuf_size,
						       MBOX_NONBLOCK);
				if (mbox_recv_ex(c->ep[i], &r))
					break;
				snap_add_msg(s, &(struct fmsg) {
					.where = i << 8 | (direct ? 0xff : j),
					.len = r.len,
					.prio = r.priority,
					.flags = r.msg_flags,
					.sender = sender_of(r.sender_pid, getpid(),
							    c->peer.pid),
					.sum = fnv(c->rbuf, r.len),
				});
			}
		}
	}
}

/* Destroy the iteration's mailboxes, close its endpoints, end its helpers. */
static int finish(struct fctx *c, struct fsnap *s)
{
	struct mbox_stat st;
	__u64 end;
	int i, ret = 0;

	for (;;) {
		memset(&st, 0, sizeof(st));
		st.size = sizeof(st);
		st.flags = MBOX_STAT_NEXT;
		st.id = c->mark + 1;
		if (mbox_ioctl(c->probe_ep, MBOX_IOC_STAT, &st))
			break;
		if (mbox_destroy(c->probe_ep, st.id)) {
			snprintf(c->err, sizeof(c->err),
				 "cannot destroy mailbox %u", st.id);
			ret = -EIO;
			break;
		}
	}
	for (i = 0; i < FN_MAX_EP; i++) {
		if (c->ep[i] >= 0)
			close(c->ep[i]);
		c->ep[i] = -1;
	}
	if (c->epfd >= 0)
		close(c->epfd);
	if (c->op_fd >= 0)
		close(c->op_fd);
	c->epfd = c->op_fd = -1;
	end = mbox_deadline_ms(MBOX_WAIT_MS);
	for (i = 0; i < FN_MAX_BG; i++) {
		struct fbg *b = &c->bg[i];
		int r;

		if (!b->used)
			continue;
		while (!mbox_bg_done(&b->bg) && mbox_now_ns() < end)
			mbox_sleep_ms(1);
		if (!mbox_bg_done(&b->bg)) {
			snprintf(c->err, sizeof(c->err),
				 "helper %d (kind %d) never returned", i,
				 b->kind);
			return -ETIMEDOUT;	/* its thread still uses c */
		}
		r = mbox_bg_join(&b->bg);
		b->used = false;
		if (!s)
			continue;
		s->bg[i] = (struct fbg_rec) {
			.used = 1,
			.blocked = b->blocked,
			.ret = r,
			.len = r ? 0 : b->len,
			.sum = r ? 0 : fnv(b->buf, b->len),
		};
	}
	return ret;
}

/*
 * The state now, into *s; then everything is torn down.  Helpers first
 * settle (returned, or asleep in their ioctl), so that what they do is
 * not half-seen.
 */
/* Where the time goes, for FAULT_VERBOSE. */
enum { PH_SETUP, PH_OP, PH_SETTLE, PH_LIST, PH_QUOTA, PH_PEER, PH_DRAIN,
       PH_FINISH, PH_NR };
static __u64 phase_ns[PH_NR], phase_t0;

static void phase(int ph)
{
	__u64 now = mbox_now_ns();

	if (ph >= 0)
		phase_ns[ph] += now - phase_t0;
	phase_t0 = now;
}

static int snapshot(struct fctx *c, struct fsnap *s)
{
	int i, ret;

	phase(PH_OP);
	memset(s, 0, sizeof(*s));
	for (i = 0; i < FN_MAX_BG; i++) {
		if (!c->bg[i].used)
			continue;
		ret = mbox_bg_wait_blocked(&c->bg[i].bg);
		if (ret && ret != -EALREADY) {
			snprintf(c->err, sizeof(c->err),
				 "helper %d neither returned nor blocked", i);
			return ret;
		}
		c->bg[i].blocked = !ret;
	}
	phase(PH_SETTLE);
	snap_list(c, s);
	for (i = 0; i < FN_MAX_EP; i++) {
		if (c->ep[i] < 0) {
			s->dq_ret[i] = -EBADF;
			continue;
		}
		s->dq_ret[i] = mbox_direct_query(c->ep[i], &s->dq[i]);
		s->poll[i] = poll_now(c->ep[i], POLLIN | POLLOUT | POLLHUP);
	}
	phase(PH_LIST);
	s->quota_bytes = quota_read(c, true, s);
	s->quota_mailboxes = quota_read(c, false, s);
	phase(PH_QUOTA);
	ret = param_write(c->pfd_bytes, param_user_bytes) ?:
	      param_write(c->pfd_mailboxes, param_user_mailboxes);
	if (ret || s->quota_bytes < 0 || s->quota_mailboxes < 0) {
		snprintf(c->err, sizeof(c->err), "quota: %s",
			 strerror(-(ret ?: s->quota_bytes < 0 ?
				    (int)s->quota_bytes :
				    (int)s->quota_mailboxes)));
		return -EIO;
	}
	if (c->peer.pid > 0) {
		ret = peer_cmd(c, 'Q');
		if (!ret) {
			s->peer_dq_ret = c->sh->dq_ret;
			s->peer_dq = c->sh->dq;
		}
		ret = ret ?: peer_cmd(c, 'D');
		if (ret) {
			snprintf(c->err, sizeof(c->err), "peer: %s",
				 strerror(-ret));
			return ret;
		}
		for (i = 0; i < c->sh->nmsgs && i < 8; i++)
			snap_add_msg(s, &c->sh->msgs[i]);
	}
	phase(PH_PEER);
	snap_drain(c, s);
	if (c->path->extra)
		c->path->extra(c, s);
	phase(PH_DRAIN);
	ret = finish(c, s);
	phase(PH_FINISH);
	return ret;
}

enum { RUN_BEFORE, RUN_MID, RUN_OP };

/* How an iteration's fault is armed; all 0: not at all. */
struct farm {
	int nth;	/* fail-nth: this task's nth fault site fails */
	int uc;		/* fail_usercopy: this task's uc-th user copy fails */
};

/* fail-nth far beyond any path's sites: it counts them, injects nothing. */
#define FN_COUNT	1000000

/* The kind of the site a fault was injected at. */
enum { K_NONE, K_SLAB, K_PAGE, K_USERCOPY, K_NR };
static const char *const kind_names[K_NR] = {
	"?", "slab", "page", "usercopy",
};
static const char *const kind_times[K_NR] = {
	NULL, DEBUGFS "failslab/times", DEBUGFS "fail_page_alloc/times",
	DEBUGFS "fail_usercopy/times",
};

struct frun {
	int ret;
	int injected;	/* 1: the armed fault was injected, 0: not reached */
	int kind;	/* K_*: where */
	int sites;	/* with FN_COUNT: the fault sites the call reached */
	__u32 bdone;	/* a batch's done and error, as the call left them */
	__u32 berr;
	struct fsnap snap;
};

/*
 * Touch what the call and the code around it write, before the fault is
 * armed: a page first written after fork() (the peer) is copied on that
 * write, and the page fault's allocation is a fault site of this task too.
 */
static void prefault(void *p, size_t len)
{
	volatile char *b = p;
	size_t i;

	for (i = 0; i < len; i += 4096)
		b[i] = b[i];
	b[len - 1] = b[len - 1];
}

static void __attribute__((noinline)) prefault_stack(void)
{
	volatile char stack[32 << 10];

	prefault((char *)stack, sizeof(stack));
}

/*
 * The "times" of each fault attribute: every fault injected, by fail-nth
 * too, takes one off the attribute of its site.  -1 where it is absent.
 */
static void kind_read(long times[K_NR])
{
	char buf[32];
	int k;

	for (k = 1; k < K_NR; k++)
		times[k] = file_read(kind_times[k], buf, sizeof(buf)) ? -1 :
			   strtol(buf, NULL, 10);
}

/*
 * make-it-fail, for fail_usercopy's task-filter; writing it takes
 * CAP_SYS_RESOURCE, which stays on until it is off again (the capset()
 * between would be a user copy of its own).
 */
static int make_it_fail(int fd, bool on)
{
	int ret = on ? cap_sys_resource(true) : 0;

	if (!ret && write(fd, on ? "1" : "0", 1) != 1)
		ret = -errno;
	if (!on && ret != -EFAULT)
		ret = cap_sys_resource(false) ?: ret;
	return ret;
}

static int fail_nth_arm(int fd, int n)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%d", n);

	return write(fd, buf, len) == len ? 0 : -errno;
}

/*
 * Disarm fail-nth and read it back: the count left, 0 if the fault was
 * injected.  The read's own copy to userspace is a fault site: if it takes
 * the last count, the call did not reach the fault.
 */
static long fail_nth_disarm(int fd)
{
	char buf[32];
	ssize_t len;
	int err;

	len = read(fd, buf, sizeof(buf) - 1);
	err = errno;
	/* So is the write's copy from userspace: then it is 0 already. */
	if (write(fd, "0", 1) != 1 && errno != EFAULT)
		return -errno;
	if (len < 0)
		return err == EFAULT ? 1 : -err;
	buf[len] = '\0';
	return strtol(buf, NULL, 10);
}

/*
 * One iteration: setup, the call (with its fault armed), the snapshot.
 * 0, or -errno with c->err set if the test itself failed.
 */
static int run_once(struct fctx *c, int mode, const struct farm *arm,
		    struct frun *out)
{
	long times[K_NR], after[K_NR], left = 0;
	char buf[32];
	int fd = -1, ret = 0, k;

	ctx_reset(c);
	memset(out, 0, sizeof(*out));
	phase(-1);
	ret = mark_take(c);
	if (!ret)
		ret = c->path->setup(c);
	if (!ret && c->path->batch && c->batch_count)
		c->a.batch.count = c->batch_count;
	if (!ret && arm->nth) {
		kind_read(times);
		fd = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	} else if (!ret && arm->uc) {
		snprintf(buf, sizeof(buf), "%d", arm->uc);
		ret = file_write(DEBUGFS "fail_usercopy/space", buf) ?:
		      file_write(DEBUGFS "fail_usercopy/times", "1");
		fd = open(MAKE_IT_FAIL, O_WRONLY | O_CLOEXEC);
	}
	if (!ret && (arm->nth || arm->uc) && fd < 0)
		ret = -errno;
	if (ret) {
		if (!c->err[0])
			snprintf(c->err, sizeof(c->err), "setup: %s",
				 strerror(-ret));
		if (fd >= 0)
			close(fd);
		__atomic_store_n(&c->op_done, 1, __ATOMIC_SEQ_CST);
		finish(c, NULL);
		return ret;
	}
	phase(PH_SETUP);
	prefault(c, sizeof(*c));
	prefault(out, sizeof(*out));
	prefault_stack();
	errno = 0;

	if (arm->nth)
		ret = fail_nth_arm(fd, arm->nth);
	else if (arm->uc)
		ret = make_it_fail(fd, true);
	if (!ret && mode == RUN_OP)
		out->ret = c->path->op(c);
	else if (!ret && mode == RUN_MID)
		out->ret = c->path->mid(c);
	if (!ret && mode != RUN_BEFORE)
		c->op_ret = out->ret;
	if (c->path->batch) {
		out->bdone = c->a.batch.done;
		out->berr = c->a.batch.error;
	}
	if (!ret && arm->nth) {
		left = fail_nth_disarm(fd);
		ret = left < 0 ? left : 0;
		out->injected = left == 0;
		out->sites = arm->nth - left;
	} else if (!ret && arm->uc) {
		/* Disarming copies from userspace: a fault there is not ours. */
		ret = make_it_fail(fd, false);
		if (ret == -EFAULT) {
			ret = make_it_fail(fd, false);
		} else if (!ret) {
			ret = file_read(DEBUGFS "fail_usercopy/times", buf,
					sizeof(buf));
			out->injected = !ret && !strcmp(buf, "0");
			out->kind = K_USERCOPY;
		}
	}
	if (fd >= 0)
		close(fd);
	__atomic_store_n(&c->op_done, 1, __ATOMIC_SEQ_CST);
	if (ret) {
		snprintf(c->err, sizeof(c->err), "arming the fault: %s",
			 strerror(-ret));
		finish(c, NULL);
		return ret;
	}
	if (arm->nth && out->injected) {
		kind_read(after);
		for (k = 1; k < K_NR; k++)
			if (times[k] >= 0 && after[k] < times[k])
				out->kind = k;
	}
	return snapshot(c, &out->snap);
}

/* ---- comparing snapshots ------------------------------------------------ */

static void snap_print_diff(const struct fsnap *got, const struct fsnap *ref)
{
	int i, n = 0;

#define DIFF(fmt, field, ...) do {					\
		if (memcmp(&got->field, &ref->field, sizeof(got->field)) && \
		    n++ < 24)						\
			ksft_print_msg("  " fmt "\n", __VA_ARGS__);	\
	} while (0)
#define DIFF_U(label, field)						\
	DIFF("%s: %llu, expected %llu", field, label,			\
	     (unsigned long long)got->field,				\
	     (unsigned long long)ref->field)

	DIFF_U("mailboxes", nlist);
	for (i = 0; i < FN_MAX_LIST && (i < got->nlist || i < ref->nlist); i++) {
		char l[32];

		if (!memcmp(&got->list[i], &ref->list[i], sizeof(got->list[i])))
			continue;
		snprintf(l, sizeof(l), "mailbox %d", i);
		ksft_print_msg("  %s: id +%u msgs %u bytes %llu open %u senders %u receivers %u sent %llu received %llu mode %o uid %u name '%s' | expected id +%u msgs %u bytes %llu open %u senders %u receivers %u sent %llu received %llu mode %o uid %u name '%s'\n",
			       l, got->list[i].st.id, got->list[i].st.nr_msgs,
			       (unsigned long long)got->list[i].st.nr_bytes,
			       got->list[i].st.nr_open,
			       got->list[i].st.nr_senders,
			       got->list[i].st.nr_receivers,
			       (unsigned long long)got->list[i].st.total_sent,
			       (unsigned long long)got->list[i].st.total_received,
			       got->list[i].st.mode, got->list[i].st.uid,
			       got->list[i].name,
			       ref->list[i].st.id, ref->list[i].st.nr_msgs,
			       (unsigned long long)ref->list[i].st.nr_bytes,
			       ref->list[i].st.nr_open,
			       ref->list[i].st.nr_senders,
			       ref->list[i].st.nr_receivers,
			       (unsigned long long)ref->list[i].st.total_sent,
			       (unsigned long long)ref->list[i].st.total_received,
			       ref->list[i].st.mode, ref->list[i].st.uid,
			       ref->list[i].name);
	}
	for (i = 0; i < FN_MAX_EP; i++) {
		DIFF("endpoint %d direct: ret %d links %u, expected ret %d links %u",
		     dq[i], i, got->dq_ret[i], got->dq[i].links,
		     ref->dq_ret[i], ref->dq[i].links);
		DIFF("endpoint %d direct: ret %d, expected %d", dq_ret[i], i,
		     got->dq_ret[i], ref->dq_ret[i]);
		DIFF("endpoint %d poll: %#x, expected %#x", poll[i], i,
		     got->poll[i], ref->poll[i]);
	}
	DIFF("peer direct: ret %d links %u, expected ret %d links %u", peer_dq,
	     got->peer_dq_ret, got->peer_dq.links, ref->peer_dq_ret,
	     ref->peer_dq.links);
	DIFF_U("quota bytes", quota_bytes);
	DIFF_U("quota mailboxes", quota_mailboxes);
	DIFF_U("messages queued", nmsgs);
	for (i = 0; i < FN_MAX_MSGS && (i < got->nmsgs || i < ref->nmsgs); i++)
		DIFF("message %d: at %#x len %u prio %u flags %#x sender %u sum %08x, expected at %#x len %u prio %u flags %#x sender %u sum %08x",
		     msgs[i], i, got->msgs[i].where, got->msgs[i].len,
		     got->msgs[i].prio, got->msgs[i].flags,
		     got->msgs[i].sender, got->msgs[i].sum,
		     ref->msgs[i].where, ref->msgs[i].len,
		     ref->msgs[i].prio, ref->msgs[i].flags,
		     ref->msgs[i].sender, ref->msgs[i].sum);
	for (i = 0; i < FN_MAX_BG; i++)
		DIFF("helper %d: blocked %d ret %d len %u sum %08x, expected blocked %d ret %d len %u sum %08x",
		     bg[i], i, got->bg[i].blocked, got->bg[i].ret,
		     got->bg[i].len, got->bg[i].sum, ref->bg[i].blocked,
		     ref->bg[i].ret, ref->bg[i].len, ref->bg[i].sum);
	for (i = 0; i < FN_MAX_X; i++)
		DIFF("fact %d: %d, expected %d", x[i], i, got->x[i],
		     ref->x[i]);
#undef DIFF_U
#undef DIFF
}

static bool err_in(const int *errs, int err)
{
	int i;

	for (i = 0; i < 4 && errs[i]; i++)
		if (errs[i] == err)
			return true;
	return false;
}

static const char *errname(int err)
{
	static char buf[24];

	switch (err) {
	case 0: return "0";
	case ENOMEM: return "ENOMEM";
	case EFAULT: return "EFAULT";
	case EMSGSIZE: return "EMSGSIZE";
	case ENOSPC: return "ENOSPC";
	}
	snprintf(buf, sizeof(buf), "errno %d", err);
	return buf;
}

/* A call's return: an errno's name, or a batch's count. */
static const char *retname(int ret)
{
	static char buf[24];

	if (ret < 0)
		return errname(-ret);
	snprintf(buf, sizeof(buf), "%d", ret);
	return buf;
}

/* ---- the fixture -------------------------------------------------------- */

FIXTURE(fault) {
	struct fctx c;
};

FIXTURE_SETUP(fault)
{
	memset(&self->c, 0, sizeof(self->c));
	self->c.probe_ep = -1;
	self->c.pfd_bytes = self->c.pfd_mailboxes = -1;
	self->c.peer.pidfd = -1;
	self->c.probe_ep = mbox_dev_open();
	if (self->c.probe_ep == -ENOENT)
		SKIP(return, "/dev/mbox is absent: the mbox module is not loaded");
	ASSERT_LE(0, self->c.probe_ep);
	if (access(FAIL_NTH, F_OK))
		SKIP(return, "no " FAIL_NTH ": a kernel without CONFIG_FAULT_INJECTION");
	MBOX_NEED_ROOT("configure fault injection in debugfs");
	if (access(DEBUGFS "failslab", F_OK))
		SKIP(return, "no " DEBUGFS "failslab: a kernel without CONFIG_FAILSLAB or CONFIG_FAULT_INJECTION_DEBUG_FS, or debugfs not mounted");
}

/* In a child, as another user: a system-owned mailbox for the probes. */
static int probe_mailbox_make(void *arg)
{
	int fd = mbox_dev_open();

	if (fd < 0)
		return fd;
	return mbox_create(fd, NULL, MBOX_CREATE_SYSTEM, MBOX_UNBOUNDED,
			   MBOX_POLICY_SHARED, 0666, arg);
}

/* What a sweep needs, set up by the first (and undone by the teardown). */
static void prepare(struct __test_metadata *_metadata, struct fctx *c)
{
	const char *what = "";
	int ret;

	if (c->prepared)
		return;
	ASSERT_EQ(0, mbox_param_get("max_user_bytes", &param_user_bytes));
	ASSERT_EQ(0, mbox_param_get("max_user_mailboxes", &param_user_mailboxes));
	ASSERT_EQ(0, mbox_param_get("max_msg_size", &param_msg_size));
	c->pfd_bytes = open(MBOX_PARAM_DIR "max_user_bytes", O_WRONLY | O_CLOEXEC);
	c->pfd_mailboxes = open(MBOX_PARAM_DIR "max_user_mailboxes",
				O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, c->pfd_bytes);
	ASSERT_LE(0, c->pfd_mailboxes);
	ret = knobs_apply(knobs, MBOX_ARRAY_SIZE(knobs), &what);
	ASSERT_EQ(0, ret) TH_LOG("setting %s%s: %s", DEBUGFS, what, strerror(-ret));
	c->prepared = true;
	/*
	 * Without CAP_SYS_RESOURCE the quotas bind root too, and show what
	 * is charged (quota_*()); the test stays far below them otherwise.
	 */
	ASSERT_EQ(0, cap_sys_resource(false));
	c->sh = mbox_shared_alloc(sizeof(*c->sh));
	ASSERT_NE(NULL, c->sh);
	/*
	 * The probes' mailbox is another user's: nothing of root's pins its
	 * accounting, which a call then allocates (and may fail to) when it
	 * is root's first charge.
	 */
	ret = mbox_run_as(MBOX_OTHER_UID, MBOX_OTHER_UID, probe_mailbox_make,
			  &c->sh->to);
	ASSERT_EQ(0, ret) TH_LOG("the probe mailbox, as uid %d: %s",
				 MBOX_OTHER_UID, strerror(ret));
	c->probe_id = c->sh->to;
	ASSERT_EQ(0, mbox_open_id(c->probe_ep, c->probe_id,
				  MBOX_OPEN_SEND | MBOX_OPEN_RECV));
}

FIXTURE_TEARDOWN(fault)
{
	if (self->c.prepared) {
		cap_sys_resource(true);
		knobs_undo(knobs, MBOX_ARRAY_SIZE(knobs));
		mbox_param_set("max_user_bytes", param_user_bytes);
		mbox_param_set("max_user_mailboxes", param_user_mailboxes);
		mbox_param_set("max_msg_size", param_msg_size);
	}
	peer_stop(&self->c);
	if (self->c.probe_id)
		mbox_destroy(self->c.probe_ep, self->c.probe_id);
	if (self->c.pfd_bytes >= 0)
		close(self->c.pfd_bytes);
	if (self->c.pfd_mailboxes >= 0)
		close(self->c.pfd_mailboxes);
	if (self->c.probe_ep >= 0)
		close(self->c.probe_ep);
	free(self->c.rbuf);
	free(self->c.big);
}

/* ---- the sweep ---------------------------------------------------------- */

enum { REF_BEFORE, REF_MID, REF_ALT, REF_DONE, NREFS };
static const char *const ref_names[NREFS] = {
	"before", "mid", "done, the caller failed", "done",
};

/* What an injected fault gave. */
enum { C_CLEAN, C_MID, C_ALT, C_ANYWAY, C_EFFECT, C_PARTIAL, C_ENTRY_EFFECT,
       C_UNWRITTEN, C_BAD, C_NR };
static const char *const class_names[C_NR] = {
	"failed, nothing done", "did part of it", "failed on both sides",
	"succeeded anyway", "took effect, then EFAULT",
	"stopped at the entry, the ones before done",
	"the entry took effect, then EFAULT",
	"done, the count returned, the header not written", "BAD",
};

struct fsweep {
	const struct fpath *p;
	struct frun ref[NREFS];
	bool have[NREFS];
	struct frun part[FN_MAX_BATCH];	/* batches: the first k entries done */
	int done_ret;
	int count[C_NR];
	int clean_err[3];	/* ENOMEM, EFAULT, other */
};

/* The state with the first @k entries of the batch done. */
static const struct frun *batch_ref(const struct fsweep *w, unsigned int k)
{
	if (!k)
		return &w->ref[REF_BEFORE];
	if (k >= (unsigned int)w->p->batch)
		return &w->ref[REF_DONE];
	return &w->part[k];
}

static bool snap_is(const struct frun *run, const struct frun *ref)
{
	return !memcmp(&run->snap, &ref->snap, sizeof(run->snap));
}

/* Whether a batch's header is as batch_arg() made it: not written back. */
static bool header_unwritten(const struct frun *run)
{
	return run->bdone == FN_UNWRITTEN && run->berr == FN_UNWRITTEN;
}

/*
 * A batch that returned k > 0 (done k too, but when its header's
 * write-back failed): all of it, as without faults, with or without the
 * header written; or stopped at entry k by the fault (its errno), the
 * entries before done; or, for sends, entry k sent and then EFAULT at
 * its write-back.
 */
static int classify_batch(struct fsweep *w, const struct frun *run)
{
	const struct frun *done = &w->ref[REF_DONE];
	const struct fpath *p = w->p;
	__u32 k = run->ret;

	if (header_unwritten(run))
		return run->ret == done->ret && snap_is(run, done) ?
		       C_UNWRITTEN : C_BAD;
	if (run->bdone != k)
		return C_BAD;
	if (run->ret == done->ret && run->berr == done->berr &&
	    snap_is(run, done))
		return C_ANYWAY;
	if (k >= (__u32)p->batch)
		return C_BAD;
	if (err_in(p->fail_errs, run->berr) && snap_is(run, batch_ref(w, k)))
		return C_PARTIAL;
	if (p->entry_tail && run->berr == EFAULT &&
	    snap_is(run, batch_ref(w, k + 1)))
		return C_ENTRY_EFFECT;
	return C_BAD;
}

static int classify(struct fsweep *w, const struct frun *run)
{
	const struct fpath *p = w->p;
	int err = -run->ret, k;

	if (p->batch && run->ret > 0)
		return classify_batch(w, run);
	/* Entry 0 sent, then EFAULT at its write-back: the ioctl fails. */
	if (p->batch && p->entry_tail && err == EFAULT &&
	    snap_is(run, batch_ref(w, 1)))
		return C_ENTRY_EFFECT;
	for (k = 0; k < NREFS; k++) {
		if (!w->have[k] || memcmp(&run->snap, &w->ref[k].snap,
					  sizeof(run->snap)))
			continue;
		switch (k) {
		case REF_BEFORE:
			if (run->ret < 0 && err_in(p->fail_errs, err))
				return C_CLEAN;
			break;
		case REF_MID:
			if (run->ret < 0 && err_in(p->mid_errs, err))
				return C_MID;
			break;
		case REF_ALT:
			if (run->ret < 0 && err_in(p->alt_errs, err))
				return C_ALT;
			break;
		case REF_DONE:
			if (run->ret == w->done_ret)
				return C_ANYWAY;
			/* (A batch returns its count instead.) */
			if (err == EFAULT && p->tail && !p->batch)
				return C_EFFECT;
			break;
		}
	}
	return C_BAD;
}

/* Classify, count, and report what is wrong (false then). */
static bool judge(struct __test_metadata *_metadata, struct fsweep *w,
		  const char *what, const struct frun *run, int *cls)
{
	const char *name = _metadata->name;
	int k;

	*cls = classify(w, run);
	w->count[*cls]++;
	if (*cls == C_CLEAN)
		w->clean_err[run->ret == -ENOMEM ? 0 :
			     run->ret == -EFAULT ? 1 : 2]++;
	if (getenv("FAULT_VERBOSE"))
		ksft_print_msg("%s: %s (%s): %s, %s\n", name, what,
			       kind_names[run->kind], retname(run->ret),
			       class_names[*cls]);
	if (*cls != C_BAD)
		return true;
	k = run->ret == w->done_ret ? REF_DONE : REF_BEFORE;
	if (w->p->batch && run->ret > 0 && run->ret < w->p->batch &&
	    run->bdone == (__u32)run->ret) {
		snap_print_diff(&run->snap, &batch_ref(w, run->ret)->snap);
		EXPECT_TRUE(false)
			TH_LOG("%s: %s, at a %s site: the batch did %d entries, error %s, and left a state that is not that of its first %d entries done (differences above)",
			       name, what, kind_names[run->kind], run->ret,
			       errname(run->berr), run->ret);
		return false;
	}
	if (w->p->batch && run->ret > 0) {
		snap_print_diff(&run->snap, &w->ref[k].snap);
		EXPECT_TRUE(false)
			TH_LOG("%s: %s, at a %s site: the batch returned %d, its header says done %u, error %s (%#x, %#x: not written back), and left a state that is not '%s' (differences above)",
			       name, what, kind_names[run->kind], run->ret,
			       run->bdone, errname(run->berr),
			       FN_UNWRITTEN, FN_UNWRITTEN, ref_names[k]);
		return false;
	}
	snap_print_diff(&run->snap, &w->ref[k].snap);
	EXPECT_TRUE(false)
		TH_LOG("%s: %s, at a %s site: the call returned %d (%s) and left a state that is none of the documented ones (differences from '%s' above)",
		       name, what, kind_names[run->kind], run->ret,
		       retname(run->ret), ref_names[k]);
	return false;
}

/* A call the fault did not reach must have succeeded, unharmed. */
static bool judge_unreached(struct __test_metadata *_metadata,
			    struct fsweep *w, const char *what,
			    const struct frun *run)
{
	const char *name = _metadata->name;

	if (run->ret == w->done_ret &&
	    run->bdone == w->ref[REF_DONE].bdone &&
	    run->berr == w->ref[REF_DONE].berr &&
	    !memcmp(&run->snap, &w->ref[REF_DONE].snap, sizeof(run->snap)))
		return true;
	snap_print_diff(&run->snap, &w->ref[REF_DONE].snap);
	EXPECT_TRUE(false)
		TH_LOG("%s: %s was not reached, yet the call returned %d and the state is %s'done' (differences above)",
		       name, what, run->ret,
		       memcmp(&run->snap, &w->ref[REF_DONE].snap,
			      sizeof(run->snap)) ? "not " : "");
	return false;
}

/* The controls of fail_usercopy for the usercopy sweep (set in order). */
static struct fknob uc_knobs[] = {
	{ .path = "fail_usercopy/task-filter", .val = "Y", .required = true },
	{ .path = "fail_usercopy/interval", .val = "1", .required = true },
	{ .path = "fail_usercopy/space", .val = "0", .required = true },
	{ .path = "fail_usercopy/times", .val = "0", .required = true },
	{ .path = "fail_usercopy/probability", .val = "100", .required = true },
};

static void sweep(struct __test_metadata *_metadata, struct fctx *c,
		  const struct fpath *p)
{
	const char *name = _metadata->name;
	__u64 start = mbox_now_ns();
	struct fsweep *w;
	struct frun *run;
	struct farm arm = { 0 };
	int n, k, ret, cls, min_sites, max_sites, nuc = 0, entry_effects = 0;
	int unwritten = 0, unwritten_at = 0;
	bool uc_effect[FN_MAX_UC];
	char what[64], mid_buf[128];

	/*
	 * compat_ptr_ioctl() converts the pointer and calls the same
	 * dispatch: a 32-bit program reaches the same fault sites.  Its run
	 * sweeps a few paths, through the compat layer, not all again.
	 */
	if (sizeof(long) == 4 && !p->compat)
		SKIP(return, "the 32-bit build sweeps only some paths: the compat ioctl reaches the fault sites of the 64-bit run, which sweeps this one");
	prepare(_metadata, c);
	if (_metadata->exit_code)
		return;
	c->path = p;
	c->rbuf_size = p->rbuf_size ?: 4096;
	c->rbuf = realloc(c->rbuf, c->rbuf_size);
	ASSERT_NE(NULL, c->rbuf);
	w = calloc(1, sizeof(*w));
	run = calloc(1, sizeof(*run));
	ASSERT_NE(NULL, w);
	ASSERT_NE(NULL, run);
	w->p = p;
	memset(phase_ns, 0, sizeof(phase_ns));

	/*
	 * The reference states, without faults, their quota measured; the
	 * call made with fail-nth armed beyond its sites counts them.
	 */
	c->quota_exact = true;
	c->nqref = 0;
	ret = run_once(c, RUN_BEFORE, &arm, &w->ref[REF_BEFORE]);
	ASSERT_EQ(0, ret) TH_LOG("%s, before: %s", name, c->err);
	w->have[REF_BEFORE] = true;
	arm.nth = FN_COUNT;
	ret = run_once(c, RUN_OP, &arm, &w->ref[REF_DONE]);
	ASSERT_EQ(0, ret) TH_LOG("%s, done: %s", name, c->err);
	w->have[REF_DONE] = true;
	w->done_ret = w->ref[REF_DONE].ret;
	ASSERT_EQ(p->done_ret, w->done_ret)
		TH_LOG("%s: without faults, the call returned %d", name,
		       w->done_ret);
	min_sites = max_sites = w->ref[REF_DONE].sites;
	if (p->mid) {
		arm.nth = 0;
		ret = run_once(c, RUN_MID, &arm, &w->ref[REF_MID]);
		ASSERT_EQ(0, ret) TH_LOG("%s, mid: %s", name, c->err);
		ASSERT_TRUE(err_in(p->mid_errs, -w->ref[REF_MID].ret))
			TH_LOG("%s: the mid state's call returned %d", name,
			       w->ref[REF_MID].ret);
		w->have[REF_MID] = true;
	}
	if (p->alt_bg_ret) {
		w->ref[REF_ALT] = w->ref[REF_DONE];
		w->ref[REF_ALT].snap.bg[0].blocked = 0;
		w->ref[REF_ALT].snap.bg[0].ret = p->alt_bg_ret;
		w->ref[REF_ALT].snap.bg[0].len = 0;
		w->ref[REF_ALT].snap.bg[0].sum = 0;
		w->have[REF_ALT] = true;
	}
	/* A batch: the state of its first k entries done, for each k. */
	for (k = 1; k < p->batch; k++) {
		struct farm none = { 0 };

		c->batch_count = k;
		ret = run_once(c, RUN_OP, &none, &w->part[k]);
		c->batch_count = 0;
		ASSERT_EQ(0, ret) TH_LOG("%s, %d entries: %s", name, k, c->err);
		ASSERT_EQ(k, w->part[k].ret)
			TH_LOG("%s: the batch of %d entries returned %d", name,
			       k, w->part[k].ret);
		ASSERT_EQ(k, w->part[k].bdone)
			TH_LOG("%s: the batch of %d entries did %u, error %u",
			       name, k, w->part[k].bdone, w->part[k].berr);
		c->qref[c->nqref++] = &w->part[k].snap;
	}
	for (k = 0; k < NREFS; k++) {
		if (!w->have[k] || k == REF_ALT)
			continue;
		c->qref[c->nqref++] = &w->ref[k].snap;
	}
	c->quota_exact = false;

	if (p->single) {
		/*
		 * op() arms what the test arranged: the call must fail and
		 * end in "before" or, for a path with one, in "alt".
		 */
		k = p->alt_bg_ret ? C_ALT : C_CLEAN;
		c->armed = true;
		arm.nth = 0;
		ret = run_once(c, RUN_OP, &arm, run);
		c->armed = false;
		ASSERT_EQ(0, ret) TH_LOG("%s: %s", name, c->err);
		judge(_metadata, w, "the call", run, &cls);
		EXPECT_EQ(k, cls) TH_LOG("%s: expected '%s'", name,
					 ref_names[k == C_ALT ? REF_ALT :
						   REF_BEFORE]);
		if (cls == C_ALT)
			ksft_print_msg("%s: the call returned %s, its caller %s, its request consumed, as documented\n",
				       name, errname(-run->ret),
				       errname(-p->alt_bg_ret));
		else if (cls == C_CLEAN)
			ksft_print_msg("%s: the call returned %s with nothing done\n",
				       name, errname(-run->ret));
		goto out;
	}

	/* One more count: how many sites a call reaches may vary. */
	arm.nth = FN_COUNT;
	for (k = 0; k < 1; k++) {
		ret = run_once(c, RUN_OP, &arm, run);
		ASSERT_EQ(0, ret) TH_LOG("%s, counting: %s", name, c->err);
		judge_unreached(_metadata, w, "counting", run);
		min_sites = run->sites < min_sites ? run->sites : min_sites;
		max_sites = run->sites > max_sites ? run->sites : max_sites;
	}

	/*
	 * Every fault site, with fail-nth.  A call that took effect then
	 * failed must have failed at a user copy: the usercopy sweep below
	 * checks which one.
	 */
	for (n = 1; n < FN_MAX_N; n++) {
		arm.nth = n;
		snprintf(what, sizeof(what), "fault %d", n);
		ret = run_once(c, RUN_OP, &arm, run);
		ASSERT_EQ(0, ret) TH_LOG("%s, %s: %s", name, what, c->err);
		if (!run->injected) {
			if (!judge_unreached(_metadata, w, what, run))
				goto out;
			if (n > max_sites)
				break;
			continue;
		}
		if (!judge(_metadata, w, what, run, &cls))
			goto out;
		EXPECT_TRUE((cls != C_EFFECT && cls != C_ENTRY_EFFECT) ||
			    run->kind == K_USERCOPY)
			TH_LOG("%s: %s, at a %s site, made the call fail with EFAULT after it took effect",
			       name, what, kind_names[run->kind]);
		EXPECT_TRUE(cls != C_UNWRITTEN || run->kind == K_USERCOPY)
			TH_LOG("%s: %s, at a %s site, left the batch's header unwritten",
			       name, what, kind_names[run->kind]);
	}
	EXPECT_LT(n, FN_MAX_N) TH_LOG("%s: no end to the fault sites", name);

	/*
	 * Every user copy in turn, with fail_usercopy: the same sequence in
	 * every call, so positions are exact.  A call may take effect then
	 * fail with EFAULT only at its last @tail copies: the write-back of
	 * its struct (and of CALL's reply just before).  Only for calls that
	 * write back: for the others "done" and EFAULT never go together.
	 * A batch's header is written back at its last copy, exactly: that
	 * fault, and no other, returns the count with the header unwritten.
	 */
	if ((p->tail || p->batch) &&
	    !access(DEBUGFS "fail_usercopy/space", F_OK) &&
	    !access(MAKE_IT_FAIL, F_OK)) {
		const char *knob = "";
		struct fsweep *a = malloc(sizeof(*a));

		ASSERT_NE(NULL, a);
		memcpy(a, w, sizeof(*a));
		ret = knobs_apply(uc_knobs, MBOX_ARRAY_SIZE(uc_knobs), &knob);
		ASSERT_EQ(0, ret) TH_LOG("%s: %s", knob, strerror(-ret));
		arm.nth = 0;
		for (arm.uc = 1; arm.uc <= FN_MAX_UC; arm.uc++) {
			snprintf(what, sizeof(what), "user copy %d", arm.uc);
			ret = run_once(c, RUN_OP, &arm, run);
			if (ret)
				break;
			if (!run->injected) {
				judge_unreached(_metadata, w, what, run);
				break;
			}
			if (!judge(_metadata, w, what, run, &cls))
				break;
			uc_effect[arm.uc - 1] = cls == C_EFFECT;
			entry_effects += cls == C_ENTRY_EFFECT;
			if (cls == C_UNWRITTEN) {
				unwritten++;
				unwritten_at = arm.uc;
			}
		}
		knobs_undo(uc_knobs, MBOX_ARRAY_SIZE(uc_knobs));
		ASSERT_EQ(0, ret) TH_LOG("%s, %s: %s", name, what, c->err);
		nuc = arm.uc - 1;
		for (k = 0; k < nuc; k++) {
			EXPECT_TRUE(!uc_effect[k] || k >= nuc - p->tail)
				TH_LOG("%s: user copy %d of %d made the call fail with EFAULT after it took effect: only the last %d may",
				       name, k + 1, nuc, p->tail);
		}
		/* One per entry: the write-back of each SEND entry. */
		if (p->batch)
			EXPECT_EQ(p->entry_tail ? p->batch : 0, entry_effects)
				TH_LOG("%s: %d user copies failed an entry after it took effect",
				       name, entry_effects);
		/* The header's write-back, last: the count, nothing lost. */
		if (p->batch)
			EXPECT_TRUE(unwritten == 1 && unwritten_at == nuc)
				TH_LOG("%s: %d user copies (the last at copy %d of %d) returned the count with the header unwritten: exactly the last one must",
				       name, unwritten, unwritten_at, nuc);
		/* the summary counts the fail-nth sweep */
		memcpy(w->count, a->count, sizeof(w->count));
		memcpy(w->clean_err, a->clean_err, sizeof(w->clean_err));
		free(a);
	}

	snprintf(mid_buf, sizeof(mid_buf), ", %d did part of it (%s)",
		 w->count[C_MID], p->mid_what ?: "");
	if (p->batch)
		snprintf(mid_buf, sizeof(mid_buf),
			 ", %d stopped the batch at an entry, %d failed an entry after it took effect, %d returned the count with the header unwritten",
			 w->count[C_PARTIAL], w->count[C_ENTRY_EFFECT],
			 w->count[C_UNWRITTEN]);
	if (p->alt_bg_ret)
		snprintf(mid_buf, sizeof(mid_buf),
			 ", %d failed its caller too (%s)", w->count[C_ALT],
			 errname(-p->alt_bg_ret));
	ksft_print_msg("%s: %d-%d fault sites: %d failed with nothing done (ENOMEM %d, EFAULT %d, other %d), %d succeeded anyway, %d took effect then EFAULT at the write-back%s; %d user copies (%llu ms)\n",
		       name, min_sites, max_sites, w->count[C_CLEAN],
		       w->clean_err[0], w->clean_err[1], w->clean_err[2],
		       w->count[C_ANYWAY], w->count[C_EFFECT],
		       p->mid || p->alt_bg_ret || p->batch ? mid_buf : "", nuc,
		       (unsigned long long)(mbox_now_ns() - start) / 1000000);
	if (getenv("FAULT_VERBOSE"))
		ksft_print_msg("%s: ms in setup %llu, op %llu, settle %llu, list %llu, quota %llu, peer %llu, drain %llu, finish %llu\n",
			       name, phase_ns[0] / 1000000, phase_ns[1] / 1000000,
			       phase_ns[2] / 1000000, phase_ns[3] / 1000000,
			       phase_ns[4] / 1000000, phase_ns[5] / 1000000,
			       phase_ns[6] / 1000000, phase_ns[7] / 1000000);
out:
	free(w);
	free(run);
}

/* ---- the paths ---------------------------------------------------------- */

#define ERRS(...)	{ __VA_ARGS__ }
#define FAULTS		ERRS(ENOMEM, EFAULT)

/* VERSION */

static int version_setup(struct fctx *c)
{
	TRY(c, ep_open(c, 0));
	c->a.version.size = sizeof(c->a.version);
	return 0;
}

static int version_op(struct fctx *c)
{
	return mbox_ioctl(c->ep[0], MBOX_IOC_VERSION, &c->a.version);
}

static const struct fpath path_version = {
	.setup = version_setup, .op = version_op,
	.fail_errs = ERRS(EFAULT), .tail = 1,
	.compat = true,
};

/* CREATE */

static int create_setup(struct fctx *c, const char *name, __u32 flags,
			__u32 capacity, __u32 policy, __u32 msg_size,
			__u32 max_msg_size, __u32 mode)
{
	TRY(c, ep_open(c, 0));
	c->a.create = (struct mbox_create) {
		.size = sizeof(c->a.create),
		.flags = flags,
		.name = mbox_ptr(name),
		.capacity = capacity,
		.max_msg_size = max_msg_size,
		.msg_size = msg_size,
		.mode = mode,
		.policy = policy,
	};
	return 0;
}

static int create_op(struct fctx *c)
{
	return mbox_ioctl(c->ep[0], MBOX_IOC_CREATE, &c->a.create);
}

static int create_anon_setup(struct fctx *c)
{
	return create_setup(c, NULL, 0, 4, MBOX_POLICY_SHARED, 0, 0, 0600);
}

static int create_named_system_setup(struct fctx *c)
{
	return create_setup(c, fname(c, "sys"), MBOX_CREATE_SYSTEM,
			    MBOX_UNBOUNDED, MBOX_POLICY_EXCLUSIVE, 0, 0, 0644);
}

static int create_named_pair_setup(struct fctx *c)
{
	return create_setup(c, fname(c, "pair"), 0, 0, MBOX_POLICY_PAIR, 16,
			    64, 0660);
}

/* (.tail 0: a failed write-back destroys the mailbox: "before".) */
static const struct fpath path_create_anon = {
	.setup = create_anon_setup,
	.op = create_op, .fail_errs = FAULTS,
};

static const struct fpath path_create_system = {
	.setup = create_named_system_setup, .op = create_op,
	.fail_errs = FAULTS,
	.compat = true,
};

static const struct fpath path_create_pair = {
	.setup = create_named_pair_setup, .op = create_op,
	.fail_errs = FAULTS,
};

/* OPEN */

static int open_setup(struct fctx *c, bool by_name)
{
	const char *name = fname(c, "open");

	TRY(c, ep_open(c, 0));
	TRY(c, ep_open(c, 1));
	TRY(c, mk(c, 0, 0, name, MBOX_CREATE_SYSTEM, 4, 0666));
	TRY(c, put(c, 0, 0, "queued", 0));
	c->a.open = (struct mbox_open) {
		.size = sizeof(c->a.open),
		.flags = MBOX_OPEN_SEND | MBOX_OPEN_RECV,
		.id = by_name ? 0 : c->id[0],
		.name = by_name ? mbox_ptr(name) : 0,
	};
	return 0;
}

static int open_id_setup(struct fctx *c)
{
	return open_setup(c, false);
}

static int open_name_setup(struct fctx *c)
{
	return open_setup(c, true);
}

static int open_op(struct fctx *c)
{
	return mbox_ioctl(c->ep[1], MBOX_IOC_OPEN, &c->a.open);
}

/* (.tail 0: a failed write-back closes it again: "before".) */
static const struct fpath path_open_id = {
	.setup = open_id_setup, .op = open_op,
	.fail_errs = FAULTS,
};

static const struct fpath path_open_name = {
	.setup = open_name_setup, .op = open_op,
	.fail_errs = FAULTS,
	.compat = true,
};

/* CLOSE, DESTROY, SET */

static int close_setup(struct fctx *c)
{
	TRY(c, ep_open(c, 0));
	TRY(c, ep_open(c, 1));
	TRY(c, mk(c, 0, 0, NULL, MBOX_CREATE_SYSTEM, 4, 0666));
	TRY(c, mbox_open_id(c->ep[1], c->id[0], MBOX_OPEN_SEND | MBOX_OPEN_RECV));
	TRY(c, put(c, 1, 0, "queued", 0));
	c->a.mid = (struct mbox_id) { .size = sizeof(c->a.mid), .id = c->id[0] };
	return 0;
}

static int close_op(struct fctx *c)
{
	return mbox_ioctl(c->ep[1], MBOX_IOC_CLOSE, &c->a.mid);
}

static const struct fpath path_close = {
	.setup = close_setup, .op = close_op,
	.fail_errs = ERRS(EFAULT),
};

/* The owning endpoint closes a process-owned mailbox: it is destroyed. */
static int close_owner_setup(struct fctx *c)
{
	TRY(c, ep_open(c, 0));
	TRY(c, ep_open(c, 1));
	TRY(c, mk(c, 0, 0, NULL, 0, 4, 0622));
	TRY(c, mbox_open_id(c->ep[1], c->id[0], MBOX_OPEN_SEND));
	TRY(c, put(c, 0, 0, "one", 0));
	TRY(c, put(c, 1, 0, "two", 3));
	c->a.mid = (struct mbox_id) { .size = sizeof(c->a.mid), .id = c->id[0] };
	return 0;
}

static int close_owner_op(struct fctx *c)
{
	return mbox_ioctl(c->ep[0], MBOX_IOC_CLOSE, &c->a.mid);
}

static const struct fpath path_close_owner = {
	.setup = close_owner_setup,
	.op = close_owner_op, .fail_errs = ERRS(EFAULT),
};

/* DESTROY of a full mailbox with a sender blocked on it. */
static int destroy_setup(struct fctx *c)
{
	TRY(c, ep_open(c, 0));
	TRY(c, mk(c, 0, 0, fname(c, "destroy"), MBOX_CREATE_SYSTEM, 2, 0600));
	TRY(c, put(c, 0, 0, "one", 0));
	TRY(c, put(c, 0, 0, "two", 1));
	TRY(c, bg_start(c, 0, BG_SEND, c->ep[0], c->id[0], "blocked", true));
	c->a.mid = (struct mbox_id) { .size = sizeof(c->a.mid), .id = c->id[0] };
	return 0;
}

static int destroy_op(struct fctx *c)
{
	return mbox_ioctl(c->ep[0], MBOX_IOC_DESTROY, &c->a.mid);
}

static const struct fpath path_destroy = {
	.setup = destroy_setup, .op = destroy_op, .fail_errs = ERRS(EFAULT),
};

static int set_setup(struct fctx *c, __u32 flags)
{
	TRY(c, ep_open(c, 0));
	TRY(c, mk(c, 0, 0, NULL, MBOX_CREATE_SYSTEM, 4, 0600));
	c->a.set = (struct mbox_set) {
		.size = sizeof(c->a.set),
		.flags = flags,
		.id = c->id[0],
		.uid = MBOX_OTHER_UID,
		.gid = MBOX_OTHER_UID,
		.mode = 0666,
	};
	return 0;
}

static int set_mode_setup(struct fctx *c)
{
	return set_setup(c, MBOX_SET_MODE);
}

static int set_owner_setup(struct fctx *c)
{
	return set_setup(c, MBOX_SET_UID | MBOX_SET_GID);
}

static int set_op(struct fctx *c)
{
	return mbox_ioctl(c->ep[0], MBOX_IOC_SET, &c->a.set);
}

static const struct fpath path_set_mode = {
	.setup = set_mode_setup, .op = set_op,
	.fail_errs = ERRS(EFAULT),
};

static const struct fpath path_set_owner = {
	.setup = set_owner_setup, .op = set_op,
	.fail_errs = ERRS(EFAULT),
};

/* STAT */

static int stat_setup_flags(struct fctx *c, __u32 flags)
{
	TRY(c, ep_open(c, 0));
	TRY(c, mk(c, 0, 0, fname(c, "stat"), MBOX_CREATE_SYSTEM, 4, 0600));
	TRY(c, put(c, 0, 0, "queued", 0));
	c->a.stat = (struct mbox_stat) {
		.size = sizeof(c->a.stat),
		.flags = flags,
		.id = flags ? c->mark + 1 : c->id[0],
		.name = mbox_ptr(c->rb),
		.name_len = sizeof(c->rb),
	};
	return 0;
}

static int stat_setup(struct fctx *c)
{
	return stat_setup_flags(c, 0);
}

static int stat_next_setup(struct fctx *c)
{
	return stat_setup_flags(c, MBOX_STAT_NEXT);
}

static int stat_op(struct fctx *c)
{
	return mbox_ioctl(c->ep[0], MBOX_IOC_STAT, &c->a.stat);
}

static const struct fpath path_stat = {
	.setup = stat_setup, .op = stat_op,
	.fail_errs = ERRS(EFAULT), .tail = 1,
	.compat = true,
};

static const struct fpath path_stat_next = {
	.setup = stat_next_setup, .op = stat_op,
	.fail_errs = ERRS(EFAULT), .tail = 1,
};

/* SEND to a mailbox */

static void send_arg(struct fctx *c, __u32 to, const void *buf, __u32 len,
		     __u32 prio, __u32 flags)
{
	mbox_send_init(&c->a.send, to, buf, len, prio, flags);
}

static int send_op0(struct fctx *c)
{
	return mbox_ioctl(c->ep[0], MBOX_IOC_SEND, &c->a.send);
}

static int send_op1(struct fctx *c)
{
	return mbox_ioctl(c->ep[1], MBOX_IOC_SEND, &c->a.send);
}

static int send_async_setup(struct fctx *c)
{
	TRY(c, ep_open(c, 0));
	TRY(c, mk(c, 0, 0, NULL, MBOX_CREATE_SYSTEM, 8, 0600));
	TRY(c, put(c, 0, 0, "first", 0));
	TRY(c, put(c, 0, 0, "second", 0));
	send_arg(c, c->id[0], "payload", 7, 0, 0);
	return 0;
}

static int send_prio_setup(struct fctx *c)
{
	TRY(c, ep_open(c, 0));
	TRY(c, mk(c, 0, 0, NULL, MBOX_CREATE_SYSTEM, 8, 0600));
	TRY(c, put(c, 0, 0, "low", 0));
	TRY(c, put(c, 0, 0, "high", 9));
	send_arg(c, c->id[0], "middle", 6, 5, 0);
	return 0;
}

/* A process-owned mailbox: endpoint 0 receives, endpoint 1 sends. */
static int send_to_receiver_setup(struct fctx *c, __u32 capacity, __u32 flags)
{
	TRY(c, ep_open(c, 0));
	TRY(c, ep_open(c, 1));
	TRY(c, mk(c, 0, 0, NULL, 0, capacity, 0622));
	TRY(c, mbox_open_id(c->ep[1], c->id[0], MBOX_OPEN_SEND));
	TRY(c, bg_start(c, 0, BG_RECV, c->ep[0], c->id[0], NULL, true));
	send_arg(c, c->id[0], "to a waiting receiver", 21, 0, flags);
	return 0;
}

static int send_sync_setup(struct fctx *c)
{
	return send_to_receiver_setup(c, 4, MBOX_SEND_SYNC);
}

static int send_rendezvous_setup(struct fctx *c)
{
	return send_to_receiver_setup(c, 0, 0);
}

static int send_big_setup(struct fctx *c, __u32 len)
{
	struct mbox_create cr = {
		.flags = MBOX_CREATE_SYSTEM,
		.capacity = 2,
		.max_msg_size = len,
		.mode = 0600,
	};
	__u32 i;

	if (len > param_msg_size)
		TRY(c, mbox_param_set("max_msg_size", len));
	if (!c->big || c->big_len != len) {
		free(c->big);
		c->big = malloc(len);
		if (!c->big)
			return -ENOMEM;
		c->big_len = len;
		for (i = 0; i < len; i++)
			c->big[i] = i * 7 + (i >> 12);
	}
	TRY(c, ep_open(c, 0));
	TRY(c, mbox_create_ex(c->ep[0], &cr, &c->id[0]));
	TRY(c, put(c, 0, 0, "small", 0));
	send_arg(c, c->id[0], c->big, len, 1, 0);
	return 0;
}

static int send_large_setup(struct fctx *c)
{
	return send_big_setup(c, FN_LARGE);
}

static int send_huge_setup(struct fctx *c)
{
	return send_big_setup(c, FN_HUGE);
}

static const struct fpath path_send = {
	.setup = send_async_setup, .op = send_op0,
	.fail_errs = FAULTS, .tail = 1,
	.compat = true,
};

static const struct fpath path_send_prio = {
	.setup = send_prio_setup, .op = send_op0,
	.fail_errs = FAULTS, .tail = 1,
};

static const struct fpath path_send_sync = {
	.setup = send_sync_setup,
	.op = send_op1, .fail_errs = FAULTS, .tail = 1,
};

static const struct fpath path_send_rendezvous = {
	.setup = send_rendezvous_setup, .op = send_op1,
	.fail_errs = FAULTS, .tail = 1,
};

static const struct fpath path_send_large = {
	.setup = send_large_setup,
	.op = send_op0, .fail_errs = FAULTS, .tail = 1,
	.rbuf_size = FN_LARGE,
};

static const struct fpath path_send_huge = {
	.setup = send_huge_setup, .op = send_op0,
	.fail_errs = FAULTS, .tail = 1, .rbuf_size = FN_HUGE,
};

/* SEND to a process */

/* Direct receiving on endpoint 0 (so links show on both sides), a peer. */
static int direct_pair_setup(struct fctx *c)
{
	TRY(c, ep_open(c, 0));
	TRY(c, mbox_direct_enable(c->ep[0], MBOX_DIRECT_ANYONE, 8, 0, 0, NULL));
	TRY(c, peer_start(c));
	return 0;
}

static int send_direct_first_setup(struct fctx *c)
{
	TRY(c, direct_pair_setup(c));
	send_arg(c, c->peer.pid, "first direct", 12, 2, 0);
	c->a.send.addr = MBOX_ADDR_PID;
	return 0;
}

static int send_direct_pidfd_setup(struct fctx *c)
{
	TRY(c, direct_pair_setup(c));
	TRY(c, mbox_send_direct(c->ep[0], MBOX_ADDR_PID, c->peer.pid, "link",
				4, 0, MBOX_NONBLOCK, 0, NULL));
	send_arg(c, c->peer.pidfd, "by pidfd", 8, 1, 0);
	c->a.send.addr = MBOX_ADDR_PIDFD;
	return 0;
}

static const struct fpath path_send_direct_first = {
	.setup = send_direct_first_setup, .op = send_op0,
	.fail_errs = FAULTS, .tail = 1,
	.compat = true,
};

static const struct fpath path_send_direct_pidfd = {
	.setup = send_direct_pidfd_setup, .op = send_op0,
	.fail_errs = FAULTS, .tail = 1,
};

/* RECV */

static int recv_op0(struct fctx *c)
{
	return mbox_ioctl(c->ep[0], MBOX_IOC_RECV, &c->a.recv);
}

static int recv_setup(struct fctx *c)
{
	TRY(c, ep_open(c, 0));
	TRY(c, mk(c, 0, 0, NULL, 0, 4, 0600));
	TRY(c, put(c, 0, 0, "second", 0));
	TRY(c, put(c, 0, 0, "first", 1));
	mbox_recv_init(&c->a.recv, c->id[0], c->rb, sizeof(c->rb), 0);
	return 0;
}

static int recv_from_setup(struct fctx *c)
{
	TRY(c, ep_open(c, 0));
	TRY(c, mk(c, 0, 0, NULL, MBOX_CREATE_SYSTEM, 8, 0666));
	TRY(c, peer_start(c));
	c->sh->to = c->id[0];
	TRY(c, peer_cmd(c, 'M'));
	TRY(c, put(c, 0, 0, "mine", 0));
	mbox_recv_init(&c->a.recv, c->id[0], c->rb, sizeof(c->rb),
		       MBOX_RECV_FROM);
	c->a.recv.from_pid = getpid();
	return 0;
}

static int recv_small_setup(struct fctx *c)
{
	TRY(c, ep_open(c, 0));
	TRY(c, mk(c, 0, 0, NULL, 0, 4, 0600));
	TRY(c, put(c, 0, 0, "longer than the buffer", 0));
	mbox_recv_init(&c->a.recv, c->id[0], c->rb, 4, 0);
	return 0;
}

/* A receiver that sleeps until a helper hands it a message. */
static int recv_blocking_setup(struct fctx *c)
{
	TRY(c, ep_open(c, 0));
	TRY(c, mk(c, 0, 0, NULL, 0, 4, 0600));
	TRY(c, bg_start(c, 0, BG_SEND_WHEN_BLOCKED, c->ep[0], c->id[0],
			"handed off", false));
	mbox_recv_init(&c->a.recv, c->id[0], c->rb, sizeof(c->rb), 0);
	return 0;
}

/* The same receive into a buffer that faults: the message goes back. */
static int recv_blocking_mid(struct fctx *c)
{
	void *bad = mbox_fault_ptr();

	if (!bad)
		return -ENOMEM;
	c->a.recv.buf = mbox_ptr(bad);
	return recv_op0(c);
}

static const struct fpath path_recv = {
	.setup = recv_setup, .op = recv_op0,
	.fail_errs = ERRS(EFAULT),
	.compat = true,
};

static const struct fpath path_recv_from = {
	.setup = recv_from_setup, .op = recv_op0,
	.fail_errs = ERRS(EFAULT),
};

static const struct fpath path_recv_small = {
	.setup = recv_small_setup,
	.op = recv_op0, .fail_errs = ERRS(EFAULT),
	.done_ret = -EMSGSIZE,
};

static const struct fpath path_recv_blocking = {
	.setup = recv_blocking_setup,
	.op = recv_op0, .mid = recv_blocking_mid,
	.fail_errs = ERRS(EFAULT), .mid_errs = ERRS(EFAULT),
	.mid_what = "the message was handed over, then put back",
};

static int recv_direct_setup(struct fctx *c, bool pidfd)
{
	TRY(c, direct_pair_setup(c));
	c->sh->to = getpid();
	c->sh->n = 2;
	TRY(c, peer_cmd(c, 'S'));
	mbox_recv_direct_init(&c->a.recv, pidfd ? MBOX_ADDR_PIDFD : MBOX_ADDR_PID,
			      pidfd ? c->peer.pidfd : 0, c->rb, sizeof(c->rb), 0);
	return 0;
}

static int recv_direct_any_setup(struct fctx *c)
{
	return recv_direct_setup(c, false);
}

static int recv_direct_pidfd_setup(struct fctx *c)
{
	return recv_direct_setup(c, true);
}

static const struct fpath path_recv_direct_any = {
	.setup = recv_direct_any_setup,
	.op = recv_op0, .fail_errs = ERRS(EFAULT),
};

static const struct fpath path_recv_direct_pidfd = {
	.setup = recv_direct_pidfd_setup,
	.op = recv_op0, .fail_errs = ERRS(EFAULT),
};

/* DIRECT */

static int direct_op(struct fctx *c)
{
	return mbox_ioctl(c->ep[0], MBOX_IOC_DIRECT, &c->a.direct);
}

static int direct_enable_setup(struct fctx *c)
{
	TRY(c, ep_open(c, 0));
	c->a.direct = (struct mbox_direct) {
		.size = sizeof(c->a.direct),
		.flags = MBOX_DIRECT_ANYONE,
		.capacity = 4,
	};
	return 0;
}

static int direct_disable_setup(struct fctx *c)
{
	TRY(c, direct_pair_setup(c));
	c->sh->to = getpid();
	c->sh->n = 1;
	TRY(c, peer_cmd(c, 'S'));
	c->a.direct = (struct mbox_direct) {
		.size = sizeof(c->a.direct),
		.flags = MBOX_DIRECT_DISABLE,
	};
	return 0;
}

static int direct_query_setup(struct fctx *c)
{
	TRY(c, direct_pair_setup(c));
	c->sh->to = getpid();
	c->sh->n = 1;
	TRY(c, peer_cmd(c, 'S'));
	c->a.direct = (struct mbox_direct) {
		.size = sizeof(c->a.direct),
		.flags = MBOX_DIRECT_QUERY,
	};
	return 0;
}

/* (.tail 0: a failed write-back disables it again: "before".) */
static const struct fpath path_direct_enable = {
	.setup = direct_enable_setup,
	.op = direct_op, .fail_errs = FAULTS,
};

static const struct fpath path_direct_disable = {
	.setup = direct_disable_setup, .op = direct_op,
	.fail_errs = ERRS(EFAULT), .tail = 1,
};

static const struct fpath path_direct_query = {
	.setup = direct_query_setup, .op = direct_op,
	.fail_errs = ERRS(EFAULT), .tail = 1,
};

/* CALL, REPLY, and the RECV of a call's request */

/* Endpoint 0 owns a mailbox endpoint 1 may send to. */
static int call_pair_setup(struct fctx *c)
{
	TRY(c, ep_open(c, 0));
	TRY(c, ep_open(c, 1));
	TRY(c, mk(c, 0, 0, NULL, 0, 4, 0622));
	TRY(c, mbox_open_id(c->ep[1], c->id[0], MBOX_OPEN_SEND));
	return 0;
}

static int call_setup(struct fctx *c)
{
	TRY(c, call_pair_setup(c));
	TRY(c, bg_start(c, 0, BG_SERVE, c->ep[0], c->id[0], NULL, true));
	mbox_call_init(&c->a.call, MBOX_ADDR_MAILBOX, c->id[0], "call", 4,
		       c->rb, sizeof(c->rb), 0);
	return 0;
}

static int call_op(struct fctx *c)
{
	return mbox_ioctl(c->ep[1], MBOX_IOC_CALL, &c->a.call);
}

static const struct fpath path_call = {
	.setup = call_setup, .op = call_op,
	.fail_errs = FAULTS, .tail = 2,
	.compat = true,
};

/* A caller (helper 0) waits for the reply to the request we received. */
static int reply_setup(struct fctx *c)
{
	struct mbox_recv r;

	TRY(c, call_pair_setup(c));
	TRY(c, bg_start(c, 0, BG_CALL, c->ep[1], c->id[0], NULL, true));
	mbox_recv_init(&r, c->id[0], c->rb, sizeof(c->rb), MBOX_NONBLOCK);
	TRY(c, mbox_recv_ex(c->ep[0], &r));
	c->token = r.token;
	mbox_reply_init(&c->a.reply, c->token, "answer", 6);
	return 0;
}

static int reply_op(struct fctx *c)
{
	return mbox_ioctl(c->ep[0], MBOX_IOC_REPLY, &c->a.reply);
}

/* Whether the token is still good: a late reply with it. */
static void reply_extra(struct fctx *c, struct fsnap *s)
{
	s->x[0] = mbox_reply(c->ep[0], c->token, "late", 4);
}

static const struct fpath path_reply = {
	.setup = reply_setup, .op = reply_op,
	.extra = reply_extra, .fail_errs = FAULTS,
};

static int reply_recv_setup(struct fctx *c)
{
	TRY(c, reply_setup(c));
	TRY(c, put(c, 0, 0, "next", 0));
	mbox_recv_init(&c->r2, c->id[0], c->rb, sizeof(c->rb), MBOX_NONBLOCK);
	c->a.reply.flags = MBOX_REPLY_RECV;
	c->a.reply.recv = mbox_ptr(&c->r2);
	return 0;
}

/* The reply delivered, the receive not made. */
static int reply_recv_mid(struct fctx *c)
{
	int ret = mbox_reply(c->ep[0], c->token, "answer", 6);

	return ret ?: -EFAULT;
}

static const struct fpath path_reply_recv = {
	.setup = reply_recv_setup,
	.op = reply_op, .mid = reply_recv_mid, .extra = reply_extra,
	.fail_errs = FAULTS, .mid_errs = ERRS(EFAULT, ENOMEM),
	.mid_what = "the reply delivered, nothing received",
	.compat = true,
};

static int recv_call_setup(struct fctx *c)
{
	TRY(c, call_pair_setup(c));
	TRY(c, bg_start(c, 0, BG_CALL, c->ep[1], c->id[0], NULL, true));
	mbox_recv_init(&c->a.recv, c->id[0], c->rb, sizeof(c->rb),
		       MBOX_NONBLOCK);
	return 0;
}

static const struct fpath path_recv_call = {
	.setup = recv_call_setup, .op = recv_op0,
	.fail_errs = ERRS(EFAULT, ENOMEM),
};

/* SEND_BATCH and RECV_BATCH */

static void batch_arg(struct fctx *c, const void *entries, __u32 count,
		      __u32 entry_size)
{
	c->a.batch = (struct mbox_batch) {
		.size = sizeof(c->a.batch),
		.entries = mbox_ptr(entries),
		.count = count,
		.entry_size = entry_size,
		.done = FN_UNWRITTEN,
		.error = FN_UNWRITTEN,
	};
}

static int send_batch_op0(struct fctx *c)
{
	return mbox_ioctl(c->ep[0], MBOX_IOC_SEND_BATCH, &c->a.batch);
}

static int recv_batch_op0(struct fctx *c)
{
	return mbox_ioctl(c->ep[0], MBOX_IOC_RECV_BATCH, &c->a.batch);
}

/* Three sends, of sizes and priorities of their own, after two queued. */
static int send_batch_setup(struct fctx *c)
{
	static const char *const texts[] = { "batch zero", "one", "batch 2" };
	static const __u32 prio[] = { 0, 5, 1 };
	int i;

	TRY(c, ep_open(c, 0));
	TRY(c, mk(c, 0, 0, NULL, MBOX_CREATE_SYSTEM, 8, 0600));
	TRY(c, put(c, 0, 0, "first", 0));
	TRY(c, put(c, 0, 0, "second", 3));
	for (i = 0; i < 3; i++)
		mbox_send_init(&c->bs[i], c->id[0], texts[i], strlen(texts[i]),
			       prio[i], 0);
	batch_arg(c, c->bs, 3, sizeof(c->bs[0]));
	return 0;
}

/* To the peer by pid (its first message: the link), a mailbox, by pidfd. */
static int send_batch_mixed_setup(struct fctx *c)
{
	TRY(c, direct_pair_setup(c));
	TRY(c, mk(c, 0, 0, NULL, 0, 4, 0600));
	mbox_send_init(&c->bs[0], c->peer.pid, "to the peer", 11, 0, 0);
	c->bs[0].addr = MBOX_ADDR_PID;
	mbox_send_init(&c->bs[1], c->id[0], "to a mailbox", 12, 2, 0);
	mbox_send_init(&c->bs[2], c->peer.pidfd, "by pidfd", 8, 1, 0);
	c->bs[2].addr = MBOX_ADDR_PIDFD;
	batch_arg(c, c->bs, 3, sizeof(c->bs[0]));
	return 0;
}

/*
 * What the receive entries done got (x[0] of them, x[1] a hash of their
 * contents, priorities, flags and senders): received once and in order,
 * the queues say the rest.
 */
static void recv_batch_extra(struct fctx *c, struct fsnap *s)
{
	__u32 i, n = c->op_ret > 0 ? c->op_ret : 0, h = 2166136261u;

	for (i = 0; i < n && i < FN_MAX_BATCH; i++) {
		const struct mbox_recv *r = &c->br[i];

		h = (h ^ fnv(c->bbuf[i], r->len < 64 ? r->len : 64)) *
		    16777619u;
		h = (h ^ r->priority ^ r->msg_flags << 8 ^ !!r->token << 16 ^
		     sender_of(r->sender_pid, getpid(), c->peer.pid) << 20) *
		    16777619u;
	}
	s->x[0] = n;
	s->x[1] = h;
}

/* Three of four messages queued. */
static int recv_batch_setup(struct fctx *c)
{
	int i;

	TRY(c, ep_open(c, 0));
	TRY(c, mk(c, 0, 0, NULL, 0, 8, 0600));
	TRY(c, put(c, 0, 0, "low", 0));
	TRY(c, put(c, 0, 0, "high", 7));
	TRY(c, put(c, 0, 0, "middle", 3));
	TRY(c, put(c, 0, 0, "left", 0));
	for (i = 0; i < 3; i++)
		mbox_recv_init(&c->br[i], c->id[0], c->bbuf[i],
			       sizeof(c->bbuf[i]), 0);
	batch_arg(c, c->br, 3, sizeof(c->br[0]));
	return 0;
}

/*
 * Direct from anyone, the mailbox, direct by pidfd, and one more that
 * finds nothing: done 3, EAGAIN.
 */
static int recv_batch_mixed_setup(struct fctx *c)
{
	int i;

	TRY(c, direct_pair_setup(c));
	TRY(c, mk(c, 0, 0, NULL, 0, 4, 0600));
	TRY(c, put(c, 0, 0, "boxed", 0));
	c->sh->to = getpid();
	c->sh->n = 2;
	TRY(c, peer_cmd(c, 'S'));
	for (i = 0; i < 4; i++)
		mbox_recv_direct_init(&c->br[i], MBOX_ADDR_PID, 0, c->bbuf[i],
				      sizeof(c->bbuf[i]), 0);
	c->br[1].addr = MBOX_ADDR_MAILBOX;
	c->br[1].from = c->id[0];
	c->br[2].addr = MBOX_ADDR_PIDFD;
	c->br[2].from = c->peer.pidfd;
	batch_arg(c, c->br, 4, sizeof(c->br[0]));
	return 0;
}

/* A message, then a call's request (its token recorded) from helper 0. */
static int recv_batch_call_setup(struct fctx *c)
{
	int i;

	TRY(c, call_pair_setup(c));
	TRY(c, put(c, 1, 0, "plain", 1));
	TRY(c, bg_start(c, 0, BG_CALL, c->ep[1], c->id[0], NULL, true));
	for (i = 0; i < 2; i++)
		mbox_recv_init(&c->br[i], c->id[0], c->bbuf[i],
			       sizeof(c->bbuf[i]), 0);
	batch_arg(c, c->br, 2, sizeof(c->br[0]));
	return 0;
}

/*
 * (.tail 0: a batch never ends "done" with EFAULT: when its header
 * cannot be written back, it returns its count.)
 */
static const struct fpath path_send_batch = {
	.setup = send_batch_setup, .op = send_batch_op0,
	.fail_errs = FAULTS, .batch = 3, .done_ret = 3, .entry_tail = true,
	.compat = true,
};

static const struct fpath path_send_batch_mixed = {
	.setup = send_batch_mixed_setup, .op = send_batch_op0,
	.fail_errs = FAULTS, .batch = 3, .done_ret = 3, .entry_tail = true,
};

static const struct fpath path_recv_batch = {
	.setup = recv_batch_setup, .op = recv_batch_op0,
	.extra = recv_batch_extra, .fail_errs = ERRS(EFAULT), .batch = 3,
	.done_ret = 3,
};

/* The last entry finds nothing: 3 returned, EAGAIN. */
static const struct fpath path_recv_batch_mixed = {
	.setup = recv_batch_mixed_setup, .op = recv_batch_op0,
	.extra = recv_batch_extra, .fail_errs = ERRS(EFAULT), .batch = 4,
	.done_ret = 3, .compat = true,
};

static const struct fpath path_recv_batch_call = {
	.setup = recv_batch_call_setup, .op = recv_batch_op0,
	.extra = recv_batch_extra, .fail_errs = ERRS(EFAULT, ENOMEM),
	.batch = 2, .done_ret = 2,
};

/*
 * The RECV of a call's request, with every allocation of an xarray node
 * by this thread failing (failslab with cache-filter on radix_tree_node,
 * task-filter and make-it-fail): the server cannot record the call, and
 * its receive fails with the request still queued and the caller still
 * waiting.  One fault at a time cannot do it: __xa_alloc() tries again,
 * outside its lock, after its first allocation failed.  The server holds
 * one unanswered call already, received before: the slot of a server's
 * only call is the xarray's head and takes no node, the second one's
 * does.
 */

static struct fknob nomem_knobs[] = {
	/* the filters first: nothing else may fail meanwhile */
	{ .path = "failslab/task-filter", .val = "Y", .required = true },
	{ .path = "failslab/cache-filter", .val = "Y", .required = true },
	{ .path = "failslab/space", .val = "0", .required = true },
	{ .path = "failslab/interval", .val = "1", .required = true },
	{ .path = "failslab/times", .val = "-1", .required = true },
	{ .path = "failslab/probability", .val = "100", .required = true },
};

static int make_it_fail_open(struct fctx *c)
{
	c->op_fd = open(MAKE_IT_FAIL, O_WRONLY | O_CLOEXEC);
	return c->op_fd < 0 ? -errno : 0;
}

/* @op, with make-it-fail on around it for the armed call. */
static int armed_op(struct fctx *c, int (*op)(struct fctx *c))
{
	int ret;

	if (!c->armed)
		return op(c);
	if (make_it_fail(c->op_fd, true))
		return -EPROTO;
	ret = op(c);
	if (make_it_fail(c->op_fd, false))
		return -EPROTO;
	return ret;
}

static int recv_call_nomem_setup(struct fctx *c)
{
	struct mbox_recv r;

	TRY(c, call_pair_setup(c));
	/* Helper 0's call, received and left unanswered: slot 0 taken. */
	TRY(c, bg_start(c, 0, BG_CALL, c->ep[1], c->id[0], NULL, true));
	mbox_recv_init(&r, c->id[0], c->rb, sizeof(c->rb), MBOX_NONBLOCK);
	TRY(c, mbox_recv_ex(c->ep[0], &r));
	if (!(r.msg_flags & MBOX_MSG_CALL) || !r.token)
		return -EPROTO;
	c->token = r.token;
	/* Helper 1's, the one the armed RECV is to take. */
	TRY(c, bg_start(c, 1, BG_CALL, c->ep[1], c->id[0], NULL, true));
	mbox_recv_init(&c->a.recv, c->id[0], c->rb, sizeof(c->rb),
		       MBOX_NONBLOCK);
	return make_it_fail_open(c);
}

static int recv_call_nomem_op(struct fctx *c)
{
	return armed_op(c, recv_op0);
}

static const struct fpath path_recv_call_nomem = {
	.setup = recv_call_nomem_setup, .op = recv_call_nomem_op,
	.fail_errs = ERRS(ENOMEM), .single = true,
	.compat = true,
};

/*
 * A large message when no page can be had: every page allocation of the
 * sending thread fails (fail_page_alloc with task-filter and
 * make-it-fail), so kvmalloc() falls back to vmalloc(), which fails too
 * (for 4 MiB, after its huge-page attempt and its retry with small
 * pages): ENOMEM, nothing sent.  One fault at a time cannot get there:
 * each fallback succeeds.
 */
static struct fknob page_knobs[] = {
	/* the filter first: nothing else may fail meanwhile */
	{ .path = "fail_page_alloc/task-filter", .val = "Y", .required = true },
	{ .path = "fail_page_alloc/space", .val = "0", .required = true },
	{ .path = "fail_page_alloc/interval", .val = "1", .required = true },
	{ .path = "fail_page_alloc/times", .val = "-1", .required = true },
	{ .path = "fail_page_alloc/probability", .val = "100", .required = true },
};

static int send_large_nopage_setup(struct fctx *c)
{
	TRY(c, send_large_setup(c));
	return make_it_fail_open(c);
}

static int send_huge_nopage_setup(struct fctx *c)
{
	TRY(c, send_huge_setup(c));
	return make_it_fail_open(c);
}

static int send_nopage_op(struct fctx *c)
{
	return armed_op(c, send_op0);
}

static const struct fpath path_send_large_nopage = {
	.setup = send_large_nopage_setup, .op = send_nopage_op,
	.fail_errs = ERRS(ENOMEM), .single = true, .rbuf_size = FN_LARGE,
};

static const struct fpath path_send_huge_nopage = {
	.setup = send_huge_nopage_setup, .op = send_nopage_op,
	.fail_errs = ERRS(ENOMEM), .single = true, .rbuf_size = FN_HUGE,
};

/* open(), poll(), epoll_ctl() */

static int open_dev_setup(struct fctx *c)
{
	return 0;
}

static int open_dev_op(struct fctx *c)
{
	c->op_fd = open(MBOX_DEV_PATH, O_RDWR | O_CLOEXEC);
	return c->op_fd < 0 ? -errno : 0;
}

/* The endpoint works; no fd was left behind by a failed open(). */
static void open_dev_extra(struct fctx *c, struct fsnap *s)
{
	struct mbox_version v = { .size = sizeof(v) };
	int fd;

	s->x[0] = c->op_fd >= 0;
	s->x[1] = c->op_fd >= 0 ? mbox_ioctl(c->op_fd, MBOX_IOC_VERSION, &v) : 1;
	if (c->op_fd >= 0)
		close(c->op_fd);
	c->op_fd = -1;
	fd = fcntl(c->probe_ep, F_DUPFD_CLOEXEC, 0);
	s->x[2] = fd;
	if (fd >= 0)
		close(fd);
}

static const struct fpath path_open_dev = {
	.setup = open_dev_setup, .op = open_dev_op,
	.extra = open_dev_extra, .fail_errs = FAULTS,
};

static int poll_setup(struct fctx *c)
{
	TRY(c, ep_open(c, 0));
	TRY(c, mk(c, 0, 0, NULL, 0, 4, 0600));
	TRY(c, put(c, 0, 0, "readable", 0));
	return 0;
}

static int poll_op(struct fctx *c)
{
	struct pollfd p = { .fd = c->ep[0], .events = POLLIN };
	int ret = poll(&p, 1, MBOX_WAIT_MS);

	if (ret < 0)
		return -errno;
	return ret == 1 && p.revents == POLLIN ? 0 : -EPROTO;
}

static const struct fpath path_poll = {
	.setup = poll_setup, .op = poll_op,
	.fail_errs = FAULTS,
};

static int epoll_setup(struct fctx *c)
{
	TRY(c, ep_open(c, 0));
	TRY(c, mk(c, 0, 0, NULL, 0, 4, 0600));
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	return c->epfd < 0 ? -errno : 0;
}

static int epoll_op(struct fctx *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 7 };

	return epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->ep[0], &ev) ? -errno : 0;
}

/* Registered or not, and whether a message then wakes the epoll. */
static void epoll_extra(struct fctx *c, struct fsnap *s)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 7 };

	s->x[0] = epoll_ctl(c->epfd, EPOLL_CTL_MOD, c->ep[0], &ev) ? -errno : 0;
	s->x[1] = put(c, 0, 0, "wake", 0);
	memset(&ev, 0, sizeof(ev));
	s->x[2] = epoll_wait(c->epfd, &ev, 1, 0);
	s->x[3] = ev.events << 8 | ev.data.u32;
}

static const struct fpath path_epoll = {
	.setup = epoll_setup, .op = epoll_op,
	.extra = epoll_extra, .fail_errs = FAULTS,
};

/* ---- one TEST per path -------------------------------------------------- */

#define FAULT_TEST(p)					\
	TEST_F(fault, p)				\
	{						\
		sweep(_metadata, &self->c, &path_##p);	\
	}

FAULT_TEST(version)
FAULT_TEST(create_anon)
FAULT_TEST(create_system)
FAULT_TEST(create_pair)
FAULT_TEST(open_id)
FAULT_TEST(open_name)
FAULT_TEST(close)
FAULT_TEST(close_owner)
FAULT_TEST(destroy)
FAULT_TEST(set_mode)
FAULT_TEST(set_owner)
FAULT_TEST(stat)
FAULT_TEST(stat_next)
FAULT_TEST(send)
FAULT_TEST(send_prio)
FAULT_TEST(send_sync)
FAULT_TEST(send_rendezvous)
FAULT_TEST(send_large)
FAULT_TEST(send_huge)
FAULT_TEST(send_direct_first)
FAULT_TEST(send_direct_pidfd)
FAULT_TEST(recv)
FAULT_TEST(recv_from)
FAULT_TEST(recv_small)
FAULT_TEST(recv_blocking)
FAULT_TEST(recv_direct_any)
FAULT_TEST(recv_direct_pidfd)
FAULT_TEST(direct_enable)
FAULT_TEST(direct_disable)
FAULT_TEST(direct_query)
FAULT_TEST(call)
FAULT_TEST(reply)
FAULT_TEST(reply_recv)
FAULT_TEST(recv_call)
FAULT_TEST(send_batch)
FAULT_TEST(send_batch_mixed)
FAULT_TEST(recv_batch)
FAULT_TEST(recv_batch_mixed)
FAULT_TEST(recv_batch_call)
TEST_F(fault, recv_call_registration_enomem)
{
	int ret;

	if (access(SLAB_FAIL, F_OK) || access(MAKE_IT_FAIL, F_OK))
		SKIP(return, "no " SLAB_FAIL " or " MAKE_IT_FAIL);
	prepare(_metadata, &self->c);
	ret = knobs_apply(nomem_knobs, MBOX_ARRAY_SIZE(nomem_knobs), NULL);
	ASSERT_EQ(0, ret) TH_LOG("failslab: %s", strerror(-ret));
	ret = file_write(SLAB_FAIL, "1");
	if (!ret)
		sweep(_metadata, &self->c, &path_recv_call_nomem);
	file_write(SLAB_FAIL, "0");
	knobs_undo(nomem_knobs, MBOX_ARRAY_SIZE(nomem_knobs));
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", SLAB_FAIL, strerror(-ret));
}

/* A path of .single under the fault-injection controls @k. */
static void sweep_with(struct __test_metadata *_metadata, struct fctx *c,
		       const struct fpath *p, struct fknob *k, unsigned int nr)
{
	const char *what = "";
	int ret;

	if (access(MAKE_IT_FAIL, F_OK))
		SKIP(return, "no " MAKE_IT_FAIL);
	prepare(_metadata, c);
	ret = knobs_apply(k, nr, &what);
	if (ret == -ENOENT)
		SKIP(return, "no %s%s", DEBUGFS, what);
	ASSERT_EQ(0, ret) TH_LOG("%s%s: %s", DEBUGFS, what, strerror(-ret));
	sweep(_metadata, c, p);
	knobs_undo(k, nr);
}

TEST_F(fault, send_64k_no_pages_enomem)
{
	sweep_with(_metadata, &self->c, &path_send_large_nopage, page_knobs,
		   MBOX_ARRAY_SIZE(page_knobs));
}

TEST_F(fault, send_4m_no_pages_enomem)
{
	sweep_with(_metadata, &self->c, &path_send_huge_nopage, page_knobs,
		   MBOX_ARRAY_SIZE(page_knobs));
}

FAULT_TEST(open_dev)
FAULT_TEST(poll)
FAULT_TEST(epoll)

TEST_HARNESS_MAIN
