// SPDX-License-Identifier: GPL-2.0
/*
 * ABI conformance of every ioctl: Documentation/abi.rst, "Conventions of
 * every ioctl", checked the same way for all of them, through the raw
 * ioctls.
 *
 * ops[] has one row per ioctl, and per mode of one that builds a
 * different state (DIRECT enable, query and disable; SET of the mode and
 * of the owner; RECV from a mailbox and of a direct message; REPLY alone
 * and with MBOX_REPLY_RECV; SEND_BATCH and RECV_BATCH, whose entries are
 * a user array the state holds).  A row gives the command, the size of the
 * struct and of its first version, the defined flag bits (and the
 * combinations of them that are invalid), the role of every field under
 * the flags of the row's valid argument (struct field: in, out, both,
 * reserved, padding, ignored, or zero without its flag), the embedded user
 * pointers (struct ptr), what a success returns (0; a batch the number of
 * its entries, all done), and three callbacks: prepare() builds the state
 * the call needs (a mailbox open with the right rights, a queued message,
 * a caller waiting for the reply to the token it holds, direct receiving,
 * ...) and a valid argument for it; start() what must run while it
 * succeeds (CALL's server); check() what success looks like.
 *
 * Each test goes over the table.  A call that must fail is made on the
 * state prepare() built, with the valid argument changed in one way
 * (fail_at()); the argument must come back untouched, and the state must
 * be the one snapshot_take() saw before (the mailbox's STAT, the
 * mailboxes there are, direct receiving, the pending call and its token,
 * poll, the user buffers).  Last, the valid argument must still succeed,
 * so every failure was the change's doing.
 *
 * Two faults come after the work, as abi.rst says; fault_after_the_work
 * pins them: CALL's reply buffer (the reply is lost), and REPLY's
 * MBOX_REPLY_RECV receive, whose errors all come after the reply was
 * delivered.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/mbox.h>

#include "mbox_util.h"
#include "kselftest_harness.h"

/*
 * The size of the first version of every struct: what the module must
 * accept for good, whatever later versions of the header add.
 */
#define VERSION_V1	24
#define CREATE_V1	48
#define OPEN_V1		24
#define ID_V1		16
#define SET_V1		24
#define STAT_V1		112
#define SEND_V1		48
#define RECV_V1		72
#define DIRECT_V1	32
#define CALL_V1		56
#define REPLY_V1	40
#define BATCH_V1	32

_Static_assert(sizeof(struct mbox_version) == VERSION_V1, "layout");
_Static_assert(sizeof(struct mbox_create) == CREATE_V1, "layout");
_Static_assert(sizeof(struct mbox_open) == OPEN_V1, "layout");
_Static_assert(sizeof(struct mbox_id) == ID_V1, "layout");
_Static_assert(sizeof(struct mbox_set) == SET_V1, "layout");
_Static_assert(sizeof(struct mbox_stat) == STAT_V1, "layout");
_Static_assert(sizeof(struct mbox_send) == SEND_V1, "layout");
_Static_assert(sizeof(struct mbox_recv) == RECV_V1, "layout");
_Static_assert(sizeof(struct mbox_direct) == DIRECT_V1, "layout");
_Static_assert(sizeof(struct mbox_call) == CALL_V1, "layout");
_Static_assert(sizeof(struct mbox_reply) == REPLY_V1, "layout");
_Static_assert(sizeof(struct mbox_batch) == BATCH_V1, "layout");

#define MSG		"0123456789abcdef"	/* every message but replies */
#define MSG_LEN		16
#define REPLY_CAP	16	/* the reply buffer of a REPLY row's caller */
#define TAIL_MAX	4096	/* the longest tail past the struct */
#define CANARY		64	/* bytes after the tail that nobody writes */
#define ARG_MAX		(STAT_V1 + TAIL_MAX + CANARY)

#define FEATURES_ALL	(MBOX_FEATURE_VERSION | MBOX_FEATURE_MAILBOX |	\
			 MBOX_FEATURE_DIRECT | MBOX_FEATURE_CALL |	\
			 MBOX_FEATURE_STAT)

#define NBATCH		2	/* entries of the batch rows */

/*
 * A struct pointer in the kernel's half (for a 32-bit program: the top
 * page of its 4 GiB, above what it can map), and a __u64 pointer field's.
 */
#if __SIZEOF_LONG__ == 8
#define KERNEL_ARG	((void *)0xffff888000000000UL)
#else
#define KERNEL_ARG	((void *)0xfffff000UL)
#endif
#define KERNEL_PTR	0xffff888000000000ULL

/* ---- the table ---------------------------------------------------------- */

enum role {
	IN,	/* input the call needs */
	IO,	/* input the call needs, and output */
	OUT,	/* output only: ignored on input, always written */
	PAD,	/* output padding: ignored on input, written 0 */
	RES,	/* reserved: must be 0 (EINVAL) */
	ZERO,	/* not used under the row's flags, yet must be 0 (EINVAL) */
	IGN,	/* not used under the row's flags: ignored, left as given */
};

struct field {
	const char *name;
	unsigned int off;
	unsigned int len;
	enum role role;
};

#define FLD(type, member, role) {					\
	#member, offsetof(struct type, member),				\
	sizeof(((struct type *)0)->member), role }

/* An embedded user pointer (a __u64 field). */
struct ptr {
	const char *name;
	unsigned int off;
	bool string;	/* a NUL-terminated name */
	bool writes;	/* the kernel writes there (else it only reads) */
	bool nested;	/* to a struct mbox_recv (REPLY's recv) */
	bool late;	/* a fault there comes after the work (documented) */
	int null_errno;	/* what 0 gives: 0 if 0 is valid ("none") */
	bool null_late;	/* and that is a late fault too */
	unsigned int array;	/* to an array of structs of this many bytes
				 * (a batch's entries): a bad copy keeps them */
};

/*
 * The fields of each struct, with their roles under the flags of the
 * valid argument of the row that uses the table.
 */
static const struct field version_fields[] = {
	FLD(mbox_version, size, IN),
	FLD(mbox_version, flags, IN),
	FLD(mbox_version, abi_major, OUT),
	FLD(mbox_version, abi_minor, OUT),
	FLD(mbox_version, features, OUT),
};

static const struct field create_fields[] = {
	FLD(mbox_create, size, IN),
	FLD(mbox_create, flags, IN),
	FLD(mbox_create, name, IN),
	FLD(mbox_create, capacity, IN),
	FLD(mbox_create, max_msg_size, IO),
	FLD(mbox_create, max_bytes, IN),
	FLD(mbox_create, msg_size, IN),
	FLD(mbox_create, mode, IN),
	FLD(mbox_create, policy, IN),
	FLD(mbox_create, id, OUT),
};

/* By name: the id is only output. */
static const struct field open_fields[] = {
	FLD(mbox_open, size, IN),
	FLD(mbox_open, flags, IN),
	FLD(mbox_open, id, OUT),
	FLD(mbox_open, __reserved, RES),
	FLD(mbox_open, name, IN),
};

static const struct field id_fields[] = {
	FLD(mbox_id, size, IN),
	FLD(mbox_id, flags, IN),
	FLD(mbox_id, id, IN),
	FLD(mbox_id, __reserved, RES),
};

/* MBOX_SET_MODE alone. */
static const struct field set_mode_fields[] = {
	FLD(mbox_set, size, IN),
	FLD(mbox_set, flags, IN),
	FLD(mbox_set, id, IN),
	FLD(mbox_set, uid, IGN),
	FLD(mbox_set, gid, IGN),
	FLD(mbox_set, mode, IN),
};

/* MBOX_SET_UID | MBOX_SET_GID. */
static const struct field set_owner_fields[] = {
	FLD(mbox_set, size, IN),
	FLD(mbox_set, flags, IN),
	FLD(mbox_set, id, IN),
	FLD(mbox_set, uid, IN),
	FLD(mbox_set, gid, IN),
	FLD(mbox_set, mode, IGN),
};

static const struct field stat_fields[] = {
	FLD(mbox_stat, size, IN),
	FLD(mbox_stat, flags, IN),
	FLD(mbox_stat, id, IO),
	FLD(mbox_stat, name_len, IO),
	FLD(mbox_stat, name, IN),
	FLD(mbox_stat, attrs, OUT),
	FLD(mbox_stat, policy, OUT),
	FLD(mbox_stat, mode, OUT),
	FLD(mbox_stat, uid, OUT),
	FLD(mbox_stat, gid, OUT),
	FLD(mbox_stat, cuid, OUT),
	FLD(mbox_stat, cgid, OUT),
	FLD(mbox_stat, capacity, OUT),
	FLD(mbox_stat, max_msg_size, OUT),
	FLD(mbox_stat, msg_size, OUT),
	FLD(mbox_stat, max_bytes, OUT),
	FLD(mbox_stat, nr_bytes, OUT),
	FLD(mbox_stat, nr_msgs, OUT),
	FLD(mbox_stat, nr_open, OUT),
	FLD(mbox_stat, nr_senders, OUT),
	FLD(mbox_stat, nr_receivers, OUT),
	FLD(mbox_stat, total_sent, OUT),
	FLD(mbox_stat, total_received, OUT),
};

/* MBOX_NONBLOCK: no deadline. */
static const struct field send_fields[] = {
	FLD(mbox_send, size, IN),
	FLD(mbox_send, flags, IN),
	FLD(mbox_send, addr, IN),
	FLD(mbox_send, to, IN),
	FLD(mbox_send, buf, IN),
	FLD(mbox_send, len, IN),
	FLD(mbox_send, priority, IN),
	FLD(mbox_send, deadline_ns, IGN),
	FLD(mbox_send, receiver_pid, OUT),
	FLD(mbox_send, __pad, PAD),
};

/* MBOX_NONBLOCK: no deadline, no MBOX_RECV_FROM. */
static const struct field recv_fields[] = {
	FLD(mbox_recv, size, IN),
	FLD(mbox_recv, flags, IN),
	FLD(mbox_recv, addr, IN),
	FLD(mbox_recv, from, IN),
	FLD(mbox_recv, buf, IN),
	FLD(mbox_recv, len, IO),
	FLD(mbox_recv, from_pid, ZERO),
	FLD(mbox_recv, deadline_ns, IGN),
	FLD(mbox_recv, priority, OUT),
	FLD(mbox_recv, msg_flags, OUT),
	FLD(mbox_recv, sender_pid, OUT),
	FLD(mbox_recv, sender_uid, OUT),
	FLD(mbox_recv, sender_gid, OUT),
	FLD(mbox_recv, __pad, PAD),
	FLD(mbox_recv, token, OUT),
};

static const struct field direct_enable_fields[] = {
	FLD(mbox_direct, size, IN),
	FLD(mbox_direct, flags, IO),
	FLD(mbox_direct, capacity, IO),
	FLD(mbox_direct, max_msg_size, IO),
	FLD(mbox_direct, max_bytes, IO),
	FLD(mbox_direct, links, OUT),
	FLD(mbox_direct, pid, OUT),
};

/* MBOX_DIRECT_QUERY: the limits are only output. */
static const struct field direct_query_fields[] = {
	FLD(mbox_direct, size, IN),
	FLD(mbox_direct, flags, IO),
	FLD(mbox_direct, capacity, OUT),
	FLD(mbox_direct, max_msg_size, OUT),
	FLD(mbox_direct, max_bytes, OUT),
	FLD(mbox_direct, links, OUT),
	FLD(mbox_direct, pid, OUT),
};

/* MBOX_DIRECT_DISABLE: the limits are not used, and come back as given. */
static const struct field direct_disable_fields[] = {
	FLD(mbox_direct, size, IN),
	FLD(mbox_direct, flags, IN),
	FLD(mbox_direct, capacity, IGN),
	FLD(mbox_direct, max_msg_size, IGN),
	FLD(mbox_direct, max_bytes, IGN),
	FLD(mbox_direct, links, OUT),
	FLD(mbox_direct, pid, OUT),
};

/* MBOX_NONBLOCK: no deadline. */
static const struct field call_fields[] = {
	FLD(mbox_call, size, IN),
	FLD(mbox_call, flags, IN),
	FLD(mbox_call, addr, IN),
	FLD(mbox_call, to, IN),
	FLD(mbox_call, buf, IN),
	FLD(mbox_call, len, IN),
	FLD(mbox_call, priority, IN),
	FLD(mbox_call, deadline_ns, IGN),
	FLD(mbox_call, reply_buf, IN),
	FLD(mbox_call, reply_len, IO),
	FLD(mbox_call, server_pid, OUT),
};

