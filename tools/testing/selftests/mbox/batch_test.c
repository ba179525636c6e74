// SPDX-License-Identifier: GPL-2.0
/*
 * Batches: MBOX_IOC_SEND_BATCH and MBOX_IOC_RECV_BATCH (spec section 4,
 * "like sendmmsg and recvmmsg"; uapi/linux/mbox.h, struct mbox_batch),
 * and libmbox's four batch functions.
 *
 * What a batch is: an array of ordinary struct mbox_send (or struct
 * mbox_recv) entries, each handled exactly as the single ioctl, in order,
 * stopping at the first that fails.  Entry 0 failing fails the ioctl with
 * its errno and nothing happened; a later entry failing ends the batch,
 * which returns the count of entries done, as sendmmsg() and recvmmsg()
 * do, and says it again in @done, with @error (that entry's errno; EINTR
 * for a signal, EAGAIN when a receive found nothing more).  The count
 * comes back even when the header cannot be written back.  Only the
 * first receive of a batch may wait.
 *
 * Two fixtures:
 *
 *  - batch: the raw ABI.  Order and contents (priorities, sizes, the
 *    sender's credentials stamped per entry, synchronous sends that each
 *    name their receiver, calls received together each with a token of
 *    its own), mixed addressing in one batch, partial batches, a failure
 *    at entry k of every kind (flags, mailbox, EMSGSIZE, an entry
 *    unmapped, straddling an unmapped page or read-only, a size that is
 *    not entry_size, a buffer that faults): done k, the exact errno, the
 *    entries after k untouched, nothing after k happened; the same at
 *    entry 0 fails the ioctl with nothing done; every error of the
 *    header; who waits (only the first receive), deadlines, signals at
 *    entry k with and without SA_RESTART; MBOX_BATCH_MAX entries;
 *    rendezvous mailboxes; a header that another thread makes
 *    read-only while the batch waits: the count still returned, nothing
 *    lost.
 *  - libbatch: mbox_{mailbox,process}_{send,receive}_batch(): counts,
 *    chunks of 64 entries per ioctl, a bad message anywhere refused
 *    before anything is done, EMSGSIZE, synchronous sends, pids and
 *    pidfds; a fault injected at every site in turn (root, the debug
 *    kernel): nothing sent twice, nothing received dropped.
 *
 * It SKIPs without the module or without MBOX_FEATURE_BATCH.  Whether a
 * task is blocked is read from /proc (mbox_bg_wait_blocked()); nothing
 * asserts how long anything took.  make check runs it 32-bit too (the
 * compat ioctl), and as an unprivileged user: only the credentials test
 * changes (a child of another uid as root, of ours otherwise).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "libmbox_util.h"
#include "kselftest_harness.h"

#define BATCH_V1	32	/* sizeof(struct mbox_batch), ABI 1.5 */
#define SEND_V1		48
#define RECV_V1		72

_Static_assert(sizeof(struct mbox_batch) == BATCH_V1, "layout");
_Static_assert(sizeof(struct mbox_send) == SEND_V1, "layout");
_Static_assert(sizeof(struct mbox_recv) == RECV_V1, "layout");

#define A5		0xa5a5a5a5U	/* an out field nobody wrote */
#define NMAX		16		/* entries of the ordinary tests */
#define TEXT		32		/* bytes of a message's text buffer */

/* Far enough never to matter, near enough that nothing hangs for good. */
#define FAR_MS		(2 * MBOX_WAIT_MS)

/* ---- the raw ABI ------------------------------------------------------- */

static void batch_init(struct mbox_batch *b, const void *entries, __u32 count,
		       __u32 entry_size)
{
	memset(b, 0, sizeof(*b));
	b->size = sizeof(*b);
	b->entries = mbox_ptr(entries);
	b->count = count;
	b->entry_size = entry_size;
	b->done = A5;
	b->error = A5;
}

/*
 * A batch ioctl of count entries at @entries: the count it did, or
 * -errno; done, error.
 */
static int batch(int fd, unsigned long cmd, const void *entries, __u32 count,
		 __u32 entry_size, __u32 *done, __u32 *error)
{
	struct mbox_batch b;
	int ret;

	batch_init(&b, entries, count, entry_size);
	ret = mbox_ioctl(fd, cmd, &b);
	if (done)
		*done = b.done;
	if (error)
		*error = b.error;
	return ret;
}

static int send_batch(int fd, const struct mbox_send *s, __u32 count,
		      __u32 *done, __u32 *error)
{
	return batch(fd, MBOX_IOC_SEND_BATCH, s, count, sizeof(*s), done,
		     error);
}

static int recv_batch(int fd, const struct mbox_recv *r, __u32 count,
		      __u32 *done, __u32 *error)
{
	return batch(fd, MBOX_IOC_RECV_BATCH, r, count, sizeof(*r), done,
		     error);
}

/* Texts "m0", "m1", ... and receive buffers, for up to NMAX entries. */
struct texts {
	char t[NMAX][TEXT];
	char rb[NMAX][TEXT];
};

static void texts_init(struct texts *x, const char *prefix)
{
	unsigned int i;

	for (i = 0; i < NMAX; i++)
		snprintf(x->t[i], TEXT, "%s%u", prefix, i);
	memset(x->rb, '#', sizeof(x->rb));
}

/* count sends of x->t[i] to mailbox id, priority prio[i] (or 0). */
static void sends_init(struct mbox_send *s, unsigned int count, __u32 id,
		       const struct texts *x, const __u32 *prio, __u32 flags)
{
	unsigned int i;

	for (i = 0; i < count; i++) {
		mbox_send_init(&s[i], id, x->t[i], strlen(x->t[i]),
			       prio ? prio[i] : 0, flags);
		s[i].receiver_pid = A5;
		s[i].__pad = A5;
	}
}

/* count receives from mailbox id into x->rb[i], every out field A5. */
static void recvs_init(struct mbox_recv *r, unsigned int count, __u32 id,
		       struct texts *x, __u32 flags)
{
	unsigned int i;

	for (i = 0; i < count; i++) {
		mbox_recv_init(&r[i], id, x->rb[i], TEXT, flags);
		r[i].priority = A5;
		r[i].msg_flags = A5;
		r[i].sender_pid = A5;
		r[i].sender_uid = A5;
		r[i].sender_gid = A5;
		r[i].__pad = A5;
		r[i].token = ((__u64)A5 << 32) | A5;
	}
}

/* Receive entry @r got exactly @text, of priority @prio, from us. */
static bool got(struct __test_metadata *_metadata, const struct mbox_recv *r,
		const char *text, __u32 prio)
{
	const char *buf = (const char *)(uintptr_t)r->buf;
	bool ok = r->len == strlen(text) && !memcmp(buf, text, r->len) &&
		  r->priority == prio && r->msg_flags == 0 &&
		  r->sender_pid == (__u32)getpid() &&
		  r->sender_uid == (__u32)geteuid() &&
		  r->sender_gid == (__u32)getegid() && !r->__pad && !r->token;

	if (!ok)
		TH_LOG("received '%.*s' (%u bytes) prio %u flags %#x from %u uid %u, expected '%s' prio %u from %d",
		       (int)(r->len < TEXT ? r->len : TEXT), buf, r->len,
		       r->priority, r->msg_flags, r->sender_pid, r->sender_uid,
		       text, prio, (int)getpid());
	return ok;
}

/* Whether receive entry @r was left exactly as @before. */
static bool recv_untouched(const struct mbox_recv *r,
			   const struct mbox_recv *before)
{
	return !memcmp(r, before, sizeof(*r));
}

/* The messages queued in mailbox id (received without blocking) are
 * exactly texts[0..n-1], in that order.
 */
static bool queue_is(struct __test_metadata *_metadata, int fd, __u32 id,
		     const char *const *texts, unsigned int n)
{
	unsigned int i;
	char buf[256];
	__u32 len;
	int ret;

	for (i = 0; ; i++) {
		len = sizeof(buf);
		ret = mbox_recv(fd, id, buf, &len, MBOX_NONBLOCK);
		if (ret)
			break;
		if (i >= n || len != strlen(texts[i]) ||
		    memcmp(buf, texts[i], len)) {
			TH_LOG("message %u: '%.*s', expected '%s'", i,
			       (int)len, buf, i < n ? texts[i] : "nothing");
			return false;
		}
	}
	if (ret != -EAGAIN || i != n) {
		TH_LOG("%u messages queued, expected %u (%s)", i, n,
		       strerror(-ret));
		return false;
	}
	return true;
}

static int stat_box(int fd, __u32 id, struct mbox_stat *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	st->id = id;
	return mbox_ioctl(fd, MBOX_IOC_STAT, st);
}

/* Wait until STAT of mailbox id shows @n messages queued and @senders. */
static int wait_box(int fd, __u32 id, __u32 n, __u32 senders)
{
	__u64 end = mbox_deadline_ms(MBOX_WAIT_MS);
	struct mbox_stat st;
	int ret;

	for (;;) {
		ret = stat_box(fd, id, &st);
		if (ret)
			return ret;
		if (st.nr_msgs == n && st.nr_senders == senders)
			return 0;
		if (mbox_now_ns() > end)
			return -ETIMEDOUT;
		mbox_sleep_ms(1);
	}
}

/*
 * Pages for entries that fault: [rw][none][rw][ro].  An array placed to
 * end at a page boundary has its entries from k on in the page after.
 */
struct pages {
	long pg;
	unsigned char *map;
	unsigned char *none;	/* after a rw page */
	unsigned char *ro;	/* after a rw page */
};

static int pages_init(struct pages *p)
{
	p->pg = sysconf(_SC_PAGESIZE);
	p->map = mmap(NULL, 4 * p->pg, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p->map == MAP_FAILED)
		return -errno;
	p->none = p->map + p->pg;
	p->ro = p->map + 3 * p->pg;
	if (mprotect(p->none, p->pg, PROT_NONE))
		return -errno;
	return 0;
}

/* How entry k of an array is out of reach. */
enum reach {
	R_UNMAPPED,	/* wholly in an unmapped page */
	R_STRADDLE,	/* its size and flags readable, the rest not */
	R_READONLY,	/* in a read-only page */
};

/*
 * Copy @count entries of @esz bytes so that entries 0..k-1 are readable
 * and writable and entry k is out of reach as @how says (the entries
 * after it with it): the array's address.
 */
static void *place(struct pages *p, const void *entries, size_t esz,
		   unsigned int count, unsigned int k, enum reach how)
{
	unsigned char *at;

	mprotect(p->ro, p->pg, PROT_READ | PROT_WRITE);
	switch (how) {
	case R_UNMAPPED:
		at = p->none - k * esz;
		memcpy(at, entries, k * esz);
		break;
	case R_STRADDLE:
		at = p->none - k * esz - 8;
		memcpy(at, entries, k * esz + 8);
		break;
	default:
		at = p->ro - k * esz;
		memcpy(at, entries, count * esz);
		mprotect(p->ro, p->pg, PROT_READ);
		break;
	}
	return at;
}

FIXTURE(batch) {
	int fd;
	__u64 features;
	struct mbox_cleanup cl;
	struct pages pg;
};

FIXTURE_SETUP(batch)
{
	self->features = 0;
	self->pg.map = NULL;
	self->fd = mbox_dev_open();
	if (self->fd == -ENOENT)
		SKIP(return, "/dev/mbox is absent: the mbox module is not loaded");
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, mbox_features(self->fd, &self->features));
	if (!(self->features & MBOX_FEATURE_MAILBOX))
		SKIP(return, "the loaded module has no MBOX_FEATURE_MAILBOX");
	if (!(self->features & MBOX_FEATURE_BATCH))
		SKIP(return, "the loaded module has no MBOX_FEATURE_BATCH (ABI 1.5)");
	ASSERT_EQ(0, pages_init(&self->pg));
}

FIXTURE_TEARDOWN(batch)
{
	mbox_cleanup_run(&self->cl);
	if (self->fd >= 0)
		close(self->fd);
	if (self->pg.map && self->pg.map != MAP_FAILED)
		munmap(self->pg.map, 4 * self->pg.pg);
	mbox_sigaction(SIGUSR1, SIG_DFL, 0);
}

