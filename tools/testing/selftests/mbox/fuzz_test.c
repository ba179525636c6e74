// SPDX-License-Identifier: GPL-2.0
/*
 * A randomized fuzzer of the whole mbox ABI (issue 8), run for a fixed
 * number of calls from a printed seed.
 *
 * Every iteration makes one random call on one of four endpoints (two
 * blocking, two O_NONBLOCK): an ioctl number (the mbox commands, those
 * beyond them, wrong direction or size bits, other types, a command in the
 * high bits of a 64-bit long), a struct of a random size (0, short, exact,
 * longer with a zero or a non-zero tail, huge) with random flags (defined
 * and undefined bits, the reserved fields) and field values drawn from a
 * pool of real objects: the mailboxes it made (live and destroyed), their
 * names, the call tokens it received, its own pid, a peer process's and a
 * dead one's, pidfds and fds that are not pidfds.  The struct is placed at
 * a random address: a good buffer (aligned or not), NULL, a low address,
 * an unmapped or a read-only page, straddling into one, a kernel or a
 * non-canonical address; its embedded pointers (message and reply buffers,
 * names, STAT's name buffer, REPLY's struct mbox_recv, a batch's array of
 * entries) are drawn the same way, or point into the struct itself.  A
 * batch's entries are sends or receives built as those are, with an
 * entry_size that is mostly right, sometimes odd, short or long (with a
 * zero or a non-zero tail), an entry whose size is not entry_size, and an
 * array that may straddle into an unmapped or a read-only page.
 *
 * The tests weigh the mutations differently: numbers, sizes, pointers,
 * flags; mixed does everything, with poll, epoll, fcntl(O_NONBLOCK), dup,
 * read and lseek, the close and reopen of endpoints and a peer killed in
 * the middle of its calls; faults is mixed with the nth allocation or
 * user copy of most calls failing (fail-nth: root and the debug kernel).
 *
 * A peer process (the test's child; nobody's when run as root) serves
 * the fuzzer's calls on a rendezvous and a bounded system-owned mailbox
 * and on direct receiving, and calls and sends to the fuzzer's mailbox
 * and pid, so that hand-offs, synchronous sends, calls, tokens and replies
 * are reached, not only their argument checks.  MBOX_FUZZ_PEER=0 turns it
 * off.
 *
 * Oracle, for every call: it returns 0 or -1 (a batch: the count of its
 * entries done, 1..count, or -1), never anything else, and:
 *  - an ioctl number that is not _IO(0xB9, 0..0x0d) fails with ENOTTY;
 *  - for a command, the steps before the command's own code are modelled
 *    exactly from the memory map of the arena (main.c's mbox_dispatch()):
 *    an unreadable size is EFAULT; a size below the first version EINVAL;
 *    a longer one whose tail holds a non-zero byte before an unreadable
 *    one E2BIG, else EFAULT if the tail runs into one; an unreadable
 *    struct EFAULT; a struct that is written back (abi.rst: all but
 *    CLOSE, DESTROY, SET and REPLY) and is not writable EFAULT; then an
 *    undefined flag bit EINVAL; for a batch, then, a count of 0 or above
 *    MBOX_BATCH_MAX, an entry_size below the entry's first version or an
 *    array that wraps past 2^64 EINVAL, an unreadable first entry EFAULT,
 *    and one whose size is not entry_size EINVAL;
 *  - past those, the errno is one of those Documentation/abi.rst lists
 *    for the command (and its conventions: EFAULT, E2BIG, EINVAL; EINTR
 *    where a call blocks), and a success looks like one (a VERSION with
 *    this ABI, a CREATE with a new id, a RECV within its buffer, a batch
 *    that returned 1..count and says the same in done, with, if not all,
 *    an errno of its entry's command; only a fault injected at its
 *    header's write-back may leave done and error unwritten); a failed
 *    CREATE made no mailbox.
 * After the run, once its endpoints are closed and the peer has exited:
 * the module still works (a create, send, receive and destroy round), the
 * listing in /proc/driver/mbox/mailboxes holds exactly the mailboxes that
 * were there before (the fuzzer destroys the system-owned ones it made, of
 * which it keeps a list), and the user's quotas (mailboxes and bytes: what
 * a process without CAP_SYS_RESOURCE can still create and queue) are back
 * to where they were.  Kernel reports (KASAN, lockdep, UBSAN, WARN) and
 * kmemleak are caught by make check's guest (testing.rst).
 *
 * Nothing blocks for long: every SEND, RECV, CALL and REPLY runs under an
 * ITIMER_REAL whose SIGALRM handler has no SA_RESTART, so a blocked call
 * fails with EINTR (abi.rst, "Blocking"); the timer repeats until the call
 * returns, as a signal that came before the call slept would be lost.  A
 * quarter of them also get an earlier SIGUSR1 with SA_RESTART, which
 * restarts the wait.  (faults: no signals, see bound_call().)
 *
 * The file also holds the reproducers of what the faults test found (a
 * failed CREATE that left its mailbox): failed.* and the *_race tests.
 *
 * Memory: every address the fuzzer hands the kernel to write to is in its
 * arena, whose writable runs each end at an unmapped or read-only page,
 * or in no mapping at all; so a wrong length or pointer can only fault,
 * never overwrite the fuzzer.
 *
 * Environment: MBOX_FUZZ_SEED (the seed to replay; default from the time
 * and pid, printed), MBOX_FUZZ_COUNT (calls per test; the tests' timeout
 * grows with it), MBOX_FUZZ_TRACE=1 (print every call before it is made:
 * the last line before a crash names it), MBOX_FUZZ_PEER=0.  Iteration i
 * of a test draws from a generator of its own, seeded from the seed, the
 * test and i: a seed always makes the same calls, whatever the results of
 * the others were (the ids and tokens in them are those of the run, picked
 * from the same places); only the peer's timing can change the results.
 * Documentation/testing.rst, "ABI fuzzer".
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <linux/mbox.h>
#include <linux/userfaultfd.h>

#include "mbox_util.h"
#include "kselftest_harness.h"

#define FUZZ_COUNT_DEFAULT	2000	/* calls per test */
#define FUZZ_TIMEOUT_DEFAULT	240	/* seconds per test at that count */

#define NEP		4	/* endpoints */
#define NOURS		128	/* recent mailboxes of ours, for the pool */
#define NSTALE		64	/* destroyed ones */
#define NTOKENS		32	/* call tokens received */
#define NPRE		1024	/* mailboxes that existed before */
#define NVIOL		8	/* violations described in full */

#define IMG_MAX		(8192 + 512)	/* a struct and its tail */
#define TAIL_IMG_MAX	4096	/* longest tail written out in full */

#define BLOCK_US	3000	/* SIGALRM: a blocked call gives up (EINTR) */
#define CALL_US		20000	/* a CALL's: time for the peer to answer */
#define RESTART_NS	1000000	/* SIGUSR1: a blocked call restarts */

/* An address no program can map (a 32-bit one: the top of its 4 GiB). */
#if __SIZEOF_LONG__ == 8
#define KERNEL_ARG	0xffff888000000000ULL
#define NONCANON_ARG	0x8000000000000000ULL
#else
#define KERNEL_ARG	0xfffff000ULL
#define NONCANON_ARG	0xffffe000ULL
#endif
/* The same, in a __u64 pointer field (both are 64 bits there). */
#define KERNEL_PTR	0xffff888000000000ULL
#define NONCANON_PTR	0x8000000000000000ULL
/* No pid is ever above PID_MAX_LIMIT (4M). */
#define NO_SUCH_PID	4194305U

/* ---- configuration and the generator ------------------------------------ */

static struct {
	__u64 seed;
	unsigned long count;
	bool trace;
	bool peer;
} cfg;

static __u64 splitmix(__u64 *s)
{
	__u64 z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static __u64 mix(__u64 a, __u64 b)
{
	__u64 s = a ^ (b * 0xd6e8feb86659fd93ULL);

	return splitmix(&s);
}

/* ---- the ABI, as the fuzzer knows it ----------------------------------- */

enum kind {
	F_FLAGS,	/* the flags word */
	F_RES,		/* reserved: must be 0 */
	F_ID,		/* a mailbox id */
	F_NAME,		/* pointer to a name */
	F_BUF_IN,	/* pointer to bytes the kernel reads (aux: the length) */
	F_BUF_OUT,	/* pointer to bytes the kernel writes (aux: the length) */
	F_RECVP,	/* pointer to a struct mbox_recv */
	F_LEN,		/* a length */
	F_ADDR,		/* enum mbox_addr */
	F_PEER,		/* id, pid or pidfd, after the addr field (aux) */
	F_PRIO,
	F_DEADLINE,
	F_TOKEN,
	F_MODE,
	F_POLICY,
	F_CAP,		/* a capacity */
	F_MSGSIZE,	/* a max_msg_size */
	F_BYTES,	/* a max_bytes (64 bits) */
	F_UGID,		/* a uid or gid */
	F_PID,
	F_OUT,		/* output only */
	F_ENTRIES,	/* pointer to a batch's entries */
	F_COUNT,	/* a batch's count */
	F_ESIZE,	/* a batch's entry_size */
};

struct field {
	unsigned char off;
	unsigned char width;
	unsigned char kind;
	signed char aux;
};

#define FLD(type, member, kind, aux) \
	{ offsetof(type, member), sizeof(((type *)0)->member), kind, aux }

static const struct field f_version[] = {
	FLD(struct mbox_version, flags, F_FLAGS, -1),
	FLD(struct mbox_version, abi_major, F_OUT, -1),
	FLD(struct mbox_version, abi_minor, F_OUT, -1),
	FLD(struct mbox_version, features, F_OUT, -1),
	{ 0 }
};

static const struct field f_create[] = {
	FLD(struct mbox_create, flags, F_FLAGS, -1),
	FLD(struct mbox_create, name, F_NAME, -1),
	FLD(struct mbox_create, capacity, F_CAP, -1),
	FLD(struct mbox_create, max_msg_size, F_MSGSIZE, -1),
	FLD(struct mbox_create, max_bytes, F_BYTES, -1),
	FLD(struct mbox_create, msg_size, F_LEN, -1),
	FLD(struct mbox_create, mode, F_MODE, -1),
	FLD(struct mbox_create, policy, F_POLICY, -1),
	FLD(struct mbox_create, id, F_OUT, -1),
	{ 0 }
};

static const struct field f_open[] = {
	FLD(struct mbox_open, flags, F_FLAGS, -1),
	FLD(struct mbox_open, id, F_ID, -1),
	FLD(struct mbox_open, __reserved, F_RES, -1),
	FLD(struct mbox_open, name, F_NAME, -1),
	{ 0 }
};

static const struct field f_id[] = {
	FLD(struct mbox_id, flags, F_FLAGS, -1),
	FLD(struct mbox_id, id, F_ID, -1),
	FLD(struct mbox_id, __reserved, F_RES, -1),
	{ 0 }
};

static const struct field f_set[] = {
	FLD(struct mbox_set, flags, F_FLAGS, -1),
	FLD(struct mbox_set, id, F_ID, -1),
	FLD(struct mbox_set, uid, F_UGID, -1),
	FLD(struct mbox_set, gid, F_UGID, -1),
	FLD(struct mbox_set, mode, F_MODE, -1),
	{ 0 }
};

static const struct field f_stat[] = {
	FLD(struct mbox_stat, flags, F_FLAGS, -1),
	FLD(struct mbox_stat, id, F_ID, -1),
	FLD(struct mbox_stat, name_len, F_LEN, -1),
	FLD(struct mbox_stat, name, F_BUF_OUT,
	    offsetof(struct mbox_stat, name_len)),
	FLD(struct mbox_stat, attrs, F_OUT, -1),
	FLD(struct mbox_stat, nr_bytes, F_OUT, -1),
	FLD(struct mbox_stat, total_received, F_OUT, -1),
	{ 0 }
};

static const struct field f_send[] = {
	FLD(struct mbox_send, flags, F_FLAGS, -1),
	FLD(struct mbox_send, addr, F_ADDR, -1),
	FLD(struct mbox_send, to, F_PEER, offsetof(struct mbox_send, addr)),
	FLD(struct mbox_send, buf, F_BUF_IN, offsetof(struct mbox_send, len)),
	FLD(struct mbox_send, len, F_LEN, -1),
	FLD(struct mbox_send, priority, F_PRIO, -1),
	FLD(struct mbox_send, deadline_ns, F_DEADLINE, -1),
	FLD(struct mbox_send, receiver_pid, F_OUT, -1),
	FLD(struct mbox_send, __pad, F_OUT, -1),
	{ 0 }
};

static const struct field f_recv[] = {
	FLD(struct mbox_recv, flags, F_FLAGS, -1),
	FLD(struct mbox_recv, addr, F_ADDR, -1),
	FLD(struct mbox_recv, from, F_PEER, offsetof(struct mbox_recv, addr)),
	FLD(struct mbox_recv, buf, F_BUF_OUT, offsetof(struct mbox_recv, len)),
	FLD(struct mbox_recv, len, F_LEN, -1),
	FLD(struct mbox_recv, from_pid, F_PID, -1),
	FLD(struct mbox_recv, deadline_ns, F_DEADLINE, -1),
	FLD(struct mbox_recv, priority, F_OUT, -1),
	FLD(struct mbox_recv, sender_uid, F_OUT, -1),
	FLD(struct mbox_recv, __pad, F_OUT, -1),
	FLD(struct mbox_recv, token, F_OUT, -1),
	{ 0 }
};

static const struct field f_direct[] = {
	FLD(struct mbox_direct, flags, F_FLAGS, -1),
	FLD(struct mbox_direct, capacity, F_CAP, -1),
	FLD(struct mbox_direct, max_msg_size, F_MSGSIZE, -1),
	FLD(struct mbox_direct, max_bytes, F_BYTES, -1),
	FLD(struct mbox_direct, links, F_OUT, -1),
	FLD(struct mbox_direct, pid, F_OUT, -1),
	{ 0 }
};

static const struct field f_call[] = {
	FLD(struct mbox_call, flags, F_FLAGS, -1),
	FLD(struct mbox_call, addr, F_ADDR, -1),
	FLD(struct mbox_call, to, F_PEER, offsetof(struct mbox_call, addr)),
	FLD(struct mbox_call, buf, F_BUF_IN, offsetof(struct mbox_call, len)),
	FLD(struct mbox_call, len, F_LEN, -1),
	FLD(struct mbox_call, priority, F_PRIO, -1),
	FLD(struct mbox_call, deadline_ns, F_DEADLINE, -1),
	FLD(struct mbox_call, reply_buf, F_BUF_OUT,
	    offsetof(struct mbox_call, reply_len)),
	FLD(struct mbox_call, reply_len, F_LEN, -1),
	FLD(struct mbox_call, server_pid, F_OUT, -1),
	{ 0 }
};

static const struct field f_reply[] = {
	FLD(struct mbox_reply, flags, F_FLAGS, -1),
	FLD(struct mbox_reply, token, F_TOKEN, -1),
	FLD(struct mbox_reply, buf, F_BUF_IN, offsetof(struct mbox_reply, len)),
	FLD(struct mbox_reply, len, F_LEN, -1),
	FLD(struct mbox_reply, __reserved, F_RES, -1),
	FLD(struct mbox_reply, recv, F_RECVP, -1),
	{ 0 }
};

static const struct field f_batch[] = {
	FLD(struct mbox_batch, flags, F_FLAGS, -1),
	FLD(struct mbox_batch, entries, F_ENTRIES, -1),
	FLD(struct mbox_batch, count, F_COUNT, -1),
	FLD(struct mbox_batch, entry_size, F_ESIZE, -1),
	FLD(struct mbox_batch, done, F_OUT, -1),
	FLD(struct mbox_batch, error, F_OUT, -1),
	{ 0 }
};

/*
 * What abi.rst lists for each command (its section, and the conventions
 * every ioctl shares: EFAULT, E2BIG, EINVAL), 0-terminated.
 */
static const int e_version[] = { EINVAL, E2BIG, EFAULT, 0 };
static const int e_create[] = { EINVAL, ENAMETOOLONG, EEXIST, ENOSPC, EFAULT,
				ENOMEM, E2BIG, 0 };
static const int e_open[] = { EINVAL, ENOENT, EACCES, EPERM, EBUSY, EEXIST,
			      ENAMETOOLONG, EFAULT, ENOMEM, E2BIG, 0 };
static const int e_close[] = { EBADF, EINVAL, EFAULT, E2BIG, 0 };
static const int e_destroy[] = { ENOENT, EPERM, EINVAL, EFAULT, E2BIG, 0 };
static const int e_stat[] = { ENOENT, EACCES, EMSGSIZE, EINVAL, EFAULT,
			      E2BIG, 0 };
/* SEND: mailboxes, then direct links ("Errors, besides those of mailboxes"). */
static const int e_send[] = { EBADF, EIDRM, EINVAL, EMSGSIZE, EAGAIN,
			      ETIMEDOUT, EINTR, ENOSPC, EFAULT, ENOMEM, E2BIG,
			      ESRCH, ECONNREFUSED, EPERM, ECONNRESET, 0 };
static const int e_recv[] = { EBADF, EIDRM, EINVAL, ESRCH, EMSGSIZE, EAGAIN,
			      ETIMEDOUT, EINTR, EFAULT, E2BIG, ECONNRESET,
			      ENOMEM, 0 };
static const int e_direct[] = { EINVAL, EEXIST, EBUSY, EBADF, EFAULT, E2BIG,
				ENOMEM, 0 };
/* CALL: SEND's, and its own. */
static const int e_call[] = { EBADF, EIDRM, EINVAL, EMSGSIZE, EAGAIN,
			      ETIMEDOUT, EINTR, ENOSPC, EFAULT, ENOMEM, E2BIG,
			      ESRCH, ECONNREFUSED, EPERM, ECONNRESET, EPIPE, 0 };
/* REPLY; with MBOX_REPLY_RECV, RECV's too. */
static const int e_reply[] = { ENOENT, ECANCELED, EMSGSIZE, EINVAL, EFAULT,
			       ENOMEM, ENOSPC, E2BIG, 0 };
/*
 * SEND_BATCH and RECV_BATCH: the header's EINVAL, EFAULT and E2BIG, and
 * what an entry fails with, as its command (the ioctl's errno for entry
 * 0, the batch's error for a later one).
 */
#define e_send_batch	e_send
#define e_recv_batch	e_recv

struct cmd {
	const char *name;
	unsigned int size;	/* sizeof, which is its first version's */
	bool out;		/* written back: a read-only struct is EFAULT */
	bool blocks;		/* may wait: run under the timers */
	__u32 flags;		/* the defined flag bits */
	const struct field *fields;
	const int *errs;
	int entry;		/* a batch: the command of its entries, else -1 */
};

#define CMD(nr, str, flg, fld, errs_, out_, blocks_)			\
	[nr] = { #nr + 9, sizeof(struct str), out_, blocks_, flg, fld, errs_, \
		 -1 }
#define BATCH_CMD(nr, ent, errs_)					\
	[nr] = { #nr + 9, sizeof(struct mbox_batch), true, true, 0, f_batch, \
		 errs_, ent }

static const struct cmd cmds[] = {
	CMD(MBOX_CMD_VERSION, mbox_version, 0, f_version, e_version, true, false),
	CMD(MBOX_CMD_CREATE, mbox_create, MBOX_CREATE_SYSTEM, f_create,
	    e_create, true, false),
	CMD(MBOX_CMD_OPEN, mbox_open, MBOX_OPEN_SEND | MBOX_OPEN_RECV, f_open,
	    e_open, true, false),
	CMD(MBOX_CMD_CLOSE, mbox_id, 0, f_id, e_close, false, false),
	CMD(MBOX_CMD_DESTROY, mbox_id, 0, f_id, e_destroy, false, false),
	CMD(MBOX_CMD_SET, mbox_set, MBOX_SET_UID | MBOX_SET_GID | MBOX_SET_MODE,
	    f_set, e_destroy, false, false),
	CMD(MBOX_CMD_SEND, mbox_send,
	    MBOX_NONBLOCK | MBOX_DEADLINE | MBOX_SEND_SYNC, f_send, e_send,
	    true, true),
	CMD(MBOX_CMD_RECV, mbox_recv,
	    MBOX_NONBLOCK | MBOX_DEADLINE | MBOX_RECV_FROM, f_recv, e_recv,
	    true, true),
	CMD(MBOX_CMD_STAT, mbox_stat, MBOX_STAT_NEXT, f_stat, e_stat, true,
	    false),
	CMD(MBOX_CMD_DIRECT, mbox_direct,
	    MBOX_DIRECT_ANYONE | MBOX_DIRECT_DISABLE | MBOX_DIRECT_QUERY,
	    f_direct, e_direct, true, false),
	CMD(MBOX_CMD_CALL, mbox_call, MBOX_NONBLOCK | MBOX_DEADLINE, f_call,
	    e_call, true, true),
	CMD(MBOX_CMD_REPLY, mbox_reply, MBOX_REPLY_RECV, f_reply, e_reply,
	    false, true),
	BATCH_CMD(MBOX_CMD_SEND_BATCH, MBOX_CMD_SEND, e_send_batch),
	BATCH_CMD(MBOX_CMD_RECV_BATCH, MBOX_CMD_RECV, e_recv_batch),
};

#define NCMD	((int)MBOX_ARRAY_SIZE(cmds))

_Static_assert(MBOX_ARRAY_SIZE(cmds) == MBOX_CMD_RECV_BATCH + 1,
	       "every command");

/* The entries of a batch the fuzzer writes out in full, at most. */
#define NENT		8
#define ENT_MAX		512	/* the longest entry_size written out */

static bool errno_in(const int *set, int err)
{
	for (; *set; set++)
		if (*set == err)
			return true;
	return false;
}

/* ---- the arena ----------------------------------------------------------- */

/*
 * Pages, in this order: RW1 (RW1_PAGES), a hole, RW2 (one page), RO
 * (RO_PAGES), a hole.  A hole is PROT_NONE: reserved, never mapped.
 */
#define RW1_PAGES	40
#define RO_PAGES	2
#define ARENA_PAGES	(RW1_PAGES + 1 + 1 + RO_PAGES + 1)

struct region {
	__u64 start, end;
	bool writable;
};

/* ---- the fuzzer's state ------------------------------------------------ */

enum mode {
	M_NUMBERS,	/* ioctl numbers */
	M_SIZES,	/* the size field */
	M_POINTERS,	/* where the struct and its buffers are */
	M_FLAGS,	/* flags and reserved fields */
	M_MIXED,	/* everything, with the other syscalls */
	M_FAULTS,	/* mixed, with allocations and user copies failing */
};

static const char *const mode_names[] = {
	"numbers", "sizes", "pointers", "flags", "mixed", "faults",
};

struct quota {
	bool observable;
	long mailboxes;		/* mailboxes it can still create */
	long long bytes;	/* bytes it can still queue (less than an
				 * empty message's: -1 - the bytes of the
				 * others) */
	char why[128];
};

struct peer_shm {
	volatile int stop;
	int violations;
	char first[512];
	unsigned long ops, served, calls_ok, sends_ok;
};

struct fuzz {
	enum mode mode;
	__u64 test_seed;
	__u64 rng;			/* this iteration's generator */
	unsigned long iter;
	pid_t self;
	bool root;

	int ep[NEP];
	struct epset {			/* the mailboxes open on each */
		__u32 id[32];
		__u32 rights[32];	/* MBOX_OPEN_SEND, MBOX_OPEN_RECV */
		unsigned int n;
	} open[NEP];
	int direct_ep;			/* the one with direct receiving */
	char *arena;
	size_t page;
	struct region reg[3];		/* RW1, RW2, RO */
	char *rw1, *rw2, *ro, *hole;

	/* The pool. */
	__u32 ours[NOURS];		/* mailboxes it made, recent first */
	unsigned int nours;
	__u32 stale[NSTALE];
	unsigned int nstale;
	__u32 *system;			/* system-owned ones: destroy at the end */
	unsigned int nsystem, system_cap;
	__u32 *made;			/* every id it made */
	unsigned int nmade, made_cap;
	__u32 pre[NPRE];		/* mailboxes there before: STAT only */
	unsigned int npre;
	bool pre_overflow;
	__u64 tokens[NTOKENS];		/* received on the endpoint ... */
	int token_ep[NTOKENS];		/* ... of the same index */
	unsigned int ntokens;
	__u32 max_id;
	char prefix[64];		/* "/mbox-fuzz-<pid>-" */
	pid_t peer, dead;
	int self_pidfd, peer_pidfd, dead_pidfd, null_fd;
	int epoll_fd;
	struct peer_shm *shm;

	/* Fault injection (faults): /proc/thread-self/fail-nth. */
	struct faults {
		int fd;
		char saved[4][16];
		unsigned long injected;
	} fi;

	/* Timers. */
	timer_t restart_timer;
	bool have_restart_timer;

	/* Results. */
	unsigned long calls, violations, exact;
	char viol[NVIOL][640];
	unsigned long ok[NCMD + 1], err[NCMD + 1][134];
	__u64 ns[NCMD + 1];		/* time spent in each */
	unsigned long tokens_seen, replies_ok, calls_ok, alarms;
	__u64 start_ns;
	struct quota q_before;
};

/* Fixed names: the peer serves on SRV (capacity 0) and SRV4 (4), sends
 * and calls to MAIN (the fuzzer's process-owned mailbox).
 */
enum { NAME_SRV, NAME_SRV4, NAME_MAIN, NAME_POOL };
#define NNAMES	8	/* names of the pool: the fixed ones, then others */

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	alarms++;
}

