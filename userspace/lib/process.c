// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libmbox: processes (direct communication), named by pid or, with
 * MBOX_PIDFD, by pidfd.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "internal.h"

static int mbox_direct(struct mbox_endpoint *ep, struct mbox_direct *d,
		       struct mbox_process_info *info)
{
	int ret;

	ret = libmbox_ioctl(ep, MBOX_IOC_DIRECT, d);
	if (!ret && info) {
		memset(info, 0, sizeof(*info));
		info->pid = d->pid;
		info->flags = d->flags & MBOX_DIRECT_ANYONE;
		info->links = d->links;
		info->capacity = d->capacity;
		info->max_msg_size = d->max_msg_size;
		info->max_bytes = d->max_bytes;
	}
	return ret;
}

int mbox_process_enable(struct mbox_endpoint *ep, const struct mbox_attr *attr,
			uint32_t flags)
{
	struct mbox_direct d = { .size = sizeof(d), .flags = flags };
	struct mbox_attr a;
	int ret;

	/* Only the enabling flag: DISABLE and QUERY have functions of their own. */
	if (flags & ~MBOX_DIRECT_ANYONE)
		return -EINVAL;
	ret = libmbox_attr(attr, &a);
	if (ret)
		return ret;
	d.capacity = a.capacity;
	d.max_msg_size = a.max_msg_size;
	d.max_bytes = a.max_bytes;
	return mbox_direct(ep, &d, NULL);
}

int mbox_process_disable(struct mbox_endpoint *ep)
{
	struct mbox_direct d = {
		.size = sizeof(d),
		.flags = MBOX_DIRECT_DISABLE,
	};

	return mbox_direct(ep, &d, NULL);
}

int mbox_process_query(struct mbox_endpoint *ep,
		       struct mbox_process_info *info)
{
	struct mbox_direct d = {
		.size = sizeof(d),
		.flags = MBOX_DIRECT_QUERY,
	};

	if (!info)
		return -EINVAL;
	return mbox_direct(ep, &d, info);
}

/* The address of a process: by pid, or by pidfd with MBOX_PIDFD. */
static int mbox_process_addr(pid_t pid, uint32_t flags, bool any_ok,
			     uint32_t *addr)
{
	/* Any fd is a pidfd, 0 included; pid 0 is "any" where that exists. */
	if (flags & MBOX_PIDFD) {
		*addr = MBOX_ADDR_PIDFD;
		return pid < 0 ? -EINVAL : 0;
	}
	*addr = MBOX_ADDR_PID;
	return pid < 0 || (!pid && !any_ok) ? -EINVAL : 0;
}

int mbox_process_send(struct mbox_endpoint *ep, pid_t pid,
		      struct mbox_msg *msg, uint32_t flags, int64_t timeout_ns)
{
	uint32_t addr;
	int ret;

	ret = mbox_process_addr(pid, flags, false, &addr);
	if (ret)
		return ret;
	return libmbox_send(ep, addr, pid, msg, flags, timeout_ns);
}

int mbox_process_receive(struct mbox_endpoint *ep, pid_t pid,
			 struct mbox_msg *msg, uint32_t flags,
			 int64_t timeout_ns)
{
	uint32_t addr;
	int ret;

	ret = mbox_process_addr(pid, flags, true, &addr);
	if (ret)
		return ret;
	return libmbox_receive(ep, addr, pid, msg, flags, timeout_ns);
}

int mbox_process_send_batch(struct mbox_endpoint *ep, pid_t pid,
			    struct mbox_msg *msgs, unsigned int count,
			    uint32_t flags, int64_t timeout_ns)
{
	uint32_t addr;
	int ret;

	ret = mbox_process_addr(pid, flags, false, &addr);
	if (ret)
		return ret;
	return libmbox_send_batch(ep, addr, pid, msgs, count, flags,
				  timeout_ns);
}

int mbox_process_receive_batch(struct mbox_endpoint *ep, pid_t pid,
			       struct mbox_msg *msgs, unsigned int count,
			       uint32_t flags, int64_t timeout_ns)
{
	uint32_t addr;
	int ret;

	ret = mbox_process_addr(pid, flags, true, &addr);
	if (ret)
		return ret;
	return libmbox_receive_batch(ep, addr, pid, msgs, count, flags,
				     timeout_ns);
}

int mbox_process_call(struct mbox_endpoint *ep, pid_t pid,
		      const struct mbox_msg *req, struct mbox_msg *rep,
		      uint32_t flags, int64_t timeout_ns)
{
	uint32_t addr;
	int ret;

	ret = mbox_process_addr(pid, flags, false, &addr);
	if (ret)
		return ret;
	return libmbox_call(ep, addr, pid, req, rep, flags, timeout_ns);
}

int mbox_process_reply_receive(struct mbox_endpoint *ep, uint64_t token,
			       const void *buf, size_t len, pid_t pid,
			       struct mbox_msg *msg, uint32_t flags,
			       int64_t timeout_ns)
{
	uint32_t addr;
	int ret;

	if (!msg)
		return -EINVAL;
	ret = mbox_process_addr(pid, flags, true, &addr);
	if (ret)
		return ret;
	return libmbox_reply(ep, token, buf, len, addr, pid, msg, flags,
			     timeout_ns);
}
