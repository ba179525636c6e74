// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests of mailboxes (spec section 2, Documentation/abi.rst
 * "Mailboxes" and MBOX_IOC_CREATE to MBOX_IOC_RECV): lifecycle, ids and
 * names, ownership, permissions, sharing policies and every errno path of
 * the ioctl conventions, through the raw ABI.
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

#include "mbox_util.h"
#include "kselftest_harness.h"

/* The ABI promises structs of __u32 and __u64 only, with no holes. */
_Static_assert(sizeof(struct mbox_create) == 48, "mbox_create layout");
_Static_assert(sizeof(struct mbox_open) == 24, "mbox_open layout");
_Static_assert(sizeof(struct mbox_id) == 16, "mbox_id layout");
_Static_assert(sizeof(struct mbox_set) == 24, "mbox_set layout");
_Static_assert(sizeof(struct mbox_send) == 48, "mbox_send layout");
_Static_assert(sizeof(struct mbox_recv) == 72, "mbox_recv layout");
_Static_assert(offsetof(struct mbox_recv, token) == 64, "mbox_recv layout");

FIXTURE(mbox) {
	int fd;
	__u64 features;
	struct mbox_cleanup cl;
	bool restore_user_mailboxes;
	unsigned long long saved_user_mailboxes;
};

FIXTURE_SETUP(mbox)
{
	self->fd = mbox_dev_open();
	if (self->fd == -ENOENT)
		SKIP(return, "/dev/mbox is absent: the mbox module is not loaded");
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, mbox_features(self->fd, &self->features));
	if (!(self->features & MBOX_FEATURE_MAILBOX))
		SKIP(return, "the loaded module has no MBOX_FEATURE_MAILBOX");
}

FIXTURE_TEARDOWN(mbox)
{
	mbox_cleanup_run(&self->cl);
	if (self->restore_user_mailboxes)
		mbox_param_set("max_user_mailboxes",
			       self->saved_user_mailboxes);
	if (self->fd >= 0)
		close(self->fd);
}

/* What a child does, on an endpoint of its own. */
struct req {
	__u32 id;
	const char *name;
	__u32 rights;
	__u32 set_flags;
	__u32 uid;
	__u32 gid;
	__u32 mode;
};

/* OPEN by name, or by id if there is no name. */
static int child_open(void *arg)
{
	struct req *r = arg;
	int fd = mbox_dev_open(), ret;

	if (fd < 0)
		return fd;
	if (r->name)
		ret = mbox_open_name(fd, r->name, r->rights, NULL);
	else
		ret = mbox_open_id(fd, r->id, r->rights);
	close(fd);
	return ret;
}

static int child_destroy(void *arg)
{
	struct req *r = arg;
	int fd = mbox_dev_open(), ret;

	if (fd < 0)
		return fd;
	ret = mbox_destroy(fd, r->id);
	close(fd);
	return ret;
}

static int child_set(void *arg)
{
	struct req *r = arg;
	int fd = mbox_dev_open(), ret;

	if (fd < 0)
		return fd;
	ret = mbox_set(fd, r->id, r->set_flags, r->uid, r->gid, r->mode);
	close(fd);
	return ret;
}

/* OPEN to send and send "from-child" without blocking. */
static int child_open_send(void *arg)
{
	struct req *r = arg;
	int fd = mbox_dev_open(), ret;

	if (fd < 0)
		return fd;
	ret = mbox_open_id(fd, r->id, MBOX_OPEN_SEND);
	if (!ret)
		ret = mbox_send(fd, r->id, "from-child", 10, 0, MBOX_NONBLOCK);
	close(fd);
	return ret;
}

static int as_other(mbox_child_fn fn, struct req *r)
{
	return mbox_run_as(MBOX_OTHER_UID, MBOX_OTHER_UID, fn, r);
}

/* The module does not implement mailboxes: that is a failure, not a skip. */
TEST(mailbox_feature_reported)
{
	struct mbox_version v = { .size = sizeof(v) };
	int fd = mbox_dev_open();

	if (fd == -ENOENT)
		SKIP(return, "/dev/mbox is absent: the mbox module is not loaded");
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mbox_ioctl(fd, MBOX_IOC_VERSION, &v));
	EXPECT_EQ(MBOX_ABI_MAJOR, v.abi_major);
	EXPECT_LE(1, v.abi_minor);
	EXPECT_TRUE(v.features & MBOX_FEATURE_MAILBOX);
	close(fd);
}

TEST_F(mbox, create_each_capacity)
{
	static const __u32 caps[] = { 0, 1, 16, MBOX_UNBOUNDED };
	__u32 id, last = 0;
	unsigned int i;
	int ep2;

	ep2 = mbox_dev_open();
	ASSERT_LE(0, ep2);
	for (i = 0; i < MBOX_ARRAY_SIZE(caps); i++) {
		/* Process-owned ... */
		ASSERT_EQ(0, mbox_create(self->fd, NULL, 0, caps[i],
					 MBOX_POLICY_SHARED, 0600, &id));
		if (i)
			EXPECT_LT(last, id);
		last = id;
		EXPECT_EQ(0, mbox_open_id(ep2, id, MBOX_OPEN_SEND));

		/* ... and system-owned. */
		ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL,
						caps[i], MBOX_POLICY_SHARED,
						0600, &id));
		EXPECT_LT(last, id);
		last = id;
		EXPECT_EQ(0, mbox_open_id(ep2, id, MBOX_OPEN_SEND | MBOX_OPEN_RECV));
		EXPECT_EQ(0, mbox_destroy(self->fd, id));
	}
	close(ep2);
}

TEST_F(mbox, create_each_policy)
{
	static const __u32 policies[] = {
		MBOX_POLICY_SHARED, MBOX_POLICY_EXCLUSIVE, MBOX_POLICY_PAIR,
	};
	__u32 id;
	unsigned int i;

	for (i = 0; i < MBOX_ARRAY_SIZE(policies); i++) {
		ASSERT_EQ(0, mbox_create(self->fd, NULL, 0, 4, policies[i],
					 0600, &id));
		EXPECT_EQ(0, mbox_send(self->fd, id, "x", 1, 0, MBOX_NONBLOCK));
		EXPECT_TRUE(mbox_recv_is(self->fd, id, "x"));
		EXPECT_EQ(0, mbox_close_id(self->fd, id));

		ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
						policies[i], 0600, &id));
		EXPECT_EQ(0, mbox_destroy(self->fd, id));
	}
	EXPECT_EQ(-EINVAL, mbox_create(self->fd, NULL, 0, 4, 3, 0600, &id));
	EXPECT_EQ(-EINVAL, mbox_create(self->fd, NULL, MBOX_CREATE_SYSTEM, 4,
				       0xffffffff, 0600, &id));
}

TEST_F(mbox, create_named_and_anonymous)
{
	char sname[64], pname[64];
	__u32 sid, pid, aid, got;
	int ep2;

	mbox_test_name(sname, sizeof(sname), "sys");
	mbox_test_name(pname, sizeof(pname), "proc");
	ep2 = mbox_dev_open();
	ASSERT_LE(0, ep2);

	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, sname, 4,
					MBOX_POLICY_SHARED, 0600, &sid));
	ASSERT_EQ(0, mbox_create(self->fd, pname, 0, 4, MBOX_POLICY_SHARED,
				 0600, &pid));
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
					MBOX_POLICY_SHARED, 0600, &aid));
	EXPECT_NE(sid, pid);
	EXPECT_NE(pid, aid);

	got = 0;
	EXPECT_EQ(0, mbox_open_name(ep2, sname, MBOX_OPEN_SEND, &got));
	EXPECT_EQ(sid, got);
	got = 0;
	EXPECT_EQ(0, mbox_open_name(ep2, pname, MBOX_OPEN_SEND, &got));
	EXPECT_EQ(pid, got);
	EXPECT_EQ(0, mbox_open_id(ep2, aid, MBOX_OPEN_SEND));

	/* The three are distinct mailboxes. */
	EXPECT_EQ(0, mbox_send(ep2, sid, "s", 1, 0, MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_send(ep2, pid, "p", 1, 0, MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_send(ep2, aid, "a", 1, 0, MBOX_NONBLOCK));
	EXPECT_TRUE(mbox_recv_is(self->fd, aid, "a"));
	EXPECT_TRUE(mbox_recv_is(self->fd, pid, "p"));
	EXPECT_TRUE(mbox_recv_is(self->fd, sid, "s"));

	EXPECT_EQ(0, mbox_destroy(self->fd, sid));
	EXPECT_EQ(0, mbox_destroy(self->fd, aid));
	close(ep2);
}

TEST_F(mbox, ids_increase_and_are_never_reused)
{
	__u32 a, b, c, d;
	int ep2;

	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 1,
					MBOX_POLICY_SHARED, 0600, &a));
	ASSERT_EQ(0, mbox_destroy(self->fd, a));
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 1,
					MBOX_POLICY_SHARED, 0600, &b));
	EXPECT_LT(a, b);

	/* A process-owned one, gone with its endpoint. */
	ep2 = mbox_dev_open();
	ASSERT_LE(0, ep2);
	ASSERT_EQ(0, mbox_create(ep2, NULL, 0, 1, MBOX_POLICY_SHARED, 0600, &c));
	EXPECT_LT(b, c);
	close(ep2);
	ASSERT_EQ(0, mbox_create(self->fd, NULL, 0, 1, MBOX_POLICY_SHARED,
				 0600, &d));
	EXPECT_LT(c, d);

	EXPECT_EQ(-ENOENT, mbox_open_id(self->fd, a, MBOX_OPEN_SEND));
	EXPECT_EQ(-ENOENT, mbox_open_id(self->fd, c, MBOX_OPEN_SEND));
	EXPECT_EQ(-ENOENT, mbox_destroy(self->fd, a));
	EXPECT_EQ(0, mbox_destroy(self->fd, b));
}

