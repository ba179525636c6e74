/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mbox_bench: what the controller (mbox_bench.c) and the transports
 * (transports.c) share.
 *
 * A cell is one measurement: a workload, a transport, a message size, a
 * placement and, for the many-to-many workloads, the number of processes
 * on each side.  The controller makes the cell's kernel objects (pipes,
 * sockets, queues, mailboxes), forks the workers, which attach to them
 * and then run the workload's loop with the transport's operations, and
 * reads their counters through shared memory.  Every transport goes
 * through the same loops and the same timing code.
 */
#ifndef MBOX_BENCH_H
#define MBOX_BENCH_H

#include <mqueue.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <mbox.h>

/* The batch functions of libmbox 1.1 (guarded until they are on main). */
#if defined(LIBMBOX_HAVE_BATCH) || LIBMBOX_MINOR >= 1
#define BENCH_HAVE_BATCH	1
#else
#define BENCH_HAVE_BATCH	0
#endif

#define BENCH_MAX_WORKERS	17	/* 8 producers + 8 consumers, + 1 */
#define BENCH_MAX_SIZE		65536
#define BENCH_BATCH		32	/* messages per batch call */
#define BENCH_HEADROOM		64	/* bytes before each buffer (SysV mtype) */

enum workload {
	WL_RT,		/* round trip (ping-pong), one client, one server */
	WL_STREAM,	/* one producer, one consumer */
	WL_RDV,		/* streaming on a capacity-0 or capacity-1 mailbox */
	WL_NM,		/* N producers, M consumers on one queue */
	WL_CALLS,	/* N clients calling one server */
};

enum placement {
	PL_SAME,	/* every worker pinned to CPU 0 */
	PL_CROSS,	/* side A on CPU 0, side B on CPU 1 */
	PL_FREE,	/* not pinned */
};

/* Side A: client, producer; side B: server, consumer. */
enum role { ROLE_A, ROLE_B };

/* What a transport can do. */
#define X_RT		(1U << 0)	/* round trips */
#define X_STREAM	(1U << 1)	/* one-way streaming */
#define X_SHARED	(1U << 2)	/* several senders and receivers on one queue */
#define X_BATCH		(1U << 3)	/* needs libmbox's batch calls */
#define X_FIXED8	(1U << 4)	/* only 8-byte messages (eventfd) */
#define X_MULTI		(1U << 5)	/* several clients on one server */

struct cell;
struct worker;

/*
 * A transport.  Channels: 0 carries A -> B (requests, the stream), 1
 * carries B -> A (the replies of a round trip).
 */
struct xport {
	const char *name;
	const char *desc;
	unsigned int caps;
	/* Controller, before the fork: make the cell's objects. */
	int (*create)(struct cell *c);
	/* Worker, before it says it is ready. */
	int (*attach)(struct worker *w);
	/* One message on channel ch; the buffer has BENCH_HEADROOM before it. */
	int (*send)(struct worker *w, int ch, void *buf, size_t len);
	/* One message of len bytes on channel ch (fails on another length). */
	int (*recv)(struct worker *w, int ch, void *buf, size_t len);
	/* Optional: send / receive up to n messages; returns how many. */
	int (*send_many)(struct worker *w, int ch, int n);
	int (*recv_many)(struct worker *w, int ch, int n);
	/* Optional: a round trip in one operation (a call), and its server. */
	int (*call)(struct worker *w, void *buf, size_t len);
	int (*serve)(struct worker *w);		/* never returns but on error */
	/* Controller, after the workers are gone. */
	void (*destroy)(struct cell *c);
};

/* One measurement. */
struct cell {
	char name[80];
	enum workload wl;
	const struct xport *x;
	size_t size;
	enum placement place;
	int na, nb;		/* workers on side A and side B */
	unsigned int capacity;	/* queue capacity in messages */

	/* The kernel objects, made by x->create(), inherited by the workers. */
	int wfd[2], rfd[2];	/* per channel: the end to write, to read */
	int fds[4];		/* every fd to close, -1 if none */
	mqd_t mq[2];
	char mqname[2][32];
	int msqid[2];
	uint32_t mbox_id[2];
	int sndbuf;		/* sockets: SO_SNDBUF that holds capacity messages */
};

/* One worker process. */
struct worker {
	int idx;		/* slot index */
	enum role role;
	int side_idx;		/* index among its side */
	struct cell *cell;
	char *buf;		/* size bytes, BENCH_HEADROOM before */
	/* mbox state */
	struct mbox_endpoint *ep;
	pid_t peer;		/* direct links: the other side's pid */
	uint64_t token;		/* call server: the call to answer */
	int have_call;
	struct mbox_msg *msgs;	/* batches */
	char *bufs;		/* batch receive buffers */
};

/* The controller's endpoint (mailboxes are created through it). */
extern struct mbox_endpoint *bench_ep;
extern int bench_have_batch;

extern const struct xport *const bench_xports[];

/* Workers report failures with this; it does not return. */
void bench_fail(struct worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* The pid of worker slot i (valid once the workload started). */
pid_t bench_worker_pid(int i);

/* Sockets: the SO_SNDBUF for which capacity messages of size fit. */
int bench_sock_sndbuf(int type, size_t size, unsigned int capacity,
		      unsigned int *fit);
/* How many messages of size a fresh transport holds before blocking. */
int bench_fd_capacity(const struct xport *x, size_t size, unsigned int capacity,
		      unsigned int *fit);

#endif /* MBOX_BENCH_H */