/* Without MBOX_REPLY_RECV, recv must be 0. */
static const struct field reply_fields[] = {
	FLD(mbox_reply, size, IN),
	FLD(mbox_reply, flags, IN),
	FLD(mbox_reply, token, IN),
	FLD(mbox_reply, buf, IN),
	FLD(mbox_reply, len, IN),
	FLD(mbox_reply, __reserved, RES),
	FLD(mbox_reply, recv, ZERO),
};

static const struct field reply_recv_fields[] = {
	FLD(mbox_reply, size, IN),
	FLD(mbox_reply, flags, IN),
	FLD(mbox_reply, token, IN),
	FLD(mbox_reply, buf, IN),
	FLD(mbox_reply, len, IN),
	FLD(mbox_reply, __reserved, RES),
	FLD(mbox_reply, recv, IN),
};

/* SEND_BATCH and RECV_BATCH: no flag, no reserved field. */
static const struct field batch_fields[] = {
	FLD(mbox_batch, size, IN),
	FLD(mbox_batch, flags, IN),
	FLD(mbox_batch, entries, IN),
	FLD(mbox_batch, count, IN),
	FLD(mbox_batch, entry_size, IN),
	FLD(mbox_batch, done, OUT),
	FLD(mbox_batch, error, OUT),
};


struct world;

struct op {
	const char *name;
	unsigned long cmd;
	unsigned int nr;
	__u64 feature;		/* the MBOX_FEATURE_* it needs, beyond ABI 1.4 */
	__u32 size;		/* sizeof the struct, as this header knows it */
	__u32 first_size;	/* sizeof its first version */
	bool out;		/* the struct is written back */
	int ok;			/* what a success returns: 0, a batch's count */
	__u32 defined;		/* the flag bits defined for this ioctl */
	__u32 bad_flags[4];	/* invalid combinations of defined bits */
	unsigned int nbad;
	const struct field *fields;
	unsigned int nfields;
	const struct ptr *ptrs;
	unsigned int nptrs;
	/* REPLY's recv: the struct mbox_recv it points to */
	const struct field *nested;
	unsigned int nnested;
	int (*prepare)(struct world *w, void *arg);
	int (*start)(struct world *w);
	void (*check)(struct __test_metadata *_metadata, struct world *w,
		      const void *arg);
	/* make the valid argument fail with EMSGSIZE, which copies back */
	void (*emsgsize)(struct world *w, void *arg);
	void (*check_emsgsize)(struct __test_metadata *_metadata,
			       struct world *w, const void *arg);
	/* after a late fault: what the call did before it */
	void (*after_late)(struct __test_metadata *_metadata, struct world *w,
			   const void *arg);
};

/* ---- the state a row's call runs in ------------------------------------- */

/* What must not change when a call fails. */
struct snapshot {
	int stat;		/* STAT of the row's mailbox */
	struct mbox_stat st;
	__u32 nboxes;		/* the mailboxes STAT_NEXT lists */
	__u32 newest;
	int direct;		/* DIRECT QUERY on the row's endpoint */
	struct mbox_direct d;
	int token;		/* a too-long REPLY: -EMSGSIZE while owed */
	bool caller_done;	/* the thread of the world has returned */
	short revents;		/* poll of the row's endpoint */
	__u32 bufs;		/* the user buffers of the world */
};

struct world {
	const struct op *op;
	bool prefill;		/* REPLY's recv struct: 0xA5 but its inputs */
	int fd;			/* the call is made here */
	int other;		/* a second endpoint */
	int probe;		/* a third, for STAT probes */
	__u32 floor;		/* the newest mailbox before the world */
	__u32 id;		/* the row's mailbox, 0 if none */
	__u64 token;		/* the call fd owes a reply to, 0 if none */
	char name[64];
	struct mbox_bg bg;	/* a caller (REPLY rows), a server (CALL) */
	struct mbox_call call;	/* the caller's call */
	struct mbox_recv srv;	/* the server's receive */
	struct {
		struct mbox_recv r;
		unsigned char tail[8];
	} recv;			/* REPLY's MBOX_REPLY_RECV receive */
	struct mbox_recv recv_before;
	struct mbox_send bsend[NBATCH];	/* the batch rows' entries */
	struct mbox_recv brecv[NBATCH];
	struct mbox_send bsend_before[NBATCH];
	struct mbox_recv brecv_before[NBATCH];
	char bbuf[NBATCH][64];		/* and their buffers */
	char buf[64];		/* RECV's buffer, STAT's name buffer */
	char reply[64];		/* the caller's reply buffer */
	char srvbuf[64];
	char big[REPLY_CAP + 1];
	struct snapshot s0;
};

/* Pages for pointers that fault, set up by the fixture. */
static struct {
	long pg;
	unsigned char *map;
	unsigned char *a_end;	/* end of a read-write page; then ... */
	unsigned char *none;	/* ... a PROT_NONE page */
	unsigned char *b_end;	/* end of a read-write page; then ... */
	unsigned char *ro;	/* ... a read-only page */
	unsigned char *s;	/* two read-write pages for arguments */
} mem;

static unsigned long long default_msg_size = 8192;
static __u64 module_features;

static void ro_write(const void *src, size_t len)
{
	mprotect(mem.ro, mem.pg, PROT_READ | PROT_WRITE);
	memset(mem.ro, 0, mem.pg);
	memcpy(mem.ro, src, len);
	mprotect(mem.ro, mem.pg, PROT_READ);
}

static __u32 hash(__u32 h, const void *p, size_t len)
{
	const unsigned char *c = p;

	while (len--)
		h = (h ^ *c++) * 16777619U;
	return h;
}

static int stat_of(int fd, __u32 id, struct mbox_stat *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	st->id = id;
	return mbox_ioctl(fd, MBOX_IOC_STAT, st);
}

/* The number of mailboxes from id @from on, and the newest. */
static __u32 boxes_from(int fd, __u32 from, __u32 *newest)
{
	struct mbox_stat st;
	__u32 n = 0, id = from;

	*newest = 0;
	for (;;) {
		memset(&st, 0, sizeof(st));
		st.size = sizeof(st);
		st.flags = MBOX_STAT_NEXT;
		st.id = id;
		if (mbox_ioctl(fd, MBOX_IOC_STAT, &st) || st.id < id)
			break;
		n++;
		*newest = st.id;
		if (st.id == ~0U)
			break;
		id = st.id + 1;
	}
	return n;
}

static void snapshot_take(struct world *w, struct snapshot *s)
{
	memset(s, 0, sizeof(*s));
	if (w->id)
		s->stat = stat_of(w->probe, w->id, &s->st);
	s->nboxes = boxes_from(w->probe, 1, &s->newest);
	s->d.size = sizeof(s->d);
	s->d.flags = MBOX_DIRECT_QUERY;
	s->direct = mbox_ioctl(w->fd, MBOX_IOC_DIRECT, &s->d);
	if (w->token)
		s->token = mbox_reply(w->fd, w->token, w->big, sizeof(w->big));
	s->caller_done = w->bg.started && mbox_bg_done(&w->bg);
	s->revents = poll_now(w->fd, POLLIN | POLLOUT);
	s->bufs = hash(2166136261U, w->buf, sizeof(w->buf));
	s->bufs = hash(s->bufs, w->reply, sizeof(w->reply));
	s->bufs = hash(s->bufs, &w->recv, sizeof(w->recv));
	s->bufs = hash(s->bufs, w->bsend, sizeof(w->bsend));
	s->bufs = hash(s->bufs, w->brecv, sizeof(w->brecv));
	s->bufs = hash(s->bufs, w->bbuf, sizeof(w->bbuf));
}

static bool snapshot_same(struct __test_metadata *_metadata,
			  const struct snapshot *a, const struct snapshot *b)
{
	if (!memcmp(a, b, sizeof(*a)))
		return true;
	TH_LOG("state changed: stat %d/%d msgs %u/%u open %u/%u sent %llu/%llu",
	       a->stat, b->stat, a->st.nr_msgs, b->st.nr_msgs,
	       a->st.nr_open, b->st.nr_open,
	       (unsigned long long)a->st.total_sent,
	       (unsigned long long)b->st.total_sent);
	TH_LOG("  received %llu/%llu mode %o/%o uid %u/%u boxes %u/%u newest %u/%u",
	       (unsigned long long)a->st.total_received,
	       (unsigned long long)b->st.total_received,
	       a->st.mode, b->st.mode, a->st.uid, b->st.uid,
	       a->nboxes, b->nboxes, a->newest, b->newest);
	TH_LOG("  direct %d/%d links %u/%u token %d/%d caller %d/%d poll %#x/%#x",
	       a->direct, b->direct, a->d.links, b->d.links, a->token,
	       b->token, a->caller_done, b->caller_done, a->revents,
	       b->revents);
	TH_LOG("  buffers %#x/%#x", a->bufs, b->bufs);
	return false;
}

static int world_recv_call(struct world *w)
{
	struct mbox_recv r;
	char buf[64];
	int ret;

	mbox_recv_init(&r, w->id, buf, sizeof(buf), MBOX_DEADLINE);
	r.deadline_ns = mbox_deadline_ms(MBOX_WAIT_MS);
	ret = mbox_recv_ex(w->fd, &r);
	if (ret)
		return ret;
	if (!(r.msg_flags & MBOX_MSG_CALL) || !r.token)
		return -EBADMSG;
	w->token = r.token;
	return 0;
}

/* Prefill @img but for the fields with roles kept (inputs, reserved). */
static void fill_a5(const struct field *fields, unsigned int n, void *img,
		    size_t size)
{
	unsigned char valid[ARG_MAX];
	unsigned int i;

	memcpy(valid, img, size);
	memset(img, 0xa5, size);
	for (i = 0; i < n; i++) {
		const struct field *f = &fields[i];

		if (f->role == IN || f->role == IO || f->role == RES ||
		    f->role == ZERO)
			memcpy((char *)img + f->off, valid + f->off, f->len);
	}
}

/*
 * Wait until the caller of a call that was received counts as a sender
 * that is done.  The module counts it when the request is received
 * (stat_test's blocked_send_counted_when_it_completes); this only guards
 * the snapshot against a regression there turning into a flaky test.
 */
static int world_settle(struct world *w)
{
	__u64 end = mbox_deadline_ms(MBOX_WAIT_MS);
	struct mbox_stat st;
	int ret;

	for (;;) {
		ret = stat_of(w->probe, w->id, &st);
		if (ret)
			return ret;
		if (st.total_sent == st.total_received && !st.nr_senders)
			return 0;
		if (mbox_now_ns() > end)
			return -ETIMEDOUT;
		mbox_sleep_ms(1);
	}
}

/*
 * Build the state of @op and a valid argument in @arg (op->size bytes);
 * with @prefill, every byte of @arg that the call does not need is 0xA5.
 */
static int world_begin(struct world *w, const struct op *op, void *arg,
		       bool prefill)
{
	int ret;

	memset(w, 0, sizeof(*w));
	w->op = op;
	w->prefill = prefill;
	w->fd = mbox_dev_open();
	w->other = mbox_dev_open();
	w->probe = mbox_dev_open();
	if (w->fd < 0 || w->other < 0 || w->probe < 0)
		return -EMFILE;
	boxes_from(w->probe, 1, &w->floor);
	mbox_test_name(w->name, sizeof(w->name), op->name);
	memset(w->buf, '#', sizeof(w->buf));
	memset(w->bbuf, '#', sizeof(w->bbuf));
	memset(w->reply, '#', sizeof(w->reply));
	memset(w->big, 'b', sizeof(w->big));
	memset(arg, 0, op->size);
	ret = op->prepare(w, arg);
	*(__u32 *)arg = op->size;
	if (prefill)
		fill_a5(op->fields, op->nfields, arg, op->size);
	snapshot_take(w, &w->s0);
	return ret;
}