TEST_F(mbox, open_by_id_and_by_name)
{
	struct mbox_open o;
	char name[64];
	__u32 id;
	int ep2, ep3;

	mbox_test_name(name, sizeof(name), "open");
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, name, 4,
					MBOX_POLICY_SHARED, 0600, &id));
	ep2 = mbox_dev_open();
	ep3 = mbox_dev_open();
	ASSERT_LE(0, ep2);
	ASSERT_LE(0, ep3);

	EXPECT_EQ(0, mbox_open_id(ep2, id, MBOX_OPEN_SEND));

	/* By name, @id is ignored on the way in and set on the way out. */
	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.flags = MBOX_OPEN_RECV;
	o.id = id + 12345;
	o.name = mbox_ptr(name);
	EXPECT_EQ(0, mbox_ioctl(ep3, MBOX_IOC_OPEN, &o));
	EXPECT_EQ(id, o.id);

	EXPECT_EQ(0, mbox_send(ep2, id, "by-id", 5, 0, MBOX_NONBLOCK));
	EXPECT_TRUE(mbox_recv_is(ep3, id, "by-id"));

	EXPECT_EQ(0, mbox_destroy(self->fd, id));
	close(ep2);
	close(ep3);
}

TEST_F(mbox, create_taken_name_eexist)
{
	char name[64];
	__u32 id, id2;
	int ep2;

	mbox_test_name(name, sizeof(name), "taken");
	ep2 = mbox_dev_open();
	ASSERT_LE(0, ep2);
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, name, 4,
					MBOX_POLICY_SHARED, 0600, &id));
	EXPECT_EQ(-EEXIST, mbox_create_system(self->fd, &self->cl, name, 4,
					      MBOX_POLICY_SHARED, 0600, &id2));
	EXPECT_EQ(-EEXIST, mbox_create(ep2, name, 0, 4, MBOX_POLICY_SHARED,
				       0600, &id2));

	/* Destroy frees the name. */
	ASSERT_EQ(0, mbox_destroy(self->fd, id));
	ASSERT_EQ(0, mbox_create(ep2, name, 0, 4, MBOX_POLICY_SHARED, 0600,
				 &id2));
	EXPECT_LT(id, id2);
	EXPECT_EQ(-EEXIST, mbox_create_system(self->fd, &self->cl, name, 4,
					      MBOX_POLICY_SHARED, 0600, &id));

	/* So does the end of a process-owned mailbox's endpoint. */
	close(ep2);
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, name, 4,
					MBOX_POLICY_SHARED, 0600, &id));
	EXPECT_EQ(0, mbox_destroy(self->fd, id));
}

TEST_F(mbox, open_missing_enoent)
{
	char name[64], other[64];
	__u32 id;

	mbox_test_name(name, sizeof(name), "gone");
	mbox_test_name(other, sizeof(other), "never-made");
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, name, 4,
					MBOX_POLICY_SHARED, 0600, &id));

	EXPECT_EQ(-ENOENT, mbox_open_name(self->fd, other, MBOX_OPEN_SEND, NULL));
	EXPECT_EQ(-ENOENT, mbox_open_id(self->fd, id + 1000000, MBOX_OPEN_SEND));

	ASSERT_EQ(0, mbox_destroy(self->fd, id));
	ASSERT_EQ(0, mbox_close_id(self->fd, id));
	EXPECT_EQ(-ENOENT, mbox_open_id(self->fd, id, MBOX_OPEN_SEND));
	EXPECT_EQ(-ENOENT, mbox_open_name(self->fd, name, MBOX_OPEN_SEND, NULL));
}

TEST_F(mbox, open_twice_on_one_endpoint_eexist)
{
	char name[64];
	__u32 id;
	int ep2;

	mbox_test_name(name, sizeof(name), "twice");
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, name, 4,
					MBOX_POLICY_SHARED, 0600, &id));
	/* CREATE opened it here already. */
	EXPECT_EQ(-EEXIST, mbox_open_id(self->fd, id, MBOX_OPEN_SEND));

	ep2 = mbox_dev_open();
	ASSERT_LE(0, ep2);
	EXPECT_EQ(0, mbox_open_id(ep2, id, MBOX_OPEN_SEND));
	EXPECT_EQ(-EEXIST, mbox_open_id(ep2, id, MBOX_OPEN_SEND));
	EXPECT_EQ(-EEXIST, mbox_open_id(ep2, id, MBOX_OPEN_RECV));
	EXPECT_EQ(-EEXIST, mbox_open_name(ep2, name, MBOX_OPEN_SEND, NULL));

	/* Close it first, then it opens again, with other rights. */
	EXPECT_EQ(0, mbox_close_id(ep2, id));
	EXPECT_EQ(0, mbox_open_id(ep2, id, MBOX_OPEN_RECV));
	EXPECT_EQ(0, mbox_send(self->fd, id, "again", 5, 0, MBOX_NONBLOCK));
	EXPECT_TRUE(mbox_recv_is(ep2, id, "again"));

	EXPECT_EQ(0, mbox_destroy(self->fd, id));
	close(ep2);
}

TEST_F(mbox, close_not_open_ebadf)
{
	__u32 id;
	int ep2;

	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
					MBOX_POLICY_SHARED, 0600, &id));
	ep2 = mbox_dev_open();
	ASSERT_LE(0, ep2);

	EXPECT_EQ(-EBADF, mbox_close_id(ep2, id));		/* exists */
	EXPECT_EQ(-EBADF, mbox_close_id(ep2, id + 1000000));	/* does not */

	/* CLOSE of a system-owned mailbox does not destroy it. */
	EXPECT_EQ(0, mbox_close_id(self->fd, id));
	EXPECT_EQ(-EBADF, mbox_close_id(self->fd, id));
	EXPECT_EQ(-EBADF, mbox_send(self->fd, id, "x", 1, 0, MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_open_id(ep2, id, MBOX_OPEN_SEND));
	EXPECT_EQ(0, mbox_close_id(ep2, id));

	EXPECT_EQ(0, mbox_destroy(self->fd, id));
	close(ep2);
}

TEST_F(mbox, operations_need_rights_ebadf)
{
	char buf[16];
	__u32 id, len;
	int ep_send, ep_recv, ep_none;

	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
					MBOX_POLICY_SHARED, 0600, &id));
	ep_send = mbox_dev_open();
	ep_recv = mbox_dev_open();
	ep_none = mbox_dev_open();
	ASSERT_LE(0, ep_send);
	ASSERT_LE(0, ep_recv);
	ASSERT_LE(0, ep_none);
	ASSERT_EQ(0, mbox_open_id(ep_send, id, MBOX_OPEN_SEND));
	ASSERT_EQ(0, mbox_open_id(ep_recv, id, MBOX_OPEN_RECV));

	EXPECT_EQ(0, mbox_send(ep_send, id, "one", 3, 0, MBOX_NONBLOCK));
	len = sizeof(buf);
	EXPECT_EQ(-EBADF, mbox_recv(ep_send, id, buf, &len, MBOX_NONBLOCK));
	EXPECT_EQ(-EBADF, mbox_send(ep_recv, id, "two", 3, 0, MBOX_NONBLOCK));
	EXPECT_EQ(-EBADF, mbox_send(ep_none, id, "two", 3, 0, MBOX_NONBLOCK));
	len = sizeof(buf);
	EXPECT_EQ(-EBADF, mbox_recv(ep_none, id, buf, &len, MBOX_NONBLOCK));

	/* Only "one" was queued. */
	EXPECT_TRUE(mbox_recv_is(ep_recv, id, "one"));
	EXPECT_TRUE(mbox_queue_empty(ep_recv, id));

	/* After CLOSE the rights are gone. */
	EXPECT_EQ(0, mbox_close_id(ep_send, id));
	EXPECT_EQ(-EBADF, mbox_send(ep_send, id, "x", 1, 0, MBOX_NONBLOCK));

	EXPECT_EQ(0, mbox_destroy(self->fd, id));
	close(ep_send);
	close(ep_recv);
	close(ep_none);
}

TEST_F(mbox, destroy_missing_enoent)
{
	__u32 id;
	int ep2;

	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
					MBOX_POLICY_SHARED, 0600, &id));
	EXPECT_EQ(-ENOENT, mbox_destroy(self->fd, id + 1000000));

	/* DESTROY needs no OPEN on the calling endpoint. */
	ep2 = mbox_dev_open();
	ASSERT_LE(0, ep2);
	EXPECT_EQ(0, mbox_destroy(ep2, id));
	EXPECT_EQ(-ENOENT, mbox_destroy(ep2, id));
	EXPECT_EQ(-ENOENT, mbox_destroy(self->fd, id));
	close(ep2);
}

