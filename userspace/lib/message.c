// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libmbox: send, receive, call and reply, whatever they name: a mailbox,
 * a process by pid, or a process by pidfd (enum mbox_addr).  mailbox.c
 * and process.c are the public faces of these.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

int libmbox_send(struct mbox_endpoint *ep, uint32_t addr, uint32_t to,
		 struct mbox_msg *msg, uint32_t flags, int64_t timeout_ns)
{
	struct mbox_send s = {
		.size = sizeof(s),
		.addr = addr,
		.to = to,
	};
	struct mbox_wait w;
	int ret;

	if (!msg || (!msg->buf && msg->len))
		return -EINVAL;
	ret = libmbox_wait_init(&w, flags, timeout_ns);
	if (!ret)
		ret = libmbox_len32(msg->len, &s.len);
	if (ret)
		return ret;
	s.flags = (flags & ~MBOX_LIB_FLAGS) | w.flags;
	s.deadline_ns = w.deadline_ns;
	s.buf = libmbox_ptr(msg->buf);
	s.priority = msg->priority;

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
			  int64_t timeout_ns)
{
	struct mbox_wait w;
	int ret;

	if (!msg || (!msg->buf && msg->len))
		return -EINVAL;
	ret = libmbox_wait_init(&w, flags, timeout_ns);
	if (ret)
		return ret;
	memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->flags = (flags & ~MBOX_LIB_FLAGS) | w.flags;
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
	r->deadline_ns = w.deadline_ns;
	return 0;
}

int libmbox_receive(struct mbox_endpoint *ep, uint32_t addr, uint32_t from,
		    struct mbox_msg *msg, uint32_t flags, int64_t timeout_ns)
{
	struct mbox_recv r;
	int ret;

	ret = mbox_recv_init(&r, addr, from, msg, flags, timeout_ns);
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
	int ret;

	if (!buf && len)
		return -EINVAL;
	ret = libmbox_len32(len, &rp.len);
	if (ret)
		return ret;
	if (msg) {
		ret = mbox_recv_init(&r, addr, from, msg, flags, timeout_ns);
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
