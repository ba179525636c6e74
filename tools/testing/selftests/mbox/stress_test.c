// SPDX-License-Identifier: GPL-2.0
/*
 * Conservation under stress: nothing lost, duplicated or corrupted.
 *
 * A controller (the test) runs NODES node processes of THREADS threads
 * each for SECONDS, over BOXES shared system-owned mailboxes, one
 * process-owned mailbox per node and the direct links between nodes.
 * Every thread draws operations at random: sends (asynchronous,
 * synchronous, calls) to a mailbox, to another node's own mailbox, or to a
 * node by pid or pidfd; receives (any, from one sender, too small a buffer,
 * through epoll) answering the calls it gets with a reply or a
 * reply-and-receive (again, without a fault, if the reply failed and left
 * the call owed: a caller without a deadline waits for it); batches of
 * sends (each entry to a destination of its own) and of receives (from
 * several mailboxes, or the node's own mailbox and direct queue), through
 * the raw ioctls and through libmbox; closing and reopening its mailboxes
 * and its endpoint.
 * Each uses a random blocking mode (non-blocking, short or longer
 * timeouts), capacity (0, 1, 4, unbounded) and priority.  Meanwhile the
 * controller destroys and recreates mailboxes, SIGKILLs nodes (closing
 * their endpoints and their own mailboxes while others block on them) and
 * respawns them, and storms the nodes with signals (half with SA_RESTART).
 * Where the kernel has fail-nth (the debug kernel), some operations run
 * with a fault injected at a random allocation or user copy.
 *
 * Bookkeeping: every message gets a global id, a record in a MAP_SHARED
 * log and a header (id, length, target, sender, checksum).  A sender
 * records the outcome of its send; a receiver checks the header, the
 * checksum and the kernel-stamped sender pid, and counts the message
 * received.  At the end the nodes stop sending, drain their queues and
 * exit, the controller drains the mailboxes, and every message must be
 * accounted for exactly once:
 *
 *  - a batch's entries: those it did (its value) are sent (received),
 *    the one that stopped it failed (in doubt if a fault was injected: it
 *    may have failed at its write-back, after its send), those after it
 *    never happened; a batch that failed as a whole failed at its first
 *    entry (that one in doubt if a fault hit); a fault at the header's
 *    write-back, last, leaves done and error unwritten, not the count;
 *  - received once, if its send succeeded; or never, but only if its
 *    target went away with it queued (mailbox destroyed, node killed);
 *  - never received, if its send failed with a documented errno;
 *  - at most once, if the outcome is unknown: its sender was killed in
 *    the send, a call failed after its request may have been taken, or an
 *    injected fault hit the write-back of a send's result (which comes
 *    after the delivery it reports);
 *  - never received twice, never corrupted, never from the wrong sender
 *    or on the wrong queue; a synchronous send names its real receiver.
 *
 * Messages a killed receiver had taken but not yet counted are the only
 * loss allowed: at most one per receive it was inside when killed (a
 * batch's entries, for a batch of receives).  A
 * receive that fails, even by a fault injected in writing its result,
 * leaves its message queued.  Environment: MBOX_STRESS_SECONDS (default 8),
 * MBOX_STRESS_NODES (4), MBOX_STRESS_THREADS (3), MBOX_STRESS_BOXES (4),
 * MBOX_STRESS_SEED (random), MBOX_STRESS_MSGS (log size, 1M),
 * MBOX_STRESS_FAULTS (1: inject where fail-nth exists).  `make stress`
 * runs it for longer on the debug kernel (Documentation/testing.rst).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libmbox_util.h"
#include "kselftest_harness.h"

#define ST_MAX_NODES	16
#define ST_MAX_THREADS	8
#define ST_MAX_BOXES	16
#define ST_MAX_INC	0x3fff		/* incarnations of each kind */
#define ST_TGT_INBOX	0x4000		/* target: a node's direct queue */
#define ST_TGT_OWN	0x8000		/* target: a node's own mailbox */
#define ST_RX_CTL	0xffff		/* received by the controller */
#define ST_MAX_MSG	(64 << 10)	/* largest message sent */
#define ST_DIRECT_MAX	(16 << 10)	/* nodes' direct max_msg_size */
#define ST_MAGIC	0x6d626f78U	/* "mbox" */
#define ST_REPLY_MAGIC	0x72706c79U	/* "rply" */
#define ST_MAX_ERRNO	160
#define ST_MAX_FAILS	16
#define ST_BATCH	8		/* entries of a batch, at most */
#define ST_BATCH_MSG	4096		/* a batched message, at most */
#define ST_UNWRITTEN	0xa5a5a5a5U	/* a batch's done and error, as given */

enum st_state {			/* what a message's sender knows */
	ST_NONE,		/* id taken, not sent yet */
	ST_INFLIGHT,		/* being sent (forever so if killed) */
	ST_OK,			/* the send succeeded */
	ST_FAILED,		/* the send failed: never delivered */
	ST_DOUBT,		/* a call failed or a fault hit the
				 * write-back: delivered at most once */
};

enum st_op { ST_OP_SEND, ST_OP_RECV, ST_OP_CALL, ST_OP_REPLY, ST_OP_OPEN,
	     ST_OP_SEND_BATCH, ST_OP_RECV_BATCH, ST_OP_COUNT };
static const char *const st_op_name[] = { "send", "receive", "call",
					  "reply", "open/stat", "send batch",
					  "receive batch" };

enum st_phase { ST_RUN, ST_QUIESCE, ST_DRAIN };

/* One record per message id, in the shared log. */
struct st_msg {
	uint8_t state;		/* enum st_state */
	uint8_t received;	/* times received (atomic) */
	uint16_t target;	/* box incarnation, or ST_TGT_* | node inc */
	uint16_t rx;		/* node incarnation + 1 that received it */
	uint16_t sync_rx;	/* sync send: node inc + 1 it reported */
};

/* The header at the start of every message and reply. */
struct st_hdr {
	uint32_t magic;
	uint32_t len;
	uint64_t id;
	uint16_t target;
	uint16_t sender;	/* node incarnation */
	uint32_t sum;		/* FNV-1a of everything after the header */
};

struct st_box {			/* one incarnation of a shared mailbox */
	uint32_t id;
	uint32_t capacity;
	int dead;		/* destroyed */
};

struct st_node {		/* one incarnation of a node process */
	pid_t pid;
	uint32_t own_id;	/* its process-owned mailbox, 0 until ready */
	uint32_t own_capacity;
	int dead;		/* killed (set before the kill) */
	int quiesced;		/* threads that stopped sending */
	int in_recv[ST_MAX_THREADS];	/* thread inside a receive */
};

struct st_shared {
	/* set before the nodes start */
	unsigned int nodes, threads, boxes;
	uint64_t seed, max_msgs;
	bool faults;
	/* the controller's, read by all */
	int phase;
	int box_cur[ST_MAX_BOXES];	/* current incarnation of each */
	int node_cur[ST_MAX_NODES];
	int nr_box_inc, nr_node_inc;
	struct st_box box[ST_MAX_INC];
	struct st_node node[ST_MAX_INC];
	/* everyone's, atomic */
	uint64_t next_msg;
	uint64_t ops, injected, pid_reuse, signals;
	uint64_t batches[2], batched[2];	/* send, receive: calls, entries */
	uint64_t unwritten;	/* raw batches whose header was not written */
	uint64_t err[ST_OP_COUNT][ST_MAX_ERRNO];
	uint64_t nr_fail;
	char fail[ST_MAX_FAILS][200];
};

static struct st_shared *S;
static struct st_msg *LOG;

#define ADD(field, n)	__atomic_fetch_add(&(field), (n), __ATOMIC_RELAXED)
#define LOAD(field)	__atomic_load_n(&(field), __ATOMIC_ACQUIRE)
#define STORE(field, v)	__atomic_store_n(&(field), (v), __ATOMIC_RELEASE)

/* Record a broken rule; the first few are kept for the report. */
static void __attribute__((format(printf, 1, 2))) st_fail(const char *fmt, ...)
{
	uint64_t n = ADD(S->nr_fail, 1);
	va_list ap;

	if (n >= ST_MAX_FAILS)
		return;
	va_start(ap, fmt);
	vsnprintf(S->fail[n], sizeof(S->fail[n]), fmt, ap);
	va_end(ap);
}