static void on_restart(int sig)
{
}

/* ---- drawing values ----------------------------------------------------- */

static __u64 rnd(struct fuzz *f)
{
	return splitmix(&f->rng);
}

static __u32 below(struct fuzz *f, __u32 n)
{
	return n ? (__u32)(rnd(f) % n) : 0;
}

/* True with probability pct percent. */
static bool pct(struct fuzz *f, unsigned int p)
{
	return below(f, 100) < p;
}

#define PICK(f, arr)	((arr)[below(f, MBOX_ARRAY_SIZE(arr))])

static const __u32 interesting32[] = {
	0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 255, 256,
	511, 512, 1023, 1024, 4095, 4096, 4097, 8191, 8192, 8193, 65535,
	65536, 1048575, 1048576, 1048577, 0x7fffffffU, 0x80000000U,
	0xfffffffeU, 0xffffffffU,
};

static const __u64 interesting64[] = {
	0, 1, 16, 4096, 8192, 65536, 1048576, 0xffffffffULL, 0x100000000ULL,
	0x7fffffffffffffffULL, 0x8000000000000000ULL, ~0ULL,
};

static __u32 any32(struct fuzz *f)
{
	switch (below(f, 4)) {
	case 0:
		return (__u32)rnd(f);
	case 1:
		return 1U << below(f, 32);
	default:
		return PICK(f, interesting32);
	}
}

static __u64 any64(struct fuzz *f)
{
	switch (below(f, 4)) {
	case 0:
		return rnd(f);
	case 1:
		return 1ULL << below(f, 64);
	default:
		return PICK(f, interesting64);
	}
}

static bool is_pre(struct fuzz *f, __u32 id)
{
	unsigned int i;

	for (i = 0; i < f->npre; i++)
		if (f->pre[i] == id)
			return true;
	return false;
}

/* A mailbox id: ours (mostly), destroyed, or none. */
static __u32 pick_id(struct fuzz *f)
{
	unsigned int r = below(f, 100);

	if (r < 65 && f->nours)
		return f->ours[below(f, f->nours < 16 ? f->nours : 16)];
	if (r < 75 && f->nours)
		return f->ours[below(f, f->nours)];
	if (r < 88 && f->nstale)
		return f->stale[below(f, f->nstale)];
	switch (below(f, 5)) {
	case 0:
		return 0;
	case 1:
		return 0xffffffffU;
	case 2:
		return f->max_id + 1 + below(f, 3);
	case 3:
		return 0xf0000000U + below(f, 0x1000);
	default:
		return 0x80000000U;
	}
}

static __u32 pick_pid(struct fuzz *f)
{
	switch (below(f, 10)) {
	case 0: case 1: case 2:
		return f->self;
	case 3: case 4: case 5:
		return f->peer > 0 ? (__u32)f->peer : (__u32)f->self;
	case 6:
		return f->dead;
	case 7:
		return 1;
	case 8:
		return 0;
	default:
		return PICK(f, ((const __u32[]){ NO_SUCH_PID, 0x7fffffffU,
						 0x80000000U, 0xffffffffU }));
	}
}

static __u32 pick_pidfd(struct fuzz *f)
{
	switch (below(f, 10)) {
	case 0: case 1: case 2:
		return f->self_pidfd;
	case 3: case 4: case 5:
		return f->peer_pidfd >= 0 ? f->peer_pidfd : f->self_pidfd;
	case 6:
		return f->dead_pidfd;
	case 7:
		return f->ep[below(f, NEP)];	/* not a pidfd: EINVAL */
	case 8:
		return f->null_fd;
	default:
		return PICK(f, ((const __u32[]){ 0x7ffffff0U, 0xffffffffU,
						 0x80000000U }));
	}
}

/* Bookkeeping of what each endpoint has open. */
static void ep_add(struct fuzz *f, int epi, __u32 id, __u32 rights)
{
	struct epset *e = &f->open[epi];
	unsigned int i;

	for (i = 0; i < e->n; i++)
		if (e->id[i] == id)
			break;
	if (i == e->n) {
		if (e->n == MBOX_ARRAY_SIZE(e->id))
			i = below(f, e->n);
		else
			e->n++;
	}
	e->id[i] = id;
	e->rights[i] = rights;
}

static void ep_del(struct fuzz *f, int epi, __u32 id)
{
	struct epset *e = &f->open[epi];
	unsigned int i;

	for (i = 0; i < e->n; i++)
		if (e->id[i] == id) {
			e->id[i] = e->id[--e->n];
			e->rights[i] = e->rights[e->n];
			return;
		}
}

/* A mailbox open on endpoint epi with one of these rights, mostly. */
static __u32 pick_id_on(struct fuzz *f, int epi, __u32 rights)
{
	struct epset *e = &f->open[epi];
	unsigned int i, n = 0, k;

	for (i = 0; i < e->n; i++)
		n += !!(e->rights[i] & rights);
	if (!n || pct(f, 20))
		return pick_id(f);
	k = below(f, n);
	for (i = 0; i < e->n; i++)
		if ((e->rights[i] & rights) && !k--)
			break;
	return e->id[i];
}

/* The peer field after the addr field: by what it names. */
static __u32 pick_peer(struct fuzz *f, __u32 addr)
{
	switch (addr) {
	case MBOX_ADDR_MAILBOX:
		return pick_id(f);
	case MBOX_ADDR_PID:
		return pct(f, 30) ? 0 : pick_pid(f);
	case MBOX_ADDR_PIDFD:
		return pick_pidfd(f);
	default:
		return any32(f);
	}
}

/* A token; *epi becomes the endpoint it came to, mostly. */
static __u64 pick_token(struct fuzz *f, int *epi)
{
	unsigned int i = f->ntokens ? below(f, f->ntokens < 4 ? f->ntokens : 4)
				    : 0;
	__u64 t = f->ntokens ? f->tokens[i] : 0;

	if (f->ntokens && pct(f, 85))
		*epi = f->token_ep[i];
	switch (below(f, 10)) {
	case 0:
		return 0;
	case 1:
		return any64(f);
	case 2:
		return t ^ (1ULL << 32);	/* same slot, another generation */
	case 3:
		return t + 1;
	default:
		return t;
	}
}

static __u64 pick_deadline(struct fuzz *f)
{
	__u64 now = mbox_now_ns();

	switch (below(f, 10)) {
	case 0:
		return 0;
	case 1:
		return now - 1000000000ULL;
	case 2:
		return now;
	case 3: case 4: case 5:
		return now + 1000000ULL * below(f, 3);
	case 6:
		return now + 3600ULL * 1000000000ULL;
	case 7:
		return ~0ULL;
	case 8:
		return 0x7fffffffffffffffULL;
	default:
		return any64(f);
	}
}

static __u32 pick_len(struct fuzz *f)
{
	switch (below(f, 10)) {
	case 0:
		return 0;
	case 1: case 2: case 3: case 4:
		return below(f, 64);
	case 5: case 6:
		return below(f, 512);
	case 7:
		return below(f, 9000);
	case 8:
		return PICK(f, ((const __u32[]){ 4095, 4096, 8191, 8192, 8193,
						 65536, 65537 }));
	default:
		return any32(f);
	}
}

static __u32 pick_cap(struct fuzz *f)
{
	return PICK(f, ((const __u32[]){ 0, 0, 1, 2, 4, 8, 64,
					 MBOX_UNBOUNDED, MBOX_UNBOUNDED }));
}

static __u32 pick_msgsize(struct fuzz *f)
{
	return PICK(f, ((const __u32[]){ 0, 0, 0, 1, 16, 64, 256, 4096, 8192,
					 65536, 1048576, 1048577 }));
}

static __u32 pick_mode(struct fuzz *f)
{
	return PICK(f, ((const __u32[]){ 0666, 0666, 0600, 0644, 0622, 0660,
					 0440, 0, 0777, 01666 }));
}

static __u32 pick_ugid(struct fuzz *f)
{
	return PICK(f, ((const __u32[]){ (__u32)geteuid(), (__u32)geteuid(),
					 0, MBOX_NOBODY, MBOX_OTHER_UID,
					 0xffffffffU, 0xfffffffeU }));
}

/* A value for a field of this kind. */
static __u64 pick_field(struct fuzz *f, unsigned int kind, __u32 addr)
{
	switch (kind) {
	case F_ID:
		return pick_id(f);
	case F_PEER:
		return pick_peer(f, addr);
	case F_PID:
		return pick_pid(f);
	case F_LEN:
		return pick_len(f);
	case F_ADDR:
		return below(f, 8) < 6 ? below(f, 3) : any32(f);
	case F_PRIO:
		return below(f, 4) ? below(f, MBOX_PRIO_MAX + 1) : any32(f);
	case F_DEADLINE:
		return pick_deadline(f);
	case F_TOKEN:
		return pick_token(f, &(int){ 0 });
	case F_MODE:
		return pick_mode(f);
	case F_POLICY:
		return below(f, 5) ? below(f, 3) : any32(f);
	case F_CAP:
		return pick_cap(f);
	case F_MSGSIZE:
		return pick_msgsize(f);
	case F_BYTES:
		return below(f, 2) ? 0 : any64(f);
	case F_UGID:
		return pick_ugid(f);
	default:
		return any64(f);
	}
}

/* ---- the struct being built ---------------------------------------------- */

/* Where a struct, or a buffer, goes. */
enum where {
	W_RW,		/* the writable run */
	W_RW_ODD,	/* there, at an odd address */
	W_RO,		/* a read-only page */
	W_STR_HOLE,	/* straddling into a hole */
	W_STR_RO,	/* straddling into a read-only page */
	W_NULL,
	W_LOW,		/* below mmap_min_addr */
	W_HOLE,
	W_KERNEL,
	W_NONCANON,
	W_HIGH,		/* above 4 GiB: a pointer field only */
	W_COUNT,
};