/* A process-owned mailbox of the fixture's endpoint. */
static int box(int fd, __u32 capacity, __u32 *id)
{
	return mbox_create(fd, NULL, 0, capacity, MBOX_POLICY_SHARED, 0600, id);
}

#define NEED_DIRECT()							\
	do {								\
		if (!(self->features & MBOX_FEATURE_DIRECT))		\
			SKIP(return, "no MBOX_FEATURE_DIRECT");	\
	} while (0)

TEST_F(batch, feature_and_abi_minor)
{
	struct mbox_version v = { .size = sizeof(v) };

	ASSERT_EQ(0, mbox_ioctl(self->fd, MBOX_IOC_VERSION, &v));
	EXPECT_EQ(MBOX_ABI_MAJOR, v.abi_major);
	EXPECT_LE(5, v.abi_minor);
	EXPECT_TRUE(v.features & MBOX_FEATURE_BATCH);
	EXPECT_EQ(1024, MBOX_BATCH_MAX);
	EXPECT_EQ(0x0c, _IOC_NR(MBOX_IOC_SEND_BATCH));
	EXPECT_EQ(0x0d, _IOC_NR(MBOX_IOC_RECV_BATCH));
}

/*
 * A batch send then a batch receive: every entry a message of its own,
 * in order, with its priority and size; the receive takes them highest
 * priority first, FIFO within one, each entry with its own length,
 * priority and the sender stamped; the entries it did not reach are
 * untouched, the one that found nothing too (EAGAIN).
 */
TEST_F(batch, send_then_receive_order_priorities_sizes)
{
	static const __u32 prio[] = { 0, 5, 0, 31, 5, 1 };
	static const char *const want[] = { "m3", "m1", "m4", "m5", "m0", "m2" };
	static const __u32 want_prio[] = { 31, 5, 5, 1, 0, 0 };
	struct mbox_send s[NMAX];
	struct mbox_recv r[NMAX], before[NMAX];
	struct mbox_stat st;
	struct texts x;
	__u32 id, done, error;
	unsigned int i;

	ASSERT_EQ(0, box(self->fd, MBOX_UNBOUNDED, &id));
	texts_init(&x, "m");
	sends_init(s, 6, id, &x, prio, MBOX_NONBLOCK);
	ASSERT_EQ(6, send_batch(self->fd, s, 6, &done, &error));
	EXPECT_EQ(6, done);
	EXPECT_EQ(0, error);
	for (i = 0; i < 6; i++) {
		EXPECT_EQ(0, s[i].receiver_pid);
		EXPECT_EQ(0, s[i].__pad);
	}
	ASSERT_EQ(0, stat_box(self->fd, id, &st));
	EXPECT_EQ(6, st.nr_msgs);
	EXPECT_EQ(6, st.total_sent);

	recvs_init(r, 8, id, &x, MBOX_NONBLOCK);
	memcpy(before, r, sizeof(r));
	ASSERT_EQ(6, recv_batch(self->fd, r, 8, &done, &error));
	EXPECT_EQ(6, done);
	EXPECT_EQ(EAGAIN, error);
	for (i = 0; i < 6; i++) {
		EXPECT_TRUE(got(_metadata, &r[i], want[i], want_prio[i]))
			TH_LOG("entry %u", i);
	}
	EXPECT_TRUE(recv_untouched(&r[6], &before[6]));
	EXPECT_TRUE(recv_untouched(&r[7], &before[7]));
	EXPECT_EQ('#', x.rb[6][0]);
	ASSERT_EQ(0, stat_box(self->fd, id, &st));
	EXPECT_EQ(0, st.nr_msgs);
	EXPECT_EQ(6, st.total_received);
}

/* Sizes: empty, one byte, the largest a mailbox takes; each its own. */
TEST_F(batch, sizes_per_entry)
{
	static const __u32 lens[] = { 0, 1, 4096, 128, 8192, 0, 7 };
	const unsigned int n = MBOX_ARRAY_SIZE(lens);
	struct mbox_send s[MBOX_ARRAY_SIZE(lens)];
	struct mbox_recv r[MBOX_ARRAY_SIZE(lens)];
	unsigned char *out, *in;
	__u32 id, done, error;
	unsigned int i, j;

	out = malloc(n * 8192);
	in = malloc(n * 8192);
	ASSERT_NE(NULL, out);
	ASSERT_NE(NULL, in);
	for (i = 0; i < n * 8192; i++)
		out[i] = i * 13 + (i >> 8);
	memset(in, 0, n * 8192);
	ASSERT_EQ(0, mbox_create_sized(self->fd, 0, 16, 8192, 0, 0, 0600, &id));
	for (i = 0; i < n; i++)
		mbox_send_init(&s[i], id, out + i * 8192, lens[i], 0,
			       MBOX_NONBLOCK);
	ASSERT_EQ((int)n, send_batch(self->fd, s, n, &done, &error));
	EXPECT_EQ(n, done);
	EXPECT_EQ(0, error);
	for (i = 0; i < n; i++)
		mbox_recv_init(&r[i], id, in + i * 8192, 8192, MBOX_NONBLOCK);
	ASSERT_EQ((int)n, recv_batch(self->fd, r, n, &done, &error));
	EXPECT_EQ(n, done);
	EXPECT_EQ(0, error);
	for (i = 0; i < n; i++) {
		EXPECT_EQ(lens[i], r[i].len);
		EXPECT_EQ(0, memcmp(in + i * 8192, out + i * 8192, lens[i]));
		/* Nothing written past the message. */
		for (j = lens[i]; j < 8192 && j < lens[i] + 64; j++)
			if (in[i * 8192 + j])
				break;
		EXPECT_EQ(j, lens[i] + 64 < 8192 ? lens[i] + 64 : 8192)
			TH_LOG("entry %u: written past its %u bytes", i, lens[i]);
	}
	free(out);
	free(in);
}

/* A child that sends @n messages "c<i>" to mailbox @id on its endpoint. */
struct child_send {
	__u32 id;
	unsigned int n;
	unsigned int first;
};

static int child_send_fn(void *arg)
{
	struct child_send *c = arg;
	char text[TEXT];
	unsigned int i;
	int fd, ret;

	fd = mbox_dev_open();
	if (fd < 0)
		return fd;
	ret = mbox_open_id(fd, c->id, MBOX_OPEN_SEND);
	for (i = 0; !ret && i < c->n; i++) {
		snprintf(text, sizeof(text), "c%u", c->first + i);
		ret = mbox_send(fd, c->id, text, strlen(text), 0,
				MBOX_NONBLOCK);
	}
	close(fd);
	return ret;
}

/*
 * The sender's credentials are stamped on each message: a batch of
 * receives of messages from two processes (as root, the other one of
 * another uid and gid) reports each entry's own sender.
 */
TEST_F(batch, credentials_stamped_per_entry)
{
	struct child_send c = { .n = 2, .first = 1 };
	uid_t uid = mbox_is_root() ? MBOX_NOBODY : geteuid();
	gid_t gid = mbox_is_root() ? MBOX_NOBODY : getegid();
	struct mbox_recv r[4];
	struct texts x;
	__u32 id, done, error;
	pid_t child;

	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 8,
					MBOX_POLICY_SHARED, 0666, &id));
	ASSERT_EQ(0, mbox_send(self->fd, id, "c0", 2, 0, MBOX_NONBLOCK));
	c.id = id;
	child = mbox_is_root() ?
		mbox_spawn_as(uid, gid, child_send_fn, &c) :
		mbox_spawn(child_send_fn, &c);
	ASSERT_LT(0, child);
	ASSERT_EQ(0, mbox_reap(child));
	ASSERT_EQ(0, mbox_send(self->fd, id, "c3", 2, 0, MBOX_NONBLOCK));

	texts_init(&x, "c");
	recvs_init(r, 4, id, &x, MBOX_NONBLOCK);
	ASSERT_EQ(4, recv_batch(self->fd, r, 4, &done, &error));
	EXPECT_EQ(4, done);
	EXPECT_EQ(0, error);
	EXPECT_TRUE(got(_metadata, &r[0], "c0", 0));
	EXPECT_TRUE(got(_metadata, &r[3], "c3", 0));
	EXPECT_EQ(child, r[1].sender_pid);
	EXPECT_EQ(child, r[2].sender_pid);
	EXPECT_EQ(uid, r[1].sender_uid);
	EXPECT_EQ(gid, r[2].sender_gid);
	EXPECT_EQ(0, memcmp(x.rb[1], "c1", 2));
	EXPECT_EQ(0, memcmp(x.rb[2], "c2", 2));
}

/* A child that receives @n messages from mailbox @id, blocking. */
struct child_recv {
	__u32 id;
	unsigned int n;
	int fd;
};

static int child_recv_fn(void *arg)
{
	struct child_recv *c = arg;
	char buf[TEXT];
	struct mbox_recv r;
	unsigned int i;
	int ret = 0;

	for (i = 0; !ret && i < c->n; i++) {
		mbox_recv_init(&r, c->id, buf, sizeof(buf), MBOX_DEADLINE);
		r.deadline_ns = mbox_deadline_ms(FAR_MS);
		ret = mbox_recv_ex(c->fd, &r);
		if (!ret && r.msg_flags != MBOX_MSG_SYNC)
			ret = -EBADMSG;
	}
	return ret;
}

/*
 * Synchronous sends in a batch: each entry waits until it is received
 * and names its own receiver, alternating between two mailboxes served
 * by two processes.
 */
TEST_F(batch, sync_sends_each_name_their_receiver)
{
	struct child_recv ca, cb;
	struct mbox_send s[4];
	struct texts x;
	__u32 a, b, done, error;
	pid_t pa, pb;
	int ea, eb;

	ea = mbox_dev_open();
	eb = mbox_dev_open();
	ASSERT_LE(0, ea);
	ASSERT_LE(0, eb);
	ASSERT_EQ(0, mbox_create(ea, NULL, 0, 4, MBOX_POLICY_SHARED, 0622, &a));
	ASSERT_EQ(0, mbox_create(eb, NULL, 0, 4, MBOX_POLICY_SHARED, 0622, &b));
	ASSERT_EQ(0, mbox_open_id(self->fd, a, MBOX_OPEN_SEND));
	ASSERT_EQ(0, mbox_open_id(self->fd, b, MBOX_OPEN_SEND));
	ca = (struct child_recv){ .id = a, .n = 2, .fd = ea };
	cb = (struct child_recv){ .id = b, .n = 2, .fd = eb };
	pa = mbox_spawn(child_recv_fn, &ca);
	pb = mbox_spawn(child_recv_fn, &cb);
	mbox_track_pid(&self->cl, pa);
	mbox_track_pid(&self->cl, pb);
	ASSERT_LT(0, pa);
	ASSERT_LT(0, pb);

	texts_init(&x, "s");
	sends_init(s, 4, a, &x, NULL, MBOX_SEND_SYNC | MBOX_DEADLINE);
	s[1].to = b;
	s[3].to = b;
	for (int i = 0; i < 4; i++)
		s[i].deadline_ns = mbox_deadline_ms(FAR_MS);
	ASSERT_EQ(4, send_batch(self->fd, s, 4, &done, &error));
	EXPECT_EQ(4, done);
	EXPECT_EQ(0, error);
	EXPECT_EQ(pa, s[0].receiver_pid);
	EXPECT_EQ(pb, s[1].receiver_pid);
	EXPECT_EQ(pa, s[2].receiver_pid);
	EXPECT_EQ(pb, s[3].receiver_pid);
	EXPECT_EQ(0, s[3].__pad);
	EXPECT_EQ(0, mbox_reap(pa));
	EXPECT_EQ(0, mbox_reap(pb));
	close(ea);
	close(eb);
}

/* A caller thread: CALL mailbox id with "q<i>", expect the reply "a<i>". */
struct caller {
	int fd;
	__u32 id;
	unsigned int i;
	char req[TEXT], rep[TEXT];
	struct mbox_call c;
	struct mbox_bg bg;
};

static int caller_fn(void *arg)
{
	struct caller *k = arg;

	snprintf(k->req, sizeof(k->req), "q%u", k->i);
	mbox_call_init(&k->c, MBOX_ADDR_MAILBOX, k->id, k->req,
		       strlen(k->req), k->rep, sizeof(k->rep), MBOX_DEADLINE);
	k->c.deadline_ns = mbox_deadline_ms(FAR_MS);
	return mbox_call_ex(k->fd, &k->c);
}