static uint64_t st_rand(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static unsigned int st_pick(uint64_t *s, unsigned int n)
{
	return st_rand(s) % n;
}

static uint32_t st_sum(const struct st_hdr *h)
{
	const uint8_t *p = (const uint8_t *)(h + 1);
	uint32_t sum = 2166136261U ^ h->magic;
	size_t i;

	sum = (sum ^ (uint32_t)h->id) * 16777619U;
	sum = (sum ^ h->target) * 16777619U;
	sum = (sum ^ h->sender) * 16777619U;
	for (i = 0; i < h->len - sizeof(*h); i++)
		sum = (sum ^ p[i]) * 16777619U;
	return sum;
}

static uint64_t st_env(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

/*
 * Fault injection: /proc/thread-self/fail-nth around one operation.
 * Signals are blocked while it is armed: setting up a signal frame copies
 * to user memory, and a fault injected there is a SIGSEGV.
 */
static int st_fault_arm(int fd, uint64_t *rng)
{
	sigset_t set;
	char n[8];

	if (fd < 0 || st_pick(rng, 40))
		return 0;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	snprintf(n, sizeof(n), "%u", 1 + st_pick(rng, 8));
	if (pwrite(fd, n, strlen(n), 0) > 0)
		return 1;
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	return 0;
}

/*
 * Disarm; whether the fault was injected.  Reading and resetting fail-nth
 * copy to and from user memory, which counts as a fault site too: if the
 * fault was not used up by the operation, it may fire in the read (EFAULT:
 * it was not injected before) or in the write (which then has nothing left
 * to reset).  Either way the count ends at 0.
 */
static bool st_fault_disarm(int fd, int armed)
{
	sigset_t set;
	char v[16] = "";
	bool hit;

	if (!armed)
		return false;
	hit = pread(fd, v, sizeof(v) - 1, 0) > 0 && atoi(v) == 0;
	if (pwrite(fd, "0", 1, 0) != 1 && errno != EFAULT)
		st_fail("cannot reset fail-nth: %s", strerror(errno));
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	if (hit)
		ADD(S->injected, 1);
	return hit;
}

/* Count a result; an errno outside @ok fails the run. */
static void st_result(enum st_op op, int ret, const int *ok, bool injected)
{
	int e = -ret;

	ADD(S->ops, 1);
	if (!ret)
		return;
	ADD(S->err[op][e < ST_MAX_ERRNO ? e : 0], 1);
	for (; *ok; ok++)
		if (e == *ok)
			return;
	/* Documented for every ioctl, expected only when injected. */
	if (injected && (e == EFAULT || e == ENOMEM))
		return;
	st_fail("%s: unexpected %s", st_op_name[op], strerror(e));
}

/*
 * The documented errnos of what the nodes do (Documentation/abi.rst).
 * Mailboxes go away (EIDRM, or EBADF once closed), nodes die (ESRCH,
 * ECONNREFUSED, ECONNRESET; EPIPE for a call), queues fill (EAGAIN,
 * ETIMEDOUT, ENOSPC for an unprivileged user's quota), signals interrupt.
 */
static const int st_send_ok[] = { EIDRM, EBADF, EAGAIN, ETIMEDOUT, EINTR,
	ENOSPC, ESRCH, ECONNREFUSED, ECONNRESET, 0 };
static const int st_recv_ok[] = { EIDRM, EBADF, EAGAIN, ETIMEDOUT, EINTR,
	EMSGSIZE, ESRCH, ECONNRESET, 0 };
static const int st_call_ok[] = { EIDRM, EBADF, EAGAIN, ETIMEDOUT, EINTR,
	ENOSPC, ESRCH, ECONNREFUSED, ECONNRESET, EPIPE, 0 };
static const int st_reply_ok[] = { ENOENT, ECANCELED, ENOSPC, 0 };
static const int st_reply_recv_ok[] = { ENOENT, ECANCELED, ENOSPC, EAGAIN,
	EINTR, ESRCH, ECONNRESET, EMSGSIZE, 0 };
static const int st_open_ok[] = { ENOENT, EBUSY, EIDRM, 0 };

/* A node's thread */

struct st_worker {
	int inc, t;		/* node incarnation, thread index */
	struct mbox_endpoint *ep;	/* its own endpoint */
	struct mbox_endpoint *dep;	/* the node's direct endpoint */
	int epfd, failfd;
	uint64_t rng;
	struct {
		int inc;	/* incarnation open on ep, or -1 */
		bool recv;	/* with the receive right */
	} open[ST_MAX_BOXES];
	struct {
		int inc;	/* the node the pidfd is of, or -1 */
		int fd;
	} pidfd[ST_MAX_NODES];
	uint8_t *buf, *rbuf, *rep;
	uint8_t *bbuf;		/* ST_BATCH messages of ST_BATCH_MSG to send */
	uint8_t *rbufs;		/* ST_BATCH receive buffers of ST_MAX_MSG */
};

static int64_t st_timeout(struct st_worker *w)
{
	switch (st_pick(&w->rng, 8)) {
	case 0:
	case 1:
		return MBOX_NOWAIT;
	case 2:
		return MBOX_MS(100);
	default:
		return MBOX_MS(1 + st_pick(&w->rng, 20));
	}
}

static size_t st_len(struct st_worker *w, size_t max)
{
	size_t len;

	switch (st_pick(&w->rng, 16)) {
	case 0:
		len = 4096;
		break;
	case 1:
		len = ST_MAX_MSG;
		break;
	default:
		len = sizeof(struct st_hdr) + st_pick(&w->rng, 232);
	}
	return len < max ? len : max;
}

/* The node incarnation a pid belongs to, or -1. */
static int st_node_of(pid_t pid)
{
	int i;

	for (i = LOAD(S->nr_node_inc) - 1; i >= 0; i--)
		if (S->node[i].pid == pid)
			return i;
	return -1;
}

static void st_reply(struct st_worker *w, struct mbox_endpoint *ep,
		     uint64_t token, const struct st_hdr *req);

/*
 * Check and count a received message.  @target is the queue it came from;
 * @ep the endpoint it was received on, to answer a call with.
 */
static void st_take(struct st_worker *w, struct mbox_endpoint *ep,
		    const struct mbox_msg *m, uint16_t target)
{
	const struct st_hdr *h = m->buf;
	struct st_msg *rec;
	int sender;

	if (m->len < sizeof(*h) || h->magic != ST_MAGIC || h->len != m->len ||
	    h->id >= LOAD(S->next_msg) || st_sum(h) != h->sum) {
		st_fail("corrupt message: len %zu magic %#x id %" PRIu64,
			m->len, h->magic, (uint64_t)h->id);
		return;
	}
	rec = &LOG[h->id];
	if (__atomic_fetch_add(&rec->received, 1, __ATOMIC_ACQ_REL))
		st_fail("message %" PRIu64 " received twice", (uint64_t)h->id);
	rec->rx = w->inc + 1;
	sender = h->sender;
	if (sender >= LOAD(S->nr_node_inc) || S->node[sender].pid != m->pid)
		st_fail("message %" PRIu64 ": sender pid %d, stamped %d",
			(uint64_t)h->id, sender < ST_MAX_INC ?
			S->node[sender].pid : -1, m->pid);
	if (h->target != target) {
		/* A send by pid may reach a new process with a reused pid. */
		int old = h->target & ~ST_TGT_INBOX;

		if ((h->target & ST_TGT_INBOX) && (target & ST_TGT_INBOX) &&
		    S->node[old].dead && S->node[old].pid == getpid())
			ADD(S->pid_reuse, 1);
		else
			st_fail("message %" PRIu64 " for %#x arrived on %#x",
				(uint64_t)h->id, h->target, target);
	}
	if (m->flags & MBOX_MSG_CALL)
		st_reply(w, ep, m->token, h);
}

/*
 * A REPLY that failed with ENOMEM or EFAULT (an injected fault) or ENOSPC
 * (the replying user's quota) did nothing: the call is still owed
 * (abi.rst).  Its caller may have no deadline (MBOX_NOWAIT only kept it
 * from waiting to deliver: it waits for the reply), and would wait until
 * this endpoint is closed, which a node that quiesces does not do.  So
 * answer it, without a fault.  Through MBOX_REPLY_RECV the error may be
 * the receive's, after the reply went: the token is then used up, and
 * the answer gets ENOENT.  ENOSPC lasts while queues are full: a few
 * tries, then the caller is left to its deadline or to the end.
 */
static void st_reply_owed(struct mbox_endpoint *ep, uint64_t token,
			  const struct st_hdr *rep, int ret)
{
	unsigned int i;

	for (i = 0; i < 100; i++) {
		if (ret != -ENOMEM && ret != -EFAULT && ret != -ENOSPC)
			break;
		if (ret == -ENOSPC)
			mbox_sleep_ms(1);
		ret = mbox_call_reply(ep, token, rep, sizeof(*rep));
		if (ret && ret != -ENOENT && ret != -ECANCELED &&
		    ret != -ENOSPC)
			st_fail("an owed call's reply: %s", strerror(-ret));
	}
}

/* Answer a call: echo its header, as a reply or a reply-and-receive. */
static void st_reply(struct st_worker *w, struct mbox_endpoint *ep,
		     uint64_t token, const struct st_hdr *req)
{
	struct st_hdr rep = *req;
	struct mbox_msg m;
	int ret, armed;
	bool hit;

	rep.magic = ST_REPLY_MAGIC;
	rep.len = sizeof(rep);
	if (ep != w->dep || st_pick(&w->rng, 2)) {
		armed = st_fault_arm(w->failfd, &w->rng);
		ret = mbox_call_reply(ep, token, &rep, sizeof(rep));
		hit = st_fault_disarm(w->failfd, armed);
		st_result(ST_OP_REPLY, ret, st_reply_ok, hit);
		st_reply_owed(ep, token, &rep, ret);
		return;
	}
	/* On the direct endpoint: reply, then receive(ANY) in one ioctl. */
	m = (struct mbox_msg){ .buf = w->rbuf, .len = ST_MAX_MSG };
	STORE(S->node[w->inc].in_recv[w->t], 1);
	armed = st_fault_arm(w->failfd, &w->rng);
	ret = mbox_process_reply_receive(ep, token, &rep, sizeof(rep), 0, &m,
					 0, MBOX_NOWAIT);
	hit = st_fault_disarm(w->failfd, armed);
	st_result(ST_OP_RECV, ret, st_reply_recv_ok, hit);
	st_reply_owed(ep, token, &rep, ret);
	if (!ret)
		st_take(w, ep, &m, ST_TGT_INBOX | w->inc);
	STORE(S->node[w->inc].in_recv[w->t], 0);
}

/* The incarnation of shared mailbox @slot open on @w's endpoint, or -1. */
static int st_box_open(struct st_worker *w, unsigned int slot, bool recv)
{
	int cur = LOAD(S->box_cur[slot]);
	int ret;

	if (w->open[slot].inc == cur && (!recv || w->open[slot].recv))
		return cur;
	if (w->open[slot].inc >= 0) {
		ret = mbox_mailbox_close(w->ep, S->box[w->open[slot].inc].id);
		if (ret)
			st_fail("close of mailbox: %s", strerror(-ret));
		w->open[slot].inc = -1;
	}
	ret = mbox_mailbox_open_id(w->ep, S->box[cur].id,
				   MBOX_OPEN_SEND | MBOX_OPEN_RECV);
	w->open[slot].recv = !ret;
	if (ret == -EBUSY)	/* an exclusive receiver holds it */
		ret = mbox_mailbox_open_id(w->ep, S->box[cur].id,
					   MBOX_OPEN_SEND);
	st_result(ST_OP_OPEN, ret, st_open_ok, false);
	if (ret)
		return -1;
	w->open[slot].inc = cur;
	return recv && !w->open[slot].recv ? -1 : cur;
}

/* A pidfd of node @slot's current incarnation, or -1 if it is dead. */
static int st_pidfd(struct st_worker *w, unsigned int slot, int *incp)
{
	int inc = LOAD(S->node_cur[slot]);

	*incp = inc;
	if (w->pidfd[slot].inc != inc) {
		if (w->pidfd[slot].fd >= 0)
			close(w->pidfd[slot].fd);
		w->pidfd[slot].inc = inc;
		w->pidfd[slot].fd = syscall(SYS_pidfd_open, S->node[inc].pid, 0);
	}
	/* The controller marks a node dead before it reaps it. */
	return LOAD(S->node[inc].dead) ? -1 : w->pidfd[slot].fd;
}

/*
 * Errors by which a call fails before its request can be received
 * (abi.rst); after EINTR, ETIMEDOUT and the rest it may have been.
 */
static bool st_call_undelivered(int ret)
{
	return ret == -EAGAIN || ret == -ENOSPC || ret == -ESRCH ||
		ret == -ECONNREFUSED || ret == -EBADF;
}

enum st_dest { ST_TO_BOX, ST_TO_OWN, ST_TO_NODE };

/* Send one new message, in a random mode, and record what happened. */
static void st_send(struct st_worker *w, enum st_dest dest)
{
	unsigned int slot, flags = 0, mode = st_pick(&w->rng, 8);
	struct mbox_msg m, rep;
	struct st_msg *rec;
	struct st_hdr *h;
	int inc = -1, fd = -1, ret, armed;
	uint16_t target;
	size_t max, i;
	uint64_t id;
	bool hit;

	switch (dest) {
	case ST_TO_BOX:
		slot = st_pick(&w->rng, S->boxes);
		inc = st_box_open(w, slot, false);
		if (inc < 0)
			return;
		target = inc;
		max = ST_MAX_MSG;
		break;
	case ST_TO_OWN:
		slot = st_pick(&w->rng, S->nodes);
		inc = LOAD(S->node_cur[slot]);
		if (!LOAD(S->node[inc].own_id) || LOAD(S->node[inc].dead))
			return;
		ret = mbox_mailbox_open_id(w->ep, S->node[inc].own_id,
					   MBOX_OPEN_SEND);
		if (ret && ret != -EEXIST) {
			st_result(ST_OP_OPEN, ret, st_open_ok, false);
			return;
		}
		target = ST_TGT_OWN | inc;
		max = 8192;	/* the module's default max_msg_size */
		break;
	default:
		slot = st_pick(&w->rng, S->nodes);
		fd = st_pidfd(w, slot, &inc);
		if (fd < 0)
			return;
		target = ST_TGT_INBOX | inc;
		max = ST_DIRECT_MAX;
		break;
	}

	id = ADD(S->next_msg, 1);
	if (id >= S->max_msgs)
		return;
	rec = &LOG[id];
	rec->target = target;
	STORE(rec->state, ST_INFLIGHT);

	h = (struct st_hdr *)w->buf;
	*h = (struct st_hdr){ .magic = ST_MAGIC, .len = st_len(w, max),
			      .id = id, .target = target, .sender = w->inc };
	for (i = sizeof(*h); i < h->len; i++)
		w->buf[i] = (uint8_t)(id * 131 + i);
	h->sum = st_sum(h);
	m = (struct mbox_msg){ .buf = h, .len = h->len,
			       .priority = st_pick(&w->rng, MBOX_PRIO_MAX + 1) };
	rep = (struct mbox_msg){ .buf = w->rep, .len = sizeof(struct st_hdr) };
	if (mode == 1 || mode == 2)
		flags |= MBOX_SEND_SYNC;
	if (dest == ST_TO_NODE && st_pick(&w->rng, 4))
		flags |= MBOX_PIDFD;

	armed = st_fault_arm(w->failfd, &w->rng);
	if (mode == 3) {		/* a call */
		if (dest == ST_TO_NODE)
			ret = mbox_process_call(w->ep, flags & MBOX_PIDFD ?
						fd : S->node[inc].pid, &m, &rep,
						flags & MBOX_PIDFD,
						st_timeout(w));
		else
			ret = mbox_mailbox_call(w->ep, dest == ST_TO_BOX ?
						S->box[inc].id :
						S->node[inc].own_id,
						&m, &rep, 0, st_timeout(w));
	} else if (dest == ST_TO_NODE) {
		ret = mbox_process_send(w->ep, flags & MBOX_PIDFD ? fd :
					S->node[inc].pid, &m, flags,
					st_timeout(w));
	} else {
		ret = mbox_mailbox_send(w->ep, dest == ST_TO_BOX ?
					S->box[inc].id : S->node[inc].own_id,
					&m, flags, st_timeout(w));
	}
	hit = st_fault_disarm(w->failfd, armed);

	if (mode == 3) {
		st_result(ST_OP_CALL, ret, st_call_ok, hit);
		if (!ret && (rep.len != sizeof(*h) ||
			     ((struct st_hdr *)w->rep)->id != id ||
			     ((struct st_hdr *)w->rep)->magic != ST_REPLY_MAGIC))
			st_fail("call %" PRIu64 ": wrong reply", id);
		STORE(rec->state, !ret ? ST_OK : st_call_undelivered(ret) ?
		      ST_FAILED : ST_DOUBT);
		return;
	}
	st_result(ST_OP_SEND, ret, st_send_ok, hit);
	if (!ret && (flags & MBOX_SEND_SYNC)) {
		int rx = st_node_of(m.pid);

		rec->sync_rx = rx < 0 ? ST_RX_CTL : rx + 1;
	}
	STORE(rec->state, !ret ? ST_OK : hit && ret == -EFAULT ? ST_DOUBT :
	      ST_FAILED);
}

enum st_src { ST_FROM_BOX, ST_FROM_OWN, ST_FROM_NODE };

/* Receive one message, in a random mode, and check it. */
static int st_recv(struct st_worker *w, enum st_src src, int64_t timeout)
{
	struct mbox_msg m = { .buf = w->rbuf, .len = ST_MAX_MSG };
	struct mbox_endpoint *ep = w->dep;
	unsigned int flags = 0, slot = 0;
	int inc = 0, ret, armed, fd;
	uint16_t target;
	bool hit;

	if (!st_pick(&w->rng, 16))
		m.len = st_pick(&w->rng, 64);	/* maybe too small */
	STORE(S->node[w->inc].in_recv[w->t], 1);
	switch (src) {
	case ST_FROM_BOX:
		slot = st_pick(&w->rng, S->boxes);
		inc = st_box_open(w, slot, true);
		if (inc < 0) {
			ret = -EAGAIN;
			armed = 0;
			goto out;
		}
		if (!st_pick(&w->rng, 8)) {
			/* receive(A, from Q) */
			m.pid = S->node[LOAD(S->node_cur[st_pick(&w->rng,
						S->nodes)])].pid;
			flags |= MBOX_RECV_FROM;
		}
		ep = w->ep;
		target = inc;
		armed = st_fault_arm(w->failfd, &w->rng);
		ret = mbox_mailbox_receive(ep, S->box[inc].id, &m, flags,
					   timeout);
		break;
	case ST_FROM_OWN:
		target = ST_TGT_OWN | w->inc;
		armed = st_fault_arm(w->failfd, &w->rng);
		ret = mbox_mailbox_receive(ep, S->node[w->inc].own_id, &m, 0,
					   timeout);
		break;
	default:
		target = ST_TGT_INBOX | w->inc;
		fd = 0;
		if (!st_pick(&w->rng, 4)) {
			/* receive(Q), by pidfd */
			fd = st_pidfd(w, st_pick(&w->rng, S->nodes), &inc);
			if (fd < 0)
				fd = 0;
			else
				flags |= MBOX_PIDFD;
		}
		armed = st_fault_arm(w->failfd, &w->rng);
		ret = mbox_process_receive(ep, fd, &m, flags, timeout);
		break;
	}
out:
	hit = st_fault_disarm(w->failfd, armed);
	st_result(ST_OP_RECV, ret, st_recv_ok, hit);
	if (!ret)
		st_take(w, ep, &m, target);
	STORE(S->node[w->inc].in_recv[w->t], 0);
	if (ret == -EIDRM && src == ST_FROM_BOX) {
		/* destroyed: detach, the next use opens its successor */
		mbox_mailbox_close(ep, S->box[inc].id);
		w->open[slot].inc = -1;
	}
	return ret;
}

/* ---- batches ------------------------------------------------------------ */

/* One entry's destination. */
struct st_to {
	uint16_t target;
	uint32_t addr;		/* enum mbox_addr */
	uint32_t to;		/* mailbox id, pid or pidfd */
	size_t max;		/* its largest message */
};

/* Resolve a destination of kind @dest, as st_send() does; false if none. */
static bool st_target(struct st_worker *w, enum st_dest dest, struct st_to *t)
{
	unsigned int slot;
	int inc, ret, fd;

	switch (dest) {
	case ST_TO_BOX:
		inc = st_box_open(w, st_pick(&w->rng, S->boxes), false);
		if (inc < 0)
			return false;
		*t = (struct st_to){ .target = inc, .addr = MBOX_ADDR_MAILBOX,
				     .to = S->box[inc].id, .max = ST_MAX_MSG };
		return true;
	case ST_TO_OWN:
		slot = st_pick(&w->rng, S->nodes);
		inc = LOAD(S->node_cur[slot]);
		if (!LOAD(S->node[inc].own_id) || LOAD(S->node[inc].dead))
			return false;
		ret = mbox_mailbox_open_id(w->ep, S->node[inc].own_id,
					   MBOX_OPEN_SEND);
		if (ret && ret != -EEXIST) {
			st_result(ST_OP_OPEN, ret, st_open_ok, false);
			return false;
		}
		*t = (struct st_to){ .target = ST_TGT_OWN | inc,
				     .addr = MBOX_ADDR_MAILBOX,
				     .to = S->node[inc].own_id, .max = 8192 };
		return true;
	default:
		fd = st_pidfd(w, st_pick(&w->rng, S->nodes), &inc);
		if (fd < 0)
			return false;
		*t = (struct st_to){ .target = ST_TGT_INBOX | inc,
				     .addr = MBOX_ADDR_PIDFD, .to = fd,
				     .max = ST_DIRECT_MAX };
		if (!st_pick(&w->rng, 4)) {
			t->addr = MBOX_ADDR_PID;
			t->to = S->node[inc].pid;
		}
		return true;
	}
}

/* The kernel's blocking bits and deadline for a libmbox timeout. */
static uint32_t st_block_flags(int64_t timeout, uint64_t *deadline)
{
	struct timespec now;

	*deadline = 0;
	if (timeout == MBOX_NOWAIT)
		return MBOX_NONBLOCK;
	clock_gettime(CLOCK_MONOTONIC, &now);
	*deadline = (uint64_t)now.tv_sec * 1000000000ULL + now.tv_nsec +
		    timeout;
	return MBOX_DEADLINE;
}

/* A new message for @target into @buf: its id, or -1 if the log is full. */
static int64_t st_new_msg(struct st_worker *w, uint8_t *buf, uint16_t target,
			  size_t max)
{
	struct st_hdr *h = (struct st_hdr *)buf;
	uint64_t id = ADD(S->next_msg, 1);
	size_t i, len;

	if (id >= S->max_msgs)
		return -1;
	LOG[id].target = target;
	STORE(LOG[id].state, ST_INFLIGHT);
	len = st_pick(&w->rng, 8) ? sizeof(*h) + st_pick(&w->rng, 232) :
				    ST_BATCH_MSG;
	*h = (struct st_hdr){ .magic = ST_MAGIC, .len = len < max ? len : max,
			      .id = id, .target = target, .sender = w->inc };
	for (i = sizeof(*h); i < h->len; i++)
		buf[i] = (uint8_t)(id * 131 + i);
	h->sum = st_sum(h);
	return id;
}

/*
 * What a raw batch ioctl of @k entries did: its value, the count of
 * entries done (0 if it failed), and, in *err, the errno that stopped it
 * (0 if none, or unknown).  done and error say the same, but that a fault
 * injected at the header's write-back, its last step, leaves them as
 * given (ST_UNWRITTEN): then only the value tells, and the entry after
 * the ones done failed by itself (the one fault went to the header).
 */
static unsigned int st_batch_done(const struct mbox_batch *b, unsigned int k,
				  int ret, bool hit, int *err, const char *what)
{
	bool unwritten = b->done == ST_UNWRITTEN && b->error == ST_UNWRITTEN;

	*err = ret < 0 ? -ret : 0;
	if (ret <= 0)
		return 0;
	if ((unsigned int)ret > k) {
		st_fail("%s batch of %u returned %d", what, k, ret);
		return 0;
	}
	if (unwritten)
		ADD(S->unwritten, 1);
	if (unwritten && !hit)
		st_fail("%s batch of %u returned %d, its header not written back",
			what, k, ret);
	else if (!unwritten && (b->done != (unsigned int)ret ||
				((unsigned int)ret == k) != !b->error))
		st_fail("%s batch of %u returned %d: done %u, error %u", what,
			k, ret, b->done, b->error);
	else if (!unwritten)
		*err = b->error;
	return ret;
}

/*
 * What a batch of sends did: entries 0..done-1 sent, entry done (if any)
 * failed (in doubt if @doubt: a fault hit its write-back, which comes
 * after its send), the rest never happened.  @fail: the whole call
 * failed at its first entry; in doubt if @doubt (a fault hit entry 0's
 * write-back, after its send).  A fault at the header's write-back, last,
 * no longer fails the call: it returns the count (st_batch_done()).
 */
static void st_batch_sent(const uint64_t *ids, unsigned int n,
			  unsigned int done, bool fail, bool doubt,
			  const pid_t *sync_pid)
{
	unsigned int i;
	int state, rx;

	if (fail)
		done = 0;
	for (i = 0; i < n; i++) {
		if (i < done)
			state = ST_OK;
		else
			state = i == done && doubt ? ST_DOUBT : ST_FAILED;
		if (state == ST_OK && sync_pid) {
			rx = st_node_of(sync_pid[i]);
			LOG[ids[i]].sync_rx = rx < 0 ? ST_RX_CTL : rx + 1;
		}
		STORE(LOG[ids[i]].state, state);
	}
}

/*
 * A batch of sends: through the raw ioctl, each entry to a destination
 * of its own; or through libmbox, all to one.
 */
static void st_send_batch(struct st_worker *w)
{
	struct mbox_send s[ST_BATCH];
	struct mbox_msg m[ST_BATCH];
	struct st_to to[ST_BATCH];
	uint64_t ids[ST_BATCH], deadline;
	pid_t pids[ST_BATCH];
	unsigned int n = 1 + st_pick(&w->rng, ST_BATCH), i, k = 0, done;
	bool raw = st_pick(&w->rng, 2), hit;
	uint32_t flags = st_pick(&w->rng, 4) ? 0 : MBOX_SEND_SYNC;
	enum st_dest one = st_pick(&w->rng, 3);
	int64_t timeout = st_timeout(w), id;
	struct mbox_batch b;
	int ret, armed, err;

	for (i = 0; i < n; i++) {
		uint8_t *buf = w->bbuf + k * ST_BATCH_MSG;

		if (raw || !k) {
			if (!st_target(w, raw ? st_pick(&w->rng, 3) : one,
				       &to[k]))
				continue;
		} else {
			to[k] = to[0];
		}
		id = st_new_msg(w, buf, to[k].target, to[k].max);
		if (id < 0)
			break;
		ids[k] = id;
		m[k] = (struct mbox_msg){ .buf = buf,
			.len = ((struct st_hdr *)buf)->len,
			.priority = st_pick(&w->rng, MBOX_PRIO_MAX + 1) };
		mbox_send_init(&s[k], to[k].to, buf, m[k].len, m[k].priority,
			       flags);
		s[k].addr = to[k].addr;
		k++;
	}
	if (!k)
		return;

	if (raw) {
		flags = st_block_flags(timeout, &deadline);
		for (i = 0; i < k; i++) {
			s[i].flags |= flags;
			s[i].deadline_ns = deadline;
		}
		memset(&b, 0, sizeof(b));
		b.size = sizeof(b);
		b.entries = (uint64_t)(uintptr_t)s;
		b.count = k;
		b.entry_size = sizeof(s[0]);
		b.done = ST_UNWRITTEN;
		b.error = ST_UNWRITTEN;
		armed = st_fault_arm(w->failfd, &w->rng);
		ret = ioctl(mbox_endpoint_fd(w->ep), MBOX_IOC_SEND_BATCH, &b);
		if (ret < 0)
			ret = -errno;
		hit = st_fault_disarm(w->failfd, armed);
		done = st_batch_done(&b, k, ret, hit, &err, "send");
		for (i = 0; i < done; i++)
			pids[i] = s[i].receiver_pid;
		st_result(ST_OP_SEND_BATCH, -err, st_send_ok, hit);
		st_batch_sent(ids, k, done, ret < 0, hit && err == EFAULT,
			      s[0].flags & MBOX_SEND_SYNC ? pids : NULL);
		ADD(S->batched[0], done);
	} else {
		/* libmbox: the count done; the errno of a later entry is lost */
		armed = st_fault_arm(w->failfd, &w->rng);
		if (to[0].addr == MBOX_ADDR_MAILBOX)
			ret = mbox_mailbox_send_batch(w->ep, to[0].to, m, k,
						      flags, timeout);
		else
			ret = mbox_process_send_batch(w->ep, to[0].to, m, k,
				flags | (to[0].addr == MBOX_ADDR_PIDFD ?
					 MBOX_PIDFD : 0), timeout);
		hit = st_fault_disarm(w->failfd, armed);
		if (ret > (int)k || !ret)
			st_fail("libmbox send batch of %u returned %d", k, ret);
		for (i = 0; ret > 0 && i < (unsigned int)ret; i++)
			pids[i] = m[i].pid;
		st_result(ST_OP_SEND_BATCH, ret < 0 ? ret : 0, st_send_ok, hit);
		st_batch_sent(ids, k, ret < 0 ? 0 : ret, ret < 0,
			      hit && (ret > 0 || ret == -EFAULT),
			      flags & MBOX_SEND_SYNC ? pids : NULL);
		ADD(S->batched[0], ret < 0 ? 0 : ret);
	}
	ADD(S->batches[0], 1);
}

/*
 * A batch of receives: from several shared mailboxes on the thread's
 * endpoint, or from the node's own mailbox and its direct queue; through
 * the raw ioctl, or through libmbox (one source).  Only the first entry
 * waits.  Every message taken is checked and counted as st_recv() does.
 */
static void st_recv_batch(struct st_worker *w, int64_t timeout)
{
	struct mbox_recv r[ST_BATCH];
	struct mbox_msg m[ST_BATCH];
	uint16_t target[ST_BATCH];
	int inc[ST_BATCH], slot[ST_BATCH];
	unsigned int n = 2 + st_pick(&w->rng, ST_BATCH - 1), i, k = 0, done;
	bool boxes = st_pick(&w->rng, 2), raw = st_pick(&w->rng, 2), hit;
	struct mbox_endpoint *ep = boxes ? w->ep : w->dep;
	unsigned int src = st_pick(&w->rng, 2);	/* libmbox: own, direct */
	uint64_t deadline;
	uint32_t flags = st_block_flags(timeout, &deadline), bad = ~0U;
	struct mbox_batch b;
	int ret, armed, err = 0;

	for (i = 0; i < n; i++) {
		uint8_t *buf = w->rbufs + (size_t)k * ST_MAX_MSG;
		size_t len = st_pick(&w->rng, 16) ? ST_MAX_MSG :
						      st_pick(&w->rng, 64);

		slot[k] = inc[k] = -1;
		mbox_recv_init(&r[k], 0, buf, len, flags);
		r[k].deadline_ns = deadline;
		m[k] = (struct mbox_msg){ .buf = buf, .len = len };
		if (boxes) {
			slot[k] = raw || !k ? (int)st_pick(&w->rng, S->boxes) :
					      slot[0];
			inc[k] = st_box_open(w, slot[k], true);
			if (inc[k] < 0)
				continue;
			r[k].from = S->box[inc[k]].id;
			target[k] = inc[k];
		} else if (raw ? st_pick(&w->rng, 2) : src == 0) {
			r[k].from = S->node[w->inc].own_id;
			target[k] = ST_TGT_OWN | w->inc;
		} else {
			r[k].addr = MBOX_ADDR_PID;
			target[k] = ST_TGT_INBOX | w->inc;
		}
		k++;
	}
	if (!k)
		return;

	STORE(S->node[w->inc].in_recv[w->t], k);
	armed = st_fault_arm(w->failfd, &w->rng);
	if (raw) {
		memset(&b, 0, sizeof(b));
		b.size = sizeof(b);
		b.entries = (uint64_t)(uintptr_t)r;
		b.count = k;
		b.entry_size = sizeof(r[0]);
		b.done = ST_UNWRITTEN;
		b.error = ST_UNWRITTEN;
		ret = ioctl(mbox_endpoint_fd(ep), MBOX_IOC_RECV_BATCH, &b);
		if (ret < 0)
			ret = -errno;
		hit = st_fault_disarm(w->failfd, armed);
		done = st_batch_done(&b, k, ret, hit, &err, "receive");
		for (i = 0; i < done; i++)
			m[i] = (struct mbox_msg){
				.buf = (void *)(uintptr_t)r[i].buf,
				.len = r[i].len, .priority = r[i].priority,
				.flags = r[i].msg_flags, .pid = r[i].sender_pid,
				.uid = r[i].sender_uid, .token = r[i].token };
	} else {
		if (boxes)
			ret = mbox_mailbox_receive_batch(ep, r[0].from, m, k, 0,
							 timeout);
		else if (src == 0)
			ret = mbox_mailbox_receive_batch(ep, r[0].from, m, k, 0,
							 timeout);
		else
			ret = mbox_process_receive_batch(ep, 0, m, k, 0,
							 timeout);
		hit = st_fault_disarm(w->failfd, armed);
		done = ret > 0 ? ret : 0;
		err = ret < 0 ? -ret : 0;
		if (ret > (int)k || !ret) {
			st_fail("libmbox receive batch of %u returned %d", k,
				ret);
			done = 0;
		}
	}
	st_result(ST_OP_RECV_BATCH, -err, st_recv_ok, hit);
	for (i = 0; i < done; i++)
		st_take(w, ep, &m[i], target[i]);
	STORE(S->node[w->inc].in_recv[w->t], 0);
	ADD(S->batches[1], 1);
	ADD(S->batched[1], done);
	/* A destroyed mailbox: detach, the next use opens its successor. */
	if (err == EIDRM && boxes && done < k)
		bad = done;
	if (bad != ~0U && inc[bad] >= 0) {
		mbox_mailbox_close(ep, S->box[inc[bad]].id);
		w->open[slot[bad]].inc = -1;
	}
}

/* Wait in epoll for the endpoints, then receive what is there. */
static void st_poll(struct st_worker *w)
{
	struct epoll_event ev[2];
	int n, i;

	n = epoll_wait(w->epfd, ev, 2, 1 + st_pick(&w->rng, 10));
	ADD(S->ops, 1);
	for (i = 0; i < n; i++) {
		if (ev[i].data.u32)
			st_recv(w, st_pick(&w->rng, 2) ? ST_FROM_NODE :
				ST_FROM_OWN, MBOX_NOWAIT);
		else
			st_recv(w, ST_FROM_BOX, MBOX_NOWAIT);
	}
}

/* STAT a shared mailbox, or walk the listing as mboxctl list does. */
static void st_stat(struct st_worker *w)
{
	static const int ok[] = { ENOENT, EIDRM, 0 };
	struct mbox_info info;
	uint32_t id = 0;
	int ret, n = 0;

	if (st_pick(&w->rng, 2)) {
		ret = mbox_mailbox_stat(w->ep, S->box[LOAD(S->box_cur[
				st_pick(&w->rng, S->boxes)])].id, &info);
		st_result(ST_OP_OPEN, ret, ok, false);
		return;
	}
	while (!(ret = mbox_mailbox_next(w->ep, id, &info)) && n++ < 1000)
		id = info.id + 1;
	st_result(ST_OP_OPEN, ret == -ENOENT ? 0 : ret, ok, false);
}

static int st_endpoint(struct st_worker *w)
{
	struct epoll_event ev = { .events = EPOLLIN };
	unsigned int i;
	int ret;

	if (w->ep)
		mbox_endpoint_close(w->ep);	/* its mailboxes with it */
	for (i = 0; i < ST_MAX_BOXES; i++)
		w->open[i].inc = -1;
	ret = mbox_endpoint_open(&w->ep);
	if (ret)
		return ret;
	ev.data.u32 = 0;
	return epoll_ctl(w->epfd, EPOLL_CTL_ADD, mbox_endpoint_fd(w->ep), &ev);
}

static void *st_worker_main(void *arg)
{
	struct st_worker *w = arg;
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 1 };
	unsigned int i, quiet;
	bool quiesced = false;

	for (i = 0; i < ST_MAX_NODES; i++)
		w->pidfd[i].inc = w->pidfd[i].fd = -1;
	w->buf = malloc(ST_MAX_MSG);
	w->rbuf = malloc(ST_MAX_MSG);
	w->rep = malloc(ST_MAX_MSG);
	w->bbuf = malloc(ST_BATCH * ST_BATCH_MSG);
	w->rbufs = malloc(ST_BATCH * ST_MAX_MSG);
	w->epfd = epoll_create1(0);
	w->failfd = S->faults ? open("/proc/thread-self/fail-nth", O_RDWR) : -1;
	if (!w->buf || !w->rbuf || !w->rep || !w->bbuf || !w->rbufs ||
	    w->epfd < 0 || st_endpoint(w) ||
	    epoll_ctl(w->epfd, EPOLL_CTL_ADD, mbox_endpoint_fd(w->dep), &ev)) {
		st_fail("node thread set-up: %s", strerror(errno));
		return NULL;
	}

	while (LOAD(S->phase) == ST_RUN) {
		switch (st_pick(&w->rng, 24)) {
		case 0 ... 3:
			st_send(w, ST_TO_BOX);
			break;
		case 4 ... 5:
			st_send(w, ST_TO_NODE);
			break;
		case 6:
			st_send(w, ST_TO_OWN);
			break;
		case 7 ... 10:
			st_recv(w, ST_FROM_BOX, st_timeout(w));
			break;
		case 11 ... 13:
			st_recv(w, ST_FROM_NODE, st_timeout(w));
			break;
		case 14:
			st_recv(w, ST_FROM_OWN, st_timeout(w));
			break;
		case 15 ... 17:
			st_poll(w);
			break;
		case 20 ... 21:
			st_send_batch(w);
			break;
		case 22 ... 23:
			st_recv_batch(w, st_timeout(w));
			break;
		case 18:
			/* detach a mailbox; it is opened again when used */
			i = st_pick(&w->rng, S->boxes);
			if (w->open[i].inc >= 0) {
				mbox_mailbox_close(w->ep, S->box[w->open[i].inc].id);
				w->open[i].inc = -1;
			}
			break;
		default:
			if (!st_pick(&w->rng, 8)) {
				if (st_endpoint(w))
					st_fail("endpoint reopen: %s",
						strerror(errno));
			} else {
				st_stat(w);
			}
			break;
		}
	}

	/*
	 * Stop sending, keep receiving so that blocked senders and callers
	 * finish; then, once every node stopped, empty this node's queues
	 * (the controller empties the shared mailboxes).
	 */
	while (LOAD(S->phase) == ST_QUIESCE) {
		if (!quiesced) {
			ADD(S->node[w->inc].quiesced, 1);
			quiesced = true;
		}
		st_recv(w, st_pick(&w->rng, 3), MBOX_MS(2));
	}
	for (quiet = 0; quiet < 2;) {
		bool got = false;

		for (i = 0; i < 8; i++)
			got |= !st_recv(w, i & 1 ? ST_FROM_NODE : ST_FROM_OWN,
					MBOX_NOWAIT);
		quiet = got ? 0 : quiet + 1;
	}
	return NULL;
}

static void st_on_signal(int sig)
{
	(void)sig;
	ADD(S->signals, 1);
}

/* A node process: its endpoints, own mailbox and threads. */
static void __attribute__((noreturn)) st_node_main(int inc)
{
	struct st_worker w[ST_MAX_THREADS] = {};
	pthread_t th[ST_MAX_THREADS];
	struct sigaction sa = { .sa_handler = st_on_signal };
	struct st_node *node = &S->node[inc];
	struct mbox_endpoint *dep;
	struct mbox_attr attr;
	uint64_t rng = S->seed ^ (inc + 1) * 0x9e3779b97f4a7c15ULL;
	static const uint32_t caps[] = { 0, 1, 4, MBOX_UNBOUNDED };
	unsigned int t;
	uint32_t id;
	int ret;

	/* Before any message: receivers check the sender's pid. */
	STORE(node->pid, getpid());
	sa.sa_flags = inc % 2 ? 0 : SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);

	ret = mbox_endpoint_open(&dep);
	if (!ret) {
		mbox_attr_init(&attr);
		attr.capacity = caps[st_pick(&rng, 4)];
		attr.max_msg_size = ST_DIRECT_MAX;
		ret = mbox_process_enable(dep, &attr, 0);
	}
	if (!ret) {
		/* process-owned: gone with dep, its only receiver */
		mbox_attr_init(&attr);
		attr.capacity = caps[st_pick(&rng, 4)];
		attr.mode = 0622;
		ret = mbox_mailbox_create(dep, NULL, &attr, &id);
		node->own_capacity = attr.capacity;
	}
	if (ret) {
		st_fail("node set-up: %s", strerror(-ret));
		_exit(1);
	}
	STORE(node->own_id, id);

	for (t = 0; t < S->threads; t++) {
		w[t] = (struct st_worker){ .inc = inc, .t = t, .dep = dep,
			.rng = st_rand(&rng) | 1 };
		if (pthread_create(&th[t], NULL, st_worker_main, &w[t])) {
			st_fail("pthread_create failed");
			_exit(1);
		}
	}
	for (t = 0; t < S->threads; t++)
		pthread_join(th[t], NULL);
	_exit(0);
}

