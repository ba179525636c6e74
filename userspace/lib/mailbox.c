// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libmbox: mailboxes (indirect communication).
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

void mbox_attr_init(struct mbox_attr *attr)
{
	memset(attr, 0, sizeof(*attr));
	attr->capacity = 16;
	attr->mode = 0600;
	attr->policy = MBOX_POLICY_SHARED;
}

/* @attr, or the defaults if it is NULL, in *out; -EINVAL if reserved set. */
int libmbox_attr(const struct mbox_attr *attr, struct mbox_attr *out)
{
	unsigned int i;

	if (!attr) {
		mbox_attr_init(out);
		return 0;
	}
	for (i = 0; i < sizeof(attr->reserved) / sizeof(attr->reserved[0]); i++)
		if (attr->reserved[i])
			return -EINVAL;
	*out = *attr;
	return 0;
}

int mbox_mailbox_create(struct mbox_endpoint *ep, const char *name,
			const struct mbox_attr *attr, uint32_t *idp)
{
	struct mbox_create c = { .size = sizeof(c) };
	struct mbox_attr a;
	int ret;

	if (!idp)
		return -EINVAL;
	ret = libmbox_attr(attr, &a);
	if (ret)
		return ret;
	attr = &a;
	c.flags = attr->flags;
	c.name = libmbox_ptr(name);
	c.capacity = attr->capacity;
	c.max_msg_size = attr->max_msg_size;
	c.max_bytes = attr->max_bytes;
	c.msg_size = attr->msg_size;
	c.mode = attr->mode;
	c.policy = attr->policy;

	ret = libmbox_ioctl(ep, MBOX_IOC_CREATE, &c);
	if (!ret)
		*idp = c.id;
	return ret;
}

static int mbox_open(struct mbox_endpoint *ep, const char *name, uint32_t id,
		     uint32_t rights, uint32_t *idp)
{
	struct mbox_open o = {
		.size = sizeof(o),
		.flags = rights,
		.id = id,
		.name = libmbox_ptr(name),
	};
	int ret;

	ret = libmbox_ioctl(ep, MBOX_IOC_OPEN, &o);
	if (!ret && idp)
		*idp = o.id;
	return ret;
}

int mbox_mailbox_open(struct mbox_endpoint *ep, const char *name,
		      uint32_t rights, uint32_t *idp)
{
	if (!name)
		return -EINVAL;
	return mbox_open(ep, name, 0, rights, idp);
}

int mbox_mailbox_open_id(struct mbox_endpoint *ep, uint32_t id,
			 uint32_t rights)
{
	return mbox_open(ep, NULL, id, rights, NULL);
}

int mbox_mailbox_close(struct mbox_endpoint *ep, uint32_t id)
{
	struct mbox_id c = { .size = sizeof(c), .id = id };

	return libmbox_ioctl(ep, MBOX_IOC_CLOSE, &c);
}

int mbox_mailbox_destroy(struct mbox_endpoint *ep, uint32_t id)
{
	struct mbox_id d = { .size = sizeof(d), .id = id };

	return libmbox_ioctl(ep, MBOX_IOC_DESTROY, &d);
}

int mbox_mailbox_chown(struct mbox_endpoint *ep, uint32_t id, uid_t uid,
		       gid_t gid)
{
	struct mbox_set s = { .size = sizeof(s), .id = id };

	if (uid != (uid_t)-1) {
		s.flags |= MBOX_SET_UID;
		s.uid = uid;
	}
	if (gid != (gid_t)-1) {
		s.flags |= MBOX_SET_GID;
		s.gid = gid;
	}
	if (!s.flags)
		return -EINVAL;
	return libmbox_ioctl(ep, MBOX_IOC_SET, &s);
}

int mbox_mailbox_chmod(struct mbox_endpoint *ep, uint32_t id, mode_t mode)
{
	struct mbox_set s = {
		.size = sizeof(s),
		.flags = MBOX_SET_MODE,
		.id = id,
		.mode = mode,
	};

	return libmbox_ioctl(ep, MBOX_IOC_SET, &s);
}