/*
 * Calls received in one batch: each entry is a call with a token of its
 * own; each token answers its own caller, once.
 */
TEST_F(batch, calls_received_together_each_with_its_own_token)
{
	struct caller k[3];
	struct mbox_recv r[4];
	struct texts x;
	__u32 id, done, error;
	unsigned int i, j;
	char rep[TEXT];
	int ep2;

	ep2 = mbox_dev_open();
	ASSERT_LE(0, ep2);
	ASSERT_EQ(0, box(self->fd, 4, &id));
	ASSERT_EQ(0, mbox_open_id(ep2, id, MBOX_OPEN_SEND));
	for (i = 0; i < 3; i++) {
		k[i] = (struct caller){ .fd = ep2, .id = id, .i = i };
		ASSERT_EQ(0, mbox_bg_run(&k[i].bg, caller_fn, &k[i]));
		ASSERT_EQ(0, wait_box(self->fd, id, i + 1, i + 1));
	}

	texts_init(&x, "q");
	recvs_init(r, 4, id, &x, MBOX_NONBLOCK);
	ASSERT_EQ(3, recv_batch(self->fd, r, 4, &done, &error));
	EXPECT_EQ(3, done);
	EXPECT_EQ(EAGAIN, error);
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(MBOX_MSG_CALL | MBOX_MSG_SYNC, r[i].msg_flags);
		EXPECT_NE(0, r[i].token);
		EXPECT_EQ(getpid(), r[i].sender_pid);
		for (j = 0; j < i; j++)
			EXPECT_NE(r[j].token, r[i].token);
	}
	/* Answer them backwards: each reply reaches the caller it names. */
	for (i = 3; i-- > 0; ) {
		snprintf(rep, sizeof(rep), "a%.*s", (int)r[i].len - 1,
			 x.rb[i] + 1);
		EXPECT_EQ(0, mbox_reply(self->fd, r[i].token, rep, strlen(rep)));
		EXPECT_EQ(-ENOENT, mbox_reply(self->fd, r[i].token, "x", 1));
	}
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(0, mbox_bg_join(&k[i].bg));
		snprintf(rep, sizeof(rep), "a%u", i);
		EXPECT_EQ(strlen(rep), k[i].c.reply_len);
		EXPECT_EQ(0, memcmp(k[i].rep, rep, strlen(rep)));
	}
	close(ep2);
}

/*
 * One send batch to a mailbox, to a process by pid and by pidfd; one
 * receive batch of direct messages and of the mailbox's.
 */
TEST_F(batch, mixed_addressing_in_one_batch)
{
	struct mbox_send s[5];
	struct mbox_recv r[6];
	struct texts x;
	__u32 id, done, error;
	int ep2, pidfd;

	NEED_DIRECT();
	ep2 = mbox_dev_open();
	ASSERT_LE(0, ep2);
	pidfd = mbox_pidfd_open(getpid());
	ASSERT_LE(0, pidfd);
	ASSERT_EQ(0, mbox_direct_enable(self->fd, 0, 8, 0, 0, NULL));
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 8,
					MBOX_POLICY_SHARED, 0600, &id));
	ASSERT_EQ(0, mbox_open_id(ep2, id, MBOX_OPEN_SEND));

	texts_init(&x, "x");
	sends_init(s, 5, id, &x, NULL, MBOX_NONBLOCK);
	s[1].addr = MBOX_ADDR_PID;
	s[1].to = getpid();
	s[2].addr = MBOX_ADDR_PIDFD;
	s[2].to = pidfd;
	s[2].priority = 3;
	s[3].priority = 7;
	s[4].addr = MBOX_ADDR_PID;
	s[4].to = getpid();
	s[4].flags |= MBOX_SEND_SYNC;	/* no receiver waits: EAGAIN */
	ASSERT_EQ(4, send_batch(ep2, s, 5, &done, &error));
	EXPECT_EQ(4, done);
	EXPECT_EQ(EAGAIN, error);
	EXPECT_EQ(1, mbox_direct_links(self->fd));

	/* Mailbox, direct from anyone, direct by pidfd, mailbox, ... */
	recvs_init(r, 6, id, &x, MBOX_NONBLOCK);
	r[1].addr = MBOX_ADDR_PID;
	r[1].from = 0;
	r[2].addr = MBOX_ADDR_PIDFD;
	r[2].from = pidfd;
	r[4].addr = MBOX_ADDR_PID;
	r[4].from = 0;
	ASSERT_EQ(4, recv_batch(self->fd, r, 6, &done, &error));
	EXPECT_EQ(4, done);
	EXPECT_EQ(EAGAIN, error);
	EXPECT_TRUE(got(_metadata, &r[0], "x3", 7));
	EXPECT_TRUE(got(_metadata, &r[1], "x2", 3));	/* higher priority */
	EXPECT_TRUE(got(_metadata, &r[2], "x1", 0));
	EXPECT_TRUE(got(_metadata, &r[3], "x0", 0));
	EXPECT_TRUE(mbox_direct_empty(self->fd));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
	close(pidfd);
	close(ep2);
}

/*
 * Partial batches: 5 non-blocking sends to a mailbox of capacity 3 do 3
 * and stop with EAGAIN, the last two never happen; a receive of 10 gets
 * the 3, and EAGAIN.
 */
TEST_F(batch, partial_batches_capacity_3)
{
	static const char *const three[] = { "p0", "p1", "p2" };
	struct mbox_send s[5], sb[5];
	struct mbox_recv r[10], rb[10];
	struct texts x;
	__u32 id, done, error;
	unsigned int i;

	ASSERT_EQ(0, box(self->fd, 3, &id));
	texts_init(&x, "p");
	sends_init(s, 5, id, &x, NULL, MBOX_NONBLOCK);
	memcpy(sb, s, sizeof(s));
	ASSERT_EQ(3, send_batch(self->fd, s, 5, &done, &error));
	EXPECT_EQ(3, done);
	EXPECT_EQ(EAGAIN, error);
	EXPECT_EQ(0, s[2].receiver_pid);
	EXPECT_EQ(0, memcmp(&s[3], &sb[3], sizeof(s[3])));
	EXPECT_EQ(0, memcmp(&s[4], &sb[4], sizeof(s[4])));

	recvs_init(r, 10, id, &x, MBOX_NONBLOCK);
	memcpy(rb, r, sizeof(r));
	ASSERT_EQ(3, recv_batch(self->fd, r, 10, &done, &error));
	EXPECT_EQ(3, done);
	EXPECT_EQ(EAGAIN, error);
	for (i = 0; i < 3; i++)
		EXPECT_TRUE(got(_metadata, &r[i], three[i], 0));
	for (i = 3; i < 10; i++)
		EXPECT_TRUE(recv_untouched(&r[i], &rb[i]));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
}

/* How an entry of a batch fails. */
enum bad {
	B_FLAGS,	/* an undefined flag bit: EINVAL */
	B_BOX,		/* a mailbox not open on the endpoint: EBADF */
	B_MSGSIZE,	/* send: too long; receive: buffer too small */
	B_BUF,		/* its buffer unmapped: EFAULT */
	B_SIZE_BIG,	/* its size is not entry_size: EINVAL */
	B_SIZE_ZERO,
	B_UNMAPPED,	/* the entry itself out of reach: EFAULT */
	B_STRADDLE,
	B_READONLY,
	B_NR,
};

static const char *const bad_names[] = {
	"undefined flag", "mailbox not open", "EMSGSIZE", "buffer unmapped",
	"size entry_size + 8", "size 0", "entry unmapped",
	"entry straddling an unmapped page", "entry read-only",
};

static const int bad_errno[] = {
	EINVAL, EBADF, EMSGSIZE, EFAULT, EINVAL, EINVAL, EFAULT, EFAULT,
	EFAULT,
};

/* Make entry k of the sends (or receives) at @e fail as @bad says. */
static void spoil(void *e, size_t esz, unsigned int k, enum bad bad,
		  void *fault)
{
	struct mbox_send *s = (void *)((char *)e + k * esz);
	struct mbox_recv *r = (void *)s;
	bool send = esz == sizeof(*s);

	switch (bad) {
	case B_FLAGS:
		s->flags |= 1U << 31;
		break;
	case B_BOX:
		s->to = 0xfffffff0U;	/* same offset in both */
		break;
	case B_MSGSIZE:
		if (send)
			s->len = 8193;	/* the mailbox's max is 8192 */
		else
			r->len = 1;
		break;
	case B_BUF:
		s->buf = mbox_ptr(fault);	/* same offset in both */
		break;
	case B_SIZE_BIG:
		s->size = esz + 8;
		break;
	case B_SIZE_ZERO:
		s->size = 0;
		break;
	default:
		break;
	}
}

/*
 * Send batches of 4 whose entry k (0..3) fails, in every way: entry 0
 * fails the ioctl with its errno and the header untouched; a later one
 * gives done k and its errno; either way exactly the entries before k
 * were sent, and the entries from k on are as they were.
 */
TEST_F(batch, send_entry_k_fails)
{
	static const char *const all[] = { "e0", "e1", "e2", "e3" };
	struct mbox_send s[4], sb[4], *at;
	struct mbox_batch b;
	struct texts x;
	unsigned int k, bad;
	__u32 id;
	void *big;
	int ret;

	big = calloc(1, 8193);
	ASSERT_NE(NULL, big);
	ASSERT_EQ(0, mbox_create_sized(self->fd, 0, 8, 8192, 0, 0, 0600, &id));
	texts_init(&x, "e");
	for (bad = 0; bad < B_NR; bad++) {
		for (k = 0; k < 4; k++) {
			sends_init(s, 4, id, &x, NULL, MBOX_NONBLOCK);
			if (bad == B_MSGSIZE)
				s[k].buf = mbox_ptr(big);
			spoil(s, sizeof(s[0]), k, bad, self->pg.none);
			memcpy(sb, s, sizeof(s));
			at = s;
			if (bad >= B_UNMAPPED)
				at = place(&self->pg, s, sizeof(s[0]), 4, k,
					   bad - B_UNMAPPED);
			batch_init(&b, at, 4, sizeof(s[0]));
			ret = mbox_ioctl(self->fd, MBOX_IOC_SEND_BATCH, &b);
			if (k == 0) {
				EXPECT_EQ(-bad_errno[bad], ret)
					TH_LOG("%s at entry 0", bad_names[bad]);
				/* EMSGSIZE writes its struct back: done 0. */
				EXPECT_EQ(bad == B_MSGSIZE ? 0 : A5, b.done);
				EXPECT_EQ(bad == B_MSGSIZE ? 0 : A5, b.error);
			} else {
				EXPECT_EQ((int)k, ret)
					TH_LOG("%s at entry %u", bad_names[bad], k);
				EXPECT_EQ(k, b.done)
					TH_LOG("%s at entry %u", bad_names[bad], k);
				EXPECT_EQ(bad_errno[bad], b.error)
					TH_LOG("%s at entry %u: %s", bad_names[bad],
					       k, strerror(b.error));
			}
			/*
			 * Entry k on: untouched (if readable at all); but
			 * EMSGSIZE, as for SEND, writes entry k's out fields.
			 */
			if (bad == B_MSGSIZE) {
				EXPECT_EQ(0, at[k].receiver_pid);
				EXPECT_EQ(0, at[k].__pad);
				sb[k].receiver_pid = 0;
				sb[k].__pad = 0;
			}
			if (bad != B_UNMAPPED && bad != B_STRADDLE)
				EXPECT_EQ(0, memcmp(&at[k], &sb[k],
						    (4 - k) * sizeof(s[0])))
					TH_LOG("%s at entry %u: entries written",
					       bad_names[bad], k);
			EXPECT_TRUE(queue_is(_metadata, self->fd, id, all, k))
				TH_LOG("%s at entry %u", bad_names[bad], k);
		}
	}
	mprotect(self->pg.ro, self->pg.pg, PROT_READ | PROT_WRITE);
	free(big);
}

/*
 * Receive batches of 4, four messages queued, whose entry k fails in
 * every way: entry 0 fails the ioctl with its errno (EMSGSIZE: with the
 * length needed in the entry); a later one gives done k and its errno;
 * either way exactly the messages before k were taken, the one of
 * entry k is still queued, first, and the entries after k untouched.
 */