/* The controller */

static const uint32_t st_box_caps[] = { 0, 1, 4, MBOX_UNBOUNDED };

/* A new incarnation of shared mailbox @slot. */
static int st_box_new(struct mbox_endpoint *cep, unsigned int slot,
		      uint64_t *rng)
{
	int inc = S->nr_box_inc;
	struct mbox_attr attr;
	uint32_t id;
	int ret;

	if (inc >= ST_MAX_INC)
		return -ENOSPC;
	mbox_attr_init(&attr);
	attr.capacity = st_box_caps[st_pick(rng, 4)];
	attr.max_msg_size = ST_MAX_MSG;
	attr.mode = 0666;
	attr.flags = MBOX_CREATE_SYSTEM;
	attr.policy = st_pick(rng, 4) ? MBOX_POLICY_SHARED :
		MBOX_POLICY_EXCLUSIVE;
	ret = mbox_mailbox_create(cep, NULL, &attr, &id);
	if (ret)
		return ret;
	/* The controller does not keep it open: only the nodes use it. */
	ret = mbox_mailbox_close(cep, id);
	if (ret)
		return ret;
	S->box[inc] = (struct st_box){ .id = id, .capacity = attr.capacity };
	STORE(S->nr_box_inc, inc + 1);
	STORE(S->box_cur[slot], inc);
	return 0;
}