TEST_F(mbox, destroy_by_other_user_eperm)
{
	struct req r = { 0 };
	__u32 id;
	int ep2;

	if (!mbox_is_root()) {
		/* Root's, which this user may send to and nothing more. */
		MBOX_ROOT_MAILBOX(self->fd, &id);
		EXPECT_EQ(-EPERM, mbox_destroy(self->fd, id));
		EXPECT_EQ(-EPERM, mbox_set(self->fd, id, MBOX_SET_MODE, 0, 0,
					   0666));
		EXPECT_EQ(-EPERM, mbox_set(self->fd, id, MBOX_SET_UID,
					   geteuid(), 0, 0));
		/* Still there, its mode unchanged. */
		ep2 = mbox_dev_open();
		ASSERT_LE(0, ep2);
		EXPECT_EQ(0, mbox_open_id(ep2, id, MBOX_OPEN_SEND));
		EXPECT_EQ(-EACCES, mbox_open_id(ep2, id, MBOX_OPEN_RECV));
		close(ep2);
		return;
	}
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
					MBOX_POLICY_SHARED, 0666, &id));
	r.id = id;
	EXPECT_EQ(EPERM, mbox_run_as_nobody(child_destroy, &r));
	EXPECT_EQ(EPERM, as_other(child_destroy, &r));

	/* Still there. */
	ep2 = mbox_dev_open();
	ASSERT_LE(0, ep2);
	EXPECT_EQ(0, mbox_open_id(ep2, id, MBOX_OPEN_SEND));
	EXPECT_EQ(0, mbox_destroy(self->fd, id));
	close(ep2);
}

TEST_F(mbox, set_passes_ownership)
{
	struct req r = { 0 };
	__u32 id;

	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
					MBOX_POLICY_SHARED, 0600, &id));
	r.id = id;

	if (!mbox_is_root()) {
		/* Given away, it stays its creator's: cuid is an owner. */
		ASSERT_EQ(0, mbox_set(self->fd, id,
				      MBOX_SET_UID | MBOX_SET_GID,
				      MBOX_NOBODY, MBOX_NOBODY, 0));
		r.rights = MBOX_OPEN_SEND | MBOX_OPEN_RECV;
		EXPECT_EQ(0, mbox_run(child_open, &r));
		r.set_flags = MBOX_SET_MODE;
		r.mode = 0622;
		EXPECT_EQ(0, mbox_run(child_set, &r));
		EXPECT_EQ(0, mbox_run(child_destroy, &r));
		EXPECT_EQ(-ENOENT, mbox_destroy(self->fd, id));
		return;
	}

	/* Before: nobody may neither destroy, change nor open it. */
	EXPECT_EQ(EPERM, mbox_run_as_nobody(child_destroy, &r));
	r.set_flags = MBOX_SET_MODE;
	r.mode = 0666;
	EXPECT_EQ(EPERM, mbox_run_as_nobody(child_set, &r));
	r.rights = MBOX_OPEN_SEND | MBOX_OPEN_RECV;
	EXPECT_EQ(EACCES, mbox_run_as_nobody(child_open, &r));

	/* Root passes it to nobody. */
	ASSERT_EQ(0, mbox_set(self->fd, id, MBOX_SET_UID | MBOX_SET_GID,
			      MBOX_NOBODY, MBOX_NOBODY, 0));

	/* The owner's bits now apply to nobody. */
	EXPECT_EQ(0, mbox_run_as_nobody(child_open, &r));

	/* A third user still may not. */
	EXPECT_EQ(EPERM, as_other(child_destroy, &r));
	EXPECT_EQ(EPERM, as_other(child_set, &r));
	EXPECT_EQ(EACCES, as_other(child_open, &r));

	/* The new owner may change it and destroy it. */
	r.set_flags = MBOX_SET_MODE;
	r.mode = 0622;
	EXPECT_EQ(0, mbox_run_as_nobody(child_set, &r));
	r.rights = MBOX_OPEN_SEND;
	EXPECT_EQ(0, as_other(child_open, &r));
	EXPECT_EQ(0, mbox_run_as_nobody(child_destroy, &r));
	EXPECT_EQ(-ENOENT, mbox_destroy(self->fd, id));
}

TEST_F(mbox, set_errors)
{
	__u32 id;

	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
					MBOX_POLICY_SHARED, 0600, &id));
	EXPECT_EQ(-EINVAL, mbox_set(self->fd, id, 0, 0, 0, 0600));
	EXPECT_EQ(-EINVAL, mbox_set(self->fd, id, MBOX_SET_MODE | (1U << 5),
				    0, 0, 0600));
	EXPECT_EQ(-EINVAL, mbox_set(self->fd, id, MBOX_SET_MODE | (1U << 31),
				    0, 0, 0600));
	EXPECT_EQ(-EINVAL, mbox_set(self->fd, id, MBOX_SET_MODE | MBOX_NONBLOCK,
				    0, 0, 0600));
	EXPECT_EQ(-EINVAL, mbox_set(self->fd, id, MBOX_SET_MODE, 0, 0, 0777));
	EXPECT_EQ(-EINVAL, mbox_set(self->fd, id, MBOX_SET_MODE, 0, 0, 01666));
	EXPECT_EQ(-EINVAL, mbox_set(self->fd, id, MBOX_SET_MODE, 0, 0, 0100));
	/* (uid_t)-1 and (gid_t)-1 map to no one. */
	EXPECT_EQ(-EINVAL, mbox_set(self->fd, id, MBOX_SET_UID, 0xffffffff,
				    0, 0));
	EXPECT_EQ(-EINVAL, mbox_set(self->fd, id, MBOX_SET_GID, 0,
				    0xffffffff, 0));
	EXPECT_EQ(-ENOENT, mbox_set(self->fd, id + 1000000, MBOX_SET_MODE, 0,
				    0, 0600));
	/* The valid change still works. */
	EXPECT_EQ(0, mbox_set(self->fd, id, MBOX_SET_MODE, 0, 0, 0644));
	EXPECT_EQ(0, mbox_destroy(self->fd, id));
}

TEST_F(mbox, set_mode_changes_access)
{
	struct req r = { 0 };
	__u32 id;

	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
					MBOX_POLICY_SHARED, 0600, &id));
	r.id = id;

	if (!mbox_is_root()) {
		/* Without CAP_IPC_OWNER, the owner's bits bind the owner. */
		ASSERT_EQ(0, mbox_set(self->fd, id, MBOX_SET_MODE, 0, 0, 0200));
		r.rights = MBOX_OPEN_SEND;
		EXPECT_EQ(0, mbox_run(child_open, &r));
		r.rights = MBOX_OPEN_RECV;
		EXPECT_EQ(EACCES, mbox_run(child_open, &r));

		ASSERT_EQ(0, mbox_set(self->fd, id, MBOX_SET_MODE, 0, 0, 0400));
		EXPECT_EQ(0, mbox_run(child_open, &r));
		r.rights = MBOX_OPEN_SEND;
		EXPECT_EQ(EACCES, mbox_run(child_open, &r));
		EXPECT_EQ(0, mbox_destroy(self->fd, id));
		return;
	}

	r.rights = MBOX_OPEN_SEND;
	EXPECT_EQ(EACCES, mbox_run_as_nobody(child_open, &r));

	ASSERT_EQ(0, mbox_set(self->fd, id, MBOX_SET_MODE, 0, 0, 0622));
	EXPECT_EQ(0, mbox_run_as_nobody(child_open, &r));
	r.rights = MBOX_OPEN_RECV;
	EXPECT_EQ(EACCES, mbox_run_as_nobody(child_open, &r));

	ASSERT_EQ(0, mbox_set(self->fd, id, MBOX_SET_MODE, 0, 0, 0644));
	EXPECT_EQ(0, mbox_run_as_nobody(child_open, &r));
	r.rights = MBOX_OPEN_SEND;
	EXPECT_EQ(EACCES, mbox_run_as_nobody(child_open, &r));
	EXPECT_EQ(0, mbox_destroy(self->fd, id));
}

TEST_F(mbox, mode_0600_denies_others_eacces)
{
	struct req r = { 0 };
	char name[64];
	__u32 id;

	mbox_test_name(name, sizeof(name), "0600");
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, name, 4,
					MBOX_POLICY_SHARED, 0600, &id));
	r.id = id;

	if (!mbox_is_root()) {
		/* Its owner may, without CAP_IPC_OWNER, ... */
		r.rights = MBOX_OPEN_SEND | MBOX_OPEN_RECV;
		EXPECT_EQ(0, mbox_run(child_open, &r));
		EXPECT_EQ(0, mbox_destroy(self->fd, id));
		/* ... and root's 0600 one is closed to it, whatever the rights. */
		r.id = 0;
		r.name = MBOX_ROOT_PRIVATE;
		r.rights = MBOX_OPEN_SEND;
		if (mbox_run(child_open, &r) == ENOENT)
			SKIP(return, MBOX_ROOT_ABSENT);
		EXPECT_EQ(EACCES, mbox_run(child_open, &r));
		r.rights = MBOX_OPEN_RECV;
		EXPECT_EQ(EACCES, mbox_run(child_open, &r));
		r.rights = MBOX_OPEN_SEND | MBOX_OPEN_RECV;
		EXPECT_EQ(EACCES, mbox_run(child_open, &r));
		return;
	}

	r.rights = MBOX_OPEN_SEND;
	EXPECT_EQ(EACCES, mbox_run_as_nobody(child_open, &r));
	r.rights = MBOX_OPEN_RECV;
	EXPECT_EQ(EACCES, mbox_run_as_nobody(child_open, &r));
	r.rights = MBOX_OPEN_SEND | MBOX_OPEN_RECV;
	EXPECT_EQ(EACCES, mbox_run_as_nobody(child_open, &r));
	/* By name as well. */
	r.name = name;
	r.rights = MBOX_OPEN_SEND;
	EXPECT_EQ(EACCES, mbox_run_as_nobody(child_open, &r));
	/* Root (CAP_IPC_OWNER) is not bound by the mode. */
	r.name = NULL;
	r.rights = MBOX_OPEN_SEND | MBOX_OPEN_RECV;
	EXPECT_EQ(0, mbox_run(child_open, &r));
	EXPECT_EQ(0, mbox_destroy(self->fd, id));
}