TEST_F(batch, recv_entry_k_fails)
{
	static const char *const all[] = { "f0", "f1", "f2", "f3" };
	struct mbox_recv r[4], rb[4], *at;
	struct mbox_batch b;
	struct texts x;
	unsigned int k, bad, i;
	__u32 id;
	int ret;

	ASSERT_EQ(0, mbox_create_sized(self->fd, 0, 8, 8192, 0, 0, 0600, &id));
	for (bad = 0; bad < B_NR; bad++) {
		for (k = 0; k < 4; k++) {
			for (i = 0; i < 4; i++)
				ASSERT_EQ(0, mbox_send(self->fd, id, all[i], 2,
						       0, MBOX_NONBLOCK));
			texts_init(&x, "f");
			recvs_init(r, 4, id, &x, MBOX_NONBLOCK);
			spoil(r, sizeof(r[0]), k, bad, self->pg.none);
			memcpy(rb, r, sizeof(r));
			at = r;
			if (bad >= B_UNMAPPED)
				at = place(&self->pg, r, sizeof(r[0]), 4, k,
					   bad - B_UNMAPPED);
			batch_init(&b, at, 4, sizeof(r[0]));
			ret = mbox_ioctl(self->fd, MBOX_IOC_RECV_BATCH, &b);
			if (k == 0) {
				EXPECT_EQ(-bad_errno[bad], ret)
					TH_LOG("%s at entry 0", bad_names[bad]);
				if (bad != B_MSGSIZE) {
					EXPECT_EQ(A5, b.done);
					EXPECT_EQ(A5, b.error);
				} else {
					/* EMSGSIZE writes its struct back. */
					EXPECT_EQ(0, b.done);
					EXPECT_EQ(0, b.error);
				}
			} else {
				EXPECT_EQ((int)k, ret)
					TH_LOG("%s at entry %u", bad_names[bad], k);
				EXPECT_EQ(k, b.done)
					TH_LOG("%s at entry %u", bad_names[bad], k);
				EXPECT_EQ(bad_errno[bad], b.error)
					TH_LOG("%s at entry %u: %s", bad_names[bad],
					       k, strerror(b.error));
			}
			for (i = 0; i < k; i++)
				EXPECT_TRUE(got(_metadata, &at[i], all[i], 0));
			if (bad == B_MSGSIZE) {
				/* The length needed; the other outs zeroed. */
				EXPECT_EQ(2, at[k].len);
				EXPECT_EQ(0, at[k].priority);
				EXPECT_EQ(0, at[k].msg_flags);
				EXPECT_EQ(0, at[k].sender_pid);
				EXPECT_EQ(0, at[k].sender_uid);
				EXPECT_EQ(0, at[k].token);
				EXPECT_EQ('#', x.rb[k][0]);
				k++;	/* compare the rest */
				if (k < 4)
					EXPECT_EQ(0, memcmp(&at[k], &rb[k],
							    (4 - k) * sizeof(r[0])));
				k--;
			} else if (bad != B_UNMAPPED && bad != B_STRADDLE) {
				EXPECT_EQ(0, memcmp(&at[k], &rb[k],
						    (4 - k) * sizeof(r[0])))
					TH_LOG("%s at entry %u: entries written",
					       bad_names[bad], k);
			}
			/* What entry k was to take is still there, first. */
			EXPECT_TRUE(queue_is(_metadata, self->fd, id, all + k,
					     4 - k))
				TH_LOG("%s at entry %u", bad_names[bad], k);
		}
	}
	mprotect(self->pg.ro, self->pg.pg, PROT_READ | PROT_WRITE);
}

/*
 * EMSGSIZE at entry k of a receive: the length needed is written into
 * entry k, the message stays queued, and a receive with room takes it.
 */
TEST_F(batch, recv_emsgsize_entry_k_length_and_message_kept)
{
	struct mbox_recv r[3];
	char big[64];
	struct texts x;
	__u32 id, done, error, len = sizeof(big);

	ASSERT_EQ(0, box(self->fd, 8, &id));
	ASSERT_EQ(0, mbox_send(self->fd, id, "a", 1, 0, MBOX_NONBLOCK));
	ASSERT_EQ(0, mbox_send(self->fd, id, "a longer message", 16, 0,
			       MBOX_NONBLOCK));
	ASSERT_EQ(0, mbox_send(self->fd, id, "c", 1, 0, MBOX_NONBLOCK));
	texts_init(&x, "r");
	recvs_init(r, 3, id, &x, MBOX_NONBLOCK);
	r[1].len = 8;
	ASSERT_EQ(1, recv_batch(self->fd, r, 3, &done, &error));
	EXPECT_EQ(1, done);
	EXPECT_EQ(EMSGSIZE, error);
	EXPECT_EQ(16, r[1].len);
	EXPECT_EQ('#', x.rb[1][0]);
	EXPECT_EQ(0, mbox_recv(self->fd, id, big, &len, MBOX_NONBLOCK));
	EXPECT_EQ(16, len);
	EXPECT_EQ(0, memcmp(big, "a longer message", 16));
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "c"));
}

/*
 * The header: every error fails the ioctl before any entry is looked
 * at, with the header and the entries untouched and nothing sent or
 * received.
 */
TEST_F(batch, header_errors)
{
	struct mbox_send s[2], sb[2];
	struct mbox_recv r[2], rb[2];
	struct mbox_batch b, bb;
	unsigned char *at;
	struct texts x;
	unsigned int i, bit, cmd;
	__u32 id;

	ASSERT_EQ(0, box(self->fd, 8, &id));
	ASSERT_EQ(0, mbox_send(self->fd, id, "kept", 4, 0, MBOX_NONBLOCK));
	texts_init(&x, "h");
	sends_init(s, 2, id, &x, NULL, MBOX_NONBLOCK);
	recvs_init(r, 2, id, &x, MBOX_NONBLOCK);
	memcpy(sb, s, sizeof(s));
	memcpy(rb, r, sizeof(r));

	for (cmd = 0; cmd < 2; cmd++) {
		unsigned long ioc = cmd ? MBOX_IOC_RECV_BATCH :
					  MBOX_IOC_SEND_BATCH;
		const void *e = cmd ? (void *)r : (void *)s;
		__u32 esz = cmd ? sizeof(r[0]) : sizeof(s[0]);
		const struct {
			const char *what;
			__u32 count, entry_size;
			__u64 entries;
			int err;
		} cases[] = {
			{ "count 0", 0, esz, mbox_ptr(e), -EINVAL },
			{ "count MAX + 1", MBOX_BATCH_MAX + 1, esz, mbox_ptr(e),
			  -EINVAL },
			{ "count ~0", ~0U, esz, mbox_ptr(e), -EINVAL },
			{ "entry_size 0", 2, 0, mbox_ptr(e), -EINVAL },
			{ "entry_size 4", 2, 4, mbox_ptr(e), -EINVAL },
			{ "entry_size first - 1", 2, esz - 1, mbox_ptr(e),
			  -EINVAL },
			/* entries + count * entry_size wraps past 2^64 */
			{ "entries ~0", 2, esz, ~0ULL, -EINVAL },
			{ "entries 2^64 - entry_size", 1, esz, -(__u64)esz,
			  -EINVAL },
			{ "entries 2^64 - 2 * entry_size + 1", 2, esz,
			  -(__u64)(2 * esz) + 1, -EINVAL },
			/* just below the wrap: no user address */
			{ "entries 2^64 - entry_size - 1", 1, esz,
			  -(__u64)esz - 1, -EFAULT },
			{ "entries 0", 2, esz, 0, -EFAULT },
			{ "entries unmapped", 2, esz, mbox_ptr(self->pg.none),
			  -EFAULT },
			{ "entries with bit 47", 2, esz,
			  mbox_ptr(e) | 1ULL << 47, -EFAULT },
			{ "entries above 4 GiB", 2, esz,
			  sizeof(long) == 4 ? mbox_ptr(e) | 1ULL << 32 : 1,
			  -EFAULT },
		};

		for (i = 0; i < MBOX_ARRAY_SIZE(cases); i++) {
			batch_init(&b, NULL, cases[i].count,
				   cases[i].entry_size);
			b.entries = cases[i].entries;
			bb = b;
			EXPECT_EQ(cases[i].err, mbox_ioctl(self->fd, ioc, &b))
				TH_LOG("%s: %s", cmd ? "recv" : "send",
				       cases[i].what);
			EXPECT_EQ(0, memcmp(&b, &bb, sizeof(b)))
				TH_LOG("%s: %s: header written",
				       cmd ? "recv" : "send", cases[i].what);
		}
		/* Every flag bit. */
		for (bit = 0; bit < 32; bit++) {
			batch_init(&b, e, 2, esz);
			b.flags = 1U << bit;
			bb = b;
			EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, ioc, &b))
				TH_LOG("flag bit %u", bit);
			EXPECT_EQ(0, memcmp(&b, &bb, sizeof(b)));
		}
		/* Sizes: short, and long with a non-zero tail. */
		for (i = 0; i < BATCH_V1; i += 4) {
			batch_init(&b, e, 2, esz);
			b.size = i;
			EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, ioc, &b))
				TH_LOG("size %u", i);
		}
		batch_init(&b, e, 2, esz);
		b.size = BATCH_V1 - 1;
		EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, ioc, &b));
		at = self->pg.none - BATCH_V1 - 8;
		batch_init(&b, e, 2, esz);
		b.size = BATCH_V1 + 8;
		memcpy(at, &b, sizeof(b));
		memset(at + BATCH_V1, 0, 8);
		at[BATCH_V1 + 5] = 1;
		EXPECT_EQ(-E2BIG, mbox_ioctl(self->fd, ioc, at));
		EXPECT_EQ(A5, ((struct mbox_batch *)at)->done);
		/* ... a zero tail that runs into an unmapped page */
		at = self->pg.none - BATCH_V1;
		memcpy(at, &b, sizeof(b));
		EXPECT_EQ(-EFAULT, mbox_ioctl(self->fd, ioc, at));
		/* The header out of reach or read-only. */
		EXPECT_EQ(-EFAULT, mbox_ioctl(self->fd, ioc, NULL));
		EXPECT_EQ(-EFAULT, mbox_ioctl(self->fd, ioc, self->pg.none));
		at = self->pg.none - 16;
		batch_init(&b, e, 2, esz);
		memcpy(at, &b, 16);
		EXPECT_EQ(-EFAULT, mbox_ioctl(self->fd, ioc, at));
		batch_init(&b, e, 2, esz);
		mprotect(self->pg.ro, self->pg.pg, PROT_READ | PROT_WRITE);
		memcpy(self->pg.ro, &b, sizeof(b));
		mprotect(self->pg.ro, self->pg.pg, PROT_READ);
		EXPECT_EQ(-EFAULT, mbox_ioctl(self->fd, ioc, self->pg.ro));
		mprotect(self->pg.ro, self->pg.pg, PROT_READ | PROT_WRITE);
	}
	/* Nothing of that was sent, received or written. */
	EXPECT_EQ(0, memcmp(s, sb, sizeof(s)));
	EXPECT_EQ(0, memcmp(r, rb, sizeof(r)));
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "kept"));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
	/* And the same batches, valid, work. */
	ASSERT_EQ(0, mbox_send(self->fd, id, "kept", 4, 0, MBOX_NONBLOCK));
	batch_init(&b, s, 2, sizeof(s[0]));
	EXPECT_EQ(2, mbox_ioctl(self->fd, MBOX_IOC_SEND_BATCH, &b));
	EXPECT_EQ(2, b.done);
	EXPECT_EQ(0, b.error);
	batch_init(&b, r, 2, sizeof(r[0]));
	EXPECT_EQ(2, mbox_ioctl(self->fd, MBOX_IOC_RECV_BATCH, &b));
	EXPECT_EQ(2, b.done);
	EXPECT_EQ(0, b.error);
	EXPECT_EQ(0, memcmp(x.rb[0], "kept", 4));
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "h1"));
}

/*
 * entry_size larger than the struct: the entries are that far apart and
 * each has that size, with a zero tail (accepted) or not (E2BIG at that
 * entry); an odd entry_size puts entries at odd addresses, which works.
 */