static const char *const where_names[] = {
	"rw", "rw-odd", "ro", "straddle-hole", "straddle-ro", "null", "low",
	"hole", "kernel", "noncanonical", "high",
};

struct call {
	int epi;
	unsigned long cmd;
	int ci;				/* the command, or -1: not one */
	union {
		__u32 size;
		unsigned char img[IMG_MAX];
	};
	size_t imglen;			/* bytes of img to write out */
	enum where where;
	__u64 addr;
	char note[160];			/* what was done to it */
	/* A batch's entries as built (receives: their buffers' sizes). */
	union {
		struct mbox_send send;
		struct mbox_recv recv;
	} ent[NENT];
	unsigned int nent;		/* entries written out */
	__u64 ent_addr;			/* where */
	__u32 ent_size;			/* their entry_size */
};

static __u64 get_field(const unsigned char *img, const struct field *fd)
{
	__u64 v64;
	__u32 v32;

	if (fd->width == 8) {
		memcpy(&v64, img + fd->off, 8);
		return v64;
	}
	memcpy(&v32, img + fd->off, 4);
	return v32;
}

static void set_field(unsigned char *img, const struct field *fd, __u64 v)
{
	__u32 v32 = (__u32)v;

	if (fd->width == 8)
		memcpy(img + fd->off, &v, 8);
	else
		memcpy(img + fd->off, &v32, 4);
}

static const struct field *field_of(int ci, unsigned int kind)
{
	const struct field *fd;

	for (fd = cmds[ci].fields; fd->width; fd++)
		if (fd->kind == kind)
			return fd;
	return NULL;
}

/* ---- the arena: layout, placement and its model --------------------------- */