TEST_F(mbox, mode_0622_allows_send_only)
{
	struct req r = { 0 };
	struct mbox_recv rv;
	char buf[32];
	__u32 id;

	if (!mbox_is_root()) {
		/* Root's 0622 one, as the others it lets send. */
		MBOX_ROOT_MAILBOX(self->fd, &r.id);
		r.rights = MBOX_OPEN_RECV;
		EXPECT_EQ(EACCES, mbox_run(child_open, &r));
		r.rights = MBOX_OPEN_SEND | MBOX_OPEN_RECV;
		EXPECT_EQ(EACCES, mbox_run(child_open, &r));
		r.rights = MBOX_OPEN_SEND;
		EXPECT_EQ(0, mbox_run(child_open, &r));
		return;
	}

	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
					MBOX_POLICY_SHARED, 0622, &id));
	r.id = id;
	r.rights = MBOX_OPEN_RECV;
	EXPECT_EQ(EACCES, mbox_run_as_nobody(child_open, &r));
	r.rights = MBOX_OPEN_SEND | MBOX_OPEN_RECV;
	EXPECT_EQ(EACCES, mbox_run_as_nobody(child_open, &r));
	r.rights = MBOX_OPEN_SEND;
	EXPECT_EQ(0, mbox_run_as_nobody(child_open, &r));

	/* And nobody's message arrives, stamped with nobody's ids. */
	EXPECT_EQ(0, mbox_run_as_nobody(child_open_send, &r));
	mbox_recv_init(&rv, id, buf, sizeof(buf), MBOX_NONBLOCK);
	ASSERT_EQ(0, mbox_recv_ex(self->fd, &rv));
	EXPECT_EQ(10, rv.len);
	EXPECT_EQ(0, memcmp(buf, "from-child", 10));
	EXPECT_EQ(MBOX_NOBODY, rv.sender_uid);
	EXPECT_EQ(MBOX_NOBODY, rv.sender_gid);
	EXPECT_EQ(0, mbox_destroy(self->fd, id));
}

TEST_F(mbox, mode_group_bits)
{
	struct req r = { 0 };
	__u32 id;

	MBOX_NEED_ROOT("drop to users in and out of a mailbox's group");
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
					MBOX_POLICY_SHARED, 0620, &id));
	ASSERT_EQ(0, mbox_set(self->fd, id, MBOX_SET_GID, 0, MBOX_NOBODY, 0));
	r.id = id;
	/* nobody is in the group: "w" */
	r.rights = MBOX_OPEN_SEND;
	EXPECT_EQ(0, mbox_run_as_nobody(child_open, &r));
	r.rights = MBOX_OPEN_RECV;
	EXPECT_EQ(EACCES, mbox_run_as_nobody(child_open, &r));
	/* another user is not: nothing */
	r.rights = MBOX_OPEN_SEND;
	EXPECT_EQ(EACCES, as_other(child_open, &r));
	EXPECT_EQ(0, mbox_destroy(self->fd, id));
}

TEST_F(mbox, mode_owner_bits_apply_to_owner_alone)
{
	struct req r = { 0 };
	__u32 id;

	/* As in System V IPC: the owner gets the owner's bits, not others'. */
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
					MBOX_POLICY_SHARED, 0066, &id));
	r.id = id;
	if (!mbox_is_root()) {
		/* Here the owner is the creator itself, without CAP_IPC_OWNER. */
		r.rights = MBOX_OPEN_SEND;
		EXPECT_EQ(EACCES, mbox_run(child_open, &r));
		r.rights = MBOX_OPEN_RECV;
		EXPECT_EQ(EACCES, mbox_run(child_open, &r));
		EXPECT_EQ(0, mbox_destroy(self->fd, id));
		return;
	}
	ASSERT_EQ(0, mbox_set(self->fd, id, MBOX_SET_UID, MBOX_NOBODY, 0, 0));
	r.rights = MBOX_OPEN_SEND;
	EXPECT_EQ(EACCES, mbox_run_as_nobody(child_open, &r));
	EXPECT_EQ(0, as_other(child_open, &r));
	EXPECT_EQ(0, mbox_destroy(self->fd, id));
}

TEST_F(mbox, process_owned_only_owner_receives_eperm)
{
	struct req r = { 0 };
	__u32 id;
	int ep2;

	ASSERT_EQ(0, mbox_create(self->fd, NULL, 0, 4, MBOX_POLICY_SHARED,
				 0666, &id));
	ep2 = mbox_dev_open();
	ASSERT_LE(0, ep2);
	/* Another endpoint, even of the same process and user. */
	EXPECT_EQ(-EPERM, mbox_open_id(ep2, id, MBOX_OPEN_RECV));
	EXPECT_EQ(-EPERM, mbox_open_id(ep2, id, MBOX_OPEN_RECV | MBOX_OPEN_SEND));
	EXPECT_EQ(0, mbox_open_id(ep2, id, MBOX_OPEN_SEND));

	/* Another user, too (root only: it takes a drop to nobody). */
	if (mbox_is_root()) {
		r.id = id;
		r.rights = MBOX_OPEN_RECV;
		EXPECT_EQ(EPERM, mbox_run_as_nobody(child_open, &r));
		r.rights = MBOX_OPEN_SEND;
		EXPECT_EQ(0, mbox_run_as_nobody(child_open, &r));
	}

	EXPECT_EQ(0, mbox_send(ep2, id, "owner", 5, 0, MBOX_NONBLOCK));
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "owner"));
	close(ep2);
}

TEST_F(mbox, process_owned_close_by_owner_destroys)
{
	char name[64];
	__u32 id;
	int ep2;

	mbox_test_name(name, sizeof(name), "owned");
	ASSERT_EQ(0, mbox_create(self->fd, name, 0, 4, MBOX_POLICY_SHARED,
				 0600, &id));
	ep2 = mbox_dev_open();
	ASSERT_LE(0, ep2);
	ASSERT_EQ(0, mbox_open_id(ep2, id, MBOX_OPEN_SEND));
	ASSERT_EQ(0, mbox_send(ep2, id, "queued", 6, 0, MBOX_NONBLOCK));

	/* CLOSE on the owning endpoint destroys it. */
	ASSERT_EQ(0, mbox_close_id(self->fd, id));
	EXPECT_EQ(-EIDRM, mbox_send(ep2, id, "late", 4, 0, MBOX_NONBLOCK));
	EXPECT_EQ(-EIDRM, mbox_send(ep2, id, "late", 4, 0, 0));
	EXPECT_EQ(0, mbox_close_id(ep2, id));
	EXPECT_EQ(-EBADF, mbox_send(ep2, id, "late", 4, 0, MBOX_NONBLOCK));
	EXPECT_EQ(-ENOENT, mbox_open_id(ep2, id, MBOX_OPEN_SEND));
	EXPECT_EQ(-ENOENT, mbox_open_name(ep2, name, MBOX_OPEN_SEND, NULL));
	EXPECT_EQ(-ENOENT, mbox_destroy(ep2, id));
	close(ep2);
}

