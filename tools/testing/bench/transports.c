// SPDX-License-Identifier: GPL-2.0
/*
 * mbox_bench: the transports, one small table of operations each.
 *
 * Every transport makes its kernel objects in the controller before the
 * fork (so the workers inherit them) and sends and receives one message
 * per operation.  Channel 0 carries side A's messages to side B, channel
 * 1 the replies of a round trip.  Queue capacities are set so that each
 * transport holds the same number of messages (the cell's capacity):
 *
 *  - mbox mailboxes and direct links: capacity N, max_msg_size the
 *    message size, max_bytes N * size;
 *  - POSIX mq: mq_maxmsg N, mq_msgsize the message size;
 *  - System V msg: msg_qbytes N * size;
 *  - pipes: F_SETPIPE_SZ N * size (whole pages: a page holds 64 messages
 *    of 64 B, since small writes share a page);
 *  - UNIX sockets: the SO_SNDBUF that the controller found holds N
 *    messages (bench_sock_sndbuf()), since each message costs its skb's
 *    overhead besides its bytes.
 *
 * bench_fill() checks it: it counts the messages a fresh queue takes
 * before a non-blocking send fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

/* Sizes of the streams whose socket buffers were calibrated. */
#define SOCK_SIZES	8
static struct {
	int type;
	size_t size;
	unsigned int capacity;
	int sndbuf;
} sock_cal[2 * SOCK_SIZES];
static int nsock_cal;

static void close_fds(struct cell *c)
{
	int i;

	for (i = 0; i < 4; i++) {
		if (c->fds[i] >= 0)
			close(c->fds[i]);
		c->fds[i] = -1;
	}
}