/* Undo the world: destroying its mailboxes wakes a thread still blocked. */
static void world_end(struct world *w)
{
	__u32 id;

	if (w->probe >= 0) {
		for (id = w->floor + 1; ; id++) {
			struct mbox_stat st;

			memset(&st, 0, sizeof(st));
			st.size = sizeof(st);
			st.flags = MBOX_STAT_NEXT;
			st.id = id;
			if (mbox_ioctl(w->probe, MBOX_IOC_STAT, &st))
				break;
			mbox_destroy(w->probe, st.id);
			id = st.id;
		}
	}
	if (w->bg.started)
		mbox_bg_join(&w->bg);
	if (w->fd >= 0)
		close(w->fd);
	if (w->other >= 0)
		close(w->other);
	if (w->probe >= 0)
		close(w->probe);
	w->fd = w->other = w->probe = -1;
}

/* ---- the rows: states, valid arguments and what success looks like ------ */

/* A system-owned mailbox named w->name, made on endpoint fd: w->id. */
static int box(struct world *w, int fd, __u32 max_msg_size)
{
	struct mbox_create c = {
		.flags = MBOX_CREATE_SYSTEM,
		.name = mbox_ptr(w->name),
		.capacity = 4,
		.max_msg_size = max_msg_size,
		.mode = 0600,
		.policy = MBOX_POLICY_SHARED,
	};

	return mbox_create_ex(fd, &c, &w->id);
}

static void expect_box(struct __test_metadata *_metadata, struct world *w,
		       __u32 nr_msgs, __u64 sent, __u64 received)
{
	struct mbox_stat st;

	ASSERT_EQ(0, stat_of(w->probe, w->id, &st));
	EXPECT_EQ(nr_msgs, st.nr_msgs);
	EXPECT_EQ(sent, st.total_sent);
	EXPECT_EQ(received, st.total_received);
}

static int prep_version(struct world *w, void *arg)
{
	return 0;
}

static void check_version(struct __test_metadata *_metadata, struct world *w,
			  const void *arg)
{
	const struct mbox_version *v = arg;

	EXPECT_EQ(MBOX_ABI_MAJOR, v->abi_major);
	EXPECT_LE(MBOX_ABI_MINOR, v->abi_minor);
	EXPECT_EQ(FEATURES_ALL, v->features & FEATURES_ALL);
	EXPECT_EQ(0, v->features & ~(FEATURES_ALL | MBOX_FEATURE_BATCH));
	/* ABI 1.5 brought batches. */
	if (v->abi_minor >= 5)
		EXPECT_TRUE(v->features & MBOX_FEATURE_BATCH);
}

static int prep_create(struct world *w, void *arg)
{
	struct mbox_create *c = arg;

	c->flags = MBOX_CREATE_SYSTEM;
	c->name = mbox_ptr(w->name);
	c->capacity = 4;
	c->mode = 0600;
	c->policy = MBOX_POLICY_SHARED;
	return 0;
}

static void check_create(struct __test_metadata *_metadata, struct world *w,
			 const void *arg)
{
	const struct mbox_create *c = arg;
	struct mbox_stat st;
	char name[64];

	EXPECT_LT(w->s0.newest, c->id);
	EXPECT_EQ(default_msg_size, c->max_msg_size);
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	st.id = c->id;
	st.name = mbox_ptr(name);
	st.name_len = sizeof(name);
	ASSERT_EQ(0, mbox_ioctl(w->probe, MBOX_IOC_STAT, &st));
	EXPECT_STREQ(w->name, name);
	EXPECT_EQ(MBOX_CREATE_SYSTEM, st.attrs);
	EXPECT_EQ(4, st.capacity);
	EXPECT_EQ(0600, st.mode);
	EXPECT_EQ(1, st.nr_open);
}

static int prep_open(struct world *w, void *arg)
{
	struct mbox_open *o = arg;

	o->flags = MBOX_OPEN_SEND | MBOX_OPEN_RECV;
	o->name = mbox_ptr(w->name);
	return box(w, w->other, 0);
}

static void check_open(struct __test_metadata *_metadata, struct world *w,
		       const void *arg)
{
	const struct mbox_open *o = arg;
	struct mbox_stat st;

	EXPECT_EQ(w->id, o->id);
	ASSERT_EQ(0, stat_of(w->probe, w->id, &st));
	EXPECT_EQ(2, st.nr_open);
	EXPECT_EQ(-EEXIST, mbox_open_id(w->fd, w->id, MBOX_OPEN_SEND));
}

static int prep_close(struct world *w, void *arg)
{
	struct mbox_id *m = arg;
	int ret = box(w, w->other, 0);

	m->id = w->id;
	return ret ?: mbox_open_id(w->fd, w->id, MBOX_OPEN_SEND);
}

static void check_close(struct __test_metadata *_metadata, struct world *w,
			const void *arg)
{
	struct mbox_stat st;

	ASSERT_EQ(0, stat_of(w->probe, w->id, &st));
	EXPECT_EQ(1, st.nr_open);
	EXPECT_EQ(-EBADF, mbox_close_id(w->fd, w->id));
}

static int prep_destroy(struct world *w, void *arg)
{
	struct mbox_id *m = arg;
	int ret = box(w, w->fd, 0);

	m->id = w->id;
	return ret;
}

static void check_destroy(struct __test_metadata *_metadata, struct world *w,
			  const void *arg)
{
	struct mbox_stat st;

	EXPECT_EQ(-ENOENT, stat_of(w->probe, w->id, &st));
	EXPECT_EQ(-EIDRM, mbox_send(w->fd, w->id, MSG, MSG_LEN, 0,
				    MBOX_NONBLOCK));
}

static int prep_set_mode(struct world *w, void *arg)
{
	struct mbox_set *s = arg;
	int ret = box(w, w->fd, 0);

	s->flags = MBOX_SET_MODE;
	s->id = w->id;
	s->mode = 0640;
	return ret;
}

static void check_set_mode(struct __test_metadata *_metadata, struct world *w,
			   const void *arg)
{
	struct mbox_stat st;

	ASSERT_EQ(0, stat_of(w->probe, w->id, &st));
	EXPECT_EQ(0640, st.mode);
	EXPECT_EQ(geteuid(), st.uid);
	EXPECT_EQ(getegid(), st.gid);
}

static int prep_set_owner(struct world *w, void *arg)
{
	struct mbox_set *s = arg;
	int ret = box(w, w->fd, 0);

	s->flags = MBOX_SET_UID | MBOX_SET_GID;
	s->id = w->id;
	s->uid = MBOX_NOBODY;
	s->gid = MBOX_NOBODY;
	return ret;
}

static void check_set_owner(struct __test_metadata *_metadata,
			    struct world *w, const void *arg)
{
	struct mbox_stat st;

	ASSERT_EQ(0, stat_of(w->probe, w->id, &st));
	EXPECT_EQ(0600, st.mode);
	EXPECT_EQ(MBOX_NOBODY, st.uid);
	EXPECT_EQ(MBOX_NOBODY, st.gid);
	EXPECT_EQ(geteuid(), st.cuid);
}

static int prep_stat(struct world *w, void *arg)
{
	struct mbox_stat *st = arg;
	int ret = box(w, w->other, 128);

	st->id = w->id;
	st->name = mbox_ptr(w->buf);
	st->name_len = sizeof(w->buf);
	return ret ?: mbox_send(w->other, w->id, MSG, MSG_LEN, 1,
				MBOX_NONBLOCK);
}

/* Every field of the row's STAT; the name itself unless @emsgsize. */
static void check_stat_fields(struct __test_metadata *_metadata,
			      struct world *w, const void *arg, bool emsgsize)
{
	const struct mbox_stat *st = arg;

	EXPECT_EQ(0, st->flags);
	EXPECT_EQ(w->id, st->id);
	EXPECT_EQ(strlen(w->name), st->name_len);
	EXPECT_EQ(mbox_ptr(w->buf), st->name);
	EXPECT_EQ(MBOX_CREATE_SYSTEM, st->attrs);
	EXPECT_EQ(MBOX_POLICY_SHARED, st->policy);
	EXPECT_EQ(0600, st->mode);
	EXPECT_EQ(geteuid(), st->uid);
	EXPECT_EQ(getegid(), st->gid);
	EXPECT_EQ(geteuid(), st->cuid);
	EXPECT_EQ(getegid(), st->cgid);
	EXPECT_EQ(4, st->capacity);
	EXPECT_EQ(128, st->max_msg_size);
	EXPECT_EQ(0, st->msg_size);
	EXPECT_EQ(4 * 128, st->max_bytes);
	EXPECT_EQ(MSG_LEN, st->nr_bytes);
	EXPECT_EQ(1, st->nr_msgs);
	EXPECT_EQ(1, st->nr_open);
	EXPECT_EQ(0, st->nr_senders);
	EXPECT_EQ(0, st->nr_receivers);
	EXPECT_EQ(1, st->total_sent);
	EXPECT_EQ(0, st->total_received);
	if (emsgsize) {
		EXPECT_EQ('#', w->buf[0]);
	} else {
		EXPECT_STREQ(w->name, w->buf);
	}
}

static void check_stat(struct __test_metadata *_metadata, struct world *w,
		       const void *arg)
{
	check_stat_fields(_metadata, w, arg, false);
}

static void emsgsize_stat(struct world *w, void *arg)
{
	struct mbox_stat *st = arg;

	st->name_len = strlen(w->name);	/* no room for the NUL */
}

static void check_emsgsize_stat(struct __test_metadata *_metadata,
				struct world *w, const void *arg)
{
	check_stat_fields(_metadata, w, arg, true);
}

static int prep_send(struct world *w, void *arg)
{
	struct mbox_send *s = arg;
	int ret = box(w, w->fd, 0);

	s->flags = MBOX_NONBLOCK;
	s->addr = MBOX_ADDR_MAILBOX;
	s->to = w->id;
	s->buf = mbox_ptr(MSG);
	s->len = MSG_LEN;
	s->priority = 3;
	return ret;
}

static void check_send(struct __test_metadata *_metadata, struct world *w,
		       const void *arg)
{
	const struct mbox_send *s = arg;
	struct mbox_recv r;
	char buf[64];

	EXPECT_EQ(0, s->receiver_pid);
	EXPECT_EQ(0, s->__pad);
	expect_box(_metadata, w, 1, 1, 0);
	mbox_recv_init(&r, w->id, buf, sizeof(buf), MBOX_NONBLOCK);
	ASSERT_EQ(0, mbox_recv_ex(w->fd, &r));
	EXPECT_EQ(MSG_LEN, r.len);
	EXPECT_EQ(3, r.priority);
	EXPECT_EQ(0, memcmp(buf, MSG, MSG_LEN));
}

static int prep_recv(struct world *w, void *arg)
{
	struct mbox_recv *r = arg;
	int ret = box(w, w->fd, 0);

	r->flags = MBOX_NONBLOCK;
	r->addr = MBOX_ADDR_MAILBOX;
	r->from = w->id;
	r->buf = mbox_ptr(w->buf);
	r->len = sizeof(w->buf);
	return ret ?: mbox_send(w->fd, w->id, MSG, MSG_LEN, 7, MBOX_NONBLOCK);
}

/* A received MSG of priority @prio, sent by this process. */
static void check_received(struct __test_metadata *_metadata,
			   const struct mbox_recv *r, const char *buf,
			   __u32 prio)
{
	EXPECT_EQ(MSG_LEN, r->len);
	EXPECT_EQ(0, memcmp(buf, MSG, MSG_LEN));
	EXPECT_EQ(prio, r->priority);
	EXPECT_EQ(0, r->msg_flags);
	EXPECT_EQ(getpid(), r->sender_pid);
	EXPECT_EQ(geteuid(), r->sender_uid);
	EXPECT_EQ(getegid(), r->sender_gid);
	EXPECT_EQ(0, r->__pad);
	EXPECT_EQ(0, r->token);
}

static void check_recv(struct __test_metadata *_metadata, struct world *w,
		       const void *arg)
{
	check_received(_metadata, arg, w->buf, 7);
	expect_box(_metadata, w, 0, 1, 1);
}

static void emsgsize_recv(struct world *w, void *arg)
{
	struct mbox_recv *r = arg;

	r->len = 4;
}

/* EMSGSIZE: the length needed, every other out field 0, nothing taken. */
static void check_emsgsize_recv(struct __test_metadata *_metadata,
				struct world *w, const void *arg)
{
	const struct mbox_recv *r = arg;
	struct snapshot s;