static int st_node_new(unsigned int slot)
{
	int inc = S->nr_node_inc;
	pid_t pid;

	if (inc >= ST_MAX_INC)
		return -ENOSPC;
	S->node[inc] = (struct st_node){ .pid = -1 };
	STORE(S->nr_node_inc, inc + 1);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid)
		st_node_main(inc);
	S->node[inc].pid = pid;
	STORE(S->node_cur[slot], inc);
	return 0;
}

/* Kill the node in @slot (it loses what it had not counted), respawn it. */
static uint64_t st_node_kill(unsigned int slot)
{
	int inc = LOAD(S->node_cur[slot]);
	struct st_node *node = &S->node[inc];
	uint64_t lost = 0;
	unsigned int t;

	STORE(node->dead, 1);
	kill(node->pid, SIGKILL);
	waitpid(node->pid, NULL, 0);
	for (t = 0; t < S->threads; t++)
		lost += node->in_recv[t];
	if (st_node_new(slot))
		st_fail("cannot respawn node %u", slot);
	return lost;
}

struct st_totals {
	uint64_t kills, destroys, signals_sent, ctl_received;
	uint64_t lost_allowed;	/* receives inside killed nodes */
};

/* Empty the shared mailboxes, then destroy them. */
static void st_drain_boxes(struct mbox_endpoint *cep, struct st_totals *tot)
{
	struct st_worker w = { .inc = ST_RX_CTL - 1, .rng = 1 };
	struct mbox_info info;
	struct mbox_msg m;
	unsigned int slot;
	int ret;

	w.rbuf = malloc(ST_MAX_MSG);
	for (slot = 0; slot < S->boxes; slot++) {
		struct st_box *b = &S->box[S->box_cur[slot]];

		ret = mbox_mailbox_open_id(cep, b->id, MBOX_OPEN_RECV);
		if (ret) {
			st_fail("drain: open mailbox %u: %s", b->id,
				strerror(-ret));
			continue;
		}
		for (;;) {
			m = (struct mbox_msg){ .buf = w.rbuf, .len = ST_MAX_MSG };
			ret = mbox_mailbox_receive(cep, b->id, &m, 0,
						   MBOX_NOWAIT);
			if (ret)
				break;
			if (m.flags & MBOX_MSG_CALL)
				st_fail("drain: a call left in mailbox %u", b->id);
			else
				st_take(&w, cep, &m, S->box_cur[slot]);
			tot->ctl_received++;
		}
		if (ret != -EAGAIN)
			st_fail("drain: receive: %s", strerror(-ret));
		ret = mbox_mailbox_stat(cep, b->id, &info);
		if (ret || info.nr_msgs || info.nr_bytes || info.nr_senders ||
		    info.nr_receivers)
			st_fail("drain: mailbox %u not idle: %u msgs, %u senders, %u receivers",
				b->id, info.nr_msgs, info.nr_senders,
				info.nr_receivers);
		ret = mbox_mailbox_destroy(cep, b->id);
		if (ret)
			st_fail("destroy: %s", strerror(-ret));
	}
	free(w.rbuf);
}