TEST_F(batch, entry_size_beyond_the_struct)
{
	static const __u32 extra[] = { 8, 1, 3, 100 };
	unsigned char *arr;
	struct mbox_send s;
	struct texts x;
	__u32 id, done, error, esz;
	unsigned int i, e;

	arr = calloc(3, SEND_V1 + 100 + 8);
	ASSERT_NE(NULL, arr);
	ASSERT_EQ(0, box(self->fd, 16, &id));
	texts_init(&x, "z");
	for (e = 0; e < MBOX_ARRAY_SIZE(extra); e++) {
		esz = SEND_V1 + extra[e];
		memset(arr, 0, 3 * esz);
		for (i = 0; i < 3; i++) {
			mbox_send_init(&s, id, x.t[i], 2, 0, MBOX_NONBLOCK);
			s.size = esz;
			memcpy(arr + i * esz, &s, sizeof(s));
		}
		ASSERT_EQ(3, batch(self->fd, MBOX_IOC_SEND_BATCH, arr, 3, esz,
				   &done, &error));
		EXPECT_EQ(3, done);
		EXPECT_EQ(0, error);
		/* A non-zero byte in entry 2's tail. */
		arr[2 * esz + SEND_V1 + extra[e] - 1] = 1;
		ASSERT_EQ(2, batch(self->fd, MBOX_IOC_SEND_BATCH, arr, 3, esz,
				   &done, &error));
		EXPECT_EQ(2, done);
		EXPECT_EQ(E2BIG, error);
		/* ... in entry 0's: the ioctl fails. */
		arr[SEND_V1] = 1;
		EXPECT_EQ(-E2BIG, batch(self->fd, MBOX_IOC_SEND_BATCH, arr, 3,
					esz, NULL, NULL));
		for (i = 0; i < 5; i++) {
			__u32 len = TEXT;
			char buf[TEXT];

			ASSERT_EQ(0, mbox_recv(self->fd, id, buf, &len,
					       MBOX_NONBLOCK));
			EXPECT_EQ(0, memcmp(buf, x.t[i % 3], 2));
		}
		EXPECT_TRUE(mbox_queue_empty(self->fd, id));
	}
	free(arr);
}

/* A blocking receive batch, in a thread. */
struct recv_job {
	int fd;
	struct mbox_recv r[NMAX];
	struct texts x;
	struct mbox_batch b;
	struct mbox_bg bg;
};

static int recv_job_fn(void *arg)
{
	struct recv_job *j = arg;

	return mbox_ioctl(j->fd, MBOX_IOC_RECV_BATCH, &j->b);
}

/*
 * Only the first receive waits: a batch of 4 blocked on an empty
 * mailbox, woken by one send, returns done 1 and EAGAIN, though its
 * other entries ask to block.
 */
TEST_F(batch, blocked_receive_woken_by_one_send_returns_one)
{
	struct recv_job *j = calloc(1, sizeof(*j));
	__u32 id;
	int ep2;

	ASSERT_NE(NULL, j);
	ep2 = mbox_dev_open();
	ASSERT_LE(0, ep2);
	ASSERT_EQ(0, box(self->fd, 8, &id));
	ASSERT_EQ(0, mbox_open_id(ep2, id, MBOX_OPEN_SEND));
	j->fd = self->fd;
	texts_init(&j->x, "w");
	recvs_init(j->r, 4, id, &j->x, 0);
	batch_init(&j->b, j->r, 4, sizeof(j->r[0]));
	ASSERT_EQ(0, mbox_bg_run(&j->bg, recv_job_fn, j));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&j->bg));
	ASSERT_EQ(0, mbox_send(ep2, id, "w0", 2, 0, MBOX_NONBLOCK));
	EXPECT_EQ(1, mbox_bg_join(&j->bg));
	EXPECT_EQ(1, j->b.done);
	EXPECT_EQ(EAGAIN, j->b.error);
	EXPECT_TRUE(got(_metadata, &j->r[0], "w0", 0));
	EXPECT_EQ(A5, j->r[1].priority);
	close(ep2);
	free(j);
}

/*
 * Deadlines: the first receive's expires with ETIMEDOUT (the ioctl
 * fails, nothing written); a later entry's deadline is never waited
 * for (EAGAIN), be it far or past.
 */
TEST_F(batch, deadline_of_the_first_receive)
{
	struct mbox_recv r[3], rb[3];
	struct mbox_batch b;
	struct texts x;
	__u32 id, done, error;

	ASSERT_EQ(0, box(self->fd, 8, &id));
	texts_init(&x, "d");
	recvs_init(r, 3, id, &x, MBOX_DEADLINE);
	r[0].deadline_ns = mbox_deadline_ms(20);
	r[1].deadline_ns = mbox_deadline_ms(FAR_MS);
	r[2].deadline_ns = 1;
	memcpy(rb, r, sizeof(r));
	batch_init(&b, r, 3, sizeof(r[0]));
	EXPECT_EQ(-ETIMEDOUT, mbox_ioctl(self->fd, MBOX_IOC_RECV_BATCH, &b));
	EXPECT_EQ(A5, b.done);
	EXPECT_EQ(0, memcmp(r, rb, sizeof(r)));

	ASSERT_EQ(0, mbox_send(self->fd, id, "d0", 2, 0, MBOX_NONBLOCK));
	r[0].deadline_ns = 1;	/* past: a message there is still taken */
	ASSERT_EQ(1, recv_batch(self->fd, r, 3, &done, &error));
	EXPECT_EQ(1, done);
	EXPECT_EQ(EAGAIN, error);
	EXPECT_TRUE(got(_metadata, &r[0], "d0", 0));

	ASSERT_EQ(0, mbox_send(self->fd, id, "d1", 2, 0, MBOX_NONBLOCK));
	memcpy(r, rb, sizeof(r));
	r[0].flags = 0;
	r[1].flags = 0;
	ASSERT_EQ(1, recv_batch(self->fd, r, 2, &done, &error));
	EXPECT_EQ(1, done);
	EXPECT_EQ(EAGAIN, error);
	EXPECT_TRUE(got(_metadata, &r[0], "d1", 0));
}

/*
 * A receive batch whose header stops being writable while its first
 * entry waits (another thread write-protects it): the batch still returns
 * its count, 1, with the message in entry 0; only done and error are not
 * written (abi.rst, "Batches").  Nothing is lost: the count tells the
 * caller which entries hold a message.  (Before ABI 1.5's count, the
 * module failed such a batch with EFAULT after its entries had taken
 * their messages: they were lost.)
 */
TEST_F(batch, recv_header_unwritable_after_the_wait_loses_nothing)
{
	struct recv_job *j = calloc(1, sizeof(*j));
	struct mbox_batch *hdr;
	__u32 id;
	int ep2;

	ASSERT_NE(NULL, j);
	ep2 = mbox_dev_open();
	ASSERT_LE(0, ep2);
	ASSERT_EQ(0, box(self->fd, 8, &id));
	ASSERT_EQ(0, mbox_open_id(ep2, id, MBOX_OPEN_SEND));
	j->fd = self->fd;
	texts_init(&j->x, "u");
	recvs_init(j->r, 2, id, &j->x, 0);
	/* The header alone in the page that will be read-only. */
	ASSERT_EQ(0, mprotect(self->pg.ro, self->pg.pg, PROT_READ | PROT_WRITE));
	hdr = (struct mbox_batch *)self->pg.ro;
	batch_init(hdr, j->r, 2, sizeof(j->r[0]));
	ASSERT_EQ(0, mbox_bg_start(&j->bg, self->fd, MBOX_IOC_RECV_BATCH, hdr));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&j->bg));
	ASSERT_EQ(0, mprotect(self->pg.ro, self->pg.pg, PROT_READ));
	ASSERT_EQ(0, mbox_send(ep2, id, "u0", 2, 0, MBOX_NONBLOCK));
	EXPECT_EQ(1, mbox_bg_join(&j->bg));
	/* The header could not be written: only the count says it. */
	EXPECT_EQ(A5, hdr->done);
	EXPECT_EQ(A5, hdr->error);
	/* Entry 0 holds the message; entry 1 found nothing, untouched. */
	EXPECT_TRUE(got(_metadata, &j->r[0], "u0", 0));
	EXPECT_EQ(A5, j->r[1].priority);
	EXPECT_EQ('#', j->x.rb[1][0]);
	/* Taken once, and nothing else. */
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
	mprotect(self->pg.ro, self->pg.pg, PROT_READ | PROT_WRITE);
	close(ep2);
	free(j);
}

/* A blocking send batch, in a thread. */
struct send_job {
	int fd;
	struct mbox_send s[NMAX];
	struct texts x;
	struct mbox_batch b;
	struct mbox_bg bg;
	int ret;
};

static int send_job_fn(void *arg)
{
	struct send_job *j = arg;

	return mbox_ioctl(j->fd, MBOX_IOC_SEND_BATCH, &j->b);
}

/*
 * The same for a send batch: its first entry waits for room in a full
 * mailbox of capacity 1, another thread write-protects the header
 * meanwhile, then takes the message that filled it.  Entry 0 is sent,
 * entry 1 (non-blocking) finds the mailbox full again: the batch returns
 * 1, though it cannot write done and error back, and exactly entry 0's
 * message went.
 */
TEST_F(batch, send_header_unwritable_after_the_wait_returns_the_count)
{
	static const char *const sent[] = { "t0" };
	struct send_job *j = calloc(1, sizeof(*j));
	struct mbox_batch *hdr;
	__u32 id;

	ASSERT_NE(NULL, j);
	ASSERT_EQ(0, box(self->fd, 1, &id));
	ASSERT_EQ(0, mbox_send(self->fd, id, "full", 4, 0, MBOX_NONBLOCK));
	j->fd = self->fd;
	texts_init(&j->x, "t");
	sends_init(j->s, 2, id, &j->x, NULL, 0);
	j->s[1].flags = MBOX_NONBLOCK;
	ASSERT_EQ(0, mprotect(self->pg.ro, self->pg.pg, PROT_READ | PROT_WRITE));
	hdr = (struct mbox_batch *)self->pg.ro;
	batch_init(hdr, j->s, 2, sizeof(j->s[0]));
	ASSERT_EQ(0, mbox_bg_start(&j->bg, self->fd, MBOX_IOC_SEND_BATCH, hdr));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&j->bg));
	ASSERT_EQ(0, mprotect(self->pg.ro, self->pg.pg, PROT_READ));
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "full"));
	EXPECT_EQ(1, mbox_bg_join(&j->bg));
	EXPECT_EQ(A5, hdr->done);
	EXPECT_EQ(A5, hdr->error);
	/* Entry 0 written back as a SEND's struct; entry 1 untouched. */
	EXPECT_EQ(0, j->s[0].receiver_pid);
	EXPECT_EQ(A5, j->s[1].receiver_pid);
	EXPECT_TRUE(queue_is(_metadata, self->fd, id, sent, 1));
	mprotect(self->pg.ro, self->pg.pg, PROT_READ | PROT_WRITE);
	free(j);
}

/*
 * A send batch blocked at entry k > 0 on a full queue, interrupted by a
 * signal: done k, EINTR, and the message of entry k not delivered; with
 * SA_RESTART the same (what was done stays done: nothing restarts).
 */
TEST_F(batch, send_blocked_at_entry_k_interrupted)
{
	static const char *const two[] = { "i0", "i1" };
	unsigned int restart;
	__u32 id;

	for (restart = 0; restart < 2; restart++) {
		struct send_job *j = calloc(1, sizeof(*j));

		ASSERT_NE(NULL, j);
		ASSERT_EQ(0, mbox_sigaction(SIGUSR1, on_signal,
					    restart ? SA_RESTART : 0));
		sig_count = 0;
		ASSERT_EQ(0, box(self->fd, 2, &id));
		j->fd = self->fd;
		texts_init(&j->x, "i");
		sends_init(j->s, 4, id, &j->x, NULL, 0);
		batch_init(&j->b, j->s, 4, sizeof(j->s[0]));
		ASSERT_EQ(0, mbox_bg_run(&j->bg, send_job_fn, j));
		ASSERT_EQ(0, mbox_bg_wait_blocked(&j->bg));
		ASSERT_EQ(0, wait_box(self->fd, id, 2, 1));
		ASSERT_EQ(0, pthread_kill(j->bg.thread, SIGUSR1));
		EXPECT_EQ(2, mbox_bg_join(&j->bg));
		EXPECT_EQ(1, sig_count);
		EXPECT_EQ(2, j->b.done) TH_LOG("SA_RESTART %u", restart);
		EXPECT_EQ(EINTR, j->b.error) TH_LOG("SA_RESTART %u", restart);
		EXPECT_EQ(A5, j->s[2].receiver_pid);	/* untouched */
		EXPECT_TRUE(queue_is(_metadata, self->fd, id, two, 2));
		EXPECT_EQ(0, mbox_close_id(self->fd, id));
		free(j);
	}
}