TEST_F(mbox, process_owned_last_fd_close_destroys)
{
	char name[64];
	__u32 id;
	int owner, dupfd, ep2;

	mbox_test_name(name, sizeof(name), "owned-fd");
	owner = mbox_dev_open();
	ep2 = mbox_dev_open();
	ASSERT_LE(0, owner);
	ASSERT_LE(0, ep2);
	ASSERT_EQ(0, mbox_create(owner, name, 0, 4, MBOX_POLICY_SHARED, 0600,
				 &id));
	ASSERT_EQ(0, mbox_open_id(ep2, id, MBOX_OPEN_SEND));
	dupfd = dup(owner);
	ASSERT_LE(0, dupfd);

	/* Not the last close of the file: still there. */
	close(owner);
	EXPECT_EQ(0, mbox_send(ep2, id, "alive", 5, 0, MBOX_NONBLOCK));
	EXPECT_TRUE(mbox_recv_is(dupfd, id, "alive"));

	/* The last one ends the endpoint and the mailbox. */
	EXPECT_EQ(0, mbox_send(ep2, id, "lost", 4, 0, MBOX_NONBLOCK));
	close(dupfd);
	EXPECT_EQ(-EIDRM, mbox_send(ep2, id, "late", 4, 0, MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_close_id(ep2, id));
	EXPECT_EQ(-ENOENT, mbox_open_id(ep2, id, MBOX_OPEN_SEND));
	EXPECT_EQ(-ENOENT, mbox_open_name(ep2, name, MBOX_OPEN_SEND, NULL));
	close(ep2);
}

/* What a child made before CREATE failed, in MAP_SHARED memory. */
struct quota_run {
	unsigned int limit;	/* stop after limit + 1 mailboxes anyway */
	unsigned int made;
	int err;
};

/* Process-owned mailboxes on one endpoint until CREATE fails. */
static int child_create_until_error(void *arg)
{
	struct quota_run *q = arg;
	int fd = mbox_dev_open(), ret = 0;
	__u32 id;

	if (fd < 0)
		return fd;
	for (q->made = 0; q->made <= q->limit; q->made++) {
		ret = mbox_create(fd, NULL, 0, 1, MBOX_POLICY_SHARED, 0600,
				  &id);
		if (ret)
			break;
	}
	q->err = ret;
	close(fd);	/* destroys them all */
	return 0;
}

TEST_F(mbox, user_mailbox_quota_enospc)
{
	unsigned long long limit;
	struct quota_run *q;
	__u32 id;

	q = mbox_shared_alloc(sizeof(*q));
	ASSERT_NE(NULL, q);
	ASSERT_EQ(0, mbox_param_get("max_user_mailboxes", &limit));
	if (mbox_is_root()) {
		/* A low limit for nobody; root has CAP_SYS_RESOURCE. */
		self->saved_user_mailboxes = limit;
		self->restore_user_mailboxes = true;
		ASSERT_EQ(0, mbox_param_set("max_user_mailboxes", 4));
		q->limit = 4;
		ASSERT_EQ(0, mbox_run_as_nobody(child_create_until_error, q));
		EXPECT_EQ(4, q->made);
		EXPECT_EQ(-ENOSPC, q->err);
		q->limit = 8;
		ASSERT_EQ(0, mbox_run(child_create_until_error, q));
		EXPECT_EQ(9, q->made);
		EXPECT_EQ(0, q->err);
		EXPECT_EQ(0, mbox_param_set("max_user_mailboxes", limit));
		self->restore_user_mailboxes = false;
	} else {
		/* The module's limit, which this user cannot raise. */
		EXPECT_EQ(-EACCES, mbox_param_set("max_user_mailboxes",
						  limit + 1));
		q->limit = limit;
		ASSERT_EQ(0, mbox_run(child_create_until_error, q));
		EXPECT_EQ(limit, q->made) {
			TH_LOG("this user had %llu mailboxes already: a test left them",
			       limit - q->made);
		}
		EXPECT_EQ(-ENOSPC, q->err);
	}
	/* Closing the endpoint gave them back. */
	EXPECT_EQ(0, mbox_create(self->fd, NULL, 0, 1, MBOX_POLICY_SHARED,
				 0600, &id));
	munmap(q, sizeof(*q));
}

TEST_F(mbox, exclusive_policy_one_receiver_ebusy)
{
	__u32 id;
	int ep2, ep3, ep4;

	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
					MBOX_POLICY_EXCLUSIVE, 0600, &id));
	ep2 = mbox_dev_open();
	ep3 = mbox_dev_open();
	ep4 = mbox_dev_open();
	ASSERT_LE(0, ep2);
	ASSERT_LE(0, ep3);
	ASSERT_LE(0, ep4);

	/* The creator holds the receive right. */
	EXPECT_EQ(-EBUSY, mbox_open_id(ep2, id, MBOX_OPEN_RECV));
	EXPECT_EQ(-EBUSY, mbox_open_id(ep3, id, MBOX_OPEN_RECV | MBOX_OPEN_SEND));
	/* Senders are not limited. */
	EXPECT_EQ(0, mbox_open_id(ep2, id, MBOX_OPEN_SEND));

	/* Free again once the holder closes it ... */
	EXPECT_EQ(0, mbox_close_id(self->fd, id));
	EXPECT_EQ(0, mbox_open_id(ep3, id, MBOX_OPEN_RECV));
	EXPECT_EQ(-EBUSY, mbox_open_id(ep4, id, MBOX_OPEN_RECV));
	EXPECT_EQ(0, mbox_send(ep2, id, "excl", 4, 0, MBOX_NONBLOCK));
	EXPECT_TRUE(mbox_recv_is(ep3, id, "excl"));

	/* ... or when its endpoint ends. */
	close(ep3);
	EXPECT_EQ(0, mbox_open_id(ep4, id, MBOX_OPEN_RECV));

	EXPECT_EQ(0, mbox_destroy(ep2, id));
	close(ep2);
	close(ep4);
}

TEST_F(mbox, pair_policy_two_endpoints_ebusy)
{
	__u32 id;
	int ep2, ep3, ep4;

	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
					MBOX_POLICY_PAIR, 0600, &id));
	ep2 = mbox_dev_open();
	ep3 = mbox_dev_open();
	ep4 = mbox_dev_open();
	ASSERT_LE(0, ep2);
	ASSERT_LE(0, ep3);
	ASSERT_LE(0, ep4);

	EXPECT_EQ(0, mbox_open_id(ep2, id, MBOX_OPEN_SEND | MBOX_OPEN_RECV));
	EXPECT_EQ(-EBUSY, mbox_open_id(ep3, id, MBOX_OPEN_SEND));
	EXPECT_EQ(-EBUSY, mbox_open_id(ep3, id, MBOX_OPEN_RECV));

	/* The two can talk both ways. */
	EXPECT_EQ(0, mbox_send(ep2, id, "ping", 4, 0, MBOX_NONBLOCK));
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "ping"));
	EXPECT_EQ(0, mbox_send(self->fd, id, "pong", 4, 0, MBOX_NONBLOCK));
	EXPECT_TRUE(mbox_recv_is(ep2, id, "pong"));

	EXPECT_EQ(0, mbox_close_id(ep2, id));
	EXPECT_EQ(0, mbox_open_id(ep3, id, MBOX_OPEN_SEND));
	EXPECT_EQ(-EBUSY, mbox_open_id(ep4, id, MBOX_OPEN_SEND));

	EXPECT_EQ(0, mbox_destroy(self->fd, id));
	close(ep2);
	close(ep3);
	close(ep4);
}

TEST_F(mbox, unknown_flags_einval)
{
	static const __u32 bad_create[] = {
		MBOX_NONBLOCK, MBOX_DEADLINE, 1U << 3, 1U << 31,
	};
	static const __u32 bad_open[] = {
		0, MBOX_NONBLOCK, MBOX_DEADLINE, MBOX_OPEN_SEND | (1U << 4),
		MBOX_OPEN_SEND | (1U << 31),
	};
	struct mbox_create c;
	struct mbox_id m;
	struct mbox_send s;
	struct mbox_recv r;
	char name[64], buf[16];
	unsigned int i;
	__u32 id;
	int ep2;

	mbox_test_name(name, sizeof(name), "flags");
	for (i = 0; i < MBOX_ARRAY_SIZE(bad_create); i++) {
		memset(&c, 0, sizeof(c));
		c.flags = bad_create[i];
		c.name = mbox_ptr(name);
		c.capacity = 4;
		c.mode = 0600;
		EXPECT_EQ(-EINVAL, mbox_create_ex(self->fd, &c, &id));
	}
	/* None of them made the mailbox: the name is free. */
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, name, 4,
					MBOX_POLICY_SHARED, 0600, &id));

	ep2 = mbox_dev_open();
	ASSERT_LE(0, ep2);
	for (i = 0; i < MBOX_ARRAY_SIZE(bad_open); i++)
		EXPECT_EQ(-EINVAL, mbox_open_id(ep2, id, bad_open[i]));
	/* ... nor opened it. */
	EXPECT_EQ(-EBADF, mbox_close_id(ep2, id));

	memset(&m, 0, sizeof(m));
	m.size = sizeof(m);
	m.id = id;
	m.flags = 1;
	EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, MBOX_IOC_CLOSE, &m));
	EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, MBOX_IOC_DESTROY, &m));
	m.flags = 1U << 31;
	EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, MBOX_IOC_CLOSE, &m));
	EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, MBOX_IOC_DESTROY, &m));
	/* ... neither closed nor destroyed it. */
	EXPECT_EQ(-EEXIST, mbox_open_id(self->fd, id, MBOX_OPEN_SEND));

	mbox_send_init(&s, id, "x", 1, 0, 1U << 3);
	EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, MBOX_IOC_SEND, &s));
	mbox_send_init(&s, id, "x", 1, 0, 1U << 31);
	EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, MBOX_IOC_SEND, &s));
	/* A priority above MBOX_PRIO_MAX. */
	mbox_send_init(&s, id, "x", 1, MBOX_PRIO_MAX + 1, MBOX_NONBLOCK);
	EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, MBOX_IOC_SEND, &s));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));

	ASSERT_EQ(0, mbox_send(self->fd, id, "kept", 4, 0, MBOX_NONBLOCK));
	mbox_recv_init(&r, id, buf, sizeof(buf), 1U << 3);
	EXPECT_EQ(-EINVAL, mbox_recv_ex(self->fd, &r));
	mbox_recv_init(&r, id, buf, sizeof(buf), 1U << 31);
	EXPECT_EQ(-EINVAL, mbox_recv_ex(self->fd, &r));
	/* MBOX_RECV_FROM needs a pid. */
	mbox_recv_init(&r, id, buf, sizeof(buf), MBOX_RECV_FROM | MBOX_NONBLOCK);
	EXPECT_EQ(-EINVAL, mbox_recv_ex(self->fd, &r));
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "kept"));

	EXPECT_EQ(-EINVAL, mbox_set(self->fd, id, 1U << 7, 0, 0, 0600));

	EXPECT_EQ(0, mbox_open_id(ep2, id, MBOX_OPEN_SEND));
	EXPECT_EQ(0, mbox_destroy(self->fd, id));
	close(ep2);
}

TEST_F(mbox, reserved_fields_einval)
{
	struct mbox_open o;
	struct mbox_id m;
	struct mbox_send s;
	struct mbox_recv r;
	char buf[16];
	__u32 id;
	int ep2;

	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
					MBOX_POLICY_SHARED, 0600, &id));
	ep2 = mbox_dev_open();
	ASSERT_LE(0, ep2);

	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.flags = MBOX_OPEN_SEND;
	o.id = id;
	o.__reserved = 1;
	EXPECT_EQ(-EINVAL, mbox_ioctl(ep2, MBOX_IOC_OPEN, &o));
	EXPECT_EQ(-EBADF, mbox_close_id(ep2, id));

	memset(&m, 0, sizeof(m));
	m.size = sizeof(m);
	m.id = id;
	m.__reserved = 1;
	EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, MBOX_IOC_CLOSE, &m));
	EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, MBOX_IOC_DESTROY, &m));

	/* SEND and RECV have no reserved field: their __pad is out only. */
	mbox_send_init(&s, id, "kept", 4, 0, MBOX_NONBLOCK);
	s.__pad = 0xa5a5a5a5;
	ASSERT_EQ(0, mbox_ioctl(self->fd, MBOX_IOC_SEND, &s));
	EXPECT_EQ(0, s.__pad);
	mbox_recv_init(&r, id, buf, sizeof(buf), MBOX_NONBLOCK);
	r.__pad = 0xa5a5a5a5;
	ASSERT_EQ(0, mbox_recv_ex(self->fd, &r));
	EXPECT_EQ(0, r.__pad);
	EXPECT_EQ(4, r.len);
	EXPECT_EQ(0, memcmp(buf, "kept", 4));

	/* The mailbox survived the bad CLOSE and DESTROY. */
	EXPECT_EQ(0, mbox_open_id(ep2, id, MBOX_OPEN_SEND));
	EXPECT_EQ(0, mbox_destroy(self->fd, id));
	close(ep2);
}