	EXPECT_EQ(MSG_LEN, r->len);
	EXPECT_EQ(0, r->priority);
	EXPECT_EQ(0, r->msg_flags);
	EXPECT_EQ(0, r->sender_pid);
	EXPECT_EQ(0, r->sender_uid);
	EXPECT_EQ(0, r->sender_gid);
	EXPECT_EQ(0, r->__pad);
	EXPECT_EQ(0, r->token);
	snapshot_take(w, &s);
	EXPECT_TRUE(snapshot_same(_metadata, &w->s0, &s));
}

static int prep_recv_direct(struct world *w, void *arg)
{
	struct mbox_recv *r = arg;
	int ret;

	r->flags = MBOX_NONBLOCK;
	r->addr = MBOX_ADDR_PID;
	r->from = 0;
	r->buf = mbox_ptr(w->buf);
	r->len = sizeof(w->buf);
	ret = mbox_direct_enable(w->fd, 0, 4, 0, 0, NULL);
	return ret ?: mbox_send_direct(w->other, MBOX_ADDR_PID, getpid(), MSG,
				       MSG_LEN, 5, MBOX_NONBLOCK, 0, NULL);
}

static void check_recv_direct(struct __test_metadata *_metadata,
			      struct world *w, const void *arg)
{
	check_received(_metadata, arg, w->buf, 5);
	EXPECT_TRUE(mbox_direct_empty(w->fd));
}

static int prep_direct_enable(struct world *w, void *arg)
{
	struct mbox_direct *d = arg;

	d->flags = MBOX_DIRECT_ANYONE;
	d->capacity = 4;
	return 0;
}

static void check_direct_enable(struct __test_metadata *_metadata,
				struct world *w, const void *arg)
{
	const struct mbox_direct *d = arg;

	EXPECT_EQ(MBOX_DIRECT_ANYONE, d->flags);
	EXPECT_EQ(4, d->capacity);
	EXPECT_EQ(default_msg_size, d->max_msg_size);
	EXPECT_EQ(4 * default_msg_size, d->max_bytes);
	EXPECT_EQ(0, d->links);
	EXPECT_EQ(getpid(), d->pid);
	EXPECT_EQ(0, mbox_direct_links(w->fd));
}

static int prep_direct_query(struct world *w, void *arg)
{
	struct mbox_direct *d = arg;
	int ret;

	d->flags = MBOX_DIRECT_QUERY;
	ret = mbox_direct_enable(w->fd, MBOX_DIRECT_ANYONE, 3, 256, 0, NULL);
	/* A message to ourselves makes a link. */
	return ret ?: mbox_send_direct(w->other, MBOX_ADDR_PID, getpid(), MSG,
				       MSG_LEN, 0, MBOX_NONBLOCK, 0, NULL);
}

static void check_direct_query(struct __test_metadata *_metadata,
			       struct world *w, const void *arg)
{
	const struct mbox_direct *d = arg;

	EXPECT_EQ(MBOX_DIRECT_QUERY | MBOX_DIRECT_ANYONE, d->flags);
	EXPECT_EQ(3, d->capacity);
	EXPECT_EQ(256, d->max_msg_size);
	EXPECT_EQ(3 * 256, d->max_bytes);
	EXPECT_EQ(1, d->links);
	EXPECT_EQ(getpid(), d->pid);
}

static int prep_direct_disable(struct world *w, void *arg)
{
	struct mbox_direct *d = arg;

	d->flags = MBOX_DIRECT_DISABLE;
	return mbox_direct_enable(w->fd, 0, 4, 0, 0, NULL);
}

static void check_direct_disable(struct __test_metadata *_metadata,
				 struct world *w, const void *arg)
{
	const struct mbox_direct *d = arg;

	EXPECT_EQ(MBOX_DIRECT_DISABLE, d->flags);
	EXPECT_EQ(0, d->links);
	EXPECT_EQ(0, d->pid);
	EXPECT_EQ(-EBADF, mbox_direct_query(w->fd, NULL));
}

/* CALL's server, on w->other: receive the request, reply "pong". */
static int server_fn(void *arg)
{
	struct world *w = arg;
	int ret;

	mbox_recv_init(&w->srv, w->id, w->srvbuf, sizeof(w->srvbuf),
		       MBOX_DEADLINE);
	w->srv.deadline_ns = mbox_deadline_ms(MBOX_WAIT_MS);
	ret = mbox_recv_ex(w->other, &w->srv);
	if (ret)
		return ret;
	if (!(w->srv.msg_flags & MBOX_MSG_CALL))
		return -EBADMSG;
	return mbox_reply(w->other, w->srv.token, "pong", 4);
}

static int prep_call(struct world *w, void *arg)
{
	struct mbox_call *c = arg;
	int ret = box(w, w->other, 0);

	c->flags = MBOX_NONBLOCK;
	c->addr = MBOX_ADDR_MAILBOX;
	c->to = w->id;
	c->buf = mbox_ptr(MSG);
	c->len = MSG_LEN;
	c->priority = 2;
	c->reply_buf = mbox_ptr(w->reply);
	c->reply_len = sizeof(w->reply);
	return ret ?: mbox_open_id(w->fd, w->id, MBOX_OPEN_SEND);
}

/* A non-blocking call needs its server waiting in a receive. */
static int start_call(struct world *w)
{
	int ret = mbox_bg_run(&w->bg, server_fn, w);

	return ret ?: mbox_bg_wait_blocked(&w->bg);
}

static void check_call(struct __test_metadata *_metadata, struct world *w,
		       const void *arg)
{
	const struct mbox_call *c = arg;

	EXPECT_EQ(4, c->reply_len);
	EXPECT_EQ(0, memcmp(w->reply, "pong", 4));
	EXPECT_EQ('#', w->reply[4]);
	EXPECT_EQ(getpid(), c->server_pid);
	EXPECT_EQ(0, mbox_bg_join(&w->bg));
	EXPECT_EQ(MSG_LEN, w->srv.len);
	EXPECT_EQ(0, memcmp(w->srvbuf, MSG, MSG_LEN));
	EXPECT_EQ(2, w->srv.priority);
	EXPECT_EQ(MBOX_MSG_CALL | MBOX_MSG_SYNC, w->srv.msg_flags);
	EXPECT_EQ(getpid(), w->srv.sender_pid);
}

/* A late fault in CALL's reply buffer: the reply was given, and lost. */
static void after_late_call(struct __test_metadata *_metadata,
			    struct world *w, const void *arg)
{
	const struct mbox_call *c = arg;

	EXPECT_EQ(0, mbox_bg_join(&w->bg));
	EXPECT_EQ(sizeof(w->reply), c->reply_len);
	EXPECT_EQ(0, c->server_pid);
	expect_box(_metadata, w, 0, 1, 1);
	EXPECT_EQ(-ENOENT, mbox_reply(w->other, w->srv.token, "pong", 4));
}

/* The caller of the REPLY rows, on w->other. */
static int caller_fn(void *arg)
{
	struct world *w = arg;

	return mbox_call_ex(w->other, &w->call);
}

static int prep_reply(struct world *w, void *arg)
{
	struct mbox_reply *rp = arg;
	int ret = box(w, w->fd, 0);

	ret = ret ?: mbox_open_id(w->other, w->id, MBOX_OPEN_SEND);
	if (ret)
		return ret;
	mbox_call_init(&w->call, MBOX_ADDR_MAILBOX, w->id, MSG, MSG_LEN,
		       w->reply, REPLY_CAP, MBOX_DEADLINE);
	w->call.deadline_ns = mbox_deadline_ms(MBOX_WAIT_MS);
	ret = mbox_bg_run(&w->bg, caller_fn, w);
	ret = ret ?: world_recv_call(w);
	ret = ret ?: world_settle(w);
	rp->token = w->token;
	rp->buf = mbox_ptr("pong");
	rp->len = 4;
	return ret;
}

/* The caller got "pong"; the token is used up. */
static void check_replied(struct __test_metadata *_metadata, struct world *w)
{
	EXPECT_EQ(0, mbox_bg_join(&w->bg));
	EXPECT_EQ(4, w->call.reply_len);
	EXPECT_EQ(0, memcmp(w->reply, "pong", 4));
	EXPECT_EQ('#', w->reply[4]);
	EXPECT_EQ(getpid(), w->call.server_pid);
	EXPECT_EQ(-ENOENT, mbox_reply(w->fd, w->token, "pong", 4));
}

static void check_reply(struct __test_metadata *_metadata, struct world *w,
			const void *arg)
{
	check_replied(_metadata, w);
}

static int prep_reply_recv(struct world *w, void *arg)
{
	struct mbox_reply *rp = arg;
	int ret = prep_reply(w, arg);

	rp->flags = MBOX_REPLY_RECV;
	rp->recv = mbox_ptr(&w->recv.r);
	mbox_recv_init(&w->recv.r, w->id, w->buf, sizeof(w->buf),
		       MBOX_NONBLOCK);
	if (w->prefill)
		fill_a5(recv_fields, MBOX_ARRAY_SIZE(recv_fields), &w->recv.r,
			sizeof(w->recv.r));
	w->recv_before = w->recv.r;
	return ret ?: mbox_send(w->fd, w->id, MSG, MSG_LEN, 0, MBOX_NONBLOCK);
}

static void check_written(struct __test_metadata *_metadata,
			  const char *what, const struct field *fields,
			  unsigned int n, const void *before,
			  const void *after, int pattern);

static void check_reply_recv(struct __test_metadata *_metadata,
			     struct world *w, const void *arg)
{
	check_replied(_metadata, w);
	check_received(_metadata, &w->recv.r, w->buf, 0);
	check_written(_metadata, "recv", recv_fields,
		      MBOX_ARRAY_SIZE(recv_fields), &w->recv_before, &w->recv.r,
		      w->prefill ? 0xa5 : -1);
	expect_box(_metadata, w, 0, 2, 2);
}

static void emsgsize_reply_recv(struct world *w, void *arg)
{
	w->recv.r.len = 4;
	w->recv_before.len = 4;
}

/* The reply went; the receive failed with EMSGSIZE, taking nothing. */
static void check_emsgsize_reply_recv(struct __test_metadata *_metadata,
				      struct world *w, const void *arg)
{
	check_replied(_metadata, w);
	EXPECT_EQ(MSG_LEN, w->recv.r.len);
	EXPECT_EQ(0, w->recv.r.priority);
	EXPECT_EQ(0, w->recv.r.msg_flags);
	EXPECT_EQ(0, w->recv.r.sender_pid);
	EXPECT_EQ(0, w->recv.r.sender_uid);
	EXPECT_EQ(0, w->recv.r.sender_gid);
	EXPECT_EQ(0, w->recv.r.__pad);
	EXPECT_EQ(0, w->recv.r.token);
	EXPECT_EQ('#', w->buf[0]);
	expect_box(_metadata, w, 1, 2, 1);
}

/* A late fault of REPLY's receive: replied, nothing received. */
static void after_late_reply_recv(struct __test_metadata *_metadata,
				  struct world *w, const void *arg)
{
	check_replied(_metadata, w);
	EXPECT_EQ('#', w->buf[0]);
	expect_box(_metadata, w, 1, 2, 1);
}

static void batch_arg(void *arg, const void *entries, __u32 entry_size)
{
	struct mbox_batch *b = arg;

	b->entries = mbox_ptr(entries);
	b->count = NBATCH;
	b->entry_size = entry_size;
}

/* Two sends, priorities 3 and 5. */
static int prep_send_batch(struct world *w, void *arg)
{
	unsigned int i;
	int ret = box(w, w->fd, 0);

	for (i = 0; i < NBATCH; i++) {
		mbox_send_init(&w->bsend[i], w->id, MSG, MSG_LEN, 3 + 2 * i,
			       MBOX_NONBLOCK);
		if (w->prefill)
			fill_a5(send_fields, MBOX_ARRAY_SIZE(send_fields),
				&w->bsend[i], sizeof(w->bsend[i]));
	}
	memcpy(w->bsend_before, w->bsend, sizeof(w->bsend));
	batch_arg(arg, w->bsend, sizeof(w->bsend[0]));
	return ret;
}