/*
 * At entry 0 nothing is done yet: without SA_RESTART the ioctl fails
 * with EINTR; with it, the batch restarts and goes on once there is room.
 */
TEST_F(batch, send_blocked_at_entry_0_interrupted)
{
	static const char *const full[] = { "full", "j0", "j1" };
	unsigned int restart;
	__u32 id;

	for (restart = 0; restart < 2; restart++) {
		struct send_job *j = calloc(1, sizeof(*j));

		ASSERT_NE(NULL, j);
		ASSERT_EQ(0, mbox_sigaction(SIGUSR1, on_signal,
					    restart ? SA_RESTART : 0));
		sig_count = 0;
		ASSERT_EQ(0, box(self->fd, 1, &id));
		ASSERT_EQ(0, mbox_send(self->fd, id, "full", 4, 0,
				       MBOX_NONBLOCK));
		j->fd = self->fd;
		texts_init(&j->x, "j");
		sends_init(j->s, 2, id, &j->x, NULL, 0);
		batch_init(&j->b, j->s, 2, sizeof(j->s[0]));
		ASSERT_EQ(0, mbox_bg_run(&j->bg, send_job_fn, j));
		ASSERT_EQ(0, mbox_bg_wait_blocked(&j->bg));
		ASSERT_EQ(0, pthread_kill(j->bg.thread, SIGUSR1));
		ASSERT_TRUE(wait_sig_count(1));
		if (!restart) {
			EXPECT_EQ(-EINTR, mbox_bg_join(&j->bg));
			EXPECT_EQ(A5, j->b.done);
			EXPECT_TRUE(queue_is(_metadata, self->fd, id, full, 1));
		} else {
			/* Restarted: blocked again, then one at a time. */
			ASSERT_EQ(0, mbox_bg_wait_blocked(&j->bg));
			EXPECT_TRUE(mbox_recv_is(self->fd, id, "full"));
			ASSERT_EQ(0, wait_box(self->fd, id, 1, 1));
			EXPECT_TRUE(mbox_recv_is(self->fd, id, "j0"));
			EXPECT_EQ(2, mbox_bg_join(&j->bg));
			EXPECT_EQ(2, j->b.done);
			EXPECT_EQ(0, j->b.error);
			EXPECT_TRUE(queue_is(_metadata, self->fd, id, full + 2,
					     1));
		}
		EXPECT_EQ(0, mbox_close_id(self->fd, id));
		free(j);
	}
}

/* MBOX_BATCH_MAX entries in one call, each way, in order. */
TEST_F(batch, batch_max_entries)
{
	const unsigned int n = MBOX_BATCH_MAX;
	struct mbox_send *s = calloc(n + 1, sizeof(*s));
	struct mbox_recv *r = calloc(n + 1, sizeof(*r));
	__u32 *vals = calloc(n + 1, sizeof(*vals));
	__u32 id, done, error;
	unsigned int i;

	ASSERT_NE(NULL, s);
	ASSERT_NE(NULL, r);
	ASSERT_NE(NULL, vals);
	ASSERT_EQ(0, box(self->fd, MBOX_UNBOUNDED, &id));
	for (i = 0; i <= n; i++) {
		vals[i] = i * 2654435761U;
		mbox_send_init(&s[i], id, &vals[i], sizeof(vals[i]), i % 2,
			       MBOX_NONBLOCK);
	}
	EXPECT_EQ(-EINVAL, send_batch(self->fd, s, n + 1, NULL, NULL));
	ASSERT_EQ((int)n, send_batch(self->fd, s, n, &done, &error));
	EXPECT_EQ(n, done);
	EXPECT_EQ(0, error);
	memset(vals, 0, (n + 1) * sizeof(*vals));
	for (i = 0; i <= n; i++)
		mbox_recv_init(&r[i], id, &vals[i], sizeof(vals[i]),
			       MBOX_NONBLOCK);
	EXPECT_EQ(-EINVAL, recv_batch(self->fd, r, n + 1, NULL, NULL));
	ASSERT_EQ((int)n, recv_batch(self->fd, r, n, &done, &error));
	EXPECT_EQ(n, done);
	EXPECT_EQ(0, error);
	/* The odd ones (priority 1) first, then the even ones. */
	for (i = 0; i < n; i++) {
		unsigned int k = i < n / 2 ? 2 * i + 1 : 2 * (i - n / 2);

		if (vals[i] != k * 2654435761U || r[i].priority != k % 2) {
			EXPECT_EQ(k * 2654435761U, vals[i])
				TH_LOG("entry %u", i);
			break;
		}
	}
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
	free(s);
	free(r);
	free(vals);
}

static int send_one_fn(void *arg)
{
	struct send_job *j = arg;

	return mbox_ioctl(j->fd, MBOX_IOC_SEND, &j->s[0]);
}

/*
 * Capacity 0: a receive batch takes what senders are offering, one per
 * entry, the first one waiting; a send batch hands each entry to a
 * receiver, one after the other; without a receiver, a non-blocking
 * send batch fails at entry 0 with EAGAIN.
 */
TEST_F(batch, rendezvous_batches)
{
	struct send_job *jobs = calloc(3, sizeof(*jobs));
	struct send_job *sj = calloc(1, sizeof(*sj));
	struct mbox_recv r[5];
	struct mbox_send s[3];
	struct texts x;
	__u32 id, done, error;
	unsigned int i, n;
	char buf[TEXT];
	__u32 len;
	int ep2;

	ASSERT_NE(NULL, jobs);
	ASSERT_NE(NULL, sj);
	ep2 = mbox_dev_open();
	ASSERT_LE(0, ep2);
	ASSERT_EQ(0, box(self->fd, 0, &id));
	ASSERT_EQ(0, mbox_open_id(ep2, id, MBOX_OPEN_SEND));
	texts_init(&x, "v");

	/* Nobody receives: nothing is sent. */
	sends_init(s, 3, id, &x, NULL, MBOX_NONBLOCK);
	EXPECT_EQ(-EAGAIN, send_batch(ep2, s, 3, NULL, NULL));

	/* Three senders waiting: one receive batch takes them all. */
	for (i = 0; i < 3; i++) {
		jobs[i].fd = ep2;
		snprintf(jobs[i].x.t[0], TEXT, "v%u", i);
		mbox_send_init(&jobs[i].s[0], id, jobs[i].x.t[0], 2, 0, 0);
		ASSERT_EQ(0, mbox_bg_run(&jobs[i].bg, send_one_fn, &jobs[i]));
		ASSERT_EQ(0, wait_box(self->fd, id, 0, i + 1));
	}
	recvs_init(r, 5, id, &x, MBOX_NONBLOCK);
	ASSERT_EQ(3, recv_batch(self->fd, r, 5, &done, &error));
	EXPECT_EQ(3, done);
	EXPECT_EQ(EAGAIN, error);
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(0, mbox_bg_join(&jobs[i].bg));
		EXPECT_TRUE(got(_metadata, &r[i], jobs[i].x.t[0], 0));
	}

	/* A send batch: each entry waits for a receiver of its own. */
	sj->fd = ep2;
	texts_init(&sj->x, "v");
	sends_init(sj->s, 3, id, &sj->x, NULL, 0);
	batch_init(&sj->b, sj->s, 3, sizeof(sj->s[0]));
	ASSERT_EQ(0, mbox_bg_run(&sj->bg, send_job_fn, sj));
	for (n = 0; n < 3; n++) {
		len = sizeof(buf);
		mbox_recv_init(&r[0], id, buf, len, MBOX_DEADLINE);
		r[0].deadline_ns = mbox_deadline_ms(FAR_MS);
		ASSERT_EQ(0, mbox_recv_ex(self->fd, &r[0]));
		EXPECT_EQ(0, memcmp(buf, sj->x.t[n], 2)) TH_LOG("entry %u", n);
	}
	EXPECT_EQ(3, mbox_bg_join(&sj->bg));
	EXPECT_EQ(3, sj->b.done);
	EXPECT_EQ(0, sj->b.error);
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
	close(ep2);
	free(jobs);
	free(sj);
}

/*
 * An O_NONBLOCK endpoint: the first receive does not wait either; a
 * send batch stops at the full queue.
 */
TEST_F(batch, o_nonblock_endpoint)
{
	struct mbox_recv r[2];
	struct mbox_send s[3];
	struct texts x;
	__u32 id, done, error;
	int nb;

	nb = mbox_dev_open_flags(O_NONBLOCK);
	ASSERT_LE(0, nb);
	ASSERT_EQ(0, box(nb, 2, &id));
	texts_init(&x, "n");
	recvs_init(r, 2, id, &x, 0);
	EXPECT_EQ(-EAGAIN, recv_batch(nb, r, 2, NULL, NULL));
	sends_init(s, 3, id, &x, NULL, 0);
	ASSERT_EQ(2, send_batch(nb, s, 3, &done, &error));
	EXPECT_EQ(2, done);
	EXPECT_EQ(EAGAIN, error);
	close(nb);
}

/* ---- libmbox ----------------------------------------------------------- */

/* errno before every library call: it must still be there after. */
#define ERRNO_SENTINEL		4242
#define LIB_FAR			MBOX_MS(FAR_MS)

#define EXPECT_RET(want, call) do {					\
		int __ret, __errno;					\
		errno = ERRNO_SENTINEL;					\
		__ret = (call);						\
		__errno = errno;					\
		EXPECT_EQ((want), __ret);				\
		EXPECT_EQ(ERRNO_SENTINEL, __errno);			\
	} while (0)

#define LMAX	200	/* messages of the library tests */

FIXTURE(libbatch) {
	struct mbox_endpoint *ep;
	uint64_t features;
	struct mbox_cleanup cl;
	struct mbox_msg m[LMAX + 1];
	char t[LMAX + 1][TEXT];
	char rb[LMAX + 1][TEXT];
};

FIXTURE_SETUP(libbatch)
{
	int ret;

	self->ep = NULL;
	ret = mbox_endpoint_open(&self->ep);
	if (ret == -ENOENT)
		SKIP(return, "/dev/mbox is absent: the mbox module is not loaded");
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, mbox_endpoint_query(self->ep, NULL, NULL,
					 &self->features));
	if (!(self->features & MBOX_FEATURE_BATCH))
		SKIP(return, "the loaded module has no MBOX_FEATURE_BATCH (ABI 1.5)");
}

FIXTURE_TEARDOWN(libbatch)
{
	lib_cleanup_run(&self->cl);
	mbox_endpoint_close(self->ep);
}

/* Messages "l0".."l<n-1>" (priority prio) into self->m for sending. */
static void lib_out(FIXTURE_DATA(libbatch) *self, unsigned int n, uint32_t prio)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		snprintf(self->t[i], TEXT, "l%u", i);
		self->m[i] = lib_msg(self->t[i], strlen(self->t[i]));
		self->m[i].priority = prio;
		self->m[i].pid = -1;
	}
}

/* n receive buffers of TEXT bytes into self->m. */
static void lib_in(FIXTURE_DATA(libbatch) *self, unsigned int n)
{
	unsigned int i;

	memset(self->rb, '#', sizeof(self->rb));
	for (i = 0; i < n; i++)
		self->m[i] = lib_msg(self->rb[i], TEXT);
}

/* Received message i is "l<want>" from this process. */
static bool lib_got(FIXTURE_DATA(libbatch) *self, unsigned int i,
		    unsigned int want)
{
	char text[TEXT];

	snprintf(text, sizeof(text), "l%u", want);
	return self->m[i].len == strlen(text) &&
	       !memcmp(self->rb[i], text, strlen(text)) &&
	       self->m[i].pid == getpid() && self->m[i].uid == geteuid() &&
	       self->m[i].flags == 0 && self->m[i].token == 0;
}