static int mbox_stat(struct mbox_endpoint *ep, uint32_t id, uint32_t flags,
		     struct mbox_info *info)
{
	struct mbox_stat st = {
		.size = sizeof(st),
		.flags = flags,
		.id = id,
	};
	char name[MBOX_NAME_MAX + 1];
	int ret;

	if (!info)
		return -EINVAL;
	/* A failed call leaves *info as it was. */
	st.name = libmbox_ptr(name);
	st.name_len = sizeof(name);
	ret = libmbox_ioctl(ep, MBOX_IOC_STAT, &st);
	if (ret)
		return ret;
	memset(info, 0, sizeof(*info));
	memcpy(info->name, name, sizeof(name));
	info->id = st.id;
	info->flags = st.attrs;
	info->policy = st.policy;
	info->mode = st.mode;
	info->uid = st.uid;
	info->gid = st.gid;
	info->cuid = st.cuid;
	info->cgid = st.cgid;
	info->capacity = st.capacity;
	info->max_msg_size = st.max_msg_size;
	info->msg_size = st.msg_size;
	info->max_bytes = st.max_bytes;
	info->nr_msgs = st.nr_msgs;
	info->nr_bytes = st.nr_bytes;
	info->nr_open = st.nr_open;
	info->nr_senders = st.nr_senders;
	info->nr_receivers = st.nr_receivers;
	info->total_sent = st.total_sent;
	info->total_received = st.total_received;
	return 0;
}

int mbox_mailbox_stat(struct mbox_endpoint *ep, uint32_t id,
		      struct mbox_info *info)
{
	return mbox_stat(ep, id, 0, info);
}

int mbox_mailbox_next(struct mbox_endpoint *ep, uint32_t id,
		      struct mbox_info *info)
{
	return mbox_stat(ep, id, MBOX_STAT_NEXT, info);
}

int mbox_mailbox_send(struct mbox_endpoint *ep, uint32_t id,
		      struct mbox_msg *msg, uint32_t flags, int64_t timeout_ns)
{
	if (flags & MBOX_PIDFD)
		return -EINVAL;
	return libmbox_send(ep, MBOX_ADDR_MAILBOX, id, msg, flags, timeout_ns);
}

int mbox_mailbox_receive(struct mbox_endpoint *ep, uint32_t id,
			 struct mbox_msg *msg, uint32_t flags,
			 int64_t timeout_ns)
{
	if (flags & MBOX_PIDFD)
		return -EINVAL;
	return libmbox_receive(ep, MBOX_ADDR_MAILBOX, id, msg, flags,
			       timeout_ns);
}

int mbox_mailbox_send_batch(struct mbox_endpoint *ep, uint32_t id,
			    struct mbox_msg *msgs, unsigned int count,
			    uint32_t flags, int64_t timeout_ns)
{
	if (flags & MBOX_PIDFD)
		return -EINVAL;
	return libmbox_send_batch(ep, MBOX_ADDR_MAILBOX, id, msgs, count, flags,
				  timeout_ns);
}

int mbox_mailbox_receive_batch(struct mbox_endpoint *ep, uint32_t id,
			       struct mbox_msg *msgs, unsigned int count,
			       uint32_t flags, int64_t timeout_ns)
{
	if (flags & MBOX_PIDFD)
		return -EINVAL;
	return libmbox_receive_batch(ep, MBOX_ADDR_MAILBOX, id, msgs, count,
				     flags, timeout_ns);
}

int mbox_mailbox_call(struct mbox_endpoint *ep, uint32_t id,
		      const struct mbox_msg *req, struct mbox_msg *rep,
		      uint32_t flags, int64_t timeout_ns)
{
	if (flags & MBOX_PIDFD)
		return -EINVAL;
	return libmbox_call(ep, MBOX_ADDR_MAILBOX, id, req, rep, flags,
			    timeout_ns);
}

int mbox_mailbox_reply_receive(struct mbox_endpoint *ep, uint64_t token,
			       const void *buf, size_t len, uint32_t id,
			       struct mbox_msg *msg, uint32_t flags,
			       int64_t timeout_ns)
{
	if (!msg || flags & MBOX_PIDFD)
		return -EINVAL;
	return libmbox_reply(ep, token, buf, len, MBOX_ADDR_MAILBOX, id, msg,
			     flags, timeout_ns);
}