struct st_check {
	uint64_t sent_ok, failed, doubt, inflight, received, discarded;
	uint64_t unexplained;
};

static bool st_target_dead(uint16_t target)
{
	if (target & (ST_TGT_OWN | ST_TGT_INBOX))
		return S->node[target & ST_MAX_INC].dead;
	return S->box[target].dead;
}

/* Account for every message in the log. */
static void st_check_log(struct st_check *c)
{
	uint64_t n = LOAD(S->next_msg), id;

	if (n > S->max_msgs)
		n = S->max_msgs;
	for (id = 0; id < n; id++) {
		struct st_msg *m = &LOG[id];

		c->received += m->received;
		if (m->received > 1)
			continue;	/* reported when received */
		switch (m->state) {
		case ST_NONE:
			if (m->received)
				st_fail("message %" PRIu64 " received, never sent", id);
			break;
		case ST_INFLIGHT:
			c->inflight++;
			break;
		case ST_DOUBT:
			c->doubt++;
			break;
		case ST_FAILED:
			c->failed++;
			if (m->received)
				st_fail("message %" PRIu64 ": send failed, yet received", id);
			break;
		case ST_OK:
			c->sent_ok++;
			if (m->received) {
				if (m->sync_rx && m->sync_rx != m->rx)
					st_fail("message %" PRIu64 ": sync send reported node %u, received by %u",
						id, m->sync_rx, m->rx);
			} else if (st_target_dead(m->target)) {
				c->discarded++;
			} else {
				c->unexplained++;
			}
			break;
		}
	}
}