static int arena_init(struct fuzz *f)
{
	size_t pg = f->page;
	char *a;
	size_t i;

	a = mmap(NULL, ARENA_PAGES * pg, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		return -errno;
	f->arena = a;
	f->rw1 = a;
	f->rw2 = a + (RW1_PAGES + 1) * pg;
	f->ro = f->rw2 + pg;
	f->hole = a + RW1_PAGES * pg;
	if (mprotect(f->rw1, RW1_PAGES * pg, PROT_READ | PROT_WRITE) ||
	    mprotect(f->rw2, (1 + RO_PAGES) * pg, PROT_READ | PROT_WRITE))
		return -errno;
	/* Random content, so that what a long size reaches is not all zero. */
	for (i = 0; i < RW1_PAGES * pg; i += 8)
		*(__u64 *)(f->rw1 + i) = (i & 0x100) ? 0 : rnd(f);
	for (i = 0; i < (1 + RO_PAGES) * pg; i += 8)
		*(__u64 *)(f->rw2 + i) = (i & 0x100) ? rnd(f) : 0;
	if (mprotect(f->ro, RO_PAGES * pg, PROT_READ))
		return -errno;
	f->reg[0] = (struct region){ mbox_ptr(f->rw1),
				     mbox_ptr(f->rw1 + RW1_PAGES * pg), true };
	f->reg[1] = (struct region){ mbox_ptr(f->rw2),
				     mbox_ptr(f->rw2 + pg), true };
	f->reg[2] = (struct region){ mbox_ptr(f->ro),
				     mbox_ptr(f->ro + RO_PAGES * pg), false };
	return 0;
}

static const struct region *region_of(struct fuzz *f, __u64 a)
{
	int i;

	for (i = 0; i < 3; i++)
		if (a >= f->reg[i].start && a < f->reg[i].end)
			return &f->reg[i];
	return NULL;
}

/* How many bytes from a on are readable (or writable), up to len. */
static __u64 acc_len(struct fuzz *f, __u64 a, __u64 len, bool write)
{
	__u64 done = 0;

	while (done < len) {
		const struct region *r = region_of(f, a + done);
		__u64 n;

		if (!r || (write && !r->writable) || a + done < a)
			break;
		n = r->end - (a + done);
		done += n < len - done ? n : len - done;
	}
	return done;
}

/* Write len bytes at a, in the arena, read-only pages included. */
static void arena_write(struct fuzz *f, __u64 a, const void *src, size_t len)
{
	__u64 n = acc_len(f, a, len, false);
	bool ro = n && (acc_len(f, a, n, true) < n);

	if (!n)
		return;
	if (ro)
		mprotect(f->ro, RO_PAGES * f->page, PROT_READ | PROT_WRITE);
	memcpy((void *)(uintptr_t)a, src, n);
	if (ro)
		mprotect(f->ro, RO_PAGES * f->page, PROT_READ);
}

/*
 * An address for len bytes of the kind asked for, with room for them
 * where it can be: W_RW and W_RO fit them whole when they can.
 */
static __u64 where_addr(struct fuzz *f, enum where w, size_t len)
{
	size_t pg = f->page, room, k;

	switch (w) {
	case W_RW:
	case W_RW_ODD:
		room = RW1_PAGES * pg;
		k = len < room ? below(f, room - len + 1) : 0;
		if (w == W_RW)
			k &= ~(size_t)7;
		else
			k |= 1;
		if (k >= room)
			k = room - 1;
		return mbox_ptr(f->rw1 + k);
	case W_RO:
		room = RO_PAGES * pg;
		k = len < room ? below(f, room - len + 1) & ~(size_t)7 : 0;
		return mbox_ptr(f->ro + k);
	case W_STR_HOLE:
		k = 1 + below(f, len > 1 ? len - 1 : 1);
		return mbox_ptr(f->rw1 + RW1_PAGES * pg - k);
	case W_STR_RO:
		k = 1 + below(f, len > 1 ? len - 1 : 1);
		return mbox_ptr(f->rw2 + pg - k);
	case W_NULL:
		return 0;
	case W_LOW:
		return 0x10 + below(f, 0xfff0);
	case W_HOLE:
		return mbox_ptr(f->hole + below(f, pg));
	case W_KERNEL:
		return KERNEL_PTR;
	case W_NONCANON:
		return NONCANON_PTR;
	case W_HIGH:
	default:
		return 0x100000000ULL + mbox_ptr(f->rw1);
	}
}

/* A place for the struct (the ioctl argument: an unsigned long). */
static enum where pick_struct_where(struct fuzz *f, unsigned int bad_pct)
{
	static const enum where bad[] = {
		W_RO, W_RO, W_STR_HOLE, W_STR_HOLE, W_STR_RO, W_STR_RO, W_NULL,
		W_LOW, W_HOLE, W_KERNEL, W_NONCANON,
	};

	if (!pct(f, bad_pct))
		return pct(f, 85) ? W_RW : W_RW_ODD;
	return PICK(f, bad);
}

static enum where pick_ptr_where(struct fuzz *f, unsigned int bad_pct)
{
	static const enum where bad[] = {
		W_RO, W_STR_HOLE, W_STR_RO, W_NULL, W_LOW, W_HOLE, W_KERNEL,
		W_NONCANON, W_HIGH,
	};
	enum where w;

	if (!pct(f, bad_pct))
		return pct(f, 85) ? W_RW : W_RW_ODD;
	w = PICK(f, bad);
	/* Above 4 GiB is mapped memory, maybe, for a 64-bit program. */
	if (w == W_HIGH && sizeof(long) == 8)
		w = W_HOLE;
	return w;
}

/* ---- names ---------------------------------------------------------------- */

static void pool_name(struct fuzz *f, unsigned int i, char *buf, size_t size)
{
	static const char *const fixed[] = { "srv", "srv4", "main" };

	if (i < NAME_POOL)
		snprintf(buf, size, "%s%s", f->prefix, fixed[i]);
	else
		snprintf(buf, size, "%s%u", f->prefix, i);
}

/*
 * A name pointer: a name of the pool, a malformed or too long one, an
 * unterminated one, or a bad pointer.  Names without the fuzzer's prefix
 * never pass the checks, so it never opens another program's mailbox.
 */
static __u64 pick_name(struct fuzz *f, unsigned int bad_pct, char *note,
		       size_t nsize)
{
	char name[MBOX_NAME_MAX + 8];
	size_t len;
	enum where w;
	__u64 a;

	if (pct(f, bad_pct / 2)) {
		w = pick_ptr_where(f, 100);
		if (w != W_RO && w != W_STR_RO && w != W_STR_HOLE) {
			snprintf(note, nsize, "name@%s", where_names[w]);
			return where_addr(f, w, 8);
		}
	} else {
		w = pct(f, 90) ? W_RW : W_RW_ODD;
	}
	switch (below(f, 12)) {
	case 0:
		strcpy(name, "");
		break;
	case 1:
		strcpy(name, "mbox-fuzz-no-slash");
		break;
	case 2:
		snprintf(name, sizeof(name), "%swith space", f->prefix);
		break;
	case 3:
		snprintf(name, sizeof(name), "%s\x7f", f->prefix);
		break;
	case 4:
		snprintf(name, sizeof(name), "%s\x01", f->prefix);
		break;
	case 5: case 6:
		/* MBOX_NAME_MAX, or one more: ENAMETOOLONG. */
		len = MBOX_NAME_MAX + below(f, 2);
		snprintf(name, sizeof(name), "%s", f->prefix);
		memset(name + strlen(name), 'x', len - strlen(name));
		name[len] = '\0';
		break;
	default:
		pool_name(f, below(f, NNAMES), name, sizeof(name));
		break;
	}
	len = strlen(name) + 1;
	a = where_addr(f, w, len);
	if (w == W_STR_HOLE || w == W_STR_RO || pct(f, 5)) {
		/* Unterminated: the name runs into the page after. */
		w = pct(f, 50) ? W_STR_HOLE : W_STR_RO;
		a = (w == W_STR_HOLE ? mbox_ptr(f->rw1 + RW1_PAGES * f->page) :
		     mbox_ptr(f->rw2 + f->page)) - (len - 1);
		arena_write(f, a, name, len - 1);
		snprintf(note, nsize, "name \"%.40s\" unterminated@%s", name,
			 where_names[w]);
		return a;
	}
	arena_write(f, a, name, len);
	snprintf(note, nsize, "name \"%.40s\"@%s", name, where_names[w]);
	return a;
}

/* ---- building a call ------------------------------------------------------ */

/* Flags for a call that may block: mostly not for long. */
static __u32 block_flags(struct fuzz *f, __u64 *deadline)
{
	switch (below(f, 10)) {
	case 0: case 1: case 2: case 3: case 4: case 5:
		return MBOX_NONBLOCK;
	case 6: case 7: case 8:
		*deadline = mbox_now_ns() + 1000000ULL * below(f, 3);
		return MBOX_DEADLINE;
	default:
		return 0;
	}
}

/* A buffer of len bytes for the kernel to read or write. */
static __u64 pick_buf(struct fuzz *f, __u32 len, unsigned int bad_pct,
		      char *note, size_t nsize)
{
	enum where w = pick_ptr_where(f, bad_pct);

	if (w != W_RW)
		snprintf(note, nsize, "buf@%s", where_names[w]);
	return where_addr(f, w, len > 65536 ? 65536 : len);
}

static void build_recv(struct fuzz *f, int epi, struct mbox_recv *r,
		       unsigned int bad, char *note, size_t nsize);

/*
 * A struct mbox_recv somewhere, for REPLY's MBOX_REPLY_RECV; its own
 * fields sane or not.
 */
static __u64 pick_recvp(struct fuzz *f, int epi, unsigned int bad, char *note,
			size_t nsize)
{
	struct mbox_recv r;
	enum where w = pick_ptr_where(f, bad);
	__u64 a;

	build_recv(f, epi, &r, bad, note, nsize);
	if (pct(f, bad / 2))
		r.flags |= 1U << below(f, 32);
	if (pct(f, bad / 3))
		r.size = PICK(f, ((const __u32[]){ 0, 4, 71, 73, 0xffffffffU }));
	a = where_addr(f, w, sizeof(r));
	arena_write(f, a, &r, sizeof(r));
	if (w != W_RW)
		snprintf(note + strlen(note), nsize - strlen(note),
			 " recv@%s", where_names[w]);
	return a;
}

static void build_recv(struct fuzz *f, int epi, struct mbox_recv *r,
		       unsigned int bad, char *note, size_t nsize)
{
	memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->flags = block_flags(f, &r->deadline_ns);
	switch (below(f, 10)) {
	case 0: case 1:
		r->addr = MBOX_ADDR_PID;
		r->from = pct(f, 60) ? 0 : pick_pid(f);
		break;
	case 2:
		r->addr = MBOX_ADDR_PIDFD;
		r->from = pick_pidfd(f);
		break;
	default:
		r->addr = MBOX_ADDR_MAILBOX;
		r->from = pick_id_on(f, epi, MBOX_OPEN_RECV);
		if (pct(f, 10)) {
			r->flags |= MBOX_RECV_FROM;
			r->from_pid = pick_pid(f);
		}
	}
	r->len = pct(f, 80) ? PICK(f, ((const __u32[]){ 0, 1, 16, 64, 256,
							  256, 4096, 8192,
							  65536 })) :
			      pick_len(f);
	r->buf = pick_buf(f, r->len, bad, note, nsize);
}

static void build_send(struct fuzz *f, int epi, struct mbox_send *a,
		       unsigned int bad, char *note, size_t nsize)
{
	memset(a, 0, sizeof(*a));
	a->size = sizeof(*a);
	a->flags = block_flags(f, &a->deadline_ns);
	if (pct(f, 20))
		a->flags |= MBOX_SEND_SYNC;
	a->addr = below(f, 10) < 7 ? MBOX_ADDR_MAILBOX : 1 + below(f, 2);
	a->to = a->addr ? pick_peer(f, a->addr) :
		pick_id_on(f, epi, MBOX_OPEN_SEND);
	a->len = pct(f, 85) ? below(f, 128) : pick_len(f);
	a->buf = pick_buf(f, a->len, bad, note, nsize);
	a->priority = below(f, MBOX_PRIO_MAX + 1);
}

/* A batch's count: mostly 1..NENT, sometimes 0 or past MBOX_BATCH_MAX. */
static __u32 pick_count(struct fuzz *f)
{
	switch (below(f, 12)) {
	case 0:
		return PICK(f, ((const __u32[]){ 0, MBOX_BATCH_MAX,
			MBOX_BATCH_MAX + 1, 0x80000000U, 0xffffffffU, 64 }));
	case 1: case 2: case 3:
		return 1;
	default:
		return 2 + below(f, NENT - 1);
	}
}

/* An entry_size for batch ci: short, odd, longer, huge. */
static __u32 pick_esize(struct fuzz *f, int ci)
{
	__u32 esz = cmds[cmds[ci].entry].size;

	switch (below(f, 4)) {
	case 0:
		return PICK(f, ((const __u32[]){ 0, 4, 8, esz - 1, esz - 4,
						 esz - 8 }));
	case 1:
		return esz + PICK(f, ((const __u32[]){ 1, 3, 4, 8, 24, 100,
						       ENT_MAX - esz }));
	case 2:
		return PICK(f, ((const __u32[]){ 0xffffffffU, 0x80000000U,
						 1U << 20, 4096, 0x10001 }));
	default:
		return any32(f);
	}
}

/* Keep a mailbox that was there before out of an entry of a batch. */
static void spare_entry(struct fuzz *f, struct mbox_send *e)
{
	/* to and from, the mailbox of a send or receive: the same place */
	if (e->addr == MBOX_ADDR_MAILBOX && is_pre(f, e->to))
		e->to = 0;
}

/*
 * The entries of the batch in c->img (count, entry_size, the command):
 * up to NENT sends or receives, each of entry_size bytes with that size
 * (mostly; else one entry's size is another, or its tail is not zero),
 * written somewhere: mostly a good place, else where the array runs into
 * an unmapped or a read-only page, or no place at all.  Their address.
 */
static __u64 pick_entries(struct fuzz *f, struct call *c, unsigned int bad)
{
	static unsigned char arr[NENT * ENT_MAX];
	struct mbox_batch *b = (void *)c->img;
	char *note = c->note + strlen(c->note);
	size_t nsize = sizeof(c->note) - strlen(c->note);
	bool recv = c->ci == MBOX_CMD_RECV_BATCH, direct = false;
	__u32 esz = b->entry_size, n, i, k;
	size_t len = recv ? sizeof(struct mbox_recv) : sizeof(struct mbox_send);
	enum where w;
	__u64 a;

	n = b->count < NENT ? b->count : NENT;
	if (esz < 8 || esz > ENT_MAX)
		n = 0;
	memset(arr, 0, sizeof(arr));
	for (i = 0; i < n; i++) {
		if (recv) {
			build_recv(f, c->epi, &c->ent[i].recv, bad, note, nsize);
			direct |= c->ent[i].recv.addr != MBOX_ADDR_MAILBOX;
			/* Only the first may wait: make it mostly short. */
			if (!i && !(c->ent[i].recv.flags & MBOX_NONBLOCK) &&
			    pct(f, 50))
				c->ent[i].recv.flags = MBOX_NONBLOCK;
		} else {
			build_send(f, c->epi, &c->ent[i].send, bad, note, nsize);
		}
		spare_entry(f, &c->ent[i].send);
		c->ent[i].send.size = esz;
		memcpy(arr + i * esz, &c->ent[i], esz < len ? esz : len);
	}
	if (n && pct(f, bad / 2)) {
		/* One entry's size is not entry_size, or its tail not zero. */
		k = below(f, n);
		if (esz > len && pct(f, 50)) {
			arr[k * esz + len + below(f, esz - len)] =
				1 + below(f, 255);
			snprintf(note, nsize, " entry %u tail", k);
		} else {
			i = PICK(f, ((const __u32[]){ 0, esz + 8, esz - 1, 72,
						      48, 1 }));
			memcpy(arr + k * esz, &i, 4);
			snprintf(note, nsize, " entry %u size=%u", k, i);
		}
		note += strlen(note);
		nsize -= strlen(note);
	}
	/* Direct receives: on the endpoint that has them, mostly. */
	if (direct && f->direct_ep >= 0 && pct(f, 80))
		c->epi = f->direct_ep;
	w = pick_ptr_where(f, bad);
	a = where_addr(f, w, n ? n * esz : 8);
	arena_write(f, a, arr, n * esz);
	if (w != W_RW)
		snprintf(note, nsize, " entries@%s", where_names[w]);
	c->nent = n;
	c->ent_addr = a;
	c->ent_size = esz;
	return a;
}

/* A valid-looking argument for command ci, from the pool. */
static void build_sane(struct fuzz *f, struct call *c, unsigned int bad)
{
	char *note = c->note;
	size_t nsize = sizeof(c->note);

	memset(c->img, 0, cmds[c->ci].size);
	c->size = cmds[c->ci].size;
	switch (c->ci) {
	case MBOX_CMD_CREATE: {
		struct mbox_create *a = (void *)c->img;

		a->flags = pct(f, 30) ? MBOX_CREATE_SYSTEM : 0;
		a->name = pct(f, 50) ? 0 : pick_name(f, bad, note, nsize);
		a->capacity = pick_cap(f);
		a->max_msg_size = pct(f, 60) ? 0 : pick_msgsize(f);
		a->max_bytes = pct(f, 80) ? 0 : PICK(f, ((const __u64[]){
			1, 4096, 8192, 65536, 1 << 20 }));
		a->msg_size = pct(f, 85) ? 0 : PICK(f, ((const __u32[]){
			1, 16, 64 }));
		a->mode = pick_mode(f) & 0666;
		a->policy = below(f, 3);
		break;
	}
	case MBOX_CMD_OPEN: {
		struct mbox_open *a = (void *)c->img;

		a->flags = PICK(f, ((const __u32[]){ MBOX_OPEN_SEND,
			MBOX_OPEN_RECV, MBOX_OPEN_SEND | MBOX_OPEN_RECV }));
		if (pct(f, 40))
			a->name = pick_name(f, bad, note, nsize);
		else
			a->id = pick_id(f);
		break;
	}
	case MBOX_CMD_CLOSE:
	case MBOX_CMD_DESTROY: {
		struct mbox_id *a = (void *)c->img;

		a->id = c->ci == MBOX_CMD_CLOSE ?
			pick_id_on(f, c->epi, MBOX_OPEN_SEND | MBOX_OPEN_RECV) :
			pick_id(f);
		break;
	}
	case MBOX_CMD_SET: {
		struct mbox_set *a = (void *)c->img;

		a->flags = (1 + below(f, 7)) << 2;
		a->id = pick_id(f);
		a->uid = pick_ugid(f);
		a->gid = pick_ugid(f);
		a->mode = pick_mode(f) & 0666;
		break;
	}
	case MBOX_CMD_STAT: {
		struct mbox_stat *a = (void *)c->img;

		a->flags = pct(f, 30) ? MBOX_STAT_NEXT : 0;
		a->id = pct(f, 15) ? below(f, f->max_id + 2) : pick_id(f);
		if (pct(f, 60)) {
			a->name_len = PICK(f, ((const __u32[]){ 0, 1, 8, 16,
								 64, 256,
								 256 }));
			a->name = pick_buf(f, a->name_len, bad, note, nsize);
		}
		break;
	}
	case MBOX_CMD_SEND:
		build_send(f, c->epi, (void *)c->img, bad, note, nsize);
		break;
	case MBOX_CMD_RECV: {
		struct mbox_recv *a = (void *)c->img;

		build_recv(f, c->epi, a, bad, note, nsize);
		/* Direct messages: on the endpoint that has them, mostly. */
		if (a->addr != MBOX_ADDR_MAILBOX && f->direct_ep >= 0 &&
		    pct(f, 80))
			c->epi = f->direct_ep;
		break;
	}
	case MBOX_CMD_DIRECT: {
		struct mbox_direct *a = (void *)c->img;

		a->flags = PICK(f, ((const __u32[]){ 0, MBOX_DIRECT_ANYONE,
			MBOX_DIRECT_ANYONE, MBOX_DIRECT_QUERY,
			MBOX_DIRECT_QUERY, MBOX_DIRECT_DISABLE }));
		a->capacity = pick_cap(f);
		a->max_msg_size = pct(f, 60) ? 0 : pick_msgsize(f);
		break;
	}
	case MBOX_CMD_CALL: {
		struct mbox_call *a = (void *)c->img;

		a->flags = block_flags(f, &a->deadline_ns);
		a->addr = below(f, 10) < 6 ? MBOX_ADDR_MAILBOX :
			  1 + below(f, 2);
		a->to = a->addr ? pick_peer(f, a->addr) :
			pick_id_on(f, c->epi, MBOX_OPEN_SEND);
		a->len = pct(f, 85) ? below(f, 128) : pick_len(f);
		a->buf = pick_buf(f, a->len, bad, note, nsize);
		a->reply_len = pct(f, 80) ? below(f, 300) : pick_len(f);
		a->reply_buf = pick_buf(f, a->reply_len, bad, note, nsize);
		a->priority = below(f, MBOX_PRIO_MAX + 1);
		break;
	}
	case MBOX_CMD_REPLY: {
		struct mbox_reply *a = (void *)c->img;

		a->token = pick_token(f, &c->epi);
		a->len = pct(f, 85) ? below(f, 64) : pick_len(f);
		a->buf = pick_buf(f, a->len, bad, note, nsize);
		if (pct(f, 25)) {
			a->flags = MBOX_REPLY_RECV;
			a->recv = pick_recvp(f, c->epi, bad, note, nsize);
		}
		break;
	}
	case MBOX_CMD_SEND_BATCH:
	case MBOX_CMD_RECV_BATCH: {
		struct mbox_batch *a = (void *)c->img;

		a->count = pick_count(f);
		a->entry_size = pct(f, bad / 2) ? pick_esize(f, c->ci) :
			cmds[cmds[c->ci].entry].size;
		a->entries = pick_entries(f, c, bad);
		break;
	}
	default:
		break;
	}
}

/* Keep the mailboxes that were there before out of everything but STAT. */
static void spare_others(struct fuzz *f, struct call *c)
{
	const struct field *fd;
	__u32 addr;

	if (c->ci < 0 || c->ci == MBOX_CMD_STAT)
		return;
	for (fd = cmds[c->ci].fields; fd->width; fd++) {
		if (fd->kind == F_ID && is_pre(f, get_field(c->img, fd)))
			set_field(c->img, fd, 0);
		if (fd->kind != F_PEER)
			continue;
		memcpy(&addr, c->img + fd->aux, 4);
		if (addr == MBOX_ADDR_MAILBOX && is_pre(f, get_field(c->img, fd)))
			set_field(c->img, fd, 0);
	}
}

/* Change one field, as its kind allows (or any value at all). */
static void mutate_field(struct fuzz *f, struct call *c, unsigned int bad)
{
	const struct field *fds = cmds[c->ci].fields, *fd;
	char *note = c->note + strlen(c->note);
	size_t nsize = sizeof(c->note) - strlen(c->note);
	unsigned int n = 0;
	__u32 addr = 0, len;

	while (fds[n].width)
		n++;
	fd = &fds[below(f, n)];
	if (fd->kind == F_PEER)
		memcpy(&addr, c->img + fd->aux, 4);
	switch (fd->kind) {
	case F_NAME:
		set_field(c->img, fd, pick_name(f, bad, note, nsize));
		return;
	case F_BUF_IN:
	case F_BUF_OUT:
		memcpy(&len, c->img + fd->aux, 4);
		set_field(c->img, fd, pick_buf(f, len, 100, note, nsize));
		return;
	case F_RECVP:
		set_field(c->img, fd, pick_recvp(f, c->epi, bad, note, nsize));
		return;
	case F_RES:
		set_field(c->img, fd, pct(f, 50) ? 0 : any32(f));
		break;
	case F_ENTRIES:
		set_field(c->img, fd, pick_entries(f, c, bad));
		return;
	case F_COUNT:
		set_field(c->img, fd, pct(f, 25) ? any32(f) : pick_count(f));
		break;
	case F_ESIZE:
		set_field(c->img, fd, pick_esize(f, c->ci));
		break;
	default:
		set_field(c->img, fd, pct(f, 25) ? any64(f) :
				      pick_field(f, fd->kind, addr));
	}
	snprintf(note, nsize, " field@%u", fd->off);
}

/* The flags word: defined combinations, undefined bits, anything. */
static void mutate_flags(struct fuzz *f, struct call *c)
{
	const struct field *fd = field_of(c->ci, F_FLAGS);
	__u32 known = cmds[c->ci].flags, v;

	switch (below(f, 6)) {
	case 0:
		v = (__u32)rnd(f) & known;	/* any combination */
		break;
	case 1:
		v = (__u32)get_field(c->img, fd) | (1U << below(f, 32));
		break;
	case 2:
		v = (__u32)get_field(c->img, fd) | (1U << (30 + below(f, 2)));
		break;
	case 3:
		v = (__u32)rnd(f);
		break;
	case 4:
		v = known;			/* every defined bit */
		break;
	default:
		v = ~0U;
	}
	set_field(c->img, fd, v);
	snprintf(c->note + strlen(c->note),
		 sizeof(c->note) - strlen(c->note), " flags=%#x", v);
}

/* The size field, and the tail past the struct. */
static void mutate_size(struct fuzz *f, struct call *c)
{
	unsigned int ks = cmds[c->ci].size;
	bool nonzero = false;
	size_t tail = 0;
	__u32 us;

	switch (below(f, 9)) {
	case 0:
		us = 0;
		break;
	case 1:
		us = 1 + below(f, ks - 1);		/* short */
		break;
	case 2:
		us = PICK(f, ((const __u32[]){ 4, ks - 1, ks - 4, ks - 8 }));
		break;
	case 3: case 4:		/* longer, zero tail: accepted */
		us = ks + PICK(f, ((const __u32[]){ 1, 4, 8, 16, 64, 100,
						    1000, 4096 }));
		tail = us - ks;
		break;
	case 5: case 6:		/* longer, non-zero tail: E2BIG */
		us = ks + 1 + below(f, 256);
		tail = us - ks;
		nonzero = true;
		break;
	case 7:			/* longer than the tail written out */
		us = ks + TAIL_IMG_MAX + below(f, 20000);
		tail = TAIL_IMG_MAX;
		break;
	default:		/* huge */
		us = PICK(f, ((const __u32[]){ 0x7fffffffU, 0x80000000U,
					       0xffffffffU, 1U << 20 }));
		tail = below(f, 64);
	}
	c->size = us;
	if (tail) {
		memset(c->img + ks, 0, tail);
		if (nonzero)
			c->img[ks + below(f, tail)] = 1 + below(f, 255);
		c->imglen = ks + tail;
	}
	snprintf(c->note + strlen(c->note),
		 sizeof(c->note) - strlen(c->note), " size=%u", us);
}

/* An ioctl number: the commands (nr), or something that is not one. */
static unsigned long pick_number(struct fuzz *f, int *ci, unsigned int odd)
{
	unsigned int nr, type, dir, size;

	*ci = below(f, NCMD);
	if (!pct(f, odd))
		return _IO(MBOX_IOCTL_TYPE, *ci);
	switch (below(f, 6)) {
	case 0:	/* just past the last command */
		*ci = -1;
		return _IO(MBOX_IOCTL_TYPE, NCMD + below(f, 3));
	case 1:	/* beyond */
		*ci = -1;
		return _IO(MBOX_IOCTL_TYPE, 0x0e + below(f, 0xff - 0x0e + 1));
	case 2:	/* a command with direction and size bits */
		dir = below(f, 4);
		size = dir ? PICK(f, ((const unsigned int[]){
			cmds[*ci].size, 4, 8, 0x3fff })) : 1 + below(f, 0x3fff);
		nr = *ci;
		*ci = -1;
		return _IOC(dir, MBOX_IOCTL_TYPE, nr, size);
	case 3: /* another type (none the VFS handles itself) */
		do {
			type = below(f, 256);
		} while (type == MBOX_IOCTL_TYPE || type == 0 ||
			 type == 0x15 || type == 'T' || type == 'X' ||
			 type == 'f' || type == 0x94);
		nr = below(f, 4) ? (unsigned int)*ci : below(f, 256);
		*ci = -1;
		return _IOC(below(f, 4), type, nr, below(f, 2) ? 0 : 24);
	case 4:	/* a command in the high bits of a 64-bit long (dropped) */
		if (sizeof(long) == 8)
			return (unsigned long)(((__u64)(1 + below(f, 0xffff)) << 32) |
					       _IO(MBOX_IOCTL_TYPE, *ci));
		return _IO(MBOX_IOCTL_TYPE, *ci);
	default:	/* any 32 bits */
		nr = (__u32)rnd(f);
		if (nr == (unsigned int)_IO(MBOX_IOCTL_TYPE, _IOC_NR(nr)) &&
		    _IOC_NR(nr) < NCMD)
			*ci = _IOC_NR(nr);
		else
			*ci = -1;
		if (((nr >> 8) & 0xff) == 'T' || ((nr >> 8) & 0xff) == 'X' ||
		    ((nr >> 8) & 0xff) == 'f' || ((nr >> 8) & 0xff) == 0x94 ||
		    ((nr >> 8) & 0xff) == 0x15 || ((nr >> 8) & 0xff) == 0)
			nr ^= 0x100;	/* not an ioctl the VFS handles */
		return nr;
	}
}

/* Point one of the struct's pointers at the struct (or into it). */
static void self_pointer(struct fuzz *f, struct call *c)
{
	const struct field *fd;
	unsigned int n = 0, k;

	for (fd = cmds[c->ci].fields; fd->width; fd++)
		n += fd->kind == F_NAME || fd->kind == F_BUF_IN ||
		     fd->kind == F_BUF_OUT || fd->kind == F_RECVP ||
		     fd->kind == F_ENTRIES;
	if (!n)
		return;
	k = below(f, n);
	for (fd = cmds[c->ci].fields; fd->width; fd++)
		if ((fd->kind == F_NAME || fd->kind == F_BUF_IN ||
		     fd->kind == F_BUF_OUT || fd->kind == F_RECVP ||
		     fd->kind == F_ENTRIES) && !k--)
			break;
	set_field(c->img, fd, c->addr + (pct(f, 70) ? 0 : below(f, 16)));
	strcat(c->note, " self-pointer");
}

/*
 * faults: no timer may interrupt a call (fail-nth would fail the signal's
 * frame), and the endpoints are O_NONBLOCK; but a call that was received
 * waits for its reply all the same: give it a deadline.
 */
static void bound_call(struct call *c)
{
	struct mbox_call *a = (void *)c->img;

	a->flags = (a->flags & ~MBOX_NONBLOCK) | MBOX_DEADLINE;
	a->deadline_ns = mbox_deadline_ms(20);
}

/* Percentages of the mutations each mode applies. */
struct dose {
	unsigned int number, size, flags, res, field, strukt, ptr;
};

static const struct dose doses[] = {
	[M_NUMBERS]	= { 70, 5, 5, 2, 10, 3, 5 },
	[M_SIZES]	= { 2, 80, 5, 2, 10, 5, 5 },
	[M_POINTERS]	= { 2, 10, 5, 2, 10, 60, 50 },
	[M_FLAGS]	= { 2, 5, 70, 30, 15, 3, 5 },
	[M_MIXED]	= { 5, 12, 15, 5, 30, 10, 15 },
	[M_FAULTS]	= { 2, 5, 5, 2, 15, 5, 5 },
};

static void build_call(struct fuzz *f, struct call *c)
{
	const struct dose *d = &doses[f->mode];
	const struct field *fd;
	unsigned int i;

	memset(c->note, 0, sizeof(c->note));
	c->nent = 0;
	c->ent_addr = 0;
	c->ent_size = 0;
	c->epi = below(f, NEP);
	c->cmd = pick_number(f, &c->ci, d->number);
	if (c->ci >= 0 && _IOC_NR(c->cmd) != (unsigned int)c->ci)
		c->ci = _IOC_NR(c->cmd);
	/* Weigh the data path: SEND, RECV, CALL, REPLY come up more often. */
	if (f->mode >= M_MIXED && pct(f, 30) &&
	    c->cmd == _IO(MBOX_IOCTL_TYPE, c->ci)) {
		c->ci = PICK(f, ((const int[]){ MBOX_CMD_SEND, MBOX_CMD_RECV,
						MBOX_CMD_RECV, MBOX_CMD_CALL,
						MBOX_CMD_REPLY,
						MBOX_CMD_SEND_BATCH,
						MBOX_CMD_RECV_BATCH }));
		c->cmd = _IO(MBOX_IOCTL_TYPE, c->ci);
	}
	/* A struct of some command, for a number that is none too. */
	i = c->ci >= 0 ? (unsigned int)c->ci : below(f, NCMD);
	{
		int saved = c->ci;

		c->ci = i;
		c->imglen = cmds[i].size;
		build_sane(f, c, d->ptr);
		if (pct(f, d->field))
			mutate_field(f, c, d->ptr);
		if (pct(f, d->field / 2))
			mutate_field(f, c, d->ptr);
		if (pct(f, d->flags))
			mutate_flags(f, c);
		if (pct(f, d->res)) {
			fd = field_of(c->ci, F_RES);
			if (fd) {
				set_field(c->img, fd, any32(f) | 1);
				strcat(c->note, " reserved");
			}
		}
		if (pct(f, d->size))
			mutate_size(f, c);
		spare_others(f, c);
		if (f->mode == M_FAULTS && i == MBOX_CMD_CALL)
			bound_call(c);
		c->ci = saved;
	}
	c->where = pick_struct_where(f, d->strukt);
	c->addr = where_addr(f, c->where, c->imglen);
	/* A pointer of the struct's to the struct itself. */
	if (c->ci >= 0 && (c->where == W_RW || c->where == W_RW_ODD) &&
	    pct(f, d->ptr / 10))
		self_pointer(f, c);
	/* The argument is an unsigned long: a 32-bit program's own. */
	if (c->where == W_KERNEL)
		c->addr = KERNEL_ARG;
	else if (c->where == W_NONCANON)
		c->addr = NONCANON_ARG;
	arena_write(f, c->addr, c->img, c->imglen);
}

/* ---- the oracle ------------------------------------------------------------ */

/*
 * mbox_batch()'s checks of a batch whose header @p was read: its own,
 * then the size of its first entry.
 */
static int model_batch(struct fuzz *f, const void *p, const struct cmd *cm)
{
	struct mbox_batch b;
	__u32 usize;
	__u64 end;

	memcpy(&b, p, sizeof(b));
	if (!b.count || b.count > MBOX_BATCH_MAX ||
	    b.entry_size < cmds[cm->entry].size ||
	    __builtin_add_overflow(b.entries, (__u64)b.count * b.entry_size,
				   &end))
		return EINVAL;
	if (acc_len(f, b.entries, 4, false) < 4)
		return EFAULT;
	memcpy(&usize, (const void *)(uintptr_t)b.entries, 4);
	return usize != b.entry_size ? EINVAL : 0;
}

/*
 * What mbox_dispatch() must answer before the command's own code runs:
 * an errno, or 0 if it gets that far.  *either: EFAULT would do too.
 */
static int model_dispatch(struct fuzz *f, const struct call *c, bool *either)
{
	const struct cmd *cm = &cmds[c->ci];
	__u64 a = c->addr, rest, n, i;
	const unsigned char *p;
	__u32 usize, flags;

	*either = false;
	if (acc_len(f, a, 4, false) < 4)
		return EFAULT;
	memcpy(&usize, (void *)(uintptr_t)a, 4);
	if (usize < cm->size)
		return EINVAL;
	if (usize > cm->size) {
		/* copy_struct_from_user(): the tail first, word by word. */
		rest = usize - cm->size;
		n = acc_len(f, a + cm->size, rest, false);
		p = (const unsigned char *)(uintptr_t)(a + cm->size);
		for (i = 0; i < n; i++)
			if (p[i])
				break;
		/* access_ok() of a range this long may fail at once. */
		*either = rest > (1U << 20);
		if (i < n)
			return E2BIG;
		if (n < rest)
			return EFAULT;
	}
	if (acc_len(f, a, cm->size, false) < cm->size)
		return EFAULT;
	if (cm->out && acc_len(f, a, cm->size, true) < cm->size)
		return EFAULT;
	memcpy(&flags, (void *)(uintptr_t)(a + 4), 4);
	if (flags & ~cm->flags)
		return EINVAL;
	if (cm->entry >= 0)
		return model_batch(f, (const void *)(uintptr_t)a, cm);
	return 0;
}

static void describe(struct fuzz *f, const struct call *c, long ret, int err,
		     const char *why, char *buf, size_t size)
{
	const struct field *fd;
	size_t n;

	n = snprintf(buf, size, "%s #%lu: ep%d%s %s(%#lx) arg %#llx@%s%s = %ld%s%s: %s |",
		     mode_names[f->mode], f->iter, c->epi,
		     (fcntl(f->ep[c->epi], F_GETFL) & O_NONBLOCK) ? "(nb)" : "",
		     c->ci >= 0 ? cmds[c->ci].name : "?", c->cmd,
		     (unsigned long long)c->addr, where_names[c->where], c->note,
		     ret, ret < 0 ? " " : "",
		     ret < 0 ? strerrorname_np(err) ?: "?" : "",
		     why);
	if (c->ci < 0 || n >= size)
		return;
	n += snprintf(buf + n, size - n, " size=%u", c->size);
	for (fd = cmds[c->ci].fields; fd->width && n < size; fd++)
		if (fd->kind != F_OUT)
			n += snprintf(buf + n, size - n, " @%u=%#llx", fd->off,
				      (unsigned long long)get_field(c->img, fd));
}

static void violation(struct fuzz *f, const char *fmt, ...)
{
	va_list ap;

	if (f->violations < NVIOL) {
		va_start(ap, fmt);
		vsnprintf(f->viol[f->violations], sizeof(f->viol[0]), fmt, ap);
		va_end(ap);
		ksft_print_msg("VIOLATION %s\n", f->viol[f->violations]);
	}
	f->violations++;
}

static void track_made(struct fuzz *f, __u32 id, bool system)
{
	unsigned int i;

	if (f->nmade == f->made_cap) {
		f->made_cap = f->made_cap ? 2 * f->made_cap : 256;
		f->made = realloc(f->made, f->made_cap * sizeof(*f->made));
	}
	if (f->made)
		f->made[f->nmade++] = id;
	if (system) {
		if (f->nsystem == f->system_cap) {
			f->system_cap = f->system_cap ? 2 * f->system_cap : 64;
			f->system = realloc(f->system,
					    f->system_cap * sizeof(*f->system));
		}
		if (f->system)
			f->system[f->nsystem++] = id;
	}
	if (id > f->max_id)
		f->max_id = id;
	for (i = 0; i < f->nours; i++)
		if (f->ours[i] == id)
			return;
	memmove(&f->ours[1], &f->ours[0],
		(NOURS - 1) * sizeof(f->ours[0]));
	f->ours[0] = id;
	if (f->nours < NOURS)
		f->nours++;
}

static void track_stale(struct fuzz *f, __u32 id)
{
	unsigned int i;

	for (i = 0; i < f->nstale; i++)
		if (f->stale[i] == id)
			return;
	if (f->nstale < NSTALE)
		f->stale[f->nstale++] = id;
	else
		f->stale[below(f, NSTALE)] = id;
}

static void track_token(struct fuzz *f, __u64 token, int epi)
{
	memmove(&f->tokens[1], &f->tokens[0],
		(NTOKENS - 1) * sizeof(f->tokens[0]));
	memmove(&f->token_ep[1], &f->token_ep[0],
		(NTOKENS - 1) * sizeof(f->token_ep[0]));
	f->tokens[0] = token;
	f->token_ep[0] = epi;
	if (f->ntokens < NTOKENS)
		f->ntokens++;
	f->tokens_seen++;
}

/* Whether a receive entry's struct may have been overwritten by a message. */
static bool entry_overwritten(const struct call *c, __u64 ea, __u32 done)
{
	__u32 j;

	for (j = 0; j < done && j < c->nent; j++) {
		__u64 b = c->ent[j].recv.buf;
		__u64 l = c->ent[j].recv.len;

		if (ea < b + l && b < ea + sizeof(struct mbox_recv))
			return true;
	}
	return false;
}

/*
 * A batch that succeeded returned the count of entries it did, 1..count,
 * and wrote it into done (its header's write-back, last, can only fail
 * by an injected fault: then done and error are not written); if not
 * all, the errno of the one that stopped it is one of its command's.
 * Each receive it did is a receive that succeeded (harvested as one: call
 * tokens).
 */
static void harvest_batch(struct fuzz *f, const struct call *c, const void *p,
			  long ret, bool injected, char *why, size_t wsize)
{
	const int *errs = cmds[cmds[c->ci].entry].errs;
	struct mbox_batch b, in;
	struct mbox_recv r;
	__u32 i, done = ret;
	bool unwritten;
	__u64 ea;

	memcpy(&b, p, sizeof(b));
	memcpy(&in, c->img, sizeof(in));
	if (ret < 1 || ret > in.count) {
		snprintf(why, wsize, "%s of %u returned %ld",
			 cmds[c->ci].name, in.count, ret);
		return;
	}
	/* An injected fault may have left the header as it was. */
	unwritten = injected && (b.done != done || (b.done == in.done &&
						    b.error == in.error));
	if (b.done != done && !unwritten) {
		snprintf(why, wsize, "%s of %u returned %ld, done %u",
			 cmds[c->ci].name, in.count, ret, b.done);
		return;
	}
	if (!unwritten && ((done == in.count) != !b.error ||
			   (b.error && !errno_in(errs, b.error)))) {
		snprintf(why, wsize, "%s of %u did %u, error %u (%s)",
			 cmds[c->ci].name, in.count, done, b.error,
			 b.error < 134 ? strerrorname_np(b.error) ?: "?" : "?");
		return;
	}
	if (c->ci != MBOX_CMD_RECV_BATCH || in.entries != c->ent_addr ||
	    in.entry_size != c->ent_size)
		return;
	for (i = 0; i < done && i < c->nent; i++) {
		ea = c->ent_addr + (__u64)i * c->ent_size;
		if (acc_len(f, ea, sizeof(r), false) < sizeof(r) ||
		    entry_overwritten(c, ea, done))
			continue;
		memcpy(&r, (const void *)(uintptr_t)ea, sizeof(r));
		if (r.len > c->ent[i].recv.len || r.priority > MBOX_PRIO_MAX) {
			snprintf(why, wsize,
				 "RECV_BATCH entry %u: %u bytes into %u, prio %u",
				 i, r.len, c->ent[i].recv.len, r.priority);
			return;
		}
		if (r.msg_flags & MBOX_MSG_CALL)
			track_token(f, r.token, c->epi);
	}
}

/* What a success tells, and whether it looks like one. */
static void harvest(struct fuzz *f, const struct call *c, long ret,
		    bool injected, char *why, size_t wsize)
{
	const void *p = (const void *)(uintptr_t)c->addr;

	switch (c->ci) {
	case MBOX_CMD_VERSION: {
		struct mbox_version v;

		memcpy(&v, p, sizeof(v));
		if (v.abi_major != MBOX_ABI_MAJOR ||
		    !(v.features & MBOX_FEATURE_VERSION))
			snprintf(why, wsize, "VERSION reports %u.%u %#llx",
				 v.abi_major, v.abi_minor,
				 (unsigned long long)v.features);
		break;
	}
	case MBOX_CMD_CREATE: {
		struct mbox_create a;

		memcpy(&a, p, sizeof(a));
		if (!a.id || is_pre(f, a.id))
			snprintf(why, wsize, "CREATE made id %u", a.id);
		track_made(f, a.id, a.flags & MBOX_CREATE_SYSTEM);
		ep_add(f, c->epi, a.id, MBOX_OPEN_SEND | MBOX_OPEN_RECV);
		break;
	}
	case MBOX_CMD_OPEN: {
		struct mbox_open a;

		memcpy(&a, p, sizeof(a));
		ep_add(f, c->epi, a.id, a.flags);
		break;
	}
	case MBOX_CMD_CLOSE: {
		struct mbox_id a;

		memcpy(&a, p, sizeof(a));
		ep_del(f, c->epi, a.id);
		break;
	}
	case MBOX_CMD_DIRECT: {
		struct mbox_direct a;

		memcpy(&a, c->img, sizeof(a));
		if (a.flags & MBOX_DIRECT_DISABLE)
			f->direct_ep = -1;
		else if (!(a.flags & MBOX_DIRECT_QUERY))
			f->direct_ep = c->epi;
		break;
	}
	case MBOX_CMD_DESTROY: {
		struct mbox_id a;

		memcpy(&a, p, sizeof(a));
		track_stale(f, a.id);
		break;
	}
	case MBOX_CMD_RECV: {
		struct mbox_recv r, in;

		memcpy(&r, p, sizeof(r));
		memcpy(&in, c->img, sizeof(in));
		if (r.len > in.len || r.priority > MBOX_PRIO_MAX)
			snprintf(why, wsize, "RECV of %u bytes into %u, prio %u",
				 r.len, in.len, r.priority);
		if (r.msg_flags & MBOX_MSG_CALL)
			track_token(f, r.token, c->epi);
		break;
	}
	case MBOX_CMD_REPLY: {
		struct mbox_reply a;
		struct mbox_recv r;

		f->replies_ok++;
		memcpy(&a, p, sizeof(a));
		if (!(a.flags & MBOX_REPLY_RECV) ||
		    acc_len(f, a.recv, sizeof(r), true) < sizeof(r))
			break;
		memcpy(&r, (void *)(uintptr_t)a.recv, sizeof(r));
		if (r.msg_flags & MBOX_MSG_CALL)
			track_token(f, r.token, c->epi);
		break;
	}
	case MBOX_CMD_CALL:
		f->calls_ok++;
		break;
	case MBOX_CMD_SEND_BATCH:
	case MBOX_CMD_RECV_BATCH:
		harvest_batch(f, c, p, ret, injected, why, wsize);
		break;
	default:
		break;
	}
}

/*
 * SIGALRM every BLOCK_US until disarmed: one that came before the call
 * went to sleep would be lost, and the call would sleep on.
 */
static void arm_timers(struct fuzz *f, long us)
{
	struct itimerval it = {
		.it_value = { 0, us },
		.it_interval = { 0, us },
	};
	struct itimerspec ts = { .it_value = { 0, RESTART_NS } };

	setitimer(ITIMER_REAL, &it, NULL);
	if (f->have_restart_timer && pct(f, 25))
		timer_settime(f->restart_timer, 0, &ts, NULL);
}

static void disarm_timers(struct fuzz *f)
{
	struct itimerval it = { 0 };
	struct itimerspec ts = { 0 };

	setitimer(ITIMER_REAL, &it, NULL);
	if (f->have_restart_timer)
		timer_settime(f->restart_timer, 0, &ts, NULL);
}

/*
 * Fault injection, for the faults test: the nth allocation (failslab) or
 * user copy (fail_usercopy) of the next call fails, as syzkaller does it
 * (Documentation/fault-injection/fault-injection.rst, fail-nth).  The
 * knobs of debugfs that let GFP_KERNEL allocations fail and keep the
 * injections quiet (a stack dump is a "Call Trace" to make check), set
 * for the test and restored after.
 */
static const char *const fault_knobs[][2] = {
	{ "/sys/kernel/debug/failslab/ignore-gfp-wait", "N" },
	{ "/sys/kernel/debug/failslab/verbose", "0" },
	{ "/sys/kernel/debug/fail_usercopy/verbose", "0" },
	{ "/sys/kernel/debug/fail_page_alloc/verbose", "0" },
};

/* Write val to a debugfs file, its old value into old first (if not NULL). */
static int knob_rw(const char *path, char *old, size_t size, const char *val)
{
	int fd, ret = 0;
	ssize_t n;

	if (old) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		n = read(fd, old, size - 1);
		old[n > 0 ? n : 0] = '\0';
		old[strcspn(old, "\n")] = '\0';
		close(fd);
	}
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* 0, or -errno if this kernel has no fault injection to use. */
static int fault_setup(struct faults *fi)
{
	unsigned int i;
	int ret;

	memset(fi->saved, 0, sizeof(fi->saved));
	fi->fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (fi->fd < 0)
		return -errno;
	for (i = 0; i < MBOX_ARRAY_SIZE(fault_knobs); i++) {
		ret = knob_rw(fault_knobs[i][0], fi->saved[i],
			      sizeof(fi->saved[i]), fault_knobs[i][1]);
		/* failslab is what matters; the others may be missing. */
		if (ret && i < 2)
			return ret;
	}
	return 0;
}

static void fault_restore(struct faults *fi)
{
	unsigned int i;

	if (fi->fd < 0)
		return;
	for (i = 0; i < MBOX_ARRAY_SIZE(fault_knobs); i++)
		if (fi->saved[i][0])
			knob_rw(fault_knobs[i][0], NULL, 0, fi->saved[i]);
	close(fi->fd);
	fi->fd = -1;
}

/* The nth fault point of this thread's next system call fails. */
static int fault_arm(struct faults *fi, unsigned int nth)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", nth);

	return pwrite(fi->fd, buf, len, 0) == len ? 0 : -errno;
}