TEST_F(mbox, create_bad_mode_einval)
{
	static const __u32 modes[] = { 0777, 0700, 0111, 0001, 01666, 04600 };
	unsigned int i;
	__u32 id;

	for (i = 0; i < MBOX_ARRAY_SIZE(modes); i++) {
		EXPECT_EQ(-EINVAL, mbox_create(self->fd, NULL, 0, 4,
					       MBOX_POLICY_SHARED, modes[i], &id));
		EXPECT_EQ(-EINVAL, mbox_create(self->fd, NULL, MBOX_CREATE_SYSTEM,
					       4, MBOX_POLICY_SHARED, modes[i],
					       &id));
	}
	/* Every mode within 0666 is fine, 0 included. */
	EXPECT_EQ(0, mbox_create(self->fd, NULL, 0, 4, MBOX_POLICY_SHARED, 0,
				 &id));
	EXPECT_EQ(0, mbox_create(self->fd, NULL, 0, 4, MBOX_POLICY_SHARED, 0666,
				 &id));
}

TEST_F(mbox, bad_names)
{
	static const char * const bad[] = {
		"", "noslash", "/has space", "/tab\there", "/nl\n", "/del\x7f",
		"/high\x80", "/high\xff", " /lead",
	};
	char name[MBOX_NAME_MAX + 2], big[4096];
	size_t n;
	unsigned int i;
	__u32 id = 0, id2;
	int ep2;

	for (i = 0; i < MBOX_ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, mbox_create(self->fd, bad[i],
					       MBOX_CREATE_SYSTEM, 4,
					       MBOX_POLICY_SHARED, 0600, &id)) {
			TH_LOG("name #%u was accepted", i);
			mbox_destroy(self->fd, id);
		}
		EXPECT_EQ(-EINVAL, mbox_open_name(self->fd, bad[i],
						  MBOX_OPEN_SEND, NULL));
	}

	/* Exactly MBOX_NAME_MAX bytes is fine ... */
	mbox_test_name(name, sizeof(name), "long-");
	n = strlen(name);
	memset(name + n, 'x', MBOX_NAME_MAX - n);
	name[MBOX_NAME_MAX] = '\0';
	ASSERT_EQ(MBOX_NAME_MAX, strlen(name));
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, name, 4,
					MBOX_POLICY_SHARED, 0600, &id));
	ep2 = mbox_dev_open();
	ASSERT_LE(0, ep2);
	id2 = 0;
	EXPECT_EQ(0, mbox_open_name(ep2, name, MBOX_OPEN_SEND, &id2));
	EXPECT_EQ(id, id2);
	close(ep2);

	/* ... one more is too long. */
	name[MBOX_NAME_MAX] = 'y';
	name[MBOX_NAME_MAX + 1] = '\0';
	EXPECT_EQ(-ENAMETOOLONG, mbox_create(self->fd, name, MBOX_CREATE_SYSTEM,
					     4, MBOX_POLICY_SHARED, 0600, &id2));
	EXPECT_EQ(-ENAMETOOLONG, mbox_open_name(self->fd, name, MBOX_OPEN_SEND,
						NULL));
	memset(big, 'z', sizeof(big));
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	EXPECT_EQ(-ENAMETOOLONG, mbox_create(self->fd, big, 0, 4,
					     MBOX_POLICY_SHARED, 0600, &id2));
	EXPECT_EQ(-ENAMETOOLONG, mbox_open_name(self->fd, big, MBOX_OPEN_SEND,
						NULL));
	EXPECT_EQ(0, mbox_destroy(self->fd, id));
}

TEST_F(mbox, create_size_limits)
{
	unsigned long long ceiling = 0;
	__u32 id;

	ASSERT_EQ(0, mbox_param_get("max_msg_size", &ceiling));
	ASSERT_LT(256, ceiling);
	ASSERT_GT(0xffffffffULL, ceiling);

	EXPECT_EQ(-EINVAL, mbox_create_sized(self->fd, 0, 1, ceiling + 1, 0, 0,
					     0600, &id));
	EXPECT_EQ(-EINVAL, mbox_create_sized(self->fd, 0, MBOX_UNBOUNDED,
					     ceiling + 1, 0, 0, 0600, &id));
	EXPECT_EQ(0, mbox_create_sized(self->fd, 0, 1, ceiling, 0, 0, 0600, &id));

	/* msg_size above max_msg_size. */
	EXPECT_EQ(-EINVAL, mbox_create_sized(self->fd, 0, 4, 128, 0, 129, 0600,
					     &id));
	EXPECT_EQ(0, mbox_create_sized(self->fd, 0, 4, 128, 0, 128, 0600, &id));

	/* A bounded max_bytes below the largest message. */
	EXPECT_EQ(-EINVAL, mbox_create_sized(self->fd, 0, 4, 128, 127, 0, 0600,
					     &id));
	EXPECT_EQ(-EINVAL, mbox_create_sized(self->fd, 0, 4, 64, 63, 64, 0600,
					     &id));
	EXPECT_EQ(0, mbox_create_sized(self->fd, 0, 4, 128, 128, 0, 0600, &id));
}

TEST_F(mbox, bad_struct_pointers_efault)
{
	static const unsigned long cmds[] = {
		MBOX_IOC_CREATE, MBOX_IOC_OPEN, MBOX_IOC_CLOSE, MBOX_IOC_DESTROY,
		MBOX_IOC_SET, MBOX_IOC_STAT, MBOX_IOC_SEND, MBOX_IOC_RECV,
	};
	long page = sysconf(_SC_PAGESIZE);
	char *map;
	__u32 *tail;
	unsigned int i;

	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, mprotect(map + page, page, PROT_NONE));
	/* A size that is readable, and the rest of the struct that is not. */
	tail = (__u32 *)(map + page - 8);

	for (i = 0; i < MBOX_ARRAY_SIZE(cmds); i++) {
		EXPECT_EQ(-EFAULT, mbox_ioctl(self->fd, cmds[i], NULL));
		EXPECT_EQ(-EFAULT, mbox_ioctl(self->fd, cmds[i], map + page));
		EXPECT_EQ(-EFAULT, mbox_ioctl(self->fd, cmds[i],
					      (void *)0xffff800000000000UL));
		memset(tail, 0, 8);
		tail[0] = 128;	/* at least the size of every struct */
		EXPECT_EQ(-EFAULT, mbox_ioctl(self->fd, cmds[i], tail));
	}
	munmap(map, 2 * page);
}

TEST_F(mbox, bad_name_pointers_efault)
{
	long page = sysconf(_SC_PAGESIZE);
	struct mbox_create c;
	struct mbox_open o;
	char *map, *unterminated;
	__u32 id;

	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, mprotect(map + page, page, PROT_NONE));
	/* "/abc" up to the unmapped page, with no NUL. */
	unterminated = map + page - 4;
	memcpy(unterminated, "/abc", 4);

	memset(&c, 0, sizeof(c));
	c.flags = MBOX_CREATE_SYSTEM;
	c.capacity = 4;
	c.mode = 0600;
	c.name = 1;
	EXPECT_EQ(-EFAULT, mbox_create_ex(self->fd, &c, &id));
	c.name = mbox_ptr(map + page);
	EXPECT_EQ(-EFAULT, mbox_create_ex(self->fd, &c, &id));
	c.name = mbox_ptr(unterminated);
	EXPECT_EQ(-EFAULT, mbox_create_ex(self->fd, &c, &id));
	c.name = 0xffff800000000000ULL;
	EXPECT_EQ(-EFAULT, mbox_create_ex(self->fd, &c, &id));

	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.flags = MBOX_OPEN_SEND;
	o.name = 1;
	EXPECT_EQ(-EFAULT, mbox_ioctl(self->fd, MBOX_IOC_OPEN, &o));
	o.name = mbox_ptr(map + page);
	EXPECT_EQ(-EFAULT, mbox_ioctl(self->fd, MBOX_IOC_OPEN, &o));
	o.name = mbox_ptr(unterminated);
	EXPECT_EQ(-EFAULT, mbox_ioctl(self->fd, MBOX_IOC_OPEN, &o));
	munmap(map, 2 * page);
}

TEST_F(mbox, bad_send_buffer_efault_delivers_nothing)
{
	long page = sysconf(_SC_PAGESIZE);
	char *map;
	__u32 id;

	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, mprotect(map + page, page, PROT_NONE));
	memset(map, 'm', page);
	ASSERT_EQ(0, mbox_create(self->fd, NULL, 0, 4, MBOX_POLICY_SHARED,
				 0600, &id));

	EXPECT_EQ(-EFAULT, mbox_send(self->fd, id, NULL, 16, 0, MBOX_NONBLOCK));
	EXPECT_EQ(-EFAULT, mbox_send(self->fd, id, map + page, 16, 0,
				     MBOX_NONBLOCK));
	/* Half readable. */
	EXPECT_EQ(-EFAULT, mbox_send(self->fd, id, map + page - 8, 64, 0,
				     MBOX_NONBLOCK));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));

	/* The queue is not left full of ghosts: all 4 slots are free. */
	EXPECT_EQ(0, mbox_send(self->fd, id, "1", 1, 0, MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_send(self->fd, id, "2", 1, 0, MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_send(self->fd, id, "3", 1, 0, MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_send(self->fd, id, "4", 1, 0, MBOX_NONBLOCK));
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "1"));
	munmap(map, 2 * page);
}

