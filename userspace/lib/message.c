// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libmbox: send, receive, call and reply, whatever they name: a mailbox,
 * a process by pid, or a process by pidfd (enum mbox_addr).  mailbox.c
 * and process.c are the public faces of these.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "internal.h"

/* A struct mbox_send for @msg; 0 or -EINVAL, -EOVERFLOW. */
static int mbox_send_init(struct mbox_send *s, uint32_t addr, uint32_t to,
			  const struct mbox_msg *msg, uint32_t flags,
			  const struct mbox_wait *w)
{
	if (!msg || (!msg->buf && msg->len) || msg->priority > MBOX_PRIO_MAX)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	s->size = sizeof(*s);
	s->flags = (flags & ~MBOX_LIB_FLAGS) | w->flags;
	s->addr = addr;
	s->to = to;
	s->buf = libmbox_ptr(msg->buf);
	s->priority = msg->priority;
	s->deadline_ns = w->deadline_ns;
	return libmbox_len32(msg->len, &s->len);
}

int libmbox_send(struct mbox_endpoint *ep, uint32_t addr, uint32_t to,
		 struct mbox_msg *msg, uint32_t flags, int64_t timeout_ns)
{
	struct mbox_send s;
	struct mbox_wait w;
	int ret;

	ret = libmbox_wait_init(&w, flags, timeout_ns);
	if (!ret)
		ret = mbox_send_init(&s, addr, to, msg, flags, &w);
	if (ret)
		return ret;
	ret = libmbox_ioctl(ep, MBOX_IOC_SEND, &s);
	if (!ret && (flags & MBOX_SEND_SYNC))
		msg->pid = s.receiver_pid;
	return ret;
}

static void mbox_msg_fill(struct mbox_msg *msg, const struct mbox_recv *r)
{
	msg->len = r->len;
	msg->priority = r->priority;
	msg->flags = r->msg_flags;
	msg->pid = r->sender_pid;
	msg->uid = r->sender_uid;
	msg->gid = r->sender_gid;
	msg->token = r->token;
}

/* A struct mbox_recv for @msg; 0 or -EINVAL. */
static int mbox_recv_init(struct mbox_recv *r, uint32_t addr, uint32_t from,
			  const struct mbox_msg *msg, uint32_t flags,
			  const struct mbox_wait *w)
{
	if (!msg || (!msg->buf && msg->len))
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->flags = (flags & ~MBOX_LIB_FLAGS) | w->flags;
	r->addr = addr;
	r->from = from;
	r->buf = libmbox_ptr(msg->buf);
	/* A buffer beyond 4 GiB holds any message there is. */
	r->len = msg->len > UINT32_MAX ? UINT32_MAX : msg->len;
	if (flags & MBOX_RECV_FROM) {
		if (msg->pid <= 0)
			return -EINVAL;
		r->from_pid = msg->pid;
	}
	r->deadline_ns = w->deadline_ns;
	return 0;
}

int libmbox_receive(struct mbox_endpoint *ep, uint32_t addr, uint32_t from,
		    struct mbox_msg *msg, uint32_t flags, int64_t timeout_ns)
{
	struct mbox_recv r;
	struct mbox_wait w;
	int ret;

	ret = libmbox_wait_init(&w, flags, timeout_ns);
	if (!ret)
		ret = mbox_recv_init(&r, addr, from, msg, flags, &w);
	if (ret)
		return ret;
	ret = libmbox_ioctl(ep, MBOX_IOC_RECV, &r);
	if (!ret)
		mbox_msg_fill(msg, &r);
	else if (ret == -EMSGSIZE)
		msg->len = r.len;
	return ret;
}

int libmbox_call(struct mbox_endpoint *ep, uint32_t addr, uint32_t to,
		 const struct mbox_msg *req, struct mbox_msg *rep,
		 uint32_t flags, int64_t timeout_ns)
{
	struct mbox_call c = {
		.size = sizeof(c),
		.addr = addr,
		.to = to,
	};
	struct mbox_wait w;
	int ret;

	if (!req || !rep || (!req->buf && req->len) || (!rep->buf && rep->len))
		return -EINVAL;
	ret = libmbox_wait_init(&w, flags, timeout_ns);
	if (!ret)
		ret = libmbox_len32(req->len, &c.len);
	if (ret)
		return ret;
	c.flags = (flags & ~MBOX_LIB_FLAGS) | w.flags;
	c.deadline_ns = w.deadline_ns;
	c.buf = libmbox_ptr(req->buf);
	c.priority = req->priority;
	c.reply_buf = libmbox_ptr(rep->buf);
	c.reply_len = rep->len > UINT32_MAX ? UINT32_MAX : rep->len;

	ret = libmbox_ioctl(ep, MBOX_IOC_CALL, &c);
	if (!ret) {
		rep->len = c.reply_len;
		rep->pid = c.server_pid;
	}
	return ret;
}

/* Reply to @token, then, if @msg, receive from @addr/@from into it. */
int libmbox_reply(struct mbox_endpoint *ep, uint64_t token, const void *buf,
		  size_t len, uint32_t addr, uint32_t from,
		  struct mbox_msg *msg, uint32_t flags, int64_t timeout_ns)
{
	struct mbox_reply rp = {
		.size = sizeof(rp),
		.token = token,
		.buf = libmbox_ptr(buf),
	};
	struct mbox_recv r;
	struct mbox_wait w;
	int ret;