static void check_send_batch(struct __test_metadata *_metadata,
			     struct world *w, const void *arg)
{
	const struct mbox_batch *b = arg;
	struct mbox_recv r;
	unsigned int i;
	char buf[64];

	EXPECT_EQ(NBATCH, b->done);
	EXPECT_EQ(0, b->error);
	for (i = 0; i < NBATCH; i++)
		check_written(_metadata, "send entry", send_fields,
			      MBOX_ARRAY_SIZE(send_fields), &w->bsend_before[i],
			      &w->bsend[i], w->prefill ? 0xa5 : -1);
	expect_box(_metadata, w, NBATCH, NBATCH, 0);
	for (i = NBATCH; i-- > 0; ) {
		mbox_recv_init(&r, w->id, buf, sizeof(buf), MBOX_NONBLOCK);
		ASSERT_EQ(0, mbox_recv_ex(w->fd, &r));
		EXPECT_EQ(3 + 2 * i, r.priority);
		EXPECT_EQ(0, memcmp(buf, MSG, MSG_LEN));
	}
}

/* Two receives of the messages queued, priorities 7 and 1. */
static int prep_recv_batch(struct world *w, void *arg)
{
	unsigned int i;
	int ret = box(w, w->fd, 0);

	for (i = 0; i < NBATCH; i++) {
		mbox_recv_init(&w->brecv[i], w->id, w->bbuf[i],
			       sizeof(w->bbuf[i]), MBOX_NONBLOCK);
		if (w->prefill)
			fill_a5(recv_fields, MBOX_ARRAY_SIZE(recv_fields),
				&w->brecv[i], sizeof(w->brecv[i]));
	}
	memcpy(w->brecv_before, w->brecv, sizeof(w->brecv));
	batch_arg(arg, w->brecv, sizeof(w->brecv[0]));
	ret = ret ?: mbox_send(w->fd, w->id, MSG, MSG_LEN, 7, MBOX_NONBLOCK);
	return ret ?: mbox_send(w->fd, w->id, MSG, MSG_LEN, 1, MBOX_NONBLOCK);
}

static void check_recv_batch(struct __test_metadata *_metadata,
			     struct world *w, const void *arg)
{
	const struct mbox_batch *b = arg;
	unsigned int i;

	EXPECT_EQ(NBATCH, b->done);
	EXPECT_EQ(0, b->error);
	for (i = 0; i < NBATCH; i++) {
		check_received(_metadata, &w->brecv[i], w->bbuf[i],
			       i ? 1 : 7);
		check_written(_metadata, "recv entry", recv_fields,
			      MBOX_ARRAY_SIZE(recv_fields), &w->brecv_before[i],
			      &w->brecv[i], w->prefill ? 0xa5 : -1);
	}
	expect_box(_metadata, w, 0, NBATCH, NBATCH);
}

/* Entry 0's buffer too small: the ioctl fails with EMSGSIZE. */
static void emsgsize_recv_batch(struct world *w, void *arg)
{
	w->brecv[0].len = 4;
	w->brecv_before[0].len = 4;
}

/*
 * As RECV's: the length needed in entry 0, its other out fields 0,
 * nothing taken; and the header written back with nothing done.
 */
static void check_emsgsize_recv_batch(struct __test_metadata *_metadata,
				      struct world *w, const void *arg)
{
	const struct mbox_batch *b = arg;
	const struct mbox_recv *r = &w->brecv[0];

	EXPECT_EQ(0, b->done);
	EXPECT_EQ(0, b->error);
	EXPECT_EQ(MSG_LEN, r->len);
	EXPECT_EQ(0, r->priority);
	EXPECT_EQ(0, r->msg_flags);
	EXPECT_EQ(0, r->sender_pid);
	EXPECT_EQ(0, r->sender_uid);
	EXPECT_EQ(0, r->sender_gid);
	EXPECT_EQ(0, r->__pad);
	EXPECT_EQ(0, r->token);
	check_written(_metadata, "recv entry 0", recv_fields,
		      MBOX_ARRAY_SIZE(recv_fields), &w->brecv_before[0], r,
		      w->prefill ? 0xa5 : -1);
	EXPECT_EQ(0, memcmp(&w->brecv[1], &w->brecv_before[1],
			    sizeof(w->brecv[1])));
	EXPECT_EQ('#', w->bbuf[0][0]);
	expect_box(_metadata, w, NBATCH, NBATCH, 0);
}

/* ---- the table of ioctls ------------------------------------------------ */

static const struct ptr create_ptrs[] = {
	{ "name", offsetof(struct mbox_create, name), .string = true },
};

static const struct ptr open_ptrs[] = {
	{ "name", offsetof(struct mbox_open, name), .string = true },
};

static const struct ptr stat_ptrs[] = {
	{ "name", offsetof(struct mbox_stat, name), .writes = true },
};

static const struct ptr send_ptrs[] = {
	{ "buf", offsetof(struct mbox_send, buf), .null_errno = -EFAULT },
};

static const struct ptr recv_ptrs[] = {
	{ "buf", offsetof(struct mbox_recv, buf), .writes = true,
	  .null_errno = -EFAULT },
};

static const struct ptr call_ptrs[] = {
	{ "buf", offsetof(struct mbox_call, buf), .null_errno = -EFAULT },
	{ "reply_buf", offsetof(struct mbox_call, reply_buf), .writes = true,
	  .late = true, .null_errno = -EFAULT, .null_late = true },
};

static const struct ptr reply_ptrs[] = {
	{ "buf", offsetof(struct mbox_reply, buf), .null_errno = -EFAULT },
};

static const struct ptr send_batch_ptrs[] = {
	{ "entries", offsetof(struct mbox_batch, entries), .writes = true,
	  .null_errno = -EFAULT,
	  .array = NBATCH * sizeof(struct mbox_send) },
};

static const struct ptr recv_batch_ptrs[] = {
	{ "entries", offsetof(struct mbox_batch, entries), .writes = true,
	  .null_errno = -EFAULT,
	  .array = NBATCH * sizeof(struct mbox_recv) },
};

static const struct ptr reply_recv_ptrs[] = {
	{ "buf", offsetof(struct mbox_reply, buf), .null_errno = -EFAULT },
	{ "recv", offsetof(struct mbox_reply, recv), .writes = true,
	  .nested = true, .late = true, .null_errno = -EINVAL },
};

#define FIELDS(a)	.fields = a, .nfields = MBOX_ARRAY_SIZE(a)
#define PTRS(a)		.ptrs = a, .nptrs = MBOX_ARRAY_SIZE(a)
#define BAD_FLAGS(...)	.bad_flags = { __VA_ARGS__ },			\
			.nbad = MBOX_ARRAY_SIZE(((__u32[]){ __VA_ARGS__ }))
#define CMD(c)		.cmd = MBOX_IOC_##c, .nr = MBOX_CMD_##c

static const struct op ops[] = {
	{
		.name = "version", CMD(VERSION),
		.size = sizeof(struct mbox_version), .first_size = VERSION_V1,
		.out = true,
		FIELDS(version_fields),
		.prepare = prep_version, .check = check_version,
	}, {
		.name = "create", CMD(CREATE),
		.size = sizeof(struct mbox_create), .first_size = CREATE_V1,
		.out = true,
		.defined = MBOX_CREATE_SYSTEM,
		FIELDS(create_fields), PTRS(create_ptrs),
		.prepare = prep_create, .check = check_create,
	}, {
		.name = "open", CMD(OPEN),
		.size = sizeof(struct mbox_open), .first_size = OPEN_V1,
		.out = true,
		.defined = MBOX_OPEN_SEND | MBOX_OPEN_RECV,
		BAD_FLAGS(0),			/* no right asked */
		FIELDS(open_fields), PTRS(open_ptrs),
		.prepare = prep_open, .check = check_open,
	}, {
		.name = "close", CMD(CLOSE),
		.size = sizeof(struct mbox_id), .first_size = ID_V1,
		FIELDS(id_fields),
		.prepare = prep_close, .check = check_close,
	}, {
		.name = "destroy", CMD(DESTROY),
		.size = sizeof(struct mbox_id), .first_size = ID_V1,
		FIELDS(id_fields),
		.prepare = prep_destroy, .check = check_destroy,
	}, {
		.name = "set-mode", CMD(SET),
		.size = sizeof(struct mbox_set), .first_size = SET_V1,
		.defined = MBOX_SET_UID | MBOX_SET_GID | MBOX_SET_MODE,
		BAD_FLAGS(0),			/* nothing to set */
		FIELDS(set_mode_fields),
		.prepare = prep_set_mode, .check = check_set_mode,
	}, {
		.name = "set-owner", CMD(SET),
		.size = sizeof(struct mbox_set), .first_size = SET_V1,
		.defined = MBOX_SET_UID | MBOX_SET_GID | MBOX_SET_MODE,
		BAD_FLAGS(0),
		FIELDS(set_owner_fields),
		.prepare = prep_set_owner, .check = check_set_owner,
	}, {
		.name = "stat", CMD(STAT),
		.size = sizeof(struct mbox_stat), .first_size = STAT_V1,
		.out = true,
		.defined = MBOX_STAT_NEXT,
		FIELDS(stat_fields), PTRS(stat_ptrs),
		.prepare = prep_stat, .check = check_stat,
		.emsgsize = emsgsize_stat,
		.check_emsgsize = check_emsgsize_stat,
	}, {
		.name = "send", CMD(SEND),
		.size = sizeof(struct mbox_send), .first_size = SEND_V1,
		.out = true,
		.defined = MBOX_NONBLOCK | MBOX_DEADLINE | MBOX_SEND_SYNC,
		BAD_FLAGS(MBOX_NONBLOCK | MBOX_DEADLINE,
			  MBOX_NONBLOCK | MBOX_DEADLINE | MBOX_SEND_SYNC),
		FIELDS(send_fields), PTRS(send_ptrs),
		.prepare = prep_send, .check = check_send,
	}, {
		.name = "recv", CMD(RECV),
		.size = sizeof(struct mbox_recv), .first_size = RECV_V1,
		.out = true,
		.defined = MBOX_NONBLOCK | MBOX_DEADLINE | MBOX_RECV_FROM,
		/* MBOX_RECV_FROM with from_pid 0 */
		BAD_FLAGS(MBOX_NONBLOCK | MBOX_DEADLINE,
			  MBOX_NONBLOCK | MBOX_RECV_FROM),
		FIELDS(recv_fields), PTRS(recv_ptrs),
		.prepare = prep_recv, .check = check_recv,
		.emsgsize = emsgsize_recv,
		.check_emsgsize = check_emsgsize_recv,
	}, {
		.name = "recv-direct", CMD(RECV),
		.size = sizeof(struct mbox_recv), .first_size = RECV_V1,
		.out = true,
		.defined = MBOX_NONBLOCK | MBOX_DEADLINE | MBOX_RECV_FROM,
		BAD_FLAGS(MBOX_NONBLOCK | MBOX_DEADLINE,
			  MBOX_NONBLOCK | MBOX_RECV_FROM),
		FIELDS(recv_fields), PTRS(recv_ptrs),
		.prepare = prep_recv_direct, .check = check_recv_direct,
		.emsgsize = emsgsize_recv,
		.check_emsgsize = check_emsgsize_recv,
	}, {
		.name = "direct-enable", CMD(DIRECT),
		.size = sizeof(struct mbox_direct), .first_size = DIRECT_V1,
		.out = true,
		.defined = MBOX_DIRECT_ANYONE | MBOX_DIRECT_DISABLE |
			   MBOX_DIRECT_QUERY,
		/* at most one of the three */
		BAD_FLAGS(MBOX_DIRECT_ANYONE | MBOX_DIRECT_QUERY,
			  MBOX_DIRECT_ANYONE | MBOX_DIRECT_DISABLE,
			  MBOX_DIRECT_QUERY | MBOX_DIRECT_DISABLE,
			  MBOX_DIRECT_ANYONE | MBOX_DIRECT_QUERY |
			  MBOX_DIRECT_DISABLE),
		FIELDS(direct_enable_fields),
		.prepare = prep_direct_enable, .check = check_direct_enable,
	}, {
		.name = "direct-query", CMD(DIRECT),
		.size = sizeof(struct mbox_direct), .first_size = DIRECT_V1,
		.out = true,
		.defined = MBOX_DIRECT_ANYONE | MBOX_DIRECT_DISABLE |
			   MBOX_DIRECT_QUERY,
		BAD_FLAGS(MBOX_DIRECT_ANYONE | MBOX_DIRECT_QUERY,
			  MBOX_DIRECT_QUERY | MBOX_DIRECT_DISABLE,
			  MBOX_DIRECT_ANYONE | MBOX_DIRECT_QUERY |
			  MBOX_DIRECT_DISABLE),
		FIELDS(direct_query_fields),
		.prepare = prep_direct_query, .check = check_direct_query,
	}, {
		.name = "direct-disable", CMD(DIRECT),
		.size = sizeof(struct mbox_direct), .first_size = DIRECT_V1,
		.out = true,
		.defined = MBOX_DIRECT_ANYONE | MBOX_DIRECT_DISABLE |
			   MBOX_DIRECT_QUERY,
		BAD_FLAGS(MBOX_DIRECT_ANYONE | MBOX_DIRECT_DISABLE,
			  MBOX_DIRECT_QUERY | MBOX_DIRECT_DISABLE),
		FIELDS(direct_disable_fields),
		.prepare = prep_direct_disable, .check = check_direct_disable,
	}, {
		.name = "call", CMD(CALL),
		.size = sizeof(struct mbox_call), .first_size = CALL_V1,
		.out = true,
		.defined = MBOX_NONBLOCK | MBOX_DEADLINE,
		BAD_FLAGS(MBOX_NONBLOCK | MBOX_DEADLINE),
		FIELDS(call_fields), PTRS(call_ptrs),
		.prepare = prep_call, .start = start_call, .check = check_call,
		.after_late = after_late_call,
	}, {
		.name = "reply", CMD(REPLY),
		.size = sizeof(struct mbox_reply), .first_size = REPLY_V1,
		.defined = MBOX_REPLY_RECV,
		BAD_FLAGS(MBOX_REPLY_RECV),	/* with recv 0 */
		FIELDS(reply_fields), PTRS(reply_ptrs),
		.prepare = prep_reply, .check = check_reply,
	}, {
		.name = "reply-recv", CMD(REPLY),
		.size = sizeof(struct mbox_reply), .first_size = REPLY_V1,
		.defined = MBOX_REPLY_RECV,
		BAD_FLAGS(0),			/* recv without the flag */
		FIELDS(reply_recv_fields), PTRS(reply_recv_ptrs),
		.nested = recv_fields,
		.nnested = MBOX_ARRAY_SIZE(recv_fields),
		.prepare = prep_reply_recv, .check = check_reply_recv,
		.emsgsize = emsgsize_reply_recv,
		.check_emsgsize = check_emsgsize_reply_recv,
		.after_late = after_late_reply_recv,
	}, {
		.name = "send-batch", CMD(SEND_BATCH),
		.feature = MBOX_FEATURE_BATCH,
		.size = sizeof(struct mbox_batch), .first_size = BATCH_V1,
		.out = true, .ok = NBATCH,
		FIELDS(batch_fields), PTRS(send_batch_ptrs),
		.prepare = prep_send_batch, .check = check_send_batch,
	}, {
		.name = "recv-batch", CMD(RECV_BATCH),
		.feature = MBOX_FEATURE_BATCH,
		.size = sizeof(struct mbox_batch), .first_size = BATCH_V1,
		.out = true, .ok = NBATCH,
		FIELDS(batch_fields), PTRS(recv_batch_ptrs),
		.prepare = prep_recv_batch, .check = check_recv_batch,
		.emsgsize = emsgsize_recv_batch,
		.check_emsgsize = check_emsgsize_recv_batch,
	},
};