TEST_F(mbox, bad_recv_buffer_efault_keeps_message)
{
	long page = sysconf(_SC_PAGESIZE);
	char msg[32], buf[64], *map;
	struct mbox_recv r;
	__u32 id;

	map = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, mprotect(map + page, page, PROT_NONE));
	ASSERT_EQ(0, mprotect(map + 2 * page, page, PROT_READ));
	memset(msg, 'k', sizeof(msg));
	memcpy(msg, "first", 5);

	ASSERT_EQ(0, mbox_create(self->fd, NULL, 0, 4, MBOX_POLICY_SHARED,
				 0600, &id));
	ASSERT_EQ(0, mbox_send(self->fd, id, msg, sizeof(msg), 0, MBOX_NONBLOCK));
	ASSERT_EQ(0, mbox_send(self->fd, id, "second", 6, 0, MBOX_NONBLOCK));

	mbox_recv_init(&r, id, NULL, sizeof(buf), MBOX_NONBLOCK);
	EXPECT_EQ(-EFAULT, mbox_recv_ex(self->fd, &r));
	mbox_recv_init(&r, id, map + page, sizeof(buf), MBOX_NONBLOCK);
	EXPECT_EQ(-EFAULT, mbox_recv_ex(self->fd, &r));
	/* Read-only. */
	mbox_recv_init(&r, id, map + 2 * page, sizeof(buf), MBOX_NONBLOCK);
	EXPECT_EQ(-EFAULT, mbox_recv_ex(self->fd, &r));
	/* Writable for 8 bytes, then not. */
	mbox_recv_init(&r, id, map + page - 8, sizeof(buf), MBOX_NONBLOCK);
	EXPECT_EQ(-EFAULT, mbox_recv_ex(self->fd, &r));

	/* The first message is still first, and whole. */
	memset(buf, 0, sizeof(buf));
	mbox_recv_init(&r, id, buf, sizeof(buf), MBOX_NONBLOCK);
	ASSERT_EQ(0, mbox_recv_ex(self->fd, &r));
	EXPECT_EQ(sizeof(msg), r.len);
	EXPECT_EQ(0, memcmp(buf, msg, sizeof(msg)));
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "second"));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
	munmap(map, 3 * page);
}

/*
 * Issue cmd on a copy of the struct image img (len bytes) followed by an
 * 8-byte tail, with the size field set to size.  *out (len + 8 bytes, may
 * be NULL) gets the buffer back.  What mbox_ioctl() returns: -errno, 0, or
 * a batch's count.
 */
static int ioctl_sized(int fd, unsigned long cmd, const void *img, size_t len,
		       __u32 size, __u64 tail, void *out)
{
	__u64 buf[16];
	int ret;

	memset(buf, 0, sizeof(buf));
	memcpy(buf, img, len);
	memcpy((char *)buf + len, &tail, sizeof(tail));
	memcpy(buf, &size, sizeof(size));
	ret = mbox_ioctl(fd, cmd, buf);
	if (out)
		memcpy(out, buf, len + sizeof(tail));
	return ret;
}

TEST_F(mbox, struct_sizes_short_einval_long_e2big)
{
	struct mbox_create c = { .capacity = 4, .mode = 0600 };
	struct mbox_open o = { .flags = MBOX_OPEN_SEND };
	struct mbox_id m = { 0 };
	/* Others rw, the owner w only: seen by root's nobody and by a user. */
	struct mbox_set st = { .flags = MBOX_SET_MODE, .mode = 0266 };
	struct mbox_send s;
	struct mbox_recv r;
	struct req rq = { 0 };
	char name[64], buf[16];
	unsigned int i, j;
	__u32 id;
	int ep2, ep3;

	mbox_test_name(name, sizeof(name), "sizes");
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
					MBOX_POLICY_SHARED, 0600, &id));
	ep2 = mbox_dev_open();
	ep3 = mbox_dev_open();
	ASSERT_LE(0, ep2);
	ASSERT_LE(0, ep3);
	ASSERT_EQ(0, mbox_open_id(ep2, id, MBOX_OPEN_SEND | MBOX_OPEN_RECV));
	ASSERT_EQ(0, mbox_send(self->fd, id, "kept", 4, 0, MBOX_NONBLOCK));

	/* Every image below would succeed with the right size. */
	c.flags = MBOX_CREATE_SYSTEM;
	c.name = mbox_ptr(name);
	o.id = id;
	m.id = id;
	st.id = id;
	mbox_send_init(&s, id, "x", 1, 0, MBOX_NONBLOCK);
	mbox_recv_init(&r, id, buf, sizeof(buf), MBOX_NONBLOCK);

	{
		/* OPEN on ep3 (not open there), CLOSE on ep2 (open there). */
		const struct {
			const char *what;
			int fd;
			unsigned long cmd;
			const void *img;
			size_t len;
		} cases[] = {
			{ "create", self->fd, MBOX_IOC_CREATE, &c, sizeof(c) },
			{ "open", ep3, MBOX_IOC_OPEN, &o, sizeof(o) },
			{ "close", ep2, MBOX_IOC_CLOSE, &m, sizeof(m) },
			{ "destroy", self->fd, MBOX_IOC_DESTROY, &m, sizeof(m) },
			{ "set", self->fd, MBOX_IOC_SET, &st, sizeof(st) },
			{ "send", self->fd, MBOX_IOC_SEND, &s, sizeof(s) },
			{ "recv", self->fd, MBOX_IOC_RECV, &r, sizeof(r) },
		};

		for (i = 0; i < MBOX_ARRAY_SIZE(cases); i++) {
			const __u32 shorts[] = {
				0, 4, cases[i].len - 4, cases[i].len - 1,
			};
			const __u64 tails[] = { 1, 1ULL << 63 };

			for (j = 0; j < MBOX_ARRAY_SIZE(shorts); j++) {
				EXPECT_EQ(-EINVAL,
					  ioctl_sized(cases[i].fd, cases[i].cmd,
						      cases[i].img, cases[i].len,
						      shorts[j], 0, NULL)) {
					TH_LOG("%s with size %u", cases[i].what,
					       shorts[j]);
				}
			}
			for (j = 0; j < MBOX_ARRAY_SIZE(tails); j++) {
				EXPECT_EQ(-E2BIG,
					  ioctl_sized(cases[i].fd, cases[i].cmd,
						      cases[i].img, cases[i].len,
						      cases[i].len + 8, tails[j],
						      NULL)) {
					TH_LOG("%s with a non-zero tail",
					       cases[i].what);
				}
			}
		}
	}

	/* None of that had an effect. */
	EXPECT_EQ(-ENOENT, mbox_open_name(ep3, name, MBOX_OPEN_SEND, NULL));
	EXPECT_EQ(-EBADF, mbox_close_id(ep3, id));
	EXPECT_EQ(-EEXIST, mbox_open_id(ep2, id, MBOX_OPEN_SEND));
	EXPECT_TRUE(mbox_recv_is(self->fd, id, "kept"));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
	/* The mode is still 0600: nobody cannot open it, its owner may. */
	rq.id = id;
	if (mbox_is_root()) {
		rq.rights = MBOX_OPEN_SEND;
		EXPECT_EQ(EACCES, mbox_run_as_nobody(child_open, &rq));
	} else {
		rq.rights = MBOX_OPEN_RECV;
		EXPECT_EQ(0, mbox_run(child_open, &rq));
	}
	EXPECT_EQ(0, mbox_destroy(self->fd, id));
	close(ep2);
	close(ep3);
}

TEST_F(mbox, struct_longer_with_zero_tail_accepted)
{
	struct mbox_create c = { .capacity = 4, .mode = 0600 };
	struct mbox_open o = { .flags = MBOX_OPEN_SEND };
	struct mbox_id m = { 0 };
	struct mbox_set st = { .flags = MBOX_SET_MODE, .mode = 0644 };
	struct mbox_send s;
	struct mbox_recv r;
	__u64 out[16];
	char buf[16];
	__u32 id;
	int ep2;

	ep2 = mbox_dev_open();
	ASSERT_LE(0, ep2);

	c.flags = MBOX_CREATE_SYSTEM;
	ASSERT_EQ(0, ioctl_sized(self->fd, MBOX_IOC_CREATE, &c, sizeof(c),
				 sizeof(c) + 8, 0, out));
	memcpy(&c, out, sizeof(c));
	id = c.id;
	mbox_track_id(&self->cl, id);
	EXPECT_EQ(0, *(__u64 *)((char *)out + sizeof(c)));

	o.id = id;
	EXPECT_EQ(0, ioctl_sized(ep2, MBOX_IOC_OPEN, &o, sizeof(o),
				 sizeof(o) + 8, 0, out));
	EXPECT_EQ(id, ((struct mbox_open *)out)->id);

	st.id = id;
	EXPECT_EQ(0, ioctl_sized(self->fd, MBOX_IOC_SET, &st, sizeof(st),
				 sizeof(st) + 8, 0, NULL));

	mbox_send_init(&s, id, "tail", 4, 3, MBOX_NONBLOCK);
	EXPECT_EQ(0, ioctl_sized(ep2, MBOX_IOC_SEND, &s, sizeof(s),
				 sizeof(s) + 8, 0, NULL));

	mbox_recv_init(&r, id, buf, sizeof(buf), MBOX_NONBLOCK);
	EXPECT_EQ(0, ioctl_sized(self->fd, MBOX_IOC_RECV, &r, sizeof(r),
				 sizeof(r) + 8, 0, out));
	memcpy(&r, out, sizeof(r));
	EXPECT_EQ(4, r.len);
	EXPECT_EQ(3, r.priority);
	EXPECT_EQ(0, memcmp(buf, "tail", 4));
	/* Output is written only up to what the module knows. */
	EXPECT_EQ(0, *(__u64 *)((char *)out + sizeof(r)));

	m.id = id;
	EXPECT_EQ(0, ioctl_sized(ep2, MBOX_IOC_CLOSE, &m, sizeof(m),
				 sizeof(m) + 8, 0, NULL));
	EXPECT_EQ(0, ioctl_sized(ep2, MBOX_IOC_DESTROY, &m, sizeof(m),
				 sizeof(m) + 8, 0, NULL));
	EXPECT_EQ(-ENOENT, mbox_destroy(self->fd, id));
	close(ep2);
}