	if (!buf && len)
		return -EINVAL;
	ret = libmbox_len32(len, &rp.len);
	if (ret)
		return ret;
	if (msg) {
		ret = libmbox_wait_init(&w, flags, timeout_ns);
		if (!ret)
			ret = mbox_recv_init(&r, addr, from, msg, flags, &w);
		if (ret)
			return ret;
		rp.flags = MBOX_REPLY_RECV;
		rp.recv = libmbox_ptr(&r);
	}

	ret = libmbox_ioctl(ep, MBOX_IOC_REPLY, &rp);
	if (msg && !ret)
		mbox_msg_fill(msg, &r);
	/*
	 * -EMSGSIZE is either the reply (too long for the caller: nothing
	 * received, r untouched) or the receive (r.len grew to the length
	 * needed).
	 */
	else if (msg && ret == -EMSGSIZE && r.len > msg->len)
		msg->len = r.len;
	return ret;
}

int mbox_call_reply(struct mbox_endpoint *ep, uint64_t token,
		    const void *buf, size_t len)
{
	return libmbox_reply(ep, token, buf, len, 0, 0, NULL, 0, 0);
}

/*
 * Batches: up to LIBMBOX_BATCH entries per ioctl, on the stack; a longer
 * batch takes several ioctls, and stops at the first one that stops
 * short.  Every message is checked before the first ioctl, so a bad one
 * sends or receives nothing.  How many entries an ioctl did is its value:
 * the header's done and error are not written back if that fails (an
 * injected fault), and the entries it did must not be done again, nor
 * what it received dropped.
 */
#define LIBMBOX_BATCH	64

int libmbox_send_batch(struct mbox_endpoint *ep, uint32_t addr, uint32_t to,
		       struct mbox_msg *msgs, unsigned int count,
		       uint32_t flags, int64_t timeout_ns)
{
	struct mbox_send s[LIBMBOX_BATCH];
	struct mbox_batch b = {
		.size = sizeof(b),
		.entries = libmbox_ptr(s),
		.entry_size = sizeof(s[0]),
	};
	unsigned int done = 0, i, n;
	struct mbox_wait w;
	int ret;

	if (!msgs || !count || count > INT_MAX)
		return -EINVAL;
	ret = libmbox_wait_init(&w, flags, timeout_ns);
	for (i = 0; !ret && i < count; i++)
		ret = mbox_send_init(&s[0], addr, to, &msgs[i], flags, &w);
	while (!ret && done < count) {
		b.count = count - done < LIBMBOX_BATCH ? count - done : LIBMBOX_BATCH;
		for (i = 0; i < b.count; i++)
			mbox_send_init(&s[i], addr, to, &msgs[done + i], flags, &w);
		ret = libmbox_ioctl(ep, MBOX_IOC_SEND_BATCH, &b);
		if (ret < 0)
			break;
		n = ret;
		for (i = 0; i < n && (flags & MBOX_SEND_SYNC); i++)
			msgs[done + i].pid = s[i].receiver_pid;
		done += n;
		/* Stopped short: done, whatever the error was. */
		if (n < b.count)
			break;
		ret = 0;
	}
	return done ? (int)done : ret;
}

int libmbox_receive_batch(struct mbox_endpoint *ep, uint32_t addr,
			  uint32_t from, struct mbox_msg *msgs,
			  unsigned int count, uint32_t flags,
			  int64_t timeout_ns)
{
	struct mbox_recv r[LIBMBOX_BATCH];
	struct mbox_batch b = {
		.size = sizeof(b),
		.entries = libmbox_ptr(r),
		.entry_size = sizeof(r[0]),
	};
	const struct mbox_wait nowait = { .flags = MBOX_NONBLOCK };
	unsigned int done = 0, i, n;
	struct mbox_wait w;
	int ret;

	if (!msgs || !count || count > INT_MAX)
		return -EINVAL;
	ret = libmbox_wait_init(&w, flags, timeout_ns);
	for (i = 0; !ret && i < count; i++)
		ret = mbox_recv_init(&r[0], addr, from, &msgs[i], flags, &w);
	while (!ret && done < count) {
		b.count = count - done < LIBMBOX_BATCH ? count - done : LIBMBOX_BATCH;
		/* Only the first receive waits; the kernel knows that too. */
		for (i = 0; i < b.count; i++)
			mbox_recv_init(&r[i], addr, from, &msgs[done + i], flags,
				       done ? &nowait : &w);
		b.done = 0;	/* still 0 (not the count): not written back */
		b.error = 0;
		ret = libmbox_ioctl(ep, MBOX_IOC_RECV_BATCH, &b);
		if (ret < 0) {
			/* The first entry's length needed: as a receive says. */
			if (ret == -EMSGSIZE)
				msgs[done].len = r[0].len;
			break;
		}
		n = ret;
		for (i = 0; i < n; i++)
			mbox_msg_fill(&msgs[done + i], &r[i]);
		if (n < b.count && b.done == n && b.error == EMSGSIZE)
			msgs[done + n].len = r[n].len;
		done += n;
		if (n < b.count)
			break;
		ret = 0;
	}
	return done ? (int)done : ret;
}