#define for_each_op(op) for (op = ops; op < ops + MBOX_ARRAY_SIZE(ops); op++)

/* ---- making calls ------------------------------------------------------- */

static bool all_bytes(const void *p, size_t len, unsigned char c)
{
	const unsigned char *b = p;

	while (len--)
		if (*b++ != c)
			return false;
	return true;
}

/*
 * After a call that succeeded (or failed with EMSGSIZE): the fields it
 * must not change are as @before, padding is 0, and with @pattern (the
 * byte every out field held before, or -1) every out field was written.
 */
static void check_written(struct __test_metadata *_metadata,
			  const char *what, const struct field *fields,
			  unsigned int n, const void *before,
			  const void *after, int pattern)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		const struct field *f = &fields[i];
		const unsigned char *b = (const unsigned char *)before + f->off;
		const unsigned char *a = (const unsigned char *)after + f->off;

		switch (f->role) {
		case IN:
		case RES:
		case ZERO:
		case IGN:
			EXPECT_EQ(0, memcmp(b, a, f->len)) {
				TH_LOG("%s: input field %s was changed",
				       what, f->name);
			}
			break;
		case PAD:
			EXPECT_TRUE(all_bytes(a, f->len, 0)) {
				TH_LOG("%s: padding %s is not 0", what,
				       f->name);
			}
			break;
		case OUT:
			if (pattern < 0)
				break;
			EXPECT_FALSE(all_bytes(a, f->len, pattern)) {
				TH_LOG("%s: out field %s was not written",
				       what, f->name);
			}
			break;
		case IO:
			break;
		}
	}
}

/*
 * Make call @cmd of the world's row on the argument at @at, of which @len
 * bytes are readable: it must fail with @err, leave those bytes as they
 * were and the world as snapshot_take() saw it at the start.
 */
static void __attribute__((format(printf, 7, 8)))
fail_at(struct __test_metadata *_metadata, struct world *w,
	unsigned long cmd, void *at, size_t len, int err, const char *fmt, ...)
{
	unsigned char before[ARG_MAX];
	struct snapshot s;
	char what[160];
	va_list ap;
	int ret;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (len)
		memcpy(before, at, len);
	ret = mbox_ioctl(w->fd, cmd, at);
	EXPECT_EQ(err, ret) {
		TH_LOG("%s: %s: %s (%d) instead of %s", w->op->name, what,
		       ret < 0 ? strerror(-ret) : "success", ret,
		       strerror(-err));
	}
	EXPECT_EQ(0, memcmp(before, at, len)) {
		TH_LOG("%s: %s: the argument was written", w->op->name, what);
	}
	snapshot_take(w, &s);
	EXPECT_TRUE(snapshot_same(_metadata, &w->s0, &s)) {
		TH_LOG("%s: %s: the state changed", w->op->name, what);
	}
}

/*
 * The call of the world's row on the argument at @at must succeed (return
 * the row's .ok: 0, or a batch's count), and do what check() says:
 * whether it did succeed.
 */
static bool succeed(struct __test_metadata *_metadata, struct world *w,
		    void *at, const char *what)
{
	int ret;

	if (w->op->start) {
		ret = w->op->start(w);
		EXPECT_EQ(0, ret) {
			TH_LOG("%s: %s: cannot start: %s", w->op->name, what,
			       strerror(-ret));
		}
	}
	ret = mbox_ioctl(w->fd, w->op->cmd, at);
	EXPECT_EQ(w->op->ok, ret) {
		if (ret < 0)
			TH_LOG("%s: %s: %s", w->op->name, what,
			       strerror(-ret));
		else
			TH_LOG("%s: %s: returned %d, not %d", w->op->name,
			       what, ret, w->op->ok);
	}
	if (ret == w->op->ok)
		w->op->check(_metadata, w, at);
	return ret == w->op->ok;
}

FIXTURE(abi) {
	struct world w;
	bool live;
};

FIXTURE_SETUP(abi)
{
	__u64 features = 0;
	int fd = mbox_dev_open();

	self->live = false;
	if (fd == -ENOENT)
		SKIP(return, "/dev/mbox is absent: the mbox module is not loaded");
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mbox_features(fd, &features));
	close(fd);
	if ((features & FEATURES_ALL) != FEATURES_ALL)
		SKIP(return, "the module lacks features of ABI 1.4");
	/* Rows of later features: left out without them. */
	module_features = features;
	ASSERT_EQ(0, mbox_param_get("default_msg_size", &default_msg_size));

	/* [rw][none][rw][ro][rw rw] */
	mem.pg = sysconf(_SC_PAGESIZE);
	ASSERT_LE(TAIL_MAX, mem.pg);
	mem.map = mmap(NULL, 6 * mem.pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem.map);
	mem.a_end = mem.map + mem.pg;
	mem.none = mem.map + mem.pg;
	mem.b_end = mem.map + 3 * mem.pg;
	mem.ro = mem.map + 3 * mem.pg;
	mem.s = mem.map + 4 * mem.pg;
	ASSERT_EQ(0, mprotect(mem.none, mem.pg, PROT_NONE));
	ASSERT_EQ(0, mprotect(mem.ro, mem.pg, PROT_READ));
}

FIXTURE_TEARDOWN(abi)
{
	if (self->live)
		world_end(&self->w);
	self->live = false;
}

/* Build the world of @op, or fail the test for that row. */
static bool begin(struct __test_metadata *_metadata, FIXTURE_DATA(abi) *self,
		  const struct op *op, void *arg, bool prefill)
{
	int ret;

	if (op->feature & ~module_features)
		return false;
	self->live = true;
	ret = world_begin(&self->w, op, arg, prefill);
	EXPECT_EQ(0, ret) {
		TH_LOG("%s: cannot build its state: %s", op->name,
		       strerror(-ret));
	}
	if (ret) {
		world_end(&self->w);
		self->live = false;
	}
	return !ret;
}

static void end(FIXTURE_DATA(abi) *self)
{
	world_end(&self->w);
	self->live = false;
}

/* An argument buffer, aligned for any struct. */
#define ARG(name)	__u64 name##_[ARG_MAX / 8 + 1]; void *name = name##_

static void set_size(void *arg, __u32 size)
{
	memcpy(arg, &size, sizeof(size));
}

static void set_flags(void *arg, __u32 flags)
{
	memcpy((char *)arg + 4, &flags, sizeof(flags));
}

static __u32 get_flags(const void *arg)
{
	__u32 flags;

	memcpy(&flags, (const char *)arg + 4, sizeof(flags));
	return flags;
}

/* Store the low @len bytes of @val at @p, little-endian (as x86 does). */
static void put_le(void *p, __u64 val, unsigned int len)
{
	unsigned char *b = p;
	unsigned int i;

	for (i = 0; i < len && i < 8; i++)
		b[i] = val >> (8 * i);
}

/* ---- the tests ---------------------------------------------------------- */

/*
 * The table itself: every ioctl has a row, every struct is described
 * byte for byte, with no hole, and bits 30 and 31 are never defined.
 */
TEST_F(abi, table_describes_every_struct)
{
	const struct op *op;
	unsigned int seen = 0, i;

	for_each_op(op) {
		__u32 off = 0;

		EXPECT_EQ(_IO(MBOX_IOCTL_TYPE, op->nr), op->cmd);
		EXPECT_LE(op->first_size, op->size);
		EXPECT_EQ(0, op->defined & (3U << 30));
		seen |= 1U << op->nr;
		ASSERT_LE(2, op->nfields);
		EXPECT_STREQ("size", op->fields[0].name);
		EXPECT_STREQ("flags", op->fields[1].name);
		EXPECT_EQ(IN, op->fields[0].role);
		for (i = 0; i < op->nfields; i++) {
			const struct field *f = &op->fields[i];

			EXPECT_EQ(off, f->off) {
				TH_LOG("%s: a hole before %s", op->name,
				       f->name);
			}
			EXPECT_TRUE(f->len == 4 || f->len == 8);
			EXPECT_EQ(0, f->off % f->len);
			off = f->off + f->len;
		}
		EXPECT_EQ(op->size, off) {
			TH_LOG("%s: the fields end at %u", op->name, off);
		}
		for (i = 0; i < op->nptrs; i++) {
			unsigned int j;
			bool found = false;

			for (j = 0; j < op->nfields; j++)
				found |= op->fields[j].off == op->ptrs[i].off &&
					 op->fields[j].len == 8;
			EXPECT_TRUE(found);
		}
	}
	/* VERSION to RECV_BATCH, every command. */
	EXPECT_EQ((1U << (MBOX_CMD_RECV_BATCH + 1)) - 1, seen);
}