static int read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = read(fd, (char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		done += n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = write(fd, (const char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += n;
	}
	return 0;
}

/* One channel for RT, or channel 0 only. */
static int nchannels(const struct cell *c)
{
	return c->wl == WL_RT ? 2 : 1;
}

/* --- pipes ------------------------------------------------------------ */

static int pipe_create(struct cell *c)
{
	int ch, p[2];

	for (ch = 0; ch < nchannels(c); ch++) {
		if (pipe(p))
			return -errno;
		c->fds[2 * ch] = p[0];
		c->fds[2 * ch + 1] = p[1];
		c->rfd[ch] = p[0];
		c->wfd[ch] = p[1];
		/* Streams: room for capacity messages (whole pages). */
		if (c->wl != WL_RT &&
		    fcntl(p[1], F_SETPIPE_SZ, (int)(c->capacity * c->size)) < 0)
			return -errno;
	}
	return 0;
}

static int fd_send(struct worker *w, int ch, void *buf, size_t len)
{
	return write_full(w->cell->wfd[ch], buf, len);
}

static int fd_recv(struct worker *w, int ch, void *buf, size_t len)
{
	return read_full(w->cell->rfd[ch], buf, len);
}

static void fd_destroy(struct cell *c)
{
	close_fds(c);
}

static int fd_attach(struct worker *w)
{
	(void)w;
	return 0;
}

/* --- UNIX sockets ------------------------------------------------------ */

static int sock_setbuf(int fd, int bytes)
{
	/* SO_*BUFFORCE (root) goes past net.core.[rw]mem_max. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes)) &&
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes)))
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)))
		return -errno;
	return 0;
}

static int sock_create(struct cell *c, int type)
{
	int sv[2], ret, i;

	if (socketpair(AF_UNIX, type, 0, sv))
		return -errno;
	c->fds[0] = sv[0];
	c->fds[1] = sv[1];
	c->wfd[0] = sv[0];
	c->rfd[0] = sv[1];
	c->wfd[1] = sv[1];
	c->rfd[1] = sv[0];
	if (c->wl == WL_RT)
		return 0;
	/* Streams: the buffer size that holds capacity messages. */
	c->sndbuf = 0;
	for (i = 0; i < nsock_cal; i++) {
		if (sock_cal[i].type == type && sock_cal[i].size == c->size &&
		    sock_cal[i].capacity == c->capacity)
			c->sndbuf = sock_cal[i].sndbuf;
	}
	if (!c->sndbuf) {
		ret = bench_sock_sndbuf(type, c->size, c->capacity, NULL);
		if (ret < 0)
			return ret;
		c->sndbuf = ret;
	}
	ret = sock_setbuf(sv[0], c->sndbuf);
	if (!ret)
		ret = sock_setbuf(sv[1], c->sndbuf);
	return ret;
}

static int ustream_create(struct cell *c)
{
	return sock_create(c, SOCK_STREAM);
}

static int useq_create(struct cell *c)
{
	return sock_create(c, SOCK_SEQPACKET);
}

static int useq_send(struct worker *w, int ch, void *buf, size_t len)
{
	ssize_t n;

	do {
		n = write(w->cell->wfd[ch], buf, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EPROTO;
}

static int useq_recv(struct worker *w, int ch, void *buf, size_t len)
{
	ssize_t n;

	do {
		n = read(w->cell->rfd[ch], buf, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EPROTO;
}

/* Messages of size a fresh socket pair with this SO_SNDBUF takes. */
static int sock_fit(int type, size_t size, int sndbuf, unsigned int limit)
{
	static char buf[BENCH_MAX_SIZE];
	unsigned int n = 0;
	int sv[2], ret = 0;
	ssize_t w;

	if (socketpair(AF_UNIX, type, 0, sv))
		return -errno;
	ret = sock_setbuf(sv[0], sndbuf);
	if (!ret)
		ret = sock_setbuf(sv[1], sndbuf);
	while (!ret && n < limit) {
		w = send(sv[0], buf, size, MSG_DONTWAIT);
		/* EMSGSIZE: a datagram larger than the buffer never fits. */
		if (w < 0 && (errno == EAGAIN || errno == EMSGSIZE))
			break;
		if (w < 0)
			ret = -errno;
		else if ((size_t)w < size)
			break;	/* a partial message does not count */
		else
			n++;
	}
	close(sv[0]);
	close(sv[1]);
	return ret ? ret : (int)n;
}

/*
 * The smallest SO_SNDBUF (as passed to setsockopt, which doubles it) with
 * which a socket pair of this type takes capacity messages of size; *fit
 * says how many it does take (more when the kernel's minimum is larger).
 */
int bench_sock_sndbuf(int type, size_t size, unsigned int capacity,
		      unsigned int *fit)
{
	int lo = 1, hi = 4096, got;

	/* Grow hi until it fits, then bisect on [lo, hi]. */
	for (;;) {
		got = sock_fit(type, size, hi, capacity + 1);
		if (got < 0)
			return got;
		if ((unsigned int)got >= capacity)
			break;
		if (hi > (1 << 28))
			return -ENOSPC;
		lo = hi + 1;
		hi *= 2;
	}
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		got = sock_fit(type, size, mid, capacity + 1);
		if (got < 0)
			return got;
		if ((unsigned int)got >= capacity)
			hi = mid;
		else
			lo = mid + 1;
	}
	got = sock_fit(type, size, hi, 4 * capacity + 4);
	if (got < 0)
		return got;
	if (fit)
		*fit = got;
	if (nsock_cal < (int)(sizeof(sock_cal) / sizeof(sock_cal[0]))) {
		sock_cal[nsock_cal].type = type;
		sock_cal[nsock_cal].size = size;
		sock_cal[nsock_cal].capacity = capacity;
		sock_cal[nsock_cal].sndbuf = hi;
		nsock_cal++;
	}
	return hi;
}

/* --- eventfd ------------------------------------------------------------ */

static int efd_create(struct cell *c)
{
	int ch, fd;

	for (ch = 0; ch < 2; ch++) {
		fd = eventfd(0, 0);
		if (fd < 0)
			return -errno;
		c->fds[ch] = fd;
		c->wfd[ch] = fd;
		c->rfd[ch] = fd;
	}
	return 0;
}

static int efd_send(struct worker *w, int ch, void *buf, size_t len)
{
	uint64_t one = 1;

	(void)buf;
	(void)len;
	return write_full(w->cell->wfd[ch], &one, sizeof(one));
}

static int efd_recv(struct worker *w, int ch, void *buf, size_t len)
{
	uint64_t v;
	int ret;

	(void)buf;
	(void)len;
	ret = read_full(w->cell->rfd[ch], &v, sizeof(v));
	return ret ? ret : v == 1 ? 0 : -EPROTO;
}

/* --- POSIX message queues ------------------------------------------------ */

static int pmq_create(struct cell *c)
{
	struct mq_attr attr = {
		.mq_maxmsg = c->capacity,
		.mq_msgsize = c->size,
	};
	int ch;

	for (ch = 0; ch < nchannels(c); ch++) {
		snprintf(c->mqname[ch], sizeof(c->mqname[ch]), "/mbox-bench-%d-%d",
			 (int)getpid(), ch);
		mq_unlink(c->mqname[ch]);
		c->mq[ch] = mq_open(c->mqname[ch], O_CREAT | O_EXCL | O_RDWR, 0600,
				    &attr);
		if (c->mq[ch] == (mqd_t)-1) {
			c->mqname[ch][0] = '\0';
			return -errno;
		}
	}
	return 0;
}

static int pmq_send(struct worker *w, int ch, void *buf, size_t len)
{
	while (mq_send(w->cell->mq[ch], buf, len, 0)) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

static int pmq_recv(struct worker *w, int ch, void *buf, size_t len)
{
	ssize_t n;

	do {
		n = mq_receive(w->cell->mq[ch], buf, len, NULL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EPROTO;
}

static void pmq_destroy(struct cell *c)
{
	int ch;

	for (ch = 0; ch < 2; ch++) {
		if (c->mq[ch] != (mqd_t)-1)
			mq_close(c->mq[ch]);
		c->mq[ch] = (mqd_t)-1;
		if (c->mqname[ch][0])
			mq_unlink(c->mqname[ch]);
		c->mqname[ch][0] = '\0';
	}
}

/* --- System V message queues ---------------------------------------------- */

static int sysv_create(struct cell *c)
{
	struct msqid_ds ds;
	int ch;

	for (ch = 0; ch < nchannels(c); ch++) {
		c->msqid[ch] = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
		if (c->msqid[ch] < 0)
			return -errno;
		if (msgctl(c->msqid[ch], IPC_STAT, &ds))
			return -errno;
		ds.msg_qbytes = c->capacity * c->size;
		if (msgctl(c->msqid[ch], IPC_SET, &ds))
			return -errno;
	}
	return 0;
}

/* The buffer has BENCH_HEADROOM bytes before it: mtype goes there. */
static int sysv_send(struct worker *w, int ch, void *buf, size_t len)
{
	long *mtype = (long *)buf - 1;

	*mtype = 1;
	while (msgsnd(w->cell->msqid[ch], mtype, len, 0)) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

static int sysv_recv(struct worker *w, int ch, void *buf, size_t len)
{
	ssize_t n;

	do {
		n = msgrcv(w->cell->msqid[ch], (long *)buf - 1, len, 0, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EPROTO;
}

static void sysv_destroy(struct cell *c)
{
	int ch;

	for (ch = 0; ch < 2; ch++) {
		if (c->msqid[ch] >= 0)
			msgctl(c->msqid[ch], IPC_RMID, NULL);
		c->msqid[ch] = -1;
	}
}

/*
 * The System V client-server pattern, the baseline of the call server: one
 * queue of requests, typed by client, and one of replies, received by type.
 */
static int sysv_call_create(struct cell *c)
{
	struct msqid_ds ds;
	int ch;

	for (ch = 0; ch < 2; ch++) {
		c->msqid[ch] = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
		if (c->msqid[ch] < 0)
			return -errno;
		if (msgctl(c->msqid[ch], IPC_STAT, &ds))
			return -errno;
		ds.msg_qbytes = c->capacity * c->size;
		if (msgctl(c->msqid[ch], IPC_SET, &ds))
			return -errno;
	}
	return 0;
}

static int sysv_call_call(struct worker *w, void *buf, size_t len)
{
	long *mtype = (long *)buf - 1;
	ssize_t n;

	*mtype = w->side_idx + 1;
	while (msgsnd(w->cell->msqid[0], mtype, len, 0)) {
		if (errno != EINTR)
			return -errno;
	}
	do {
		n = msgrcv(w->cell->msqid[1], mtype, len, w->side_idx + 1, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EPROTO;
}

/* Each request is answered by a reply of its client's type. */
static int sysv_call_serve(struct worker *w)
{
	size_t len = w->cell->size;
	long *mtype = (long *)w->buf - 1;
	ssize_t n;

	for (;;) {
		n = msgrcv(w->cell->msqid[0], mtype, len, 0, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if ((size_t)n != len)
			return -EPROTO;
		while (msgsnd(w->cell->msqid[1], mtype, len, 0)) {
			if (errno != EINTR)
				return -errno;
		}
	}
}

/* --- mbox mailboxes -------------------------------------------------------- */

static void mbox_attr_for(const struct cell *c, struct mbox_attr *attr)
{
	mbox_attr_init(attr);
	attr->capacity = c->capacity;
	attr->max_msg_size = c->size;
	attr->max_bytes = c->capacity ? (uint64_t)c->capacity * c->size : 0;
}

static int mbox_create(struct cell *c)
{
	struct mbox_attr attr;
	int ch, ret;

	/* System-owned and shared: every worker opens it on its endpoint. */
	mbox_attr_for(c, &attr);
	attr.flags = MBOX_CREATE_SYSTEM;
	attr.policy = MBOX_POLICY_SHARED;
	attr.mode = 0600;
	for (ch = 0; ch < nchannels(c); ch++) {
		ret = mbox_mailbox_create(bench_ep, NULL, &attr, &c->mbox_id[ch]);
		if (ret)
			return ret;
	}
	return 0;
}

static void mbox_destroy(struct cell *c)
{
	int ch;

	for (ch = 0; ch < 2; ch++) {
		if (c->mbox_id[ch]) {
			mbox_mailbox_destroy(bench_ep, c->mbox_id[ch]);
			mbox_mailbox_close(bench_ep, c->mbox_id[ch]);
		}
		c->mbox_id[ch] = 0;
	}
}

/* Side A sends on channel 0 and receives on 1; side B the other way. */
static int mbox_attach(struct worker *w)
{
	struct cell *c = w->cell;
	int ch, ret, sends;

	ret = mbox_endpoint_open(&w->ep);
	if (ret)
		return ret;
	for (ch = 0; ch < nchannels(c); ch++) {
		sends = (ch == 0) == (w->role == ROLE_A);
		ret = mbox_mailbox_open_id(w->ep, c->mbox_id[ch],
					   sends ? MBOX_OPEN_SEND : MBOX_OPEN_RECV);
		if (ret)
			return ret;
	}
	return 0;
}

static int mbox_send(struct worker *w, int ch, void *buf, size_t len)
{
	struct mbox_msg msg = { .buf = buf, .len = len };

	return mbox_mailbox_send(w->ep, w->cell->mbox_id[ch], &msg, 0,
				 MBOX_FOREVER);
}

static int mbox_recv(struct worker *w, int ch, void *buf, size_t len)
{
	struct mbox_msg msg = { .buf = buf, .len = len };
	int ret;

	ret = mbox_mailbox_receive(w->ep, w->cell->mbox_id[ch], &msg, 0,
				   MBOX_FOREVER);
	if (ret)
		return ret;
	return msg.len == len ? 0 : -EPROTO;
}

#if BENCH_HAVE_BATCH
static int mbox_batch_attach(struct worker *w)
{
	size_t size = w->cell->size;
	int i, ret;

	ret = mbox_attach(w);
	if (ret)
		return ret;
	w->msgs = calloc(BENCH_BATCH, sizeof(*w->msgs));
	w->bufs = malloc(BENCH_BATCH * size);
	if (!w->msgs || !w->bufs)
		return -ENOMEM;
	memset(w->bufs, 'b', BENCH_BATCH * size);
	for (i = 0; i < BENCH_BATCH; i++)
		w->msgs[i] = (struct mbox_msg){ .buf = w->buf, .len = size };
	return 0;
}

/* Every message of a batch send is the same buffer. */
static int mbox_send_many(struct worker *w, int ch, int n)
{
	size_t size = w->cell->size;
	int i;

	for (i = 0; i < n; i++) {
		w->msgs[i].buf = w->buf;
		w->msgs[i].len = size;
	}
	return mbox_mailbox_send_batch(w->ep, w->cell->mbox_id[ch], w->msgs, n,
				       0, MBOX_FOREVER);
}

static int mbox_recv_many(struct worker *w, int ch, int n)
{
	size_t size = w->cell->size;
	int i, ret;

	for (i = 0; i < n; i++) {
		w->msgs[i].buf = w->bufs + i * size;
		w->msgs[i].len = size;
	}
	ret = mbox_mailbox_receive_batch(w->ep, w->cell->mbox_id[ch], w->msgs,
					 n, 0, MBOX_FOREVER);
	for (i = 0; i < ret; i++) {
		if (w->msgs[i].len != size)
			return -EPROTO;
	}
	return ret;
}
#endif

/* --- mbox calls ------------------------------------------------------------- */

static int mbox_call_create(struct cell *c)
{
	struct mbox_attr attr;

	mbox_attr_for(c, &attr);
	attr.flags = MBOX_CREATE_SYSTEM;
	attr.policy = MBOX_POLICY_SHARED;
	attr.mode = 0600;
	return mbox_mailbox_create(bench_ep, NULL, &attr, &c->mbox_id[0]);
}

static int mbox_call_attach(struct worker *w)
{
	int ret;

	ret = mbox_endpoint_open(&w->ep);
	if (ret)
		return ret;
	/* The replies are received into bufs, sent from buf. */
	w->bufs = malloc(w->cell->size);
	if (!w->bufs)
		return -ENOMEM;
	memset(w->bufs, 'r', w->cell->size);
	return mbox_mailbox_open_id(w->ep, w->cell->mbox_id[0],
				    w->role == ROLE_A ? MBOX_OPEN_SEND :
				    MBOX_OPEN_RECV);
}

static int mbox_call_call(struct worker *w, void *buf, size_t len)
{
	struct mbox_msg req = { .buf = buf, .len = len };
	struct mbox_msg rep = { .buf = w->bufs, .len = len };
	int ret;

	ret = mbox_mailbox_call(w->ep, w->cell->mbox_id[0], &req, &rep, 0,
				MBOX_FOREVER);
	if (ret)
		return ret;
	return rep.len == len ? 0 : -EPROTO;
}

/* The server: a receive, then one reply-and-receive per call. */
static int mbox_call_serve(struct worker *w)
{
	size_t len = w->cell->size;
	uint32_t id = w->cell->mbox_id[0];
	struct mbox_msg msg = { .buf = w->bufs, .len = len };
	int ret;

	ret = mbox_mailbox_receive(w->ep, id, &msg, 0, MBOX_FOREVER);
	for (;;) {
		if (ret)
			return ret;
		if (msg.len != len || !(msg.flags & MBOX_MSG_CALL))
			return -EPROTO;
		msg.len = len;
		ret = mbox_mailbox_reply_receive(w->ep, msg.token, w->buf, len,
						 id, &msg, 0, MBOX_FOREVER);
	}
}

/* --- mbox direct links -------------------------------------------------------- */

static int direct_attach(struct worker *w)
{
	struct mbox_attr attr;
	int ret;

	ret = mbox_endpoint_open(&w->ep);
	if (ret)
		return ret;
	mbox_attr_for(w->cell, &attr);
	return mbox_process_enable(w->ep, &attr, 0);
}

/* The one worker of the other side (RT and streams: slots 0 and 1). */
static pid_t direct_peer(struct worker *w)
{
	if (!w->peer)
		w->peer = bench_worker_pid(w->role == ROLE_A ? w->cell->na : 0);
	return w->peer;
}

static int direct_send(struct worker *w, int ch, void *buf, size_t len)
{
	struct mbox_msg msg = { .buf = buf, .len = len };

	(void)ch;
	return mbox_process_send(w->ep, direct_peer(w), &msg, 0, MBOX_FOREVER);
}

/* receive(Q): from the peer only (symmetric naming). */
static int direct_recv(struct worker *w, int ch, void *buf, size_t len)
{
	struct mbox_msg msg = { .buf = buf, .len = len };
	int ret;

	(void)ch;
	ret = mbox_process_receive(w->ep, direct_peer(w), &msg, 0, MBOX_FOREVER);
	if (ret)
		return ret;
	return msg.len == len ? 0 : -EPROTO;
}

/* --- the table ------------------------------------------------------------------ */

static const struct xport x_mbox = {
	.name = "mbox",
	.desc = "mbox mailbox: send / receive (a mailbox per direction)",
	.caps = X_RT | X_STREAM | X_SHARED,
	.create = mbox_create,
	.attach = mbox_attach,
	.send = mbox_send,
	.recv = mbox_recv,
	.destroy = mbox_destroy,
};

static const struct xport x_mbox_brecv = {
	.name = "mbox-brecv",
	.desc = "mbox mailbox: send / batch receive (32)",
	.caps = X_STREAM | X_BATCH,
	.create = mbox_create,
#if BENCH_HAVE_BATCH
	.attach = mbox_batch_attach,
	.recv_many = mbox_recv_many,
#else
	.attach = mbox_attach,
#endif
	.send = mbox_send,
	.recv = mbox_recv,
	.destroy = mbox_destroy,
};

static const struct xport x_mbox_batch = {
	.name = "mbox-batch",
	.desc = "mbox mailbox: batch send (32) / batch receive (32)",
	.caps = X_STREAM | X_BATCH,
	.create = mbox_create,
#if BENCH_HAVE_BATCH
	.attach = mbox_batch_attach,
	.send_many = mbox_send_many,
	.recv_many = mbox_recv_many,
#else
	.attach = mbox_attach,
#endif
	.send = mbox_send,
	.recv = mbox_recv,
	.destroy = mbox_destroy,
};

static const struct xport x_mbox_direct = {
	.name = "mbox-direct",
	.desc = "mbox direct link by pid: process send / receive(peer)",
	.caps = X_RT,
	.create = NULL,
	.attach = direct_attach,
	.send = direct_send,
	.recv = direct_recv,
	.destroy = NULL,
};

static const struct xport x_mbox_call = {
	.name = "mbox-call",
	.desc = "mbox call / reply-and-receive server loop",
	.caps = X_RT | X_MULTI,
	.create = mbox_call_create,
	.attach = mbox_call_attach,
	.call = mbox_call_call,
	.serve = mbox_call_serve,
	.destroy = mbox_destroy,
};

static const struct xport x_pipe = {
	.name = "pipe",
	.desc = "a pipe per direction (writes <= PIPE_BUF are atomic)",
	.caps = X_RT | X_STREAM | X_SHARED,
	.create = pipe_create,
	.attach = fd_attach,
	.send = fd_send,
	.recv = fd_recv,
	.destroy = fd_destroy,
};

static const struct xport x_ustream = {
	.name = "unix-stream",
	.desc = "UNIX stream socketpair",
	.caps = X_RT | X_STREAM,
	.create = ustream_create,
	.attach = fd_attach,
	.send = fd_send,
	.recv = fd_recv,
	.destroy = fd_destroy,
};

static const struct xport x_useq = {
	.name = "unix-seqpacket",
	.desc = "UNIX seqpacket socketpair",
	.caps = X_RT | X_STREAM | X_SHARED,
	.create = useq_create,
	.attach = fd_attach,
	.send = useq_send,
	.recv = useq_recv,
	.destroy = fd_destroy,
};

static const struct xport x_pmq = {
	.name = "posix-mq",
	.desc = "POSIX message queue per direction",
	.caps = X_RT | X_STREAM | X_SHARED,
	.create = pmq_create,
	.attach = fd_attach,
	.send = pmq_send,
	.recv = pmq_recv,
	.destroy = pmq_destroy,
};

static const struct xport x_sysv = {
	.name = "sysv-msg",
	.desc = "System V message queue per direction",
	.caps = X_RT | X_STREAM | X_SHARED,
	.create = sysv_create,
	.attach = fd_attach,
	.send = sysv_send,
	.recv = sysv_recv,
	.destroy = sysv_destroy,
};

static const struct xport x_sysv_call = {
	.name = "sysv-call",
	.desc = "System V: requests typed by client on one queue, replies by type on another",
	.caps = X_MULTI,
	.create = sysv_call_create,
	.attach = fd_attach,
	.call = sysv_call_call,
	.serve = sysv_call_serve,
	.destroy = sysv_destroy,
};

static const struct xport x_efd = {
	.name = "eventfd",
	.desc = "an eventfd per direction (8-byte counter): the floor",
	.caps = X_RT | X_FIXED8,
	.create = efd_create,
	.attach = fd_attach,
	.send = efd_send,
	.recv = efd_recv,
	.destroy = fd_destroy,
};

const struct xport *const bench_xports[] = {
	&x_mbox, &x_mbox_brecv, &x_mbox_batch, &x_mbox_direct, &x_mbox_call,
	&x_pipe, &x_ustream, &x_useq, &x_pmq, &x_sysv, &x_sysv_call, &x_efd, NULL,
};

/* --- the capacity check ------------------------------------------------------ */

/*
 * How many messages of size a fresh stream queue of this transport takes
 * before a non-blocking send would block: made in the controller, filled,
 * and destroyed.
 */
int bench_fd_capacity(const struct xport *x, size_t size, unsigned int capacity,
		      unsigned int *fit)
{
	static char space[BENCH_HEADROOM + BENCH_MAX_SIZE] __attribute__((aligned(16)));
	char *buf = space + BENCH_HEADROOM;
	unsigned int limit = 4 * capacity + 4, n = 0;
	struct cell c = {
		.wl = WL_STREAM, .x = x, .size = size, .capacity = capacity,
		.fds = { -1, -1, -1, -1 }, .mq = { (mqd_t)-1, (mqd_t)-1 },
		.msqid = { -1, -1 },
	};
	struct mq_attr ma;
	int ret;

	ret = x->create(&c);
	while (!ret && n < limit) {
		if (x == &x_pipe || x == &x_ustream || x == &x_useq) {
			ssize_t w;

			if (x == &x_pipe)
				w = fcntl(c.wfd[0], F_SETFL, O_NONBLOCK) ? -1 :
					write(c.wfd[0], buf, size);
			else
				w = send(c.wfd[0], buf, size, MSG_DONTWAIT);
			if (w < 0)
				ret = -errno;
			else if ((size_t)w < size)
				break;
		} else if (x == &x_pmq) {
			ma = (struct mq_attr){ .mq_flags = O_NONBLOCK };
			if (mq_setattr(c.mq[0], &ma, NULL) ||
			    mq_send(c.mq[0], buf, size, 0))
				ret = -errno;
		} else if (x == &x_sysv) {
			*((long *)buf - 1) = 1;
			if (msgsnd(c.msqid[0], (long *)buf - 1, size, IPC_NOWAIT))
				ret = -errno;
		} else if (x->create == mbox_create) {
			struct mbox_msg m = { .buf = buf, .len = size };

			ret = mbox_mailbox_send(bench_ep, c.mbox_id[0], &m, 0,
						MBOX_NOWAIT);
		} else {
			ret = -EOPNOTSUPP;
		}
		if (!ret)
			n++;
	}
	if (x->destroy)
		x->destroy(&c);
	if (ret == -EAGAIN)
		ret = 0;
	if (ret)
		return ret;
	*fit = n;
	return 0;
}