static void st_report(const struct st_totals *tot, const struct st_check *c,
		      unsigned int seconds)
{
	unsigned int op, e;

	ksft_print_msg("stress: %u s, %u nodes x %u threads, %u mailboxes, seed %" PRIu64 "\n",
		       seconds, S->nodes, S->threads, S->boxes, S->seed);
	ksft_print_msg("stress: %" PRIu64 " operations, %" PRIu64 " messages: %" PRIu64
		       " sent, %" PRIu64 " refused, %" PRIu64 " in doubt, %" PRIu64 " cut by kills\n",
		       S->ops, c->sent_ok + c->failed + c->doubt + c->inflight,
		       c->sent_ok, c->failed, c->doubt, c->inflight);
	ksft_print_msg("stress: %" PRIu64 " received (%" PRIu64 " in the final drain), %" PRIu64
		       " discarded with their mailbox or node, %" PRIu64 " unaccounted (%" PRIu64
		       " allowed: receivers killed mid-receive)\n",
		       c->received, tot->ctl_received, c->discarded,
		       c->unexplained, tot->lost_allowed);
	ksft_print_msg("stress: %" PRIu64 " kills, %" PRIu64 " mailboxes destroyed, %" PRIu64
		       " signals sent (%" PRIu64 " handled), %" PRIu64 " faults injected, %" PRIu64
		       " pid reuses\n", tot->kills, tot->destroys, tot->signals_sent,
		       S->signals, S->injected, S->pid_reuse);
	ksft_print_msg("stress: %" PRIu64 " send batches of %" PRIu64 " entries done, %" PRIu64
		       " receive batches of %" PRIu64 "; %" PRIu64
		       " returned their count with the header not written back\n",
		       S->batches[0], S->batched[0], S->batches[1], S->batched[1],
		       S->unwritten);
	for (op = 0; op < ST_OP_COUNT; op++) {
		char line[512];
		int len = 0;

		for (e = 0; e < ST_MAX_ERRNO; e++)
			if (S->err[op][e])
				len += snprintf(line + len, sizeof(line) - len,
						" %s %" PRIu64, e ? strerrorname_np(e) : "?",
						S->err[op][e]);
		if (len)
			ksft_print_msg("stress: %s errors:%s\n", st_op_name[op], line);
	}
}

