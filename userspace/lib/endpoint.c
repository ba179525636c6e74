// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libmbox: endpoints, and the helpers every call goes through.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/*
 * One ioctl: what it returned (0; a batch, the count of its entries done)
 * or -errno, with errno as the caller left it.
 */
int libmbox_ioctl(const struct mbox_endpoint *ep, unsigned long cmd, void *arg)
{
	int saved = errno;
	int ret;

	if (!ep)
		return -EINVAL;
	ret = ioctl(ep->fd, cmd, arg);
	if (ret < 0)
		ret = -errno;
	errno = saved;
	return ret;
}

/*
 * Turn a timeout into the kernel's blocking flags, once per call: a
 * relative timeout becomes an absolute deadline here, so that a restarted
 * ioctl does not wait longer than asked.
 */
int libmbox_wait_init(struct mbox_wait *w, uint32_t flags, int64_t timeout_ns)
{
	struct timespec now;
	uint64_t deadline;

	w->flags = 0;
	w->deadline_ns = 0;
	/* The timeout says how to wait; the kernel's bits would say it twice. */
	if (flags & (MBOX_NONBLOCK | MBOX_DEADLINE))
		return -EINVAL;
	if (timeout_ns < 0)
		return 0;
	if (flags & MBOX_ABSTIME) {
		w->flags = MBOX_DEADLINE;
		w->deadline_ns = timeout_ns;
		return 0;
	}
	if (timeout_ns == 0) {
		w->flags = MBOX_NONBLOCK;
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	deadline = (uint64_t)now.tv_sec * 1000000000ULL + now.tv_nsec;
	/* Past the end of time is forever. */
	if (__builtin_add_overflow(deadline, (uint64_t)timeout_ns, &deadline))
		return 0;
	w->flags = MBOX_DEADLINE;
	w->deadline_ns = deadline;
	return 0;
}

/* A message length for the ABI's 32-bit fields. */
int libmbox_len32(size_t len, uint32_t *out)
{
	if (len > UINT32_MAX)
		return -EMSGSIZE;
	*out = len;
	return 0;
}

int mbox_endpoint_open(struct mbox_endpoint **epp)
{
	const char *path = getenv("MBOX_DEVICE");
	struct mbox_endpoint *ep;
	int saved = errno;
	int ret;

	if (!epp)
		return -EINVAL;
	ep = malloc(sizeof(*ep));
	if (!ep) {
		errno = saved;
		return -ENOMEM;
	}
	ep->fd = open(path ? path : "/dev/" MBOX_DEVICE_NAME, O_RDWR | O_CLOEXEC);
	if (ep->fd < 0) {
		ret = -errno;
		free(ep);
		errno = saved;
		return ret;
	}
	*epp = ep;
	return 0;
}

int mbox_endpoint_close(struct mbox_endpoint *ep)
{
	int saved = errno;
	int ret = 0;

	if (!ep)
		return 0;
	/* The fd is gone whatever close() says (see close(2)). */
	if (close(ep->fd))
		ret = -errno;
	free(ep);
	errno = saved;
	return ret;
}

int mbox_endpoint_fd(const struct mbox_endpoint *ep)
{
	return ep ? ep->fd : -EINVAL;
}

int mbox_endpoint_query(struct mbox_endpoint *ep, uint32_t *abi_major,
			uint32_t *abi_minor, uint64_t *features)
{
	struct mbox_version v = { .size = sizeof(v) };
	int ret;

	ret = libmbox_ioctl(ep, MBOX_IOC_VERSION, &v);
	if (ret)
		return ret;
	if (abi_major)
		*abi_major = v.abi_major;
	if (abi_minor)
		*abi_minor = v.abi_minor;
	if (features)
		*features = v.features;
	return 0;
}