/* What the other tests build on: each row's valid argument succeeds. */
TEST_F(abi, valid_argument_succeeds)
{
	const struct op *op;
	ARG(arg);
	ARG(before);

	for_each_op(op) {
		if (!begin(_metadata, self, op, arg, false))
			continue;
		memcpy(before, arg, op->size);
		if (succeed(_metadata, &self->w, arg, "valid argument"))
			check_written(_metadata, op->name, op->fields,
				      op->nfields, before, arg, -1);
		/* Without output, the struct is never written. */
		if (!op->out)
			EXPECT_EQ(0, memcmp(before, arg, op->size));
		end(self);
	}
}

/* 1. Shorter than the first version: EINVAL, and nothing done. */
TEST_F(abi, size_below_first_version_einval)
{
	const struct op *op;
	unsigned int i;
	ARG(arg);
	ARG(b);

	for_each_op(op) {
		const __u32 sizes[] = {
			0, 1, 4, 8, op->first_size / 2, op->first_size - 8,
			op->first_size - 4, op->first_size - 1,
		};

		if (!begin(_metadata, self, op, arg, false))
			continue;
		for (i = 0; i < MBOX_ARRAY_SIZE(sizes); i++) {
			memcpy(b, arg, op->size);
			set_size(b, sizes[i]);
			fail_at(_metadata, &self->w, op->cmd, b, op->size,
				-EINVAL, "size %u", sizes[i]);
		}
		succeed(_metadata, &self->w, arg, "after the short sizes");
		end(self);
	}
}

/* A tail of @extra bytes past the struct, holding @val at @off. */
struct tail {
	__u32 extra;
	__u32 off;
	__u64 val;
};

/* 2. Longer, with a byte past the struct not zero: E2BIG, nothing done. */
TEST_F(abi, size_above_nonzero_tail_e2big)
{
	static const struct tail tails[] = {
		{ 1, 0, 1 }, { 3, 2, 0xff }, { 8, 0, 1 }, { 8, 4, 1 },
		{ 8, 0, 1ULL << 63 }, { 8, 0, ~0ULL }, { 8, 7, 0x80 },
		{ TAIL_MAX, 0, 1 }, { TAIL_MAX, 2048, 1ULL << 32 },
		{ TAIL_MAX, TAIL_MAX - 8, 1ULL << 63 },
	};
	const struct op *op;
	unsigned int i;
	ARG(arg);

	for_each_op(op) {
		if (!begin(_metadata, self, op, arg, false))
			continue;
		for (i = 0; i < MBOX_ARRAY_SIZE(tails); i++) {
			const struct tail *t = &tails[i];
			size_t len = op->size + t->extra + CANARY;

			memcpy(mem.s, arg, op->size);
			memset(mem.s + op->size, 0, t->extra);
			memset(mem.s + op->size + t->extra, 0x5a, CANARY);
			put_le(mem.s + op->size + t->off, t->val,
			       t->extra - t->off);
			set_size(mem.s, op->size + t->extra);
			fail_at(_metadata, &self->w, op->cmd, mem.s, len,
				-E2BIG, "%u bytes more, %#llx at %u",
				t->extra, (unsigned long long)t->val, t->off);
		}
		succeed(_metadata, &self->w, arg, "after the long sizes");
		end(self);
	}
}

/*
 * 2. Longer with a zero tail: accepted, and nothing written past what the
 * module knows: neither in the tail nor after it, nor into a tail that is
 * read-only.
 */
TEST_F(abi, size_above_zero_tail_accepted)
{
	static const __u32 extras[] = { 1, 3, 8, TAIL_MAX };
	const struct op *op;
	unsigned int i;
	ARG(arg);
	ARG(before);

	for_each_op(op) {
		for (i = 0; i < MBOX_ARRAY_SIZE(extras); i++) {
			__u32 extra = extras[i];

			if (!begin(_metadata, self, op, arg, false))
				break;
			memcpy(mem.s, arg, op->size);
			memset(mem.s + op->size, 0, extra);
			memset(mem.s + op->size + extra, 0x5a, CANARY);
			set_size(mem.s, op->size + extra);
			memcpy(before, mem.s, op->size);
			if (succeed(_metadata, &self->w, mem.s, "zero tail")) {
				EXPECT_TRUE(all_bytes(mem.s + op->size, extra,
						      0)) {
					TH_LOG("%s: the tail of %u was written",
					       op->name, extra);
				}
				EXPECT_TRUE(all_bytes(mem.s + op->size + extra,
						      CANARY, 0x5a)) {
					TH_LOG("%s: written past a tail of %u",
					       op->name, extra);
				}
				check_written(_metadata, op->name, op->fields,
					      op->nfields, before, mem.s, -1);
			}
			end(self);

			/* The same tail, read-only. */
			if (extra < 8)
				continue;
			if (!begin(_metadata, self, op, arg, false))
				break;
			ro_write(NULL, 0);
			memcpy(mem.b_end - op->size, arg, op->size);
			set_size(mem.b_end - op->size, op->size + extra);
			succeed(_metadata, &self->w, mem.b_end - op->size,
				"zero tail, read-only");
			end(self);
		}
	}
}

/*
 * 3. Every flag bit not defined for the ioctl (30 and 31 included, which
 * never will be), and every invalid combination of defined ones: EINVAL,
 * nothing done.
 */
TEST_F(abi, undefined_flags_einval)
{
	const struct op *op;
	unsigned int bit, i;
	ARG(arg);
	ARG(b);

	for_each_op(op) {
		__u32 valid;

		if (!begin(_metadata, self, op, arg, false))
			continue;
		valid = get_flags(arg);
		for (bit = 0; bit < 32; bit++) {
			if (op->defined & (1U << bit))
				continue;
			memcpy(b, arg, op->size);
			set_flags(b, valid | 1U << bit);
			fail_at(_metadata, &self->w, op->cmd, b, op->size,
				-EINVAL, "flag bit %u", bit);
		}
		for (i = 0; i < op->nbad; i++) {
			memcpy(b, arg, op->size);
			set_flags(b, op->bad_flags[i]);
			fail_at(_metadata, &self->w, op->cmd, b, op->size,
				-EINVAL, "flags %#x", op->bad_flags[i]);
		}
		succeed(_metadata, &self->w, arg, "after the bad flags");
		end(self);
	}
}

/*
 * 4. Every reserved field, and every field that must be 0 without its
 * flag (RECV's from_pid, REPLY's recv), not 0: EINVAL, nothing done.
 */
TEST_F(abi, reserved_fields_einval)
{
	const struct op *op;
	unsigned int i, j;
	ARG(arg);
	ARG(b);

	for_each_op(op) {
		bool any = false;

		for (i = 0; i < op->nfields; i++)
			any |= op->fields[i].role == RES ||
			       op->fields[i].role == ZERO;
		if (!any)
			continue;
		if (!begin(_metadata, self, op, arg, false))
			continue;
		for (i = 0; i < op->nfields; i++) {
			const struct field *f = &op->fields[i];
			const __u64 vals[] = {
				1, 1ULL << (8 * f->len - 1), ~0ULL,
			};

			if (f->role != RES && f->role != ZERO)
				continue;
			for (j = 0; j < MBOX_ARRAY_SIZE(vals); j++) {
				memcpy(b, arg, op->size);
				put_le((char *)b + f->off, vals[j], f->len);
				fail_at(_metadata, &self->w, op->cmd, b,
					op->size, -EINVAL, "%s %#llx", f->name,
					(unsigned long long)vals[j]);
			}
		}
		succeed(_metadata, &self->w, arg, "after the reserved fields");
		end(self);
	}
}

/*
 * What the kernel must not look at: output-only fields and padding on
 * input, and the fields the flags do not select (deadline_ns without
 * MBOX_DEADLINE; SET's uid, gid, mode without their MBOX_SET_* bit;
 * DIRECT's limits with MBOX_DIRECT_QUERY or MBOX_DIRECT_DISABLE; OPEN's
 * id with a name).  Any value there is accepted, and changes nothing.
 */
TEST_F(abi, unselected_and_output_fields_ignored)
{
	static const unsigned char patterns[] = { 0xa5, 0xff, 0x01 };
	const struct op *op;
	unsigned int i, p;
	ARG(arg);
	ARG(before);

	for_each_op(op) {
		bool any = false;

		for (i = 0; i < op->nfields; i++)
			any |= op->fields[i].role == IGN ||
			       op->fields[i].role == OUT ||
			       op->fields[i].role == PAD;
		if (!any)
			continue;
		for (p = 0; p < MBOX_ARRAY_SIZE(patterns); p++) {
			if (!begin(_metadata, self, op, arg, false))
				break;
			for (i = 0; i < op->nfields; i++) {
				const struct field *f = &op->fields[i];

				if (f->role == IGN || f->role == OUT ||
				    f->role == PAD)
					memset((char *)arg + f->off,
					       patterns[p], f->len);
			}
			memcpy(before, arg, op->size);
			if (succeed(_metadata, &self->w, arg, "ignored fields"))
				check_written(_metadata, op->name, op->fields,
					      op->nfields, before, arg,
					      patterns[p] == 0xa5 ? 0xa5 : -1);
			end(self);
		}
	}
}

/*
 * 5. The struct itself out of reach: NULL, unmapped, a kernel address,
 * readable for its size only (or more, not all of it), a zero tail that
 * runs into an unmapped page: EFAULT, nothing done.
 */
TEST_F(abi, bad_struct_pointer_efault)
{
	const struct op *op;
	unsigned int i;
	unsigned char *at;
	ARG(arg);

	for_each_op(op) {
		const __u32 readable[] = { 4, 8, op->size / 2, op->size - 1 };
		const __u32 tails[] = { 8, TAIL_MAX, ~0U - op->size };

		if (!begin(_metadata, self, op, arg, false))
			continue;
		fail_at(_metadata, &self->w, op->cmd, NULL, 0, -EFAULT, "NULL");
		fail_at(_metadata, &self->w, op->cmd, (void *)1, 0, -EFAULT,
			"address 1");
		fail_at(_metadata, &self->w, op->cmd, mem.none, 0, -EFAULT,
			"unmapped");
		fail_at(_metadata, &self->w, op->cmd, KERNEL_ARG, 0, -EFAULT,
			"kernel address");
		for (i = 0; i < MBOX_ARRAY_SIZE(readable); i++) {
			at = mem.a_end - readable[i];
			memcpy(at, arg, readable[i]);
			fail_at(_metadata, &self->w, op->cmd, at, readable[i],
				-EFAULT, "%u bytes readable", readable[i]);
		}
		for (i = 0; i < MBOX_ARRAY_SIZE(tails); i++) {
			at = mem.a_end - op->size;
			memcpy(at, arg, op->size);
			set_size(at, op->size + tails[i]);
			fail_at(_metadata, &self->w, op->cmd, at, op->size,
				-EFAULT, "a zero tail of %u into unmapped",
				tails[i]);
		}
		succeed(_metadata, &self->w, arg, "after the bad pointers");
		end(self);
	}
}

/*
 * 5. A read-only struct: EFAULT before anything is done for the ioctls
 * that write their struct back (the module writes it back first);
 * accepted by the others, which only read it.
 */
TEST_F(abi, read_only_struct)
{
	const struct op *op;
	ARG(arg);

	for_each_op(op) {
		if (!begin(_metadata, self, op, arg, false))
			continue;
		ro_write(arg, op->size);
		if (op->out) {
			fail_at(_metadata, &self->w, op->cmd, mem.ro, op->size,
				-EFAULT, "read-only struct");
			succeed(_metadata, &self->w, arg, "after read-only");
		} else {
			succeed(_metadata, &self->w, mem.ro, "read-only struct");
		}
		end(self);
	}
}