/* Fault injection settings for fail-nth to reach GFP_KERNEL allocations. */
static const char *const st_fault_files[][2] = {
	{ "/sys/kernel/debug/failslab/ignore-gfp-wait", "N" },
	{ "/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "N" },
	{ "/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem", "N" },
	{ "/sys/kernel/debug/fail_page_alloc/min-order", "0" },
	{ "/sys/kernel/debug/failslab/verbose", "0" },
	{ "/sys/kernel/debug/fail_page_alloc/verbose", "0" },
	{ "/sys/kernel/debug/fail_usercopy/verbose", "0" },
};

#define ST_NR_FAULT_FILES (sizeof(st_fault_files) / sizeof(st_fault_files[0]))

static void st_faults(char saved[][16], bool restore)
{
	unsigned int i;
	ssize_t n;
	int fd;

	for (i = 0; i < ST_NR_FAULT_FILES; i++) {
		fd = open(st_fault_files[i][0], O_RDWR);
		if (fd < 0)
			continue;
		if (!restore) {
			n = read(fd, saved[i], 15);
			saved[i][n > 0 ? n : 0] = 0;
		}
		if (restore ? saved[i][0] && write(fd, saved[i], strlen(saved[i])) < 0 :
		    write(fd, st_fault_files[i][1], 1) < 0)
			ksft_print_msg("stress: cannot write %s\n", st_fault_files[i][0]);
		close(fd);
	}
}

/* Print a file of /proc, its lines prefixed; at most @max lines. */
static void st_print_file(const char *path, const char *prefix, int max)
{
	char line[256];
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	while (max-- > 0 && fgets(line, sizeof(line), f))
		ksft_print_msg("%s%s", prefix, line);
	fclose(f);
}

/*
 * Where the threads of a node that did not stop are: their state, system
 * call, wait channel and kernel stack (root reads it), for the report.
 */
static void st_dump_node(int inc)
{
	char path[320], prefix[300];
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", S->node[inc].pid);
	dir = opendir(path);
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(prefix, sizeof(prefix), "node %d task %s: ", inc,
			 d->d_name);
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat",
			 S->node[inc].pid, d->d_name);
		st_print_file(path, prefix, 1);
		snprintf(path, sizeof(path), "/proc/%d/task/%s/syscall",
			 S->node[inc].pid, d->d_name);
		st_print_file(path, prefix, 1);
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stack",
			 S->node[inc].pid, d->d_name);
		st_print_file(path, prefix, 16);
	}
	closedir(dir);
}