/* Whether the fault was injected; none is pending afterwards. */
static bool fault_disarm(struct faults *fi)
{
	char buf[16] = "";
	bool injected;
	int i;

	/* Reading and writing it may meet the fault themselves. */
	injected = pread(fi->fd, buf, sizeof(buf) - 1, 0) <= 0 ||
		   atoi(buf) == 0;
	for (i = 0; i < 32 && pwrite(fi->fd, "0", 1, 0) != 1; i++)
		;
	fi->injected += injected;
	return injected;
}

/*
 * A CREATE that failed made nothing, also when its final write-back
 * failed (abi.rst, "Conventions of every ioctl"): no mailbox has an id
 * above those seen so far (ids only grow, and only the fuzzer makes
 * mailboxes while it runs).  One that did is destroyed at the end.
 */
static void failed_create(struct fuzz *f, char *why, size_t wsize)
{
	struct mbox_stat st = {
		.size = sizeof(st),
		.flags = MBOX_STAT_NEXT,
		.id = f->max_id + 1,
	};

	if (mbox_ioctl(f->ep[0], MBOX_IOC_STAT, &st))
		return;
	track_made(f, st.id, true);
	snprintf(why, wsize, "the failed CREATE left mailbox %u", st.id);
}

/* Make one call and judge it. */
static void do_call(struct fuzz *f, struct call *c)
{
	char why[160] = "", buf[1024];
	const int *errs = NULL;
	bool either = false;
	int exact = -1, err;
	bool timers, injected = false;
	unsigned int nth = 0;
	__u64 t0;
	long ret;

	if (f->fi.fd >= 0 && pct(f, 70))
		nth = 1 + below(f, 12);
	if (c->ci < 0)
		exact = ENOTTY;
	else
		exact = model_dispatch(f, c, &either);
	/* Not with fault injection: it would fail the signal's frame. */
	timers = c->ci >= 0 && cmds[c->ci].blocks && f->fi.fd < 0;
	if (cfg.trace) {
		describe(f, c, 0, 0, "calling", buf, sizeof(buf));
		ksft_print_msg("%s\n", buf);
		fflush(stdout);
	}
	t0 = mbox_now_ns();
	if (timers)
		arm_timers(f, c->ci == MBOX_CMD_CALL ? CALL_US : BLOCK_US);
	if (nth && fault_arm(&f->fi, nth))
		violation(f, "#%lu: writing fail-nth: %s", f->iter,
			  strerror(errno));
	ret = syscall(SYS_ioctl, f->ep[c->epi], c->cmd,
		      (unsigned long)c->addr);
	err = errno;
	if (nth)
		injected = fault_disarm(&f->fi);
	if (timers)
		disarm_timers(f);
	f->ns[c->ci >= 0 ? c->ci : NCMD] += mbox_now_ns() - t0;
	f->calls++;

	f->exact += exact > 0;
	/* A batch returns its count (harvest_batch() checks it). */
	if (ret < -1 || (ret > 0 && (c->ci < 0 || cmds[c->ci].entry < 0))) {
		snprintf(why, sizeof(why), "returned %ld", ret);
	} else if (injected && ret == -1 && (err == ENOMEM || err == EFAULT)) {
		/* An allocation or a user copy was made to fail. */
	} else if (exact > 0) {
		if (ret >= 0 || (err != exact && !(either && err == EFAULT)))
			snprintf(why, sizeof(why), "expected %s",
				 strerrorname_np(exact));
	} else if (ret == -1) {
		errs = cmds[c->ci].errs;
		if (!errno_in(errs, err) &&
		    !(c->ci == MBOX_CMD_REPLY && errno_in(e_recv, err)))
			snprintf(why, sizeof(why),
				 "not an errno abi.rst lists for %s",
				 cmds[c->ci].name);
	} else {
		harvest(f, c, ret, injected, why, sizeof(why));
	}
	if (ret == -1 && c->ci == MBOX_CMD_CREATE && !why[0])
		failed_create(f, why, sizeof(why));
	if (why[0]) {
		describe(f, c, ret, err, why, buf, sizeof(buf));
		violation(f, "%s", buf);
	}
	if (c->ci >= 0) {
		if (ret >= 0)
			f->ok[c->ci]++;
		else if (err > 0 && err < 134)
			f->err[c->ci][err]++;
	} else {
		f->ok[NCMD] += ret >= 0;
	}
}