/* A bad value for pointer @p of valid argument @arg; false if none. */
static bool bad_ptr(const struct ptr *p, const void *arg, unsigned int which,
		    __u64 *val, const char **what)
{
	__u64 valid;

	memcpy(&valid, (const char *)arg + p->off, sizeof(valid));
	switch (which) {
	case 0:
		*what = "address 1";
		*val = 1;
		return true;
	case 1:
		*what = "unmapped";
		*val = mbox_ptr(mem.none);
		return true;
	case 2:
		*what = "a kernel address";
		*val = KERNEL_PTR;
		return true;
	case 3:
		/* Not a user address, for 32-bit programs as well. */
		*what = "bit 47 set";
		*val = valid | 1ULL << 47;
		return true;
	case 4:
		*what = "running into unmapped";
		if (p->string) {
			memcpy(mem.a_end - 4, "/abc", 4);	/* no NUL */
			*val = mbox_ptr(mem.a_end - 4);
		} else if (p->nested || p->array) {
			/* Its size and flags readable, the rest not. */
			memcpy(mem.a_end - 8, (const void *)(uintptr_t)valid, 8);
			*val = mbox_ptr(mem.a_end - 8);
		} else {
			*val = mbox_ptr(mem.a_end - 2);
		}
		return true;
	case 5:
		if (!p->writes)
			return false;
		*what = "read-only";
		if (p->nested)
			ro_write((const void *)(uintptr_t)valid,
				 sizeof(struct mbox_recv));
		else if (p->array)
			ro_write((const void *)(uintptr_t)valid, p->array);
		else
			ro_write(NULL, 0);
		*val = mbox_ptr(mem.ro);
		return true;
	}
	return false;
}

#define NBAD_PTRS	6

/*
 * 5. Every embedded pointer out of reach (CREATE's and OPEN's name, STAT's
 * name buffer, SEND's, RECV's, CALL's and REPLY's buffers): EFAULT (EINVAL
 * for REPLY's recv 0), and nothing done.  The two that fault after the
 * work are fault_after_the_work's.
 */
TEST_F(abi, bad_embedded_pointer_efault)
{
	const struct op *op;
	const char *what;
	unsigned int i, k;
	__u64 val;
	ARG(arg);
	ARG(b);

	for_each_op(op) {
		if (!op->nptrs)
			continue;
		if (!begin(_metadata, self, op, arg, false))
			continue;
		for (i = 0; i < op->nptrs; i++) {
			const struct ptr *p = &op->ptrs[i];

			if (p->null_errno && !p->null_late) {
				memcpy(b, arg, op->size);
				memset((char *)b + p->off, 0, 8);
				fail_at(_metadata, &self->w, op->cmd, b,
					op->size, p->null_errno, "%s 0",
					p->name);
			}
			if (p->late)
				continue;
			for (k = 0; k < NBAD_PTRS; k++) {
				if (!bad_ptr(p, arg, k, &val, &what))
					continue;
				memcpy(b, arg, op->size);
				memcpy((char *)b + p->off, &val, 8);
				fail_at(_metadata, &self->w, op->cmd, b,
					op->size, -EFAULT, "%s %s", p->name,
					what);
			}
		}
		succeed(_metadata, &self->w, arg, "after the bad pointers");
		end(self);
	}
}

/*
 * 5. Faults after the work, as abi.rst has them: CALL's reply buffer out
 * of reach is EFAULT once the server replied (the reply is lost); REPLY
 * with MBOX_REPLY_RECV delivers the reply, then receives as RECV does: a
 * recv struct out of reach or read-only is EFAULT with the reply
 * delivered and nothing received.
 */
TEST_F(abi, fault_after_the_work)
{
	const struct op *op;
	const char *what;
	unsigned int i, k;
	__u64 val;
	int ret;
	ARG(arg);

	for_each_op(op) {
		for (i = 0; i < op->nptrs; i++) {
			const struct ptr *p = &op->ptrs[i];

			if (!p->late)
				continue;
			for (k = 0; k <= NBAD_PTRS; k++) {
				if (!begin(_metadata, self, op, arg, false))
					break;
				if (k == NBAD_PTRS) {
					what = "0";
					val = 0;
					if (!p->null_late) {
						end(self);
						break;
					}
				} else if (!bad_ptr(p, arg, k, &val, &what)) {
					end(self);
					continue;
				}
				memcpy((char *)arg + p->off, &val, 8);
				if (op->start)
					EXPECT_EQ(0, op->start(&self->w));
				ret = mbox_ioctl(self->w.fd, op->cmd, arg);
				EXPECT_EQ(-EFAULT, ret) {
					TH_LOG("%s: %s %s: %s", op->name,
					       p->name, what, strerror(-ret));
				}
				op->after_late(_metadata, &self->w, arg);
				end(self);
			}
		}
	}
}

/* What a REPLY's recv struct may get wrong, for the test below. */
struct nested_case {
	const char *what;
	unsigned int off;	/* of the field to change */
	unsigned int len;
	__u64 val;
	int err;
};

/*
 * The other errors of the receive of REPLY's MBOX_REPLY_RECV, those of the
 * recv struct itself (sizes, tail, flags, from_pid, addr), come after the
 * reply too: the ioctl fails with them, the reply is delivered, nothing
 * is received and the recv struct is not written.
 */
TEST_F(abi, reply_recv_errors_come_after_the_reply)
{
	static const struct nested_case cases[] = {
		{ "size 0", 0, 4, 0, -EINVAL },
		{ "size 4", 0, 4, 4, -EINVAL },
		{ "size first - 1", 0, 4, RECV_V1 - 1, -EINVAL },
		{ "non-zero tail", 0, 4, RECV_V1 + 8, -E2BIG },
		{ "NONBLOCK | DEADLINE", 4, 4, MBOX_NONBLOCK | MBOX_DEADLINE,
		  -EINVAL },
		{ "from_pid without MBOX_RECV_FROM",
		  offsetof(struct mbox_recv, from_pid), 4, 1, -EINVAL },
		{ "unknown addr", offsetof(struct mbox_recv, addr), 4,
		  MBOX_ADDR_PIDFD + 1, -EINVAL },
	};
	const struct op *op;
	struct mbox_recv saved;
	unsigned int i, bit;
	int ret;
	ARG(arg);

	for_each_op(op) {
		if (!op->nested)
			continue;
		for (i = 0; i < MBOX_ARRAY_SIZE(cases) + 32; i++) {
			const struct nested_case *c = NULL;
			struct world *w = &self->w;
			char what[64];

			if (i < MBOX_ARRAY_SIZE(cases)) {
				c = &cases[i];
				snprintf(what, sizeof(what), "%s", c->what);
			} else {
				bit = i - MBOX_ARRAY_SIZE(cases);
				if ((MBOX_NONBLOCK | MBOX_DEADLINE |
				     MBOX_RECV_FROM) & (1U << bit))
					continue;
				snprintf(what, sizeof(what), "recv flag bit %u",
					 bit);
			}
			if (!begin(_metadata, self, op, arg, false))
				break;
			if (c) {
				put_le((char *)&w->recv.r + c->off, c->val,
				       c->len);
				memset(w->recv.tail, 0, sizeof(w->recv.tail));
				if (c->err == -E2BIG)
					w->recv.tail[3] = 1;
			} else {
				w->recv.r.flags |= 1U << bit;
			}
			saved = w->recv.r;
			ret = mbox_ioctl(w->fd, op->cmd, arg);
			EXPECT_EQ(c ? c->err : -EINVAL, ret) {
				TH_LOG("%s: %s: %s", op->name, what,
				       strerror(-ret));
			}
			EXPECT_EQ(0, memcmp(&saved, &w->recv.r, sizeof(saved)));
			op->after_late(_metadata, w, arg);
			end(self);
		}
	}
}

/*
 * 6. Every byte the call does not need 0xA5: after it succeeded, every
 * out field was written, padding is 0 and the inputs are as they were;
 * for the receive of REPLY's MBOX_REPLY_RECV too.
 */
TEST_F(abi, out_fields_written_on_success)
{
	const struct op *op;
	ARG(arg);
	ARG(before);

	for_each_op(op) {
		if (!begin(_metadata, self, op, arg, true))
			continue;
		memcpy(before, arg, op->size);
		if (succeed(_metadata, &self->w, arg, "prefilled 0xA5"))
			check_written(_metadata, op->name, op->fields,
				      op->nfields, before, arg, 0xa5);
		end(self);
	}
}

/*
 * 6. The same on the error that copies the struct back: EMSGSIZE of RECV
 * (from a mailbox, of a direct message, through REPLY's MBOX_REPLY_RECV)
 * and of STAT.
 */
TEST_F(abi, out_fields_written_on_emsgsize)
{
	const struct op *op;
	struct snapshot s;
	int ret;
	ARG(arg);
	ARG(valid);
	ARG(before);

	for_each_op(op) {
		if (!op->emsgsize)
			continue;
		if (!begin(_metadata, self, op, arg, true))
			continue;
		memcpy(valid, arg, op->size);
		op->emsgsize(&self->w, arg);
		memcpy(before, arg, op->size);
		ret = mbox_ioctl(self->w.fd, op->cmd, arg);
		EXPECT_EQ(-EMSGSIZE, ret) {
			TH_LOG("%s: %s", op->name, strerror(-ret));
		}
		op->check_emsgsize(_metadata, &self->w, arg);
		check_written(_metadata, op->name, op->fields, op->nfields,
			      before, arg, 0xa5);
		if (op->nested)
			check_written(_metadata, "recv", op->nested,
				      op->nnested, &self->w.recv_before,
				      &self->w.recv.r, 0xa5);
		/* Where EMSGSIZE took nothing, the valid call still works. */
		snapshot_take(&self->w, &s);
		if (!memcmp(&s, &self->w.s0, sizeof(s)))
			succeed(_metadata, &self->w, valid, "after EMSGSIZE");
		end(self);
	}
}

/*
 * 7. Unknown ioctls: every number past MBOX_CMD_RECV_BATCH (and the
 * batches' where the module has no MBOX_FEATURE_BATCH); the valid numbers
 * with size or direction bits (_IOR, _IOW, _IOWR, or a size alone), or
 * another type: ENOTTY, nothing done.
 */
TEST_F(abi, unknown_ioctl_enotty)
{
	static const unsigned int types[] = { 0xb8, 0xba, 0x39, 'x', 0xff };
	static const unsigned int dirs[] = {
		_IOC_NONE, _IOC_READ, _IOC_WRITE, _IOC_READ | _IOC_WRITE,
	};
	const struct op *op;
	unsigned int i, j, nr;
	__u64 features = 0;
	int fd, ret;
	ARG(arg);
	ARG(b);

	fd = mbox_dev_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mbox_features(fd, &features));
	memset(mem.s, 0, 2 * mem.pg);
	set_size(mem.s, mem.pg);
	for (nr = MBOX_CMD_REPLY + 1; nr <= 0xff; nr++) {
		if ((nr == MBOX_CMD_SEND_BATCH || nr == MBOX_CMD_RECV_BATCH) &&
		    (features & MBOX_FEATURE_BATCH))
			continue;
		ret = mbox_ioctl(fd, _IO(MBOX_IOCTL_TYPE, nr), mem.s);
		EXPECT_EQ(-ENOTTY, ret) {
			TH_LOG("nr %#x: %s", nr, strerror(-ret));
		}
	}
	EXPECT_EQ(mem.pg, *(__u32 *)mem.s);
	EXPECT_TRUE(all_bytes(mem.s + 4, 2 * mem.pg - 4, 0));
	close(fd);

	for_each_op(op) {
		const __u32 sizes[] = { op->size, 1, _IOC_SIZEMASK };

		if (!begin(_metadata, self, op, arg, false))
			continue;
		for (i = 0; i < MBOX_ARRAY_SIZE(dirs); i++) {
			for (j = 0; j < MBOX_ARRAY_SIZE(sizes); j++) {
				unsigned long cmd = _IOC(dirs[i],
							 MBOX_IOCTL_TYPE,
							 op->nr, sizes[j]);

				memcpy(b, arg, op->size);
				fail_at(_metadata, &self->w, cmd, b, op->size,
					-ENOTTY, "cmd %#lx", cmd);
			}
			if (dirs[i] == _IOC_NONE)
				continue;
			memcpy(b, arg, op->size);
			fail_at(_metadata, &self->w,
				_IOC(dirs[i], MBOX_IOCTL_TYPE, op->nr, 0), b,
				op->size, -ENOTTY, "dir %u size 0", dirs[i]);
		}
		for (i = 0; i < MBOX_ARRAY_SIZE(types); i++) {
			memcpy(b, arg, op->size);
			fail_at(_metadata, &self->w, _IO(types[i], op->nr), b,
				op->size, -ENOTTY, "type %#x", types[i]);
		}
		succeed(_metadata, &self->w, arg, "after unknown numbers");
		end(self);
	}
}

TEST_HARNESS_MAIN
