// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests of /dev/mbox and MBOX_IOC_VERSION (spec section 1), through the
 * raw ABI.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/mbox.h>

#include "kselftest_harness.h"
#include "mbox.h"

FIXTURE(dev) {
	int fd;
};

FIXTURE_SETUP(dev)
{
	self->fd = open("/dev/mbox", O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "/dev/mbox is absent: the mbox module is not loaded");
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(dev)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(dev, version_reports_abi_and_features)
{
	struct mbox_version v;

	memset(&v, 0xa5, sizeof(v));
	v.size = sizeof(v);
	v.flags = 0;
	ASSERT_EQ(0, ioctl(self->fd, MBOX_IOC_VERSION, &v));
	EXPECT_EQ(sizeof(v), v.size);
	EXPECT_EQ(MBOX_ABI_MAJOR, v.abi_major);
	EXPECT_LE(MBOX_ABI_MINOR, v.abi_minor);
	EXPECT_TRUE(v.features & MBOX_FEATURE_VERSION);
}

TEST_F(dev, version_unknown_flags_einval)
{
	struct mbox_version v = { .size = sizeof(v), .flags = 1 };

	EXPECT_EQ(-1, ioctl(self->fd, MBOX_IOC_VERSION, &v));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, v.abi_major);
}

TEST_F(dev, version_short_struct_einval)
{
	struct mbox_version v = { .size = offsetof(struct mbox_version, features) };

	EXPECT_EQ(-1, ioctl(self->fd, MBOX_IOC_VERSION, &v));
	EXPECT_EQ(EINVAL, errno);
	v.size = 0;
	EXPECT_EQ(-1, ioctl(self->fd, MBOX_IOC_VERSION, &v));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(dev, version_longer_struct)
{
	struct {
		struct mbox_version v;
		uint64_t tail;
	} big;

	/* A newer caller's zero tail is accepted and left alone ... */
	memset(&big, 0, sizeof(big));
	big.v.size = sizeof(big);
	ASSERT_EQ(0, ioctl(self->fd, MBOX_IOC_VERSION, &big));
	EXPECT_EQ(MBOX_ABI_MAJOR, big.v.abi_major);
	EXPECT_EQ(0, big.tail);

	/* ... a non-zero one asks for what this module cannot do. */
	memset(&big, 0, sizeof(big));
	big.v.size = sizeof(big);
	big.tail = 1;
	EXPECT_EQ(-1, ioctl(self->fd, MBOX_IOC_VERSION, &big));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_EQ(0, big.v.abi_major);
}

TEST_F(dev, version_bad_pointer_efault)
{
	void *page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct mbox_version *ro;

	ASSERT_NE(MAP_FAILED, page);
	EXPECT_EQ(-1, ioctl(self->fd, MBOX_IOC_VERSION, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->fd, MBOX_IOC_VERSION, page));
	EXPECT_EQ(EFAULT, errno);

	/* Readable but not writable: the output cannot be stored. */
	ASSERT_EQ(0, mprotect(page, 4096, PROT_READ | PROT_WRITE));
	ro = page;
	ro->size = sizeof(*ro);
	ASSERT_EQ(0, mprotect(page, 4096, PROT_READ));
	EXPECT_EQ(-1, ioctl(self->fd, MBOX_IOC_VERSION, ro));
	EXPECT_EQ(EFAULT, errno);
	munmap(page, 4096);
}

TEST_F(dev, unknown_ioctl_enotty)
{
	struct mbox_version v = { .size = sizeof(v) };

	EXPECT_EQ(-1, ioctl(self->fd, _IO(MBOX_IOCTL_TYPE, 0x7f), &v));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->fd, _IO('x', MBOX_CMD_VERSION), &v));
	EXPECT_EQ(ENOTTY, errno);
	/* Direction and size bits are not part of mbox ioctl numbers. */
	EXPECT_EQ(-1, ioctl(self->fd, _IOWR(MBOX_IOCTL_TYPE, MBOX_CMD_VERSION,
					     struct mbox_version), &v));
	EXPECT_EQ(ENOTTY, errno);
}

TEST_F(dev, not_seekable)
{
	EXPECT_EQ(-1, lseek(self->fd, 0, SEEK_SET));
	EXPECT_EQ(ESPIPE, errno);
}

TEST(libmbox_query)
{
	struct mbox_endpoint *ep;
	uint32_t major = 0;
	uint64_t features = 0;
	int ret;

	ret = mbox_endpoint_open(&ep);
	if (ret == -ENOENT)
		SKIP(return, "/dev/mbox is absent: the mbox module is not loaded");
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, mbox_endpoint_query(ep, &major, NULL, &features));
	EXPECT_EQ(MBOX_ABI_MAJOR, major);
	EXPECT_TRUE(features & MBOX_FEATURE_VERSION);
	EXPECT_LE(0, mbox_endpoint_fd(ep));
	EXPECT_EQ(0, mbox_endpoint_close(ep));
}

TEST_HARNESS_MAIN