static void st_sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

FIXTURE(stress) {
	struct mbox_endpoint *cep;
	uint64_t log_bytes;
};

FIXTURE_SETUP(stress)
{
	if (access("/dev/mbox", F_OK))
		SKIP(return, "no /dev/mbox: is the module loaded?");
	ASSERT_EQ(0, mbox_endpoint_open(&self->cep));
	S = mmap(NULL, sizeof(*S), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, S);
	memset(S, 0, sizeof(*S));
	S->max_msgs = st_env("MBOX_STRESS_MSGS", 1 << 20);
	self->log_bytes = S->max_msgs * sizeof(*LOG);
	LOG = mmap(NULL, self->log_bytes, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, LOG);
}

FIXTURE_TEARDOWN(stress)
{
	if (self->cep)
		mbox_endpoint_close(self->cep);
}

/*
 * The whole run, bounded by MBOX_STRESS_SECONDS (the harness's timeout
 * is only a backstop: guest-tests.sh and make stress time the VM).
 */
TEST_F_TIMEOUT(stress, conservation, 24 * 3600)
{
	unsigned int seconds = st_env("MBOX_STRESS_SECONDS", 8);
	struct sigaction sa = { .sa_handler = st_on_signal,
				.sa_flags = SA_RESTART };
	struct st_totals tot = {};
	struct st_check c = {};
	char saved[ST_NR_FAULT_FILES][16] = {};
	struct timespec now, end;
	uint64_t rng;
	unsigned int i, slot;
	int inc, ret, status;

	S->nodes = st_env("MBOX_STRESS_NODES", 4);
	S->threads = st_env("MBOX_STRESS_THREADS", 3);
	S->boxes = st_env("MBOX_STRESS_BOXES", 4);
	clock_gettime(CLOCK_REALTIME, &now);
	S->seed = st_env("MBOX_STRESS_SEED", now.tv_nsec ^ now.tv_sec);
	rng = S->seed | 1;
	ASSERT_TRUE(S->nodes >= 2 && S->nodes <= ST_MAX_NODES);
	ASSERT_TRUE(S->threads >= 1 && S->threads <= ST_MAX_THREADS);
	ASSERT_TRUE(S->boxes >= 1 && S->boxes <= ST_MAX_BOXES);

	/* Root only: debugfs must silence the injections' stack traces. */
	S->faults = st_env("MBOX_STRESS_FAULTS", 1) && !geteuid() &&
		!access("/proc/thread-self/fail-nth", W_OK) &&
		!access("/sys/kernel/debug/fail_usercopy", F_OK);
	if (S->faults)
		st_faults(saved, false);
	ksft_print_msg("stress: seed %" PRIu64 " (MBOX_STRESS_SEED), faults %s\n",
		       S->seed, S->faults ? "on" : "off (needs root and fail-nth)");

	/* Nodes start with it: a signal must never kill one. */
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	for (slot = 0; slot < S->boxes; slot++)
		ASSERT_EQ(0, st_box_new(self->cep, slot, &rng));
	for (slot = 0; slot < S->nodes; slot++)
		ASSERT_EQ(0, st_node_new(slot));

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += seconds;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			break;
		if (LOAD(S->next_msg) >= S->max_msgs)
			break;	/* the log is full: stop early */
		st_sleep_ms(5);
		/* a burst of signals */
		for (i = 0; i < 4; i++) {
			inc = LOAD(S->node_cur[st_pick(&rng, S->nodes)]);
			if (!kill(S->node[inc].pid, SIGUSR1))
				tot.signals_sent++;
		}
		/* a mailbox destroyed, with its senders and receivers */
		if (!st_pick(&rng, 40)) {
			slot = st_pick(&rng, S->boxes);
			inc = S->box_cur[slot];
			STORE(S->box[inc].dead, 1);
			ret = mbox_mailbox_destroy(self->cep, S->box[inc].id);
			ASSERT_EQ(0, ret);
			ASSERT_EQ(0, st_box_new(self->cep, slot, &rng));
			tot.destroys++;
		}
		/* a node killed, with its endpoints and own mailbox */
		if (!st_pick(&rng, 150)) {
			tot.lost_allowed += st_node_kill(st_pick(&rng, S->nodes));
			tot.kills++;
		}
		/* a node that died by itself is a failure */
		/* A node that died by itself is a failure: replace it. */
		ret = waitpid(-1, &status, WNOHANG);
		if (ret > 0) {
			st_fail("node %d died, status %#x", ret, status);
			inc = st_node_of(ret);
			if (inc >= 0)
				STORE(S->node[inc].dead, 1);
			for (slot = 0; slot < S->nodes; slot++)
				if (S->node_cur[slot] == inc && st_node_new(slot))
					st_fail("cannot respawn node %u", slot);
		}
	}

	/* Stop sending; wait until every thread did (bounded). */
	STORE(S->phase, ST_QUIESCE);
	for (i = 0; i < 60000; i++) {
		unsigned int quiet = 0;

		for (slot = 0; slot < S->nodes; slot++)
			quiet += LOAD(S->node[S->node_cur[slot]].quiesced);
		if (quiet == S->nodes * S->threads)
			break;
		st_sleep_ms(1);
	}
	if (i == 60000) {
		st_fail("the nodes did not stop sending");
		for (slot = 0; slot < S->nodes; slot++) {
			inc = S->node_cur[slot];
			if (LOAD(S->node[inc].quiesced) < (int)S->threads)
				st_dump_node(inc);
		}
	}
	STORE(S->phase, ST_DRAIN);
	for (slot = 0; slot < S->nodes; slot++) {
		inc = S->node_cur[slot];
		if (waitpid(S->node[inc].pid, &status, 0) < 0)
			continue;	/* died and reaped: reported already */
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			st_fail("node %d: exit status %#x", inc, status);
	}
	st_drain_boxes(self->cep, &tot);
	if (S->faults)
		st_faults(saved, true);

	st_check_log(&c);
	st_report(&tot, &c, seconds);
	if (c.unexplained > tot.lost_allowed)
		st_fail("%" PRIu64 " messages lost", c.unexplained);
	for (i = 0; i < S->nr_fail && i < ST_MAX_FAILS; i++)
		TH_LOG("%s", S->fail[i]);
	EXPECT_EQ(0, S->nr_fail);
	EXPECT_LT(0, c.received);
}

TEST_HARNESS_MAIN
