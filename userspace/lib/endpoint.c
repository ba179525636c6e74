// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libmbox: endpoints.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/mbox.h>

#include "mbox.h"

struct mbox_endpoint {
	int fd;
};

int mbox_endpoint_open(struct mbox_endpoint **epp)
{
	const char *path = getenv("MBOX_DEVICE");
	struct mbox_endpoint *ep;

	ep = malloc(sizeof(*ep));
	if (!ep)
		return -ENOMEM;
	ep->fd = open(path ? path : "/dev/" MBOX_DEVICE_NAME, O_RDWR | O_CLOEXEC);
	if (ep->fd < 0) {
		int err = -errno;

		free(ep);
		return err;
	}
	*epp = ep;
	return 0;
}

int mbox_endpoint_close(struct mbox_endpoint *ep)
{
	int ret = 0;

	if (!ep)
		return 0;
	if (close(ep->fd))
		ret = -errno;
	free(ep);
	return ret;
}

int mbox_endpoint_fd(const struct mbox_endpoint *ep)
{
	return ep->fd;
}

int mbox_endpoint_query(struct mbox_endpoint *ep, uint32_t *abi_major,
			uint32_t *abi_minor, uint64_t *features)
{
	struct mbox_version v = { .size = sizeof(v) };

	if (ioctl(ep->fd, MBOX_IOC_VERSION, &v))
		return -errno;
	if (abi_major)
		*abi_major = v.abi_major;
	if (abi_minor)
		*abi_minor = v.abi_minor;
	if (features)
		*features = v.features;
	return 0;
}