/* ---- the other system calls on endpoints (mixed) ------------------------ */

static int reopen_ep(struct fuzz *f, int i)
{
	int fd;

	if (f->ep[i] >= 0)
		close(f->ep[i]);
	f->open[i].n = 0;
	if (f->direct_ep == i)
		f->direct_ep = -1;
	fd = mbox_dev_open_flags(i & 1 || f->mode == M_FAULTS ? O_NONBLOCK : 0);
	f->ep[i] = fd;
	return fd;
}

static void do_other(struct fuzz *f)
{
	struct epoll_event ev, evs[NEP];
	struct pollfd pfd[NEP];
	int i = below(f, NEP), j, n, fl;
	const short events = POLLIN | POLLOUT | POLLPRI | POLLRDNORM |
			     POLLWRNORM | POLLHUP;
	const short fine = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM |
			   POLLHUP;
	char b[8];

	switch (below(f, 9)) {
	case 0: case 1:
		for (j = 0; j < NEP; j++) {
			pfd[j].fd = f->ep[j];
			pfd[j].events = below(f, 2) ? events : (short)rnd(f);
			pfd[j].revents = 0;
		}
		n = poll(pfd, NEP, 0);
		if (n < 0)
			violation(f, "#%lu: poll: %s", f->iter,
				  strerrorname_np(errno));
		for (j = 0; j < NEP && n >= 0; j++)
			if (pfd[j].revents & ~fine)
				violation(f, "#%lu: poll ep%d revents %#x",
					  f->iter, j, pfd[j].revents);
		break;
	case 2:
		ev.events = below(f, 2) ? EPOLLIN | EPOLLOUT | EPOLLHUP :
			    EPOLLIN | EPOLLET;
		ev.data.u32 = i;
		if (epoll_ctl(f->epoll_fd, EPOLL_CTL_ADD, f->ep[i], &ev) &&
		    errno != EEXIST)
			violation(f, "#%lu: epoll_ctl add: %s", f->iter,
				  strerrorname_np(errno));
		n = epoll_wait(f->epoll_fd, evs, NEP, 0);
		if (n < 0)
			violation(f, "#%lu: epoll_wait: %s", f->iter,
				  strerrorname_np(errno));
		break;
	case 3:
		epoll_ctl(f->epoll_fd, EPOLL_CTL_DEL, f->ep[i], NULL);
		break;
	case 4:
		/* (faults: every endpoint stays O_NONBLOCK) */
		fl = fcntl(f->ep[i], F_GETFL);
		if (f->mode != M_FAULTS)
			fcntl(f->ep[i], F_SETFL, fl ^ O_NONBLOCK);
		break;
	case 5:
		j = dup(f->ep[i]);
		if (j >= 0)
			close(j);
		break;
	case 6:
		/* Not readable, writable or seekable. */
		if (read(f->ep[i], b, sizeof(b)) != -1 || errno != EINVAL)
			violation(f, "#%lu: read: %s", f->iter,
				  strerrorname_np(errno));
		if (lseek(f->ep[i], 0, SEEK_SET) != -1 || errno != ESPIPE)
			violation(f, "#%lu: lseek: %s", f->iter,
				  strerrorname_np(errno));
		break;
	default:
		/* Close and reopen: the release of everything on it. */
		if (reopen_ep(f, i) < 0)
			violation(f, "#%lu: reopening an endpoint: %s",
				  f->iter, strerror(-f->ep[i]));
	}
}

/* ---- the peer -------------------------------------------------------------- */

static void peer_check(struct fuzz *f, int ci, long ret, const char *what)
{
	struct peer_shm *s = f->shm;
	int err = errno;

	__atomic_fetch_add(&s->ops, 1, __ATOMIC_RELAXED);
	if (ret == 0 || (ret == -1 && (errno_in(cmds[ci].errs, err) ||
				       (ci == MBOX_CMD_REPLY &&
					errno_in(e_recv, err)))))
		return;
	if (!__atomic_fetch_add(&s->violations, 1, __ATOMIC_RELAXED))
		snprintf(s->first, sizeof(s->first),
			 "peer: %s (%s) = %ld %s", cmds[ci].name, what, ret,
			 ret ? strerrorname_np(err) ?: "?" : "");
}

/*
 * One thread of the peer, with its own generator and the mailbox it
 * uses: a server of SRV (which = NAME_SRV), of SRV4 and the direct
 * messages (NAME_SRV4), or a client of MAIN and the fuzzer's pid
 * (NAME_MAIN).  Every wait has a deadline.
 */
struct peer_thread {
	struct fuzz f;		/* a copy: its generator */
	int ep, which;
	__u32 id;		/* its mailbox, 0 while it has none */
	char name[96];
	pthread_t thread;
};

/* The thread's mailbox, opened again when it is gone. */
static void peer_mailbox(struct peer_thread *t, long ret)
{
	__u32 id;

	if (ret == -1 && t->id && (errno == EBADF || errno == EIDRM)) {
		mbox_close_id(t->ep, t->id);
		t->id = 0;
	}
	if (!t->id && !mbox_open_name(t->ep, t->name, t->which == NAME_MAIN ?
				      MBOX_OPEN_SEND : MBOX_OPEN_RECV, &id))
		t->id = id;
}

/*
 * Receive a message and answer it if it is a call.  A message longer than
 * the buffer (EMSGSIZE) is taken with one of its size, or it would block
 * the queue.
 */
static void peer_serve(struct peer_thread *t, bool direct)
{
	struct fuzz *f = &t->f;
	struct mbox_reply rp;
	struct mbox_recv r, r2;
	char buf[512], *big;
	long ret;

	mbox_recv_init(&r, t->id, buf, sizeof(buf), MBOX_DEADLINE);
	r.deadline_ns = mbox_deadline_ms(30);
	if (direct) {
		r.addr = MBOX_ADDR_PID;
		r.from = 0;
	}
	ret = syscall(SYS_ioctl, t->ep, MBOX_IOC_RECV, &r);
	peer_check(f, MBOX_CMD_RECV, ret, direct ? "serve direct" : "serve");
	if (ret == -1 && errno == EMSGSIZE && r.len > sizeof(buf)) {
		big = malloc(r.len);
		if (big) {
			r.buf = mbox_ptr(big);
			r.flags = MBOX_NONBLOCK;
			ret = syscall(SYS_ioctl, t->ep, MBOX_IOC_RECV, &r);
			peer_check(f, MBOX_CMD_RECV, ret, "take a long one");
			free(big);
			r.buf = mbox_ptr(buf);
		}
	}
	if (!direct)
		peer_mailbox(t, ret);
	if (ret || !(r.msg_flags & MBOX_MSG_CALL))
		return;
	__atomic_fetch_add(&f->shm->served, 1, __ATOMIC_RELAXED);
	if (pct(f, 10))
		return;		/* never answered: the caller gives up */
	memset(&rp, 0, sizeof(rp));
	rp.size = sizeof(rp);
	rp.token = r.token;
	rp.buf = mbox_ptr(buf);
	rp.len = pct(f, 90) ? below(f, 40) : 300;
	if (pct(f, 20)) {
		mbox_recv_init(&r2, t->id, buf + 256, 256, MBOX_DEADLINE);
		r2.deadline_ns = mbox_deadline_ms(5);
		rp.flags = MBOX_REPLY_RECV;
		rp.recv = mbox_ptr(&r2);
	}
	ret = syscall(SYS_ioctl, t->ep, MBOX_IOC_REPLY, &rp);
	peer_check(f, MBOX_CMD_REPLY, ret, "answer");
	if (ret == -1 && errno == EMSGSIZE) {
		rp.len = 0;
		ret = syscall(SYS_ioctl, t->ep, MBOX_IOC_REPLY, &rp);
		peer_check(f, MBOX_CMD_REPLY, ret, "answer again");
	}
}

static void peer_client(struct peer_thread *t)
{
	struct fuzz *f = &t->f;
	struct mbox_call cl;
	struct mbox_send sd;
	char buf[512];
	long ret;

	switch (below(f, 8)) {
	case 0: case 1: case 2:
		memset(&cl, 0, sizeof(cl));
		cl.size = sizeof(cl);
		cl.flags = MBOX_DEADLINE;
		cl.deadline_ns = mbox_deadline_ms(200);
		cl.to = t->id;
		if (!t->id || pct(f, 50)) {
			cl.addr = pct(f, 70) ? MBOX_ADDR_PID : MBOX_ADDR_PIDFD;
			cl.to = cl.addr == MBOX_ADDR_PID ? (__u32)f->self :
				(__u32)f->self_pidfd;
		}
		cl.buf = mbox_ptr(buf);
		cl.len = below(f, 64);
		cl.priority = below(f, MBOX_PRIO_MAX + 1);
		cl.reply_buf = mbox_ptr(buf + 256);
		cl.reply_len = pct(f, 70) ? 256 : below(f, 40);
		ret = syscall(SYS_ioctl, t->ep, MBOX_IOC_CALL, &cl);
		peer_check(f, MBOX_CMD_CALL, ret, "call");
		if (!ret)
			__atomic_fetch_add(&f->shm->calls_ok, 1,
					   __ATOMIC_RELAXED);
		if (cl.addr == MBOX_ADDR_MAILBOX)
			peer_mailbox(t, ret);
		break;
	case 3: case 4: case 5:
		mbox_send_init(&sd, t->id, buf, below(f, 64), below(f, 32),
			       MBOX_NONBLOCK);
		if (pct(f, 30)) {
			sd.flags = MBOX_SEND_SYNC | MBOX_DEADLINE;
			sd.deadline_ns = mbox_deadline_ms(5);
		}
		if (!t->id || pct(f, 40)) {
			sd.addr = MBOX_ADDR_PID;
			sd.to = f->self;
		}
		ret = syscall(SYS_ioctl, t->ep, MBOX_IOC_SEND, &sd);
		peer_check(f, MBOX_CMD_SEND, ret, "send");
		if (!ret)
			__atomic_fetch_add(&f->shm->sends_ok, 1,
					   __ATOMIC_RELAXED);
		if (sd.addr == MBOX_ADDR_MAILBOX)
			peer_mailbox(t, ret);
		break;
	case 6: {
		struct mbox_stat st = {
			.size = sizeof(st), .flags = MBOX_STAT_NEXT,
			.id = below(f, f->max_id + 8),
		};

		ret = syscall(SYS_ioctl, t->ep, MBOX_IOC_STAT, &st);
		peer_check(f, MBOX_CMD_STAT, ret, "stat");
		break;
	}
	default: {
		struct mbox_direct d = {
			.size = sizeof(d), .flags = MBOX_DIRECT_QUERY,
		};

		ret = syscall(SYS_ioctl, t->ep, MBOX_IOC_DIRECT, &d);
		peer_check(f, MBOX_CMD_DIRECT, ret, "query");
	}
	}
	/* The fuzzer is the one to keep busy. */
	mbox_sleep_ms(2 + below(f, 5));
}

static void *peer_thread(void *arg)
{
	struct peer_thread *t = arg;
	unsigned long n;

	for (n = 0; !t->f.shm->stop; n++) {
		if (!t->id && !(n % 8))
			peer_mailbox(t, 0);
		if (t->which == NAME_MAIN)
			peer_client(t);
		else if (t->which == NAME_SRV4 && (n & 1))
			peer_serve(t, true);
		else if (t->id)
			peer_serve(t, false);
		else
			mbox_sleep_ms(2);
	}
	return NULL;
}

/*
 * The peer: its endpoint, with direct receiving, and a thread for each
 * of SRV, SRV4 (and the direct messages) and MAIN, and one more client
 * (of the fuzzer's pid: MAIN is open already), so that a receiver is
 * waiting on the fuzzer's rendezvous mailbox most of the time.
 */
#define PEER_THREADS	4

static int peer_main(void *arg)
{
	struct fuzz *f = arg;
	struct peer_thread *t;
	int ep, i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != f->self)
		return 0;
	/* Started again (mixed): not with the fuzzer's endpoints. */
	for (i = 0; i < NEP; i++)
		if (f->ep[i] >= 0)
			close(f->ep[i]);
	if (f->epoll_fd >= 0)
		close(f->epoll_fd);
	if (f->root && mbox_drop_privileges(MBOX_NOBODY, MBOX_NOBODY))
		return 0;
	ep = mbox_dev_open();
	t = calloc(PEER_THREADS, sizeof(*t));
	if (ep < 0 || !t)
		return 0;
	mbox_direct_enable(ep, MBOX_DIRECT_ANYONE, 4, 0, 0, NULL);
	for (i = 0; i < PEER_THREADS; i++) {
		t[i].f = *f;
		t[i].f.rng = mix(cfg.seed, 0x9ee7 + i);
		t[i].ep = ep;
		t[i].which = i < NAME_MAIN ? i : NAME_MAIN;
		pool_name(f, t[i].which, t[i].name, sizeof(t[i].name));
		if (pthread_create(&t[i].thread, NULL, peer_thread, &t[i]))
			return 0;
	}
	for (i = 0; i < PEER_THREADS; i++)
		pthread_join(t[i].thread, NULL);
	close(ep);
	return 0;
}

static void peer_stop(struct fuzz *f, struct __test_metadata *_metadata)
{
	int status, i;

	if (f->peer <= 0)
		return;
	f->shm->stop = 1;
	/* Its waits end within 200 ms; give a slow guest plenty more. */
	for (i = 0; i < 20000; i++) {
		if (waitpid(f->peer, &status, WNOHANG) == f->peer)
			break;
		mbox_sleep_ms(1);
	}
	if (i == 20000) {
		kill(f->peer, SIGKILL);
		waitpid(f->peer, &status, 0);
		violation(f, "the peer did not stop within 20 s");
	}
	f->peer = 0;
	if (f->peer_pidfd >= 0)
		close(f->peer_pidfd);
	f->peer_pidfd = -1;
}

/*
 * Kill the peer where it is, likely blocked in a receive or a call of
 * the fuzzer's, and start another: the release of an endpoint whose
 * tasks are asleep in it, calls whose server or caller dies.
 */
static void peer_restart(struct fuzz *f)
{
	int ret;

	if (f->peer <= 0)
		return;
	kill(f->peer, SIGKILL);
	waitpid(f->peer, NULL, 0);
	if (f->peer_pidfd >= 0)
		close(f->peer_pidfd);
	f->peer_pidfd = -1;
	f->peer = mbox_spawn(peer_main, f);
	if (f->peer < 0) {
		violation(f, "#%lu: the peer could not be started again: %s",
			  f->iter, strerror(-f->peer));
		return;
	}
	ret = mbox_pidfd_open(f->peer);
	f->peer_pidfd = ret >= 0 ? ret : -1;
}

/* ---- the pool's fixed objects ------------------------------------------- */

/* The fixed mailboxes and direct receiving, when they are gone. */
static void repair(struct fuzz *f)
{
	static const struct { __u32 flags, cap; } fixed[] = {
		[NAME_SRV] = { MBOX_CREATE_SYSTEM, 0 },
		[NAME_SRV4] = { MBOX_CREATE_SYSTEM, 4 },
		[NAME_MAIN] = { 0, 8 },
	};
	char name[96];
	struct mbox_direct d;
	__u32 id;
	int i, j;

	for (i = 0; i < NAME_POOL; i++) {
		pool_name(f, i, name, sizeof(name));
		if (!mbox_create(f->ep[0], name, fixed[i].flags, fixed[i].cap,
				 MBOX_POLICY_SHARED, 0666, &id)) {
			track_made(f, id, fixed[i].flags);
			ep_add(f, 0, id, MBOX_OPEN_SEND | MBOX_OPEN_RECV);
		}
		/* Every endpoint may send to them. */
		for (j = 1; j < NEP; j++)
			if (!mbox_open_name(f->ep[j], name, MBOX_OPEN_SEND, &id))
				ep_add(f, j, id, MBOX_OPEN_SEND);
	}
	for (j = 0; j < NEP; j++)
		if (!mbox_direct_query(f->ep[j], &d)) {
			f->direct_ep = j;
			return;
		}
	if (!mbox_direct_enable(f->ep[2], MBOX_DIRECT_ANYONE, 8, 0, 0, NULL))
		f->direct_ep = 2;
}