/* What a mailbox holds, by STAT. */
static uint32_t lib_queued(struct mbox_endpoint *ep, uint32_t id)
{
	struct mbox_info info;

	return mbox_mailbox_stat(ep, id, &info) ? ~0U : info.nr_msgs;
}

TEST_F(libbatch, counts_returned)
{
	uint32_t id;
	unsigned int i;

	ASSERT_EQ(0, lib_create(self->ep, NULL, 0, 8, 0600, &id));
	lib_out(self, 5, 2);
	EXPECT_RET(5, mbox_mailbox_send_batch(self->ep, id, self->m, 5, 0,
					      MBOX_NOWAIT));
	for (i = 0; i < 5; i++)
		EXPECT_EQ(-1, self->m[i].pid);	/* not a sync send */
	EXPECT_EQ(5, lib_queued(self->ep, id));
	lib_in(self, 8);
	EXPECT_RET(5, mbox_mailbox_receive_batch(self->ep, id, self->m, 8, 0,
						 MBOX_NOWAIT));
	for (i = 0; i < 5; i++) {
		EXPECT_TRUE(lib_got(self, i, i)) TH_LOG("message %u", i);
		EXPECT_EQ(2, self->m[i].priority);
	}
	EXPECT_EQ(TEXT, self->m[5].len);	/* not reached */
	EXPECT_EQ('#', self->rb[5][0]);
	/* Nothing left: the first receive's timeout. */
	EXPECT_RET(-EAGAIN, mbox_mailbox_receive_batch(self->ep, id, self->m,
						       8, 0, MBOX_NOWAIT));
	EXPECT_RET(-ETIMEDOUT, mbox_mailbox_receive_batch(self->ep, id,
							  self->m, 8, 0,
							  MBOX_MS(10)));
	/* A full queue: as many as fit. */
	lib_out(self, 10, 0);
	EXPECT_RET(8, mbox_mailbox_send_batch(self->ep, id, self->m, 10, 0,
					      MBOX_NOWAIT));
	EXPECT_RET(-EAGAIN, mbox_mailbox_send_batch(self->ep, id, self->m + 8,
						    2, 0, MBOX_NOWAIT));
	EXPECT_EQ(8, lib_queued(self->ep, id));
}

/*
 * More than 64 messages take several ioctls, in order; a later chunk
 * that stops short ends the call with the count so far, and a receive
 * that finds its next chunk empty returns what it has without waiting.
 */
TEST_F(libbatch, chunks_beyond_64)
{
	uint32_t id;
	unsigned int i;

	ASSERT_EQ(0, lib_create(self->ep, NULL, 0, 150, 0600, &id));
	lib_out(self, LMAX, 0);
	EXPECT_RET(150, mbox_mailbox_send_batch(self->ep, id, self->m, LMAX,
						0, MBOX_NOWAIT));
	EXPECT_EQ(150, lib_queued(self->ep, id));
	lib_in(self, LMAX);
	EXPECT_RET(150, mbox_mailbox_receive_batch(self->ep, id, self->m, LMAX,
						   0, LIB_FAR));
	for (i = 0; i < 150; i++)
		if (!lib_got(self, i, i)) {
			EXPECT_TRUE(lib_got(self, i, i)) TH_LOG("message %u", i);
			break;
		}
	EXPECT_EQ('#', self->rb[150][0]);

	/* Exactly 128 queued, 130 asked: the third ioctl finds none. */
	lib_out(self, 128, 0);
	EXPECT_RET(128, mbox_mailbox_send_batch(self->ep, id, self->m, 128, 0,
						MBOX_NOWAIT));
	lib_in(self, 130);
	EXPECT_RET(128, mbox_mailbox_receive_batch(self->ep, id, self->m, 130,
						   0, LIB_FAR));
	EXPECT_TRUE(lib_got(self, 127, 127));
	EXPECT_EQ(0, lib_queued(self->ep, id));

	/* 64 exactly: one ioctl, nothing left over. */
	lib_out(self, 64, 0);
	EXPECT_RET(64, mbox_mailbox_send_batch(self->ep, id, self->m, 64, 0,
					       MBOX_NOWAIT));
	lib_in(self, 64);
	EXPECT_RET(64, mbox_mailbox_receive_batch(self->ep, id, self->m, 64,
						  0, MBOX_NOWAIT));
	EXPECT_TRUE(lib_got(self, 63, 63));
}

/*
 * A bad message anywhere in the array, also past the first chunk: EINVAL
 * (EMSGSIZE for a length the ABI cannot carry) before any ioctl, nothing
 * sent or received.  So are bad arguments.
 */
TEST_F(libbatch, bad_message_anywhere_nothing_done)
{
	static const unsigned int where[] = { 0, 3, 70, 99 };
	uint32_t id;
	unsigned int i, k;

	ASSERT_EQ(0, lib_create(self->ep, NULL, 0, 150, 0600, &id));
	for (i = 0; i < MBOX_ARRAY_SIZE(where); i++) {
		lib_out(self, 100, 0);
		self->m[where[i]].buf = NULL;
		EXPECT_RET(-EINVAL, mbox_mailbox_send_batch(self->ep, id,
							    self->m, 100, 0,
							    MBOX_NOWAIT));
		lib_out(self, 100, 0);
		self->m[where[i]].priority = MBOX_PRIO_MAX + 1;
		EXPECT_RET(-EINVAL, mbox_mailbox_send_batch(self->ep, id,
							    self->m, 100, 0,
							    MBOX_NOWAIT));
#if __SIZEOF_SIZE_T__ == 8
		lib_out(self, 100, 0);
		self->m[where[i]].len = 1ULL << 32;
		EXPECT_RET(-EMSGSIZE, mbox_mailbox_send_batch(self->ep, id,
							      self->m, 100, 0,
							      MBOX_NOWAIT));
#endif
		EXPECT_EQ(0, lib_queued(self->ep, id));
	}
	lib_out(self, 3, 0);
	EXPECT_RET(-EINVAL, mbox_mailbox_send_batch(self->ep, id, NULL, 3, 0,
						    MBOX_NOWAIT));
	EXPECT_RET(-EINVAL, mbox_mailbox_send_batch(self->ep, id, self->m, 0, 0,
						    MBOX_NOWAIT));
	EXPECT_RET(-EINVAL, mbox_mailbox_send_batch(NULL, id, self->m, 3, 0,
						    MBOX_NOWAIT));
	EXPECT_RET(-EINVAL, mbox_mailbox_send_batch(self->ep, id, self->m, 3,
						    MBOX_NONBLOCK,
						    MBOX_NOWAIT));
	EXPECT_RET(-EINVAL, mbox_mailbox_send_batch(self->ep, id, self->m, 3,
						    MBOX_PIDFD, MBOX_NOWAIT));
	EXPECT_EQ(0, lib_queued(self->ep, id));

	/* Receives: nothing is taken. */
	lib_out(self, 100, 0);
	ASSERT_EQ(100, mbox_mailbox_send_batch(self->ep, id, self->m, 100, 0,
					       MBOX_NOWAIT));
	for (i = 0; i < MBOX_ARRAY_SIZE(where); i++) {
		lib_in(self, 100);
		self->m[where[i]].buf = NULL;
		EXPECT_RET(-EINVAL, mbox_mailbox_receive_batch(self->ep, id,
							       self->m, 100, 0,
							       MBOX_NOWAIT));
		lib_in(self, 100);
		for (k = 0; k < 100; k++)
			self->m[k].pid = getpid();
		self->m[where[i]].pid = 0;	/* with MBOX_RECV_FROM */
		EXPECT_RET(-EINVAL, mbox_mailbox_receive_batch(self->ep, id,
							       self->m, 100,
							       MBOX_RECV_FROM,
							       MBOX_NOWAIT));
		EXPECT_EQ(100, lib_queued(self->ep, id));
	}
	lib_in(self, 3);
	EXPECT_RET(-EINVAL, mbox_mailbox_receive_batch(self->ep, id, NULL, 3, 0,
						       MBOX_NOWAIT));
	EXPECT_RET(-EINVAL, mbox_mailbox_receive_batch(self->ep, id, self->m,
						       0, 0, MBOX_NOWAIT));
	EXPECT_RET(-EINVAL, mbox_mailbox_receive_batch(NULL, id, self->m, 3, 0,
						       MBOX_NOWAIT));
	EXPECT_RET(-EINVAL, mbox_mailbox_receive_batch(self->ep, id, self->m,
						       3, MBOX_DEADLINE,
						       MBOX_NOWAIT));
	EXPECT_EQ(100, lib_queued(self->ep, id));
}

/*
 * EMSGSIZE: the first message too long for its buffer fails the call
 * with the length needed in it; a later one ends it with the count
 * before it and the length needed in its struct, in any chunk; the
 * message stays queued either way.
 */
TEST_F(libbatch, emsgsize_reports_the_length)
{
	static const unsigned int at[] = { 0, 2, 64, 70 };
	uint32_t id;
	unsigned int i, k;

	ASSERT_EQ(0, lib_create(self->ep, NULL, 0, 100, 0600, &id));
	for (i = 0; i < MBOX_ARRAY_SIZE(at); i++) {
		k = at[i];
		lib_out(self, 80, 0);
		ASSERT_EQ(80, mbox_mailbox_send_batch(self->ep, id, self->m,
						      80, 0, MBOX_NOWAIT));
		lib_in(self, 80);
		self->m[k].len = 1;
		EXPECT_RET(k ? (int)k : -EMSGSIZE,
			   mbox_mailbox_receive_batch(self->ep, id, self->m, 80,
						      0, MBOX_NOWAIT));
		EXPECT_EQ(strlen(self->t[k]), self->m[k].len)
			TH_LOG("message %u", k);
		EXPECT_EQ('#', self->rb[k][0]);
		EXPECT_EQ(TEXT, self->m[k + 1].len);
		EXPECT_EQ(80 - k, lib_queued(self->ep, id));
		/* The rest, from message k on. */
		lib_in(self, 80);
		EXPECT_RET((int)(80 - k),
			   mbox_mailbox_receive_batch(self->ep, id, self->m, 80,
						      0, MBOX_NOWAIT));
		EXPECT_TRUE(lib_got(self, 0, k));
	}
}

/* A receiver process for the synchronous sends. */
struct lib_receiver {
	uint32_t id;
	unsigned int n;
};

static int lib_receiver_fn(void *arg)
{
	struct lib_receiver *lr = arg;
	struct mbox_endpoint *ep;
	char buf[TEXT];
	struct mbox_msg m;
	unsigned int i;
	int ret;

	ret = mbox_endpoint_open(&ep);
	if (ret)
		return ret;
	ret = mbox_mailbox_open_id(ep, lr->id, MBOX_OPEN_RECV);
	for (i = 0; !ret && i < lr->n; i++) {
		m = lib_msg(buf, sizeof(buf));
		ret = mbox_mailbox_receive(ep, lr->id, &m, 0,
					   MBOX_MS(FAR_MS));
		if (!ret && m.flags != MBOX_MSG_SYNC)
			ret = -EBADMSG;
	}
	mbox_endpoint_close(ep);
	return ret;
}

/* MBOX_SEND_SYNC: every message's pid is the process that took it. */
TEST_F(libbatch, sync_send_reports_receiver_pids)
{
	struct lib_receiver lr = { .n = 3 };
	unsigned int i;
	uint32_t id;
	pid_t pid;

	ASSERT_EQ(0, lib_create_system(self->ep, &self->cl, NULL, 4, 0600,
				       &id));
	lr.id = id;
	pid = mbox_spawn(lib_receiver_fn, &lr);
	ASSERT_LT(0, pid);
	mbox_track_pid(&self->cl, pid);
	lib_out(self, 3, 0);
	EXPECT_RET(3, mbox_mailbox_send_batch(self->ep, id, self->m, 3,
					      MBOX_SEND_SYNC, LIB_FAR));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(pid, self->m[i].pid) TH_LOG("message %u", i);
	EXPECT_EQ(0, mbox_reap(pid));
	/* Without a receiver, nothing: a sync send needs one now. */
	lib_out(self, 3, 0);
	EXPECT_RET(-EAGAIN, mbox_mailbox_send_batch(self->ep, id, self->m, 3,
						    MBOX_SEND_SYNC,
						    MBOX_NOWAIT));
	EXPECT_EQ(-1, self->m[0].pid);
}