TEST_F(mbox, unknown_ioctl_enotty)
{
	static const struct {
		unsigned int nr;
		__u64 feature;
	} reserved[] = {
		{ MBOX_CMD_STAT, MBOX_FEATURE_STAT },
		{ MBOX_CMD_DIRECT, MBOX_FEATURE_DIRECT },
		{ MBOX_CMD_CALL, MBOX_FEATURE_CALL },
		{ MBOX_CMD_REPLY, MBOX_FEATURE_CALL },
		{ MBOX_CMD_SEND_BATCH, MBOX_FEATURE_BATCH },
		{ MBOX_CMD_RECV_BATCH, MBOX_FEATURE_BATCH },
	};
	__u64 arg[16] = { 128 };
	unsigned int i;

	EXPECT_EQ(-ENOTTY, mbox_ioctl(self->fd, _IO(MBOX_IOCTL_TYPE, 0x0e), arg));
	EXPECT_EQ(-ENOTTY, mbox_ioctl(self->fd, _IO(MBOX_IOCTL_TYPE, 0xff), arg));
	EXPECT_EQ(-ENOTTY, mbox_ioctl(self->fd, _IO('x', MBOX_CMD_CREATE), arg));
	/* Direction and size bits are not part of mbox ioctl numbers. */
	EXPECT_EQ(-ENOTTY, mbox_ioctl(self->fd, _IOWR(MBOX_IOCTL_TYPE,
						      MBOX_CMD_CREATE,
						      struct mbox_create), arg));
	EXPECT_EQ(-ENOTTY, mbox_ioctl(self->fd, _IOW(MBOX_IOCTL_TYPE,
						     MBOX_CMD_SEND,
						     struct mbox_send), arg));
	/* Reserved commands of features this module lacks. */
	for (i = 0; i < MBOX_ARRAY_SIZE(reserved); i++) {
		if (self->features & reserved[i].feature)
			continue;
		EXPECT_EQ(-ENOTTY, mbox_ioctl(self->fd,
					      _IO(MBOX_IOCTL_TYPE, reserved[i].nr),
					      arg)) {
			TH_LOG("command %#x", reserved[i].nr);
		}
	}
	/*
	 * With MBOX_FEATURE_BATCH, 0x0c and 0x0d are commands (ABI 1.5):
	 * this struct, a batch of 0 entries, is EINVAL, not ENOTTY.
	 */
	if (self->features & MBOX_FEATURE_BATCH) {
		EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, MBOX_IOC_SEND_BATCH,
					      arg));
		EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, MBOX_IOC_RECV_BATCH,
					      arg));
		EXPECT_EQ(128, arg[0]);
		for (i = 1; i < MBOX_ARRAY_SIZE(arg); i++)
			EXPECT_EQ(0, arg[i]);
	}
}

/*
 * The batches' struct follows the rules of every struct: shorter than
 * its first version EINVAL, longer with a non-zero tail E2BIG, longer
 * with a zero tail accepted (and nothing written past what the module
 * knows).  batch_test has the rest.
 */
TEST_F(mbox, batch_struct_sizes)
{
	struct mbox_batch b = { .count = 1 };
	struct mbox_send s;
	struct mbox_recv r;
	__u64 out[16];
	char buf[16];
	__u32 id;

	if (!(self->features & MBOX_FEATURE_BATCH))
		SKIP(return, "the loaded module has no MBOX_FEATURE_BATCH");
	ASSERT_EQ(32, sizeof(b));
	ASSERT_EQ(0, mbox_create(self->fd, NULL, 0, 4, MBOX_POLICY_SHARED,
				 0600, &id));
	mbox_send_init(&s, id, "sized", 5, 0, MBOX_NONBLOCK);
	mbox_recv_init(&r, id, buf, sizeof(buf), MBOX_NONBLOCK);

	b.entries = mbox_ptr(&s);
	b.entry_size = sizeof(s);
	EXPECT_EQ(-EINVAL, ioctl_sized(self->fd, MBOX_IOC_SEND_BATCH, &b,
				       sizeof(b), sizeof(b) - 1, 0, NULL));
	EXPECT_EQ(-EINVAL, ioctl_sized(self->fd, MBOX_IOC_SEND_BATCH, &b,
				       sizeof(b), 0, 0, NULL));
	EXPECT_EQ(-E2BIG, ioctl_sized(self->fd, MBOX_IOC_SEND_BATCH, &b,
				      sizeof(b), sizeof(b) + 8, 1, NULL));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
	EXPECT_EQ(1, ioctl_sized(self->fd, MBOX_IOC_SEND_BATCH, &b, sizeof(b),
				 sizeof(b) + 8, 0, out));
	EXPECT_EQ(1, ((struct mbox_batch *)out)->done);
	EXPECT_EQ(0, ((struct mbox_batch *)out)->error);
	EXPECT_EQ(0, out[4]);	/* the tail */

	b.entries = mbox_ptr(&r);
	b.entry_size = sizeof(r);
	EXPECT_EQ(-EINVAL, ioctl_sized(self->fd, MBOX_IOC_RECV_BATCH, &b,
				       sizeof(b), sizeof(b) - 4, 0, NULL));
	EXPECT_EQ(-E2BIG, ioctl_sized(self->fd, MBOX_IOC_RECV_BATCH, &b,
				      sizeof(b), sizeof(b) + 8, 1ULL << 63,
				      NULL));
	EXPECT_EQ(1, ioctl_sized(self->fd, MBOX_IOC_RECV_BATCH, &b, sizeof(b),
				 sizeof(b) + 8, 0, out));
	EXPECT_EQ(1, ((struct mbox_batch *)out)->done);
	EXPECT_EQ(0, out[4]);
	EXPECT_EQ(5, r.len);
	EXPECT_EQ(0, memcmp(buf, "sized", 5));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
}

TEST_F(mbox, unknown_address_kind_einval)
{
	struct mbox_send s;
	struct mbox_recv r;
	char buf[16];
	__u32 id;

	ASSERT_EQ(0, mbox_create(self->fd, NULL, 0, 4, MBOX_POLICY_SHARED,
				 0600, &id));
	mbox_send_init(&s, id, "x", 1, 0, MBOX_NONBLOCK);
	s.addr = MBOX_ADDR_PIDFD + 1;
	EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, MBOX_IOC_SEND, &s));
	mbox_recv_init(&r, id, buf, sizeof(buf), MBOX_NONBLOCK);
	r.addr = MBOX_ADDR_PIDFD + 1;
	EXPECT_EQ(-EINVAL, mbox_recv_ex(self->fd, &r));
	EXPECT_TRUE(mbox_queue_empty(self->fd, id));
}

TEST_F(mbox, recv_out_fields_zeroed)
{
	struct mbox_create c;
	struct mbox_recv r;
	char buf[32];
	__u32 id;

	/* CREATE's @id is out only: garbage in it is no error. */
	memset(&c, 0, sizeof(c));
	c.capacity = 4;
	c.mode = 0600;
	c.id = 0xa5a5a5a5;
	ASSERT_EQ(0, mbox_create_ex(self->fd, &c, &id));
	EXPECT_NE(0xa5a5a5a5, id);

	ASSERT_EQ(0, mbox_send(self->fd, id, "fields", 6, 7, MBOX_NONBLOCK));

	/* Every out field prefilled, the in fields valid. */
	memset(&r, 0xa5, sizeof(r));
	r.size = sizeof(r);
	r.flags = MBOX_NONBLOCK;
	r.addr = MBOX_ADDR_MAILBOX;
	r.from = id;
	r.buf = mbox_ptr(buf);
	r.len = sizeof(buf);
	r.from_pid = 0;
	r.deadline_ns = 0;
	ASSERT_EQ(0, mbox_recv_ex(self->fd, &r));

	EXPECT_EQ(sizeof(r), r.size);
	EXPECT_EQ(MBOX_NONBLOCK, r.flags);
	EXPECT_EQ(id, r.from);
	EXPECT_EQ(6, r.len);
	EXPECT_EQ(0, memcmp(buf, "fields", 6));
	EXPECT_EQ(7, r.priority);
	EXPECT_EQ(0, r.msg_flags);
	EXPECT_EQ(getpid(), r.sender_pid);
	EXPECT_EQ(geteuid(), r.sender_uid);
	EXPECT_EQ(getegid(), r.sender_gid);
	EXPECT_EQ(0, r.__pad);
	EXPECT_EQ(0, r.token);
}

TEST_HARNESS_MAIN