/* Destroy the system-owned mailboxes it made; ENOENT: gone already. */
static void destroy_system(struct fuzz *f, struct __test_metadata *_metadata,
			   bool check)
{
	unsigned int i;
	int fd, ret;

	fd = mbox_dev_open();
	if (fd < 0)
		return;
	for (i = 0; i < f->nsystem; i++) {
		ret = mbox_destroy(fd, f->system[i]);
		if (check && ret && ret != -ENOENT)
			violation(f, "destroying mailbox %u it made: %s",
				  f->system[i], strerrorname_np(-ret));
		track_stale(f, f->system[i]);
	}
	f->nsystem = 0;
	close(fd);
}

/* Everything it has: endpoints closed, system-owned mailboxes destroyed. */
static void recycle(struct fuzz *f, struct __test_metadata *_metadata)
{
	int i;

	for (i = 0; i < NEP; i++)
		if (reopen_ep(f, i) < 0)
			violation(f, "reopening an endpoint: %s",
				  strerror(-f->ep[i]));
	destroy_system(f, _metadata, true);
	for (i = 0; i < (int)f->nours; i++)
		track_stale(f, f->ours[i]);
	f->nours = 0;
	f->ntokens = 0;
	repair(f);
}

/* ---- what must be the same after: the listing and the quotas --------------- */

/* The ids of /proc/driver/mbox/mailboxes (STAT_NEXT without it). */
static int listing(__u32 *ids, unsigned int max, bool *overflow)
{
	char line[1024];
	unsigned int n = 0;
	FILE *fp;
	__u32 id;

	*overflow = false;
	fp = fopen("/proc/driver/mbox/mailboxes", "re");
	if (fp) {
		if (!fgets(line, sizeof(line), fp)) {
			fclose(fp);
			return -EIO;
		}
		while (fgets(line, sizeof(line), fp)) {
			if (sscanf(line, "%u", &id) != 1)
				continue;
			if (n < max)
				ids[n++] = id;
			else
				*overflow = true;
		}
		fclose(fp);
		return n;
	} else {
		struct mbox_stat st = { .size = sizeof(st) };
		int fd = mbox_dev_open();

		if (fd < 0)
			return fd;
		for (st.id = 1, st.flags = MBOX_STAT_NEXT;
		     !mbox_ioctl(fd, MBOX_IOC_STAT, &st); st.id++) {
			if (n < max)
				ids[n++] = st.id;
			else
				*overflow = true;
			st.flags = MBOX_STAT_NEXT;
			if (!st.id)
				break;
		}
		close(fd);
		return n;
	}
}

/* Without CAP_SYS_RESOURCE (root keeps uid 0: the same user's quotas). */
static int drop_sys_resource(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, caps))
		return -errno;
	caps[CAP_TO_INDEX(CAP_SYS_RESOURCE)].effective &=
		~CAP_TO_MASK(CAP_SYS_RESOURCE);
	caps[CAP_TO_INDEX(CAP_SYS_RESOURCE)].permitted &=
		~CAP_TO_MASK(CAP_SYS_RESOURCE);
	return syscall(SYS_capset, &hdr, caps) ? -errno : 0;
}

/*
 * In a child: how many mailboxes and bytes the user may still have, by
 * making them until ENOSPC: mailboxes, then messages of the largest size
 * and of smaller and smaller ones, then the longest single message that
 * still fits, by bisection.
 */
static int quota_child(void *arg)
{
	struct quota *q = arg;
	unsigned long long mb_max, bytes_max, msg_max;
	long long total = 0;
	__u32 id, probe, lo, hi, mid, size, len;
	char *buf;
	int fd, ret;
	long n;

	if (drop_sys_resource())
		return snprintf(q->why, sizeof(q->why), "capset failed"), 0;
	if (mbox_param_get("max_user_mailboxes", &mb_max) ||
	    mbox_param_get("max_user_bytes", &bytes_max) ||
	    mbox_param_get("max_msg_size", &msg_max))
		return snprintf(q->why, sizeof(q->why),
				"module parameters unreadable"), 0;
	if (mb_max > 4096 || bytes_max > (64ULL << 20))
		return snprintf(q->why, sizeof(q->why),
				"limits too large to count (%llu mailboxes, %llu bytes)",
				mb_max, bytes_max), 0;
	fd = mbox_dev_open();
	if (fd < 0)
		return snprintf(q->why, sizeof(q->why), "no endpoint"), 0;
	for (n = 0; n <= (long)mb_max; n++) {
		ret = mbox_create(fd, NULL, 0, 0, MBOX_POLICY_SHARED, 0600,
				  &id);
		if (ret)
			break;
	}
	close(fd);
	if (ret != -ENOSPC)
		return snprintf(q->why, sizeof(q->why),
				"mailbox quota: %ld made, then %s", n,
				strerrorname_np(-ret)), 0;
	q->mailboxes = n;

	size = msg_max < (1U << 20) ? msg_max : (1U << 20);
	buf = calloc(1, size);
	fd = mbox_dev_open();
	if (!buf || fd < 0 ||
	    mbox_create_sized(fd, 0, MBOX_UNBOUNDED, size, 0, 0, 0600, &id) ||
	    mbox_create_sized(fd, 0, MBOX_UNBOUNDED, size, 0, 0, 0600, &probe))
		return snprintf(q->why, sizeof(q->why),
				"no mailbox to count bytes"), 0;
	for (;;) {
		while (!(ret = mbox_send(fd, id, buf, size, 0, MBOX_NONBLOCK)))
			total += size + MBOX_MSG_OVERHEAD;
		if (ret != -ENOSPC || size < 16 * 256)
			break;
		size /= 16;
	}
	hi = size - 1;
	if (ret == -ENOSPC) {
		/* Less than hi + 1 + MBOX_MSG_OVERHEAD is left. */
		ret = mbox_send(fd, probe, buf, 0, 0, MBOX_NONBLOCK);
		lo = 0;
		while (!ret && lo < hi) {
			mid = lo + (hi - lo + 1) / 2;
			ret = mbox_send(fd, probe, buf, mid, 0, MBOX_NONBLOCK);
			if (!ret) {
				lo = mid;
				len = mid;
				ret = mbox_recv(fd, probe, buf, &len,
						MBOX_NONBLOCK);
			} else if (ret == -ENOSPC) {
				hi = mid - 1;
				ret = 0;
			}
		}
		/* -1 - total: not even an empty message fits. */
		total = ret == -ENOSPC ? -1 - total :
			total + lo + MBOX_MSG_OVERHEAD;
		ret = ret == -ENOSPC ? 0 : ret;
	}
	close(fd);
	if (ret)
		return snprintf(q->why, sizeof(q->why), "byte quota: %s",
				strerrorname_np(-ret)), 0;
	q->bytes = total;
	q->observable = true;
	return 0;
}

static void quota_measure(struct quota *out)
{
	struct quota *q = mbox_shared_alloc(sizeof(*q));

	memset(out, 0, sizeof(*out));
	if (!q) {
		snprintf(out->why, sizeof(out->why), "no shared memory");
		return;
	}
	if (mbox_run(quota_child, q) == 0)
		*out = *q;
	else
		snprintf(out->why, sizeof(out->why), "the counting child failed");
	munmap(q, sizeof(*q));
}

/* The module still works: a clean round on a new endpoint. */
static int clean_round(void)
{
	char buf[16];
	__u32 id, len = sizeof(buf);
	int fd = mbox_dev_open(), ret;

	if (fd < 0)
		return fd;
	ret = mbox_create(fd, NULL, 0, 4, MBOX_POLICY_SHARED, 0600, &id);
	if (!ret)
		ret = mbox_send(fd, id, "ping", 4, 3, MBOX_NONBLOCK);
	if (!ret)
		ret = mbox_recv(fd, id, buf, &len, MBOX_NONBLOCK);
	if (!ret && (len != 4 || memcmp(buf, "ping", 4)))
		ret = -EBADMSG;
	if (!ret)
		ret = mbox_destroy(fd, id);
	close(fd);
	return ret;
}

/* ---- the fixture ---------------------------------------------------------- */

FIXTURE(fuzz) {
	struct fuzz f;
};

FIXTURE_SETUP(fuzz)
{
	struct fuzz *f = &self->f;
	struct sigaction sa;
	struct sigevent sev;
	int i, ret;
	pid_t pid;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < NEP; i++)
		f->ep[i] = -1;
	f->self_pidfd = f->peer_pidfd = f->dead_pidfd = f->null_fd = -1;
	f->epoll_fd = -1;
	f->fi.fd = -1;
	f->direct_ep = -1;
	ret = mbox_dev_open();
	if (ret == -ENOENT)
		SKIP(return, "no " MBOX_DEV_PATH ": the mbox module is not loaded");
	ASSERT_LE(0, ret);
	close(ret);

	f->self = getpid();
	f->root = mbox_is_root();
	f->page = sysconf(_SC_PAGESIZE);
	snprintf(f->prefix, sizeof(f->prefix), "/mbox-fuzz-%d-", (int)f->self);
	f->rng = mix(cfg.seed, 0x5e7);
	ASSERT_EQ(0, arena_init(f));
	f->shm = mbox_shared_alloc(sizeof(*f->shm));
	ASSERT_NE(NULL, f->shm);

	/* What is there before, and the quotas: the same after. */
	ret = listing(f->pre, NPRE, &f->pre_overflow);
	ASSERT_LE(0, ret);
	f->npre = ret;
	for (i = 0; i < (int)f->npre; i++)
		if (f->pre[i] > f->max_id)
			f->max_id = f->pre[i];
	quota_measure(&f->q_before);

	/* SIGALRM ends a blocked call (EINTR); SIGUSR1 restarts it. */
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_alarm;
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	sa.sa_handler = on_restart;
	sa.sa_flags = SA_RESTART;
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGUSR1;
	f->have_restart_timer = !timer_create(CLOCK_MONOTONIC, &sev,
					      &f->restart_timer);

	/* A process that is gone, for pids and pidfds that name nobody. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(0);
	f->dead = pid;
	/* A zombie yet: its pidfd, then gone. */
	while (waitid(P_PID, pid, &(siginfo_t){ 0 }, WEXITED | WNOWAIT) &&
	       errno == EINTR)
		;
	ret = mbox_pidfd_open(pid);
	f->dead_pidfd = ret >= 0 ? ret : 0x7ffffff1;
	ASSERT_EQ(0, mbox_reap(pid));
	ret = mbox_pidfd_open(f->self);
	f->self_pidfd = ret >= 0 ? ret : 0x7ffffff2;
	f->null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	/* The peer, before the endpoints: it must not hold them. */
	if (cfg.peer) {
		f->peer = mbox_spawn(peer_main, f);
		ASSERT_LT(0, f->peer);
		ret = mbox_pidfd_open(f->peer);
		f->peer_pidfd = ret >= 0 ? ret : -1;
	}

	for (i = 0; i < NEP; i++)
		ASSERT_LE(0, reopen_ep(f, i));
	f->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, f->epoll_fd);
	repair(f);
}

FIXTURE_TEARDOWN(fuzz)
{
	struct fuzz *f = &self->f;
	int i;

	/* After a failed ASSERT: leave nothing behind. */
	fault_restore(&f->fi);
	if (f->peer > 0) {
		kill(f->peer, SIGKILL);
		waitpid(f->peer, NULL, 0);
	}
	for (i = 0; i < NEP; i++)
		if (f->ep[i] >= 0)
			close(f->ep[i]);
	if (f->nsystem)
		destroy_system(f, _metadata, false);
	free(f->system);
	free(f->made);
}

static void print_summary(struct fuzz *f)
{
	char line[512];
	size_t n;
	int ci, e;

	if (f->mode == M_FAULTS)
		ksft_print_msg("%s: %lu faults injected\n", mode_names[f->mode],
			       f->fi.injected);
	ksft_print_msg("%s: %lu calls in %llu ms (%lu refused before the command), %lu violations, %lu interrupted by SIGALRM; peer: %lu calls, %lu requests served, %lu calls and %lu sends done; fuzzer: %lu tokens received, %lu replies and %lu calls done\n",
		       mode_names[f->mode], f->calls,
		       (unsigned long long)(mbox_now_ns() - f->start_ns) / 1000000,
		       f->exact, f->violations, f->alarms,
		       f->shm->ops, f->shm->served, f->shm->calls_ok,
		       f->shm->sends_ok, f->tokens_seen, f->replies_ok,
		       f->calls_ok);
	for (ci = 0; ci <= NCMD; ci++) {
		n = snprintf(line, sizeof(line), "  %-8s %5llu ms: ok %lu",
			     ci < NCMD ? cmds[ci].name : "(none)",
			     (unsigned long long)f->ns[ci] / 1000000,
			     f->ok[ci]);
		for (e = 1; e < 134 && n < sizeof(line); e++)
			if (f->err[ci][e])
				n += snprintf(line + n, sizeof(line) - n,
					      ", %s %lu", strerrorname_np(e),
					      f->err[ci][e]);
		ksft_print_msg("%s\n", line);
	}
}

/* The checks after a run: its results, and nothing left behind. */
static void finish(struct fuzz *f, struct __test_metadata *_metadata)
{
	__u32 after[NPRE];
	unsigned int i, j;
	struct quota q;
	bool overflow;
	int n, ret;

	fault_restore(&f->fi);
	peer_stop(f, _metadata);
	for (i = 0; i < NEP; i++) {
		close(f->ep[i]);
		f->ep[i] = -1;
	}
	destroy_system(f, _metadata, true);
	print_summary(f);
	if (f->shm->violations) {
		f->violations += f->shm->violations;
		ksft_print_msg("VIOLATION %s (%d in all)\n", f->shm->first,
			       f->shm->violations);
	}

	ret = clean_round();
	EXPECT_EQ(0, ret) TH_LOG("the module no longer works: %s",
				 strerror(-ret));

	n = listing(after, NPRE, &overflow);
	ASSERT_LE(0, n);
	for (i = 0; i < (unsigned int)n; i++) {
		if (is_pre(f, after[i]))
			continue;
		for (j = 0; j < f->nmade && f->made[j] != after[i]; j++)
			;
		EXPECT_TRUE(false) TH_LOG("mailbox %u is left after the run%s",
					  after[i], j < f->nmade ?
					  " (the fuzzer made it)" : "");
		if (j < f->nmade) {
			int fd = mbox_dev_open();

			mbox_destroy(fd, after[i]);
			close(fd);
		}
	}
	for (i = 0; i < f->npre && !f->pre_overflow && !overflow; i++) {
		for (j = 0; j < (unsigned int)n && after[j] != f->pre[i]; j++)
			;
		EXPECT_LT(j, (unsigned int)n)
			TH_LOG("mailbox %u, there before, is gone", f->pre[i]);
	}

	quota_measure(&q);
	if (!f->q_before.observable || !q.observable) {
		ksft_print_msg("quotas not compared: %s\n",
			       f->q_before.observable ? q.why : f->q_before.why);
	} else {
		EXPECT_EQ(f->q_before.mailboxes, q.mailboxes)
			TH_LOG("mailboxes the user may create: %ld before, %ld after",
			       f->q_before.mailboxes, q.mailboxes);
		EXPECT_EQ(f->q_before.bytes, q.bytes)
			TH_LOG("bytes the user may queue: %lld before, %lld after",
			       f->q_before.bytes, q.bytes);
	}
	EXPECT_EQ(0, f->violations)
		TH_LOG("%lu calls broke the ABI; replay with MBOX_FUZZ_SEED=%#llx%s",
		       f->violations, (unsigned long long)cfg.seed,
		       f->violations > NVIOL ? " (the first ones are above)" : "");
}

static void run(struct fuzz *f, struct __test_metadata *_metadata,
		enum mode mode)
{
	struct call *c = malloc(sizeof(*c));
	unsigned long i;

	ASSERT_NE(NULL, c);
	f->mode = mode;
	for (i = 0; mode == M_FAULTS && i < NEP; i++)
		ASSERT_EQ(0, fcntl(f->ep[i], F_SETFL, O_NONBLOCK));
	f->test_seed = mix(cfg.seed, mode + 1);
	ksft_print_msg("%s: seed %#llx (MBOX_FUZZ_SEED=%#llx), %lu calls\n",
		       mode_names[mode], (unsigned long long)cfg.seed,
		       (unsigned long long)cfg.seed, cfg.count);
	f->start_ns = mbox_now_ns();
	for (i = 0; i < cfg.count; i++) {
		f->iter = i;
		f->rng = mix(f->test_seed, i);
		if (mode >= M_MIXED && i % 500 == 250)
			peer_restart(f);
		if (mode >= M_MIXED && i && !(i % 1000))
			recycle(f, _metadata);
		else if (mode >= M_MIXED && i && !(i % 200))
			repair(f);
		if (mode >= M_MIXED && pct(f, 4)) {
			do_other(f);
			continue;
		}
		build_call(f, c);
		do_call(f, c);
	}
	free(c);
	f->alarms = alarms;
	finish(f, _metadata);
}

/* Numbers: the commands, and what is not one (ENOTTY). */
TEST_F_TIMEOUT(fuzz, numbers, FUZZ_TIMEOUT_DEFAULT)
{
	run(&self->f, _metadata, M_NUMBERS);
}