/* The process variants: by pid and by pidfd, both ways. */
TEST_F(libbatch, process_variants)
{
	struct mbox_endpoint *ep2;
	struct mbox_attr a;
	unsigned int i;
	int pidfd;

	if (!(self->features & MBOX_FEATURE_DIRECT))
		SKIP(return, "no MBOX_FEATURE_DIRECT");
	ASSERT_EQ(0, mbox_endpoint_open(&ep2));
	mbox_attr_init(&a);
	a.capacity = 100;
	ASSERT_EQ(0, mbox_process_enable(ep2, &a, 0));
	pidfd = mbox_pidfd_open(getpid());
	ASSERT_LE(0, pidfd);

	lib_out(self, 70, 0);
	EXPECT_RET(70, mbox_process_send_batch(self->ep, getpid(), self->m, 70,
					       0, MBOX_NOWAIT));
	lib_out(self, 5, 0);
	EXPECT_RET(5, mbox_process_send_batch(self->ep, pidfd, self->m, 5,
					      MBOX_PIDFD, MBOX_NOWAIT));
	lib_in(self, 100);
	EXPECT_RET(75, mbox_process_receive_batch(ep2, 0, self->m, 100, 0,
						  MBOX_NOWAIT));
	for (i = 0; i < 75; i++)
		if (!lib_got(self, i, i < 70 ? i : i - 70)) {
			EXPECT_TRUE(false) TH_LOG("message %u", i);
			break;
		}
	/* By pid and by pidfd as receive(Q). */
	lib_out(self, 4, 0);
	EXPECT_RET(4, mbox_process_send_batch(self->ep, getpid(), self->m, 4,
					      0, MBOX_NOWAIT));
	lib_in(self, 4);
	EXPECT_RET(2, mbox_process_receive_batch(ep2, getpid(), self->m, 2, 0,
						 MBOX_NOWAIT));
	EXPECT_TRUE(lib_got(self, 1, 1));
	lib_in(self, 4);
	EXPECT_RET(2, mbox_process_receive_batch(ep2, pidfd, self->m, 4,
						 MBOX_PIDFD, LIB_FAR));
	EXPECT_TRUE(lib_got(self, 0, 2));
	EXPECT_TRUE(lib_got(self, 1, 3));
	/* Errors of the process variants. */
	EXPECT_RET(-EINVAL, mbox_process_send_batch(self->ep, 0, self->m, 1, 0,
						    MBOX_NOWAIT));
	EXPECT_RET(-EINVAL, mbox_process_receive_batch(ep2, 0, self->m, 1,
						       MBOX_PIDFD,
						       MBOX_NOWAIT));
	EXPECT_RET(-EINVAL, mbox_process_receive_batch(ep2, -1, self->m, 1, 0,
						       MBOX_NOWAIT));
	EXPECT_RET(-EINVAL, mbox_process_send_batch(NULL, getpid(), self->m, 1,
						    0, MBOX_NOWAIT));
	EXPECT_RET(-EINVAL, mbox_process_receive_batch(NULL, 0, self->m, 1, 0,
						       MBOX_NOWAIT));
	EXPECT_RET(-EBADF, mbox_process_receive_batch(self->ep, 0, self->m, 1,
						      0, MBOX_NOWAIT));
	EXPECT_RET(-EAGAIN, mbox_process_receive_batch(ep2, 0, self->m, 1, 0,
						       MBOX_NOWAIT));
	close(pidfd);
	mbox_endpoint_close(ep2);
}

/* The library's receive batch: only the first message is waited for. */
struct lib_recv_job {
	struct mbox_endpoint *ep;
	uint32_t id;
	struct mbox_msg m[4];
	char rb[4][TEXT];
	struct mbox_bg bg;
};

static int lib_recv_job_fn(void *arg)
{
	struct lib_recv_job *j = arg;

	return mbox_mailbox_receive_batch(j->ep, j->id, j->m, 4, 0,
					  MBOX_FOREVER);
}

TEST_F(libbatch, receive_waits_for_the_first_only)
{
	struct lib_recv_job *j = calloc(1, sizeof(*j));
	struct mbox_endpoint *ep2;
	unsigned int i;
	uint32_t id;

	ASSERT_NE(NULL, j);
	ASSERT_EQ(0, mbox_endpoint_open(&ep2));
	ASSERT_EQ(0, lib_create(self->ep, NULL, 0, 8, 0622, &id));
	ASSERT_EQ(0, mbox_mailbox_open_id(ep2, id, MBOX_OPEN_SEND));
	j->ep = self->ep;
	j->id = id;
	for (i = 0; i < 4; i++)
		j->m[i] = lib_msg(j->rb[i], TEXT);
	ASSERT_EQ(0, mbox_bg_run(&j->bg, lib_recv_job_fn, j));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&j->bg));
	ASSERT_EQ(0, lib_send_str(ep2, id, "first", 0, MBOX_NOWAIT));
	EXPECT_EQ(1, mbox_bg_join(&j->bg));
	EXPECT_EQ(5, j->m[0].len);
	EXPECT_EQ(0, memcmp(j->rb[0], "first", 5));
	EXPECT_EQ(TEXT, j->m[1].len);
	mbox_endpoint_close(ep2);
	free(j);
}

/*
 * libmbox under an injected fault at every site a batch call reaches in
 * turn (fail-nth; root and a kernel with fault injection: the debug
 * kernel): nothing is done twice and nothing received is dropped.  A
 * fault at the header's write-back leaves done and error unwritten, while
 * the ioctl still returns its count: the library must take that count,
 * not send the batch's entries again or receive over what it took.
 * Sends: 3 to a mailbox, each queued once, in order, as many as returned
 * (one more if the entry after them failed at its own write-back, after
 * it went, as SEND's); receives: a batch of 4 of 3 queued, the ones
 * returned those first in line, the rest still queued.
 */
#define FAIL_NTH	"/proc/thread-self/fail-nth"

static const char *const quiet_knobs[] = {
	"/sys/kernel/debug/fail_usercopy/verbose",
	"/sys/kernel/debug/failslab/verbose",
	"/sys/kernel/debug/fail_page_alloc/verbose",
};

/* Write val to a debugfs file, its old value into old first. */
static int knob_swap(const char *path, char *old, size_t size,
		     const char *val)
{
	ssize_t n = -1;
	int fd, ret = 0;

	if (old) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		n = read(fd, old, size - 1);
		close(fd);
		old[n > 0 ? n : 0] = '\0';
		old[strcspn(old, "\n")] = '\0';
	}
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Whether the fault armed was injected; none is pending afterwards. */
static bool nth_disarm(int fd)
{
	char v[16] = "";
	bool hit;

	/* Reading and writing it may meet the fault themselves. */
	hit = pread(fd, v, sizeof(v) - 1, 0) > 0 && atoi(v) == 0;
	if (pwrite(fd, "0", 1, 0) != 1)
		(void)!pwrite(fd, "0", 1, 0);
	return hit;
}

static int nth_arm(int fd, unsigned int n)
{
	char v[16];
	int len = snprintf(v, sizeof(v), "%u", n);

	return pwrite(fd, v, len, 0) == len ? 0 : -errno;
}

TEST_F(libbatch, injected_fault_repeats_or_drops_nothing)
{
	static const char *const sent[] = { "s0", "s1", "s2" };
	static const char *const queued[] = { "q0", "q1", "q2" };
	char old[MBOX_ARRAY_SIZE(quiet_knobs)][16];
	unsigned int n, i, k, hits = 0;
	bool saved[MBOX_ARRAY_SIZE(quiet_knobs)] = { false };
	int fd, ret;
	uint32_t id;

	MBOX_NEED_ROOT("inject faults (fail-nth, debugfs)");
	if (access(FAIL_NTH, F_OK) ||
	    access(quiet_knobs[0], F_OK))
		SKIP(return, "no " FAIL_NTH " or fail_usercopy: a kernel without fault injection");
	fd = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	/* Each fault would print a stack trace: a splat to make check. */
	for (i = 0; i < MBOX_ARRAY_SIZE(quiet_knobs); i++)
		saved[i] = !knob_swap(quiet_knobs[i], old[i], sizeof(old[i]),
				      "0");
	ASSERT_TRUE(saved[0]);

	for (n = 1; n < 64; n++) {
		bool send_hit, recv_hit;

		ASSERT_EQ(0, lib_create(self->ep, NULL, 0, 8, 0600, &id));
		lib_out(self, 3, 0);
		for (i = 0; i < 3; i++)
			self->m[i] = lib_msg(sent[i], 2);
		ASSERT_EQ(0, nth_arm(fd, n));
		ret = mbox_mailbox_send_batch(self->ep, id, self->m, 3, 0,
					      MBOX_NOWAIT);
		send_hit = nth_disarm(fd);
		/* As many as returned, maybe one more; each once, in order. */
		k = lib_queued(self->ep, id);
		if (ret < 0) {
			EXPECT_TRUE(send_hit && (ret == -EFAULT ||
						 ret == -ENOMEM))
				TH_LOG("fault %u: send batch returned %d", n,
				       ret);
			EXPECT_GE(1, k) TH_LOG("fault %u: %u queued", n, k);
		} else {
			EXPECT_TRUE(ret >= 1 && ret <= 3 && k >= (unsigned)ret &&
				    k <= (unsigned)ret + send_hit &&
				    (ret == 3 || send_hit) && k <= 3)
				TH_LOG("fault %u%s: send batch of 3 returned %d, %u queued",
				       n, send_hit ? "" : " (not reached)",
				       ret, k);
		}
		for (i = 0; i < k && i < 3; i++) {
			EXPECT_TRUE(lib_recv_is(self->ep, id, sent[i]))
				TH_LOG("fault %u: message %u", n, i);
		}
		EXPECT_TRUE(lib_queue_empty(self->ep, id))
			TH_LOG("fault %u: more queued than sent", n);

		for (i = 0; i < 3; i++)
			ASSERT_EQ(0, lib_send_str(self->ep, id, queued[i], 0,
						  MBOX_NOWAIT));
		lib_in(self, 4);
		ASSERT_EQ(0, nth_arm(fd, n));
		ret = mbox_mailbox_receive_batch(self->ep, id, self->m, 4, 0,
						 MBOX_NOWAIT);
		recv_hit = nth_disarm(fd);
		/* Taken in order and returned, or still queued, in order. */
		k = ret > 0 ? (ret < 3 ? (unsigned int)ret : 3) : 0;
		EXPECT_TRUE(ret == 3 || (recv_hit && k < 3 &&
					 (ret >= 0 || ret == -EFAULT ||
					  ret == -ENOMEM)))
			TH_LOG("fault %u%s: receive batch of 4, 3 queued, returned %d",
			       n, recv_hit ? "" : " (not reached)", ret);
		for (i = 0; i < k; i++) {
			EXPECT_TRUE(self->m[i].len == 2 &&
				    !memcmp(self->rb[i], queued[i], 2))
				TH_LOG("fault %u: message %u", n, i);
		}
		for (i = k; i < 3; i++) {
			EXPECT_TRUE(lib_recv_is(self->ep, id, queued[i]))
				TH_LOG("fault %u: message q%u lost (receive batch returned %d)",
				       n, i, ret);
		}
		EXPECT_TRUE(lib_queue_empty(self->ep, id));
		ASSERT_EQ(0, mbox_mailbox_destroy(self->ep, id));
		hits += send_hit || recv_hit;
		if (!send_hit && !recv_hit)
			break;
		if (_metadata->exit_code)
			break;
	}
	for (i = 0; i < MBOX_ARRAY_SIZE(quiet_knobs); i++)
		if (saved[i])
			knob_swap(quiet_knobs[i], NULL, 0, old[i]);
	close(fd);
	EXPECT_LT(n, 64) TH_LOG("no end to the fault sites");
	EXPECT_LT(0, hits);
	ksft_print_msg("%u faults injected into libmbox batches\n", hits);
}

TEST_HARNESS_MAIN