/* Sizes: 0, short, exact, longer with zero and non-zero tails, huge. */
TEST_F_TIMEOUT(fuzz, sizes, FUZZ_TIMEOUT_DEFAULT)
{
	run(&self->f, _metadata, M_SIZES);
}

/* Pointers: the struct and every pointer in it, good and bad. */
TEST_F_TIMEOUT(fuzz, pointers, FUZZ_TIMEOUT_DEFAULT)
{
	run(&self->f, _metadata, M_POINTERS);
}

/* Flags: defined combinations, undefined bits, reserved fields. */
TEST_F_TIMEOUT(fuzz, flags, FUZZ_TIMEOUT_DEFAULT)
{
	run(&self->f, _metadata, M_FLAGS);
}

/* Everything, with poll, epoll, fcntl, dup, and endpoints closed. */
TEST_F_TIMEOUT(fuzz, mixed, FUZZ_TIMEOUT_DEFAULT)
{
	run(&self->f, _metadata, M_MIXED);
}

/*
 * Found by the faults test: a CREATE, an OPEN or a DIRECT enable that
 * fails makes nothing, whichever of its user copies fails, including the
 * write-back of its struct once the work is done.  A CREATE used to fail
 * there with EFAULT and leave its mailbox: system-owned, it stayed, with
 * an id its creator was never told, charged to its max_user_mailboxes
 * (an OPEN stayed open, a DIRECT enabled).  The same window is open to
 * another thread that unmaps or write-protects the struct while the call
 * runs.  Each user copy of the call in turn, exactly: fail_usercopy's
 * "space" n with its task filter, this thread's make-it-fail set around
 * the call, fails its nth copy (fail-nth would count allocations too,
 * whose number varies from call to call).  Checked from another
 * endpoint.  Root and fault injection (the debug kernel); SKIP otherwise.
 */
#define UC_DIR	"/sys/kernel/debug/fail_usercopy/"

static const char *const uc_knobs[][2] = {
	{ UC_DIR "times", "0" },	/* none until armed */
	{ UC_DIR "probability", "100" },
	{ UC_DIR "interval", "1" },
	{ UC_DIR "space", "0" },
	{ UC_DIR "task-filter", "Y" },
	{ UC_DIR "verbose", "0" },
};

struct ucfault {
	int mif;		/* /proc/thread-self/make-it-fail */
	char saved[MBOX_ARRAY_SIZE(uc_knobs)][16];
};

static void uc_restore(struct ucfault *u)
{
	unsigned int i;

	for (i = MBOX_ARRAY_SIZE(uc_knobs); i-- > 0; )
		if (u->saved[i][0])
			knob_rw(uc_knobs[i][0], NULL, 0, u->saved[i]);
	if (u->mif >= 0)
		close(u->mif);
	u->mif = -1;
}

/* 0, or -errno if this kernel has no usercopy fault injection. */
static int uc_setup(struct ucfault *u)
{
	unsigned int i;
	int ret;

	memset(u->saved, 0, sizeof(u->saved));
	u->mif = open("/proc/thread-self/make-it-fail", O_RDWR | O_CLOEXEC);
	if (u->mif < 0)
		return -errno;
	for (i = 0; i < MBOX_ARRAY_SIZE(uc_knobs); i++) {
		ret = knob_rw(uc_knobs[i][0], u->saved[i], sizeof(u->saved[i]),
			      uc_knobs[i][1]);
		if (ret)
			return ret;
	}
	return 0;
}

/* This thread's nth user copy from now fails, once. */
static int uc_arm(struct ucfault *u, unsigned int nth)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u", nth);
	if (knob_rw(UC_DIR "space", NULL, 0, buf) ||
	    knob_rw(UC_DIR "times", NULL, 0, "1"))
		return -EIO;
	return pwrite(u->mif, "1", 1, 0) == 1 ? 0 : -errno;
}

/* Whether the fault was injected; none can be afterwards. */
static bool uc_disarm(struct ucfault *u)
{
	char buf[16] = "";
	int fd, i;

	/* This write may meet the fault itself: then it is spent. */
	for (i = 0; i < 4 && pwrite(u->mif, "0", 1, 0) != 1; i++)
		;
	fd = open(UC_DIR "times", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf) - 1) < 0)
			buf[0] = '\0';
		close(fd);
	}
	knob_rw(UC_DIR "times", NULL, 0, "0");
	return atoi(buf) == 0;
}

FIXTURE(failed) {
	struct ucfault uc;
	int fd, other;
	__u32 id;
	char name[64];
};

FIXTURE_SETUP(failed)
{
	int ret;

	self->uc.mif = -1;
	self->fd = self->other = -1;
	ret = mbox_dev_open();
	if (ret == -ENOENT)
		SKIP(return, "no " MBOX_DEV_PATH ": the mbox module is not loaded");
	ASSERT_LE(0, ret);
	self->fd = ret;
	self->other = mbox_dev_open();
	ASSERT_LE(0, self->other);
	MBOX_NEED_ROOT("set up fault injection in debugfs");
	ret = uc_setup(&self->uc);
	if (ret)
		SKIP(return, "no usercopy fault injection here (CONFIG_FAULT_INJECTION_USERCOPY and debugfs): %s",
		     strerror(-ret));
	snprintf(self->name, sizeof(self->name), "/mbox-fuzz-%d-failed",
		 (int)getpid());
}

FIXTURE_TEARDOWN(failed)
{
	uc_restore(&self->uc);
	if (self->id)
		mbox_destroy(self->other, self->id);
	if (self->fd >= 0)
		close(self->fd);
	if (self->other >= 0)
		close(self->other);
}

/*
 * ioctl cmd with arg, its nth user copy failing: 1 if it failed with the
 * fault injected, 0 if it succeeded, -1 if it has fewer copies.
 */
static int fail_at(struct __test_metadata *_metadata, struct ucfault *u,
		   int fd, unsigned long cmd, void *arg, unsigned int nth)
{
	bool injected;
	int ret;

	ASSERT_EQ(0, uc_arm(u, nth));
	ret = mbox_ioctl(fd, cmd, arg);
	injected = uc_disarm(u);
	if (ret) {
		EXPECT_EQ(-EFAULT, ret)
			TH_LOG("copy %u: failed with %s", nth, strerror(-ret));
		return 1;
	}
	return injected ? 0 : -1;
}

TEST_F(failed, create_leaves_no_mailbox)
{
	struct mbox_create c;
	unsigned int nth;
	__u32 id;
	int ret;

	for (nth = 1, ret = 1; ret >= 0 && nth < 100; nth++) {
		memset(&c, 0, sizeof(c));
		c.size = sizeof(c);
		c.flags = MBOX_CREATE_SYSTEM;
		c.name = mbox_ptr(self->name);
		c.capacity = 4;
		c.mode = 0600;
		ret = fail_at(_metadata, &self->uc, self->fd, MBOX_IOC_CREATE,
			      &c, nth);
		if (ret <= 0) {
			mbox_destroy(self->fd, c.id);
			continue;
		}
		if (!mbox_open_name(self->other, self->name, MBOX_OPEN_SEND,
				    &id)) {
			EXPECT_TRUE(false)
				TH_LOG("copy %u: the failed CREATE made mailbox %u",
				       nth, id);
			mbox_destroy(self->other, id);
		}
	}
	EXPECT_LT(3, nth) TH_LOG("no user copy was reached");
}

TEST_F(failed, open_leaves_it_closed)
{
	struct mbox_open o;
	unsigned int nth;
	int ret;

	ASSERT_EQ(0, mbox_create(self->other, self->name, MBOX_CREATE_SYSTEM,
				 4, MBOX_POLICY_SHARED, 0600, &self->id));
	for (nth = 1, ret = 1; ret >= 0 && nth < 100; nth++) {
		memset(&o, 0, sizeof(o));
		o.size = sizeof(o);
		o.flags = MBOX_OPEN_SEND | MBOX_OPEN_RECV;
		o.name = mbox_ptr(self->name);
		ret = fail_at(_metadata, &self->uc, self->fd, MBOX_IOC_OPEN,
			      &o, nth);
		if (ret <= 0) {
			EXPECT_EQ(0, mbox_close_id(self->fd, self->id));
			continue;
		}
		/* Not open: closing it is EBADF. */
		EXPECT_EQ(-EBADF, mbox_close_id(self->fd, self->id))
			TH_LOG("copy %u: the failed OPEN left it open", nth);
	}
	EXPECT_LT(3, nth) TH_LOG("no user copy was reached");
}

TEST_F(failed, direct_leaves_it_disabled)
{
	struct mbox_direct d;
	unsigned int nth;
	int ret;

	for (nth = 1, ret = 1; ret >= 0 && nth < 100; nth++) {
		memset(&d, 0, sizeof(d));
		d.size = sizeof(d);
		d.flags = MBOX_DIRECT_ANYONE;
		d.capacity = 4;
		ret = fail_at(_metadata, &self->uc, self->fd, MBOX_IOC_DIRECT,
			      &d, nth);
		if (ret <= 0) {
			EXPECT_EQ(0, mbox_direct_disable(self->fd));
			continue;
		}
		EXPECT_EQ(-EBADF, mbox_direct_query(self->fd, NULL))
			TH_LOG("copy %u: the failed DIRECT left it enabled", nth);
		mbox_direct_disable(self->fd);
	}
	EXPECT_LT(3, nth) TH_LOG("no user copy was reached");
}

/*
 * The same window without fault injection, as a program can open it: the
 * call reads its name from a page that is not there yet (userfaultfd);
 * while it waits, another thread write-protects the struct, then lets the
 * name in.  The work is done, the write-back fails.  Root (the kernel's
 * own faults need CAP_SYS_PTRACE, or vm.unprivileged_userfaultfd) and
 * CONFIG_USERFAULTFD (Debian's kernels); SKIP otherwise.
 */
struct race {
	int uffd;
	size_t page;
	char *name_page;	/* registered, missing until the struct is RO */
	char *struct_page;	/* the ioctl's struct */
	const char *name;
	pthread_t thread;
	int ret;
};

static void *race_thread(void *arg)
{
	struct race *r = arg;
	struct pollfd pfd = { .fd = r->uffd, .events = POLLIN };
	struct uffdio_copy copy;
	struct uffd_msg msg;
	char *src;

	r->ret = -ETIMEDOUT;
	if (poll(&pfd, 1, MBOX_WAIT_MS) != 1)
		return NULL;
	r->ret = -EIO;
	if (read(r->uffd, &msg, sizeof(msg)) != sizeof(msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT)
		return NULL;
	/* The call is in: take its struct away, then give it the name. */
	r->ret = -errno;
	if (mprotect(r->struct_page, r->page, PROT_READ))
		return NULL;
	src = mmap(NULL, r->page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED)
		return NULL;
	strcpy(src, r->name);
	copy = (struct uffdio_copy){
		.dst = mbox_ptr(r->name_page),
		.src = mbox_ptr(src),
		.len = r->page,
	};
	r->ret = ioctl(r->uffd, UFFDIO_COPY, &copy) ? -errno : 0;
	munmap(src, r->page);
	return NULL;
}

/* 0, or -errno if userfaultfd cannot catch the kernel's faults here. */
static int race_setup(struct race *r, const char *name)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg;

	memset(r, 0, sizeof(*r));
	r->page = sysconf(_SC_PAGESIZE);
	r->name = name;
	r->uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (r->uffd < 0)
		return -errno;
	if (ioctl(r->uffd, UFFDIO_API, &api))
		return -errno;
	r->name_page = mmap(NULL, r->page, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	r->struct_page = mmap(NULL, r->page, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->name_page == MAP_FAILED || r->struct_page == MAP_FAILED)
		return -ENOMEM;
	reg = (struct uffdio_register){
		.range = { mbox_ptr(r->name_page), r->page },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	if (ioctl(r->uffd, UFFDIO_REGISTER, &reg))
		return -errno;
	return pthread_create(&r->thread, NULL, race_thread, r) ? -EAGAIN : 0;
}

static int race_end(struct race *r)
{
	pthread_join(r->thread, NULL);
	close(r->uffd);
	munmap(r->name_page, r->page);
	munmap(r->struct_page, r->page);
	return r->ret;
}

#define RACE_SETUP(r, name) do {					\
		int __ret;						\
									\
		MBOX_NEED_ROOT("catch the kernel's faults with userfaultfd"); \
		__ret = race_setup(r, name);				\
		if (__ret == -ENOSYS || __ret == -EPERM || __ret == -EINVAL) \
			SKIP(return, "no userfaultfd for the kernel's faults here: %s", \
			     strerror(-__ret));				\
		ASSERT_EQ(0, __ret);					\
	} while (0)

TEST(create_race_leaves_no_mailbox)
{
	char name[64];
	struct mbox_create *c;
	struct race r;
	int fd, other, ret;
	__u32 id;

	fd = mbox_dev_open();
	if (fd == -ENOENT)
		SKIP(return, "no " MBOX_DEV_PATH ": the mbox module is not loaded");
	ASSERT_LE(0, fd);
	other = mbox_dev_open();
	ASSERT_LE(0, other);
	snprintf(name, sizeof(name), "/mbox-fuzz-%d-race", (int)getpid());
	RACE_SETUP(&r, name);
	c = (struct mbox_create *)r.struct_page;
	c->size = sizeof(*c);
	c->flags = MBOX_CREATE_SYSTEM;
	c->name = mbox_ptr(r.name_page);
	c->capacity = 4;
	c->mode = 0600;
	ret = mbox_ioctl(fd, MBOX_IOC_CREATE, c);
	ASSERT_EQ(0, race_end(&r));
	EXPECT_EQ(-EFAULT, ret);
	ret = mbox_open_name(other, name, MBOX_OPEN_SEND, &id);
	EXPECT_EQ(-ENOENT, ret) TH_LOG("the failed CREATE made mailbox %u", id);
	if (!ret)
		mbox_destroy(other, id);
	close(other);
	close(fd);
}

TEST(open_race_leaves_it_closed)
{
	struct mbox_open *o;
	char name[64];
	struct race r;
	int fd, other, ret;
	__u32 id;

	fd = mbox_dev_open();
	if (fd == -ENOENT)
		SKIP(return, "no " MBOX_DEV_PATH ": the mbox module is not loaded");
	ASSERT_LE(0, fd);
	other = mbox_dev_open();
	ASSERT_LE(0, other);
	snprintf(name, sizeof(name), "/mbox-fuzz-%d-race", (int)getpid());
	RACE_SETUP(&r, name);
	ASSERT_EQ(0, mbox_create(other, name, MBOX_CREATE_SYSTEM, 4,
				 MBOX_POLICY_SHARED, 0600, &id));
	o = (struct mbox_open *)r.struct_page;
	o->size = sizeof(*o);
	o->flags = MBOX_OPEN_SEND;
	o->name = mbox_ptr(r.name_page);
	ret = mbox_ioctl(fd, MBOX_IOC_OPEN, o);
	EXPECT_EQ(0, race_end(&r));
	EXPECT_EQ(-EFAULT, ret);
	EXPECT_EQ(-EBADF, mbox_close_id(fd, id))
		TH_LOG("the failed OPEN left mailbox %u open", id);
	EXPECT_EQ(0, mbox_destroy(other, id));
	close(other);
	close(fd);
}

/*
 * Faults: the calls of mixed, most of them with their nth allocation or
 * user copy failing (fail-nth): the error paths, for KASAN, kmemleak and
 * the quota check.  Root, with CONFIG_FAULT_INJECTION and CONFIG_FAILSLAB
 * (the debug kernel); SKIP otherwise.
 */
TEST_F_TIMEOUT(fuzz, faults, FUZZ_TIMEOUT_DEFAULT)
{
	int ret;

	MBOX_NEED_ROOT("set up fault injection in debugfs");
	ret = fault_setup(&self->f.fi);
	if (ret) {
		fault_restore(&self->f.fi);
		SKIP(return, "no fault injection here (CONFIG_FAULT_INJECTION, CONFIG_FAILSLAB and debugfs): %s",
		     strerror(-ret));
	}
	run(&self->f, _metadata, M_FAULTS);
}

int main(int argc, char **argv)
{
	struct __fixture_metadata *fx;
	struct __test_metadata *t;
	const char *s;
	int timeout;

	s = getenv("MBOX_FUZZ_SEED");
	cfg.seed = s && *s ? strtoull(s, NULL, 0) :
		   mix(mbox_now_ns(), getpid());
	s = getenv("MBOX_FUZZ_COUNT");
	cfg.count = s && *s ? strtoul(s, NULL, 0) : FUZZ_COUNT_DEFAULT;
	s = getenv("MBOX_FUZZ_TRACE");
	cfg.trace = s && *s && strcmp(s, "0");
	s = getenv("MBOX_FUZZ_PEER");
	cfg.peer = !s || strcmp(s, "0");
	ksft_print_msg("mbox fuzz: seed %#llx, %lu calls per test%s (replay: MBOX_FUZZ_SEED=%#llx MBOX_FUZZ_COUNT=%lu)\n",
		       (unsigned long long)cfg.seed, cfg.count,
		       cfg.peer ? "" : ", no peer",
		       (unsigned long long)cfg.seed, cfg.count);

	/* A longer run gets a longer timeout: the default's, pro rata. */
	timeout = FUZZ_TIMEOUT_DEFAULT;
	if (cfg.count > FUZZ_COUNT_DEFAULT)
		timeout = (int)((double)FUZZ_TIMEOUT_DEFAULT * cfg.count /
				FUZZ_COUNT_DEFAULT);
	for (fx = __fixture_list; fx; fx = fx->next)
		for (t = fx->tests; t; t = t->next)
			t->timeout = timeout;
	return test_harness_run(argc, argv);
}
