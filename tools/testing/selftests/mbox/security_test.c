// SPDX-License-Identifier: GPL-2.0
/*
 * Security of mbox (spec section 6, Documentation/abi.rst "Mailboxes",
 * "Module parameters" and the errors of each ioctl), through the raw ABI:
 *
 *  - quotas: an unprivileged user stops at max_user_mailboxes and
 *    max_user_bytes with ENOSPC while another user goes on, a process
 *    with nothing but CAP_SYS_RESOURCE goes beyond, and receiving or
 *    destroying gives the quota back;
 *  - memory cgroups: messages are kernel memory charged to the sender's
 *    memory cgroup, whose memory.max holds (fixture memcg);
 *  - IPC namespaces: names and ids of one are not seen from another, and
 *    the root of a user namespace has CAP_IPC_OWNER over the mailboxes of
 *    the IPC namespaces it owns, and no others;
 *  - permissions: a matrix of modes and relations of the caller to the
 *    mailbox (owner, creator, group, other, CAP_IPC_OWNER alone, root
 *    without it) against OPEN, STAT, SET and DESTROY; rights are taken at
 *    OPEN and kept.
 *
 * Each check runs in a child process with the credentials it needs
 * (uid, gids, the capabilities it keeps: cred_run()); the children write
 * what they saw into MAP_SHARED memory and the test compares.  Module
 * parameters changed by a test are restored by the fixture's teardown.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/mbox.h>

#include "mbox_util.h"
#include "kselftest_harness.h"

/* Exit status of a child that found something it cannot do here: SKIP. */
#define SEC_CHILD_ENOTSUP	253

/* ---- credentials -------------------------------------------------------- */

#define CAP_BIT(c)	(1ULL << (c))

/*
 * The credentials of a child: uid and gid (real, effective and saved),
 * supplementary groups, and capabilities.  With drop, caps is what to
 * take away from the capabilities the caller has (root less one); else it
 * is all the child keeps (0: none).
 */
struct cred {
	const char *what;
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[2];
	__u64 caps;
	bool drop;
};

static int capget2(__u64 *eff, __u64 *prm, __u64 *inh)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &hdr, d))
		return -errno;
	*eff = d[0].effective | (__u64)d[1].effective << 32;
	*prm = d[0].permitted | (__u64)d[1].permitted << 32;
	*inh = d[0].inheritable | (__u64)d[1].inheritable << 32;
	return 0;
}

static int capset2(__u64 eff, __u64 prm)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	d[0].effective = (__u32)eff;
	d[1].effective = (__u32)(eff >> 32);
	d[0].permitted = (__u32)prm;
	d[1].permitted = (__u32)(prm >> 32);
	return syscall(SYS_capset, &hdr, d) ? -errno : 0;
}

/* Take the credentials c describes; 0 or MBOX_CHILD_EDROP/ECAPS. */
static int cred_take(const struct cred *c)
{
	__u64 eff, prm, inh, keep;

	if (capget2(&eff, &prm, &inh))
		return MBOX_CHILD_ECAPS;
	keep = c->drop ? prm & ~c->caps : c->caps;
	/* Keep the permitted set across the change of uid, to pick from. */
	if (keep && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		return MBOX_CHILD_ECAPS;
	if (setgroups(c->ngroups, c->groups) ||
	    setresgid(c->gid, c->gid, c->gid) ||
	    setresuid(c->uid, c->uid, c->uid))
		return MBOX_CHILD_EDROP;
	/* A change of uid made it undumpable: /proc/self would be root's. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	if (capset2(keep, keep))
		return MBOX_CHILD_ECAPS;
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	if (capget2(&eff, &prm, &inh) || eff != keep || prm != keep ||
	    inh & ~keep)
		return MBOX_CHILD_ECAPS;
	return 0;
}

struct cred_run {
	const struct cred *cred;
	mbox_child_fn fn;
	void *arg;
};

static int cred_child(void *data)
{
	struct cred_run *r = data;
	int ret = cred_take(r->cred);

	return ret ? ret : r->fn(r->arg);
}

/* Start fn(arg) in a child with credentials c: its pid, or -errno. */
static pid_t cred_spawn(const struct cred *c, mbox_child_fn fn, void *arg)
{
	struct cred_run r = { .cred = c, .fn = fn, .arg = arg };

	/* The child has its own copy of r: it may go out of scope here. */
	return mbox_spawn(cred_child, &r);
}

/* Run fn(arg) in a child with credentials c: its exit status. */
static int cred_run(const struct cred *c, mbox_child_fn fn, void *arg)
{
	pid_t pid = cred_spawn(c, fn, arg);

	return pid < 0 ? pid : mbox_reap(pid);
}

/* Users of the quota tests. */
static const struct cred user1000 = {
	.what = "uid 1000", .uid = 1000, .gid = 1000,
};
static const struct cred nobody = {
	.what = "nobody", .uid = MBOX_NOBODY, .gid = MBOX_NOBODY,
};
static const struct cred user1000_sys_resource = {
	.what = "uid 1000 with CAP_SYS_RESOURCE", .uid = 1000, .gid = 1000,
	.caps = CAP_BIT(CAP_SYS_RESOURCE),
};

/* ---- helpers ------------------------------------------------------------ */

static int sec_stat(int fd, __u32 flags, __u32 id, struct mbox_stat *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	st->flags = flags;
	st->id = id;
	return mbox_ioctl(fd, MBOX_IOC_STAT, st);
}

/* Whether MBOX_STAT_NEXT from id reports id itself: 0, or -ENOENT. */
static int sec_listed(int fd, __u32 id)
{
	struct mbox_stat st;

	if (sec_stat(fd, MBOX_STAT_NEXT, id, &st))
		return -ENOENT;
	return st.id == id ? 0 : -ENOENT;
}

/* OPEN with rights, and CLOSE again if that worked: OPEN's result. */
static int sec_open_close(int fd, __u32 id, __u32 rights)
{
	int ret = mbox_open_id(fd, id, rights);

	if (!ret)
		mbox_close_id(fd, id);
	return ret;
}

#define MBOX_PROC_LIST	"/proc/driver/mbox/mailboxes"

/*
 * Whether /proc/driver/mbox/mailboxes, as the caller reads it, has a line
 * for id: 1 or 0, or -errno if it cannot be read.
 */
static int proc_lists(__u32 id)
{
	char line[512];
	unsigned int got;
	FILE *f = fopen(MBOX_PROC_LIST, "re");
	int found = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%u", &got) == 1 && got == id)
			found = 1;
	fclose(f);
	return found;
}

/* ---- the fixture -------------------------------------------------------- */

/* Module parameters a test may change; the teardown puts them back. */
static const char *const sec_params[] = {
	"max_user_bytes", "max_user_mailboxes",
};

#define SEC_IDS		256

/* System-owned mailboxes that children made, for the teardown. */
struct sec_ids {
	__u32 ids[SEC_IDS];
	unsigned int n;
};

FIXTURE(sec) {
	int fd;
	struct mbox_cleanup cl;
	unsigned long long saved[MBOX_ARRAY_SIZE(sec_params)];
	bool changed[MBOX_ARRAY_SIZE(sec_params)];
	struct sec_ids *made;	/* shared with children */
};

FIXTURE_SETUP(sec)
{
	__u64 features;

	self->made = NULL;
	memset(self->changed, 0, sizeof(self->changed));
	self->fd = mbox_dev_open();
	if (self->fd == -ENOENT)
		SKIP(return, "/dev/mbox is absent: the mbox module is not loaded");
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, mbox_features(self->fd, &features));
	ASSERT_TRUE(features & MBOX_FEATURE_MAILBOX);
	ASSERT_TRUE(features & MBOX_FEATURE_STAT);
	/* It becomes other users, with the capabilities each test names. */
	MBOX_NEED_ROOT("become other users");
	self->made = mbox_shared_alloc(sizeof(*self->made));
	ASSERT_NE(NULL, self->made);
}

FIXTURE_TEARDOWN(sec)
{
	unsigned int i;

	if (self->made && self->fd >= 0) {
		for (i = 0; i < self->made->n && i < SEC_IDS; i++)
			mbox_destroy(self->fd, self->made->ids[i]);
		munmap(self->made, sizeof(*self->made));
	}
	for (i = 0; i < MBOX_ARRAY_SIZE(sec_params); i++)
		if (self->changed[i])
			mbox_param_set(sec_params[i], self->saved[i]);
	mbox_cleanup_run(&self->cl);
	if (self->fd >= 0)
		close(self->fd);
}

/* Set a module parameter for the rest of the test; the teardown restores. */
static int sec_param_set(FIXTURE_DATA(sec) *self, const char *name,
			 unsigned long long val)
{
	unsigned int i;
	int ret;

	for (i = 0; i < MBOX_ARRAY_SIZE(sec_params); i++) {
		if (strcmp(sec_params[i], name))
			continue;
		if (!self->changed[i]) {
			ret = mbox_param_get(name, &self->saved[i]);
			if (ret)
				return ret;
			self->changed[i] = true;
		}
		return mbox_param_set(name, val);
	}
	return -EINVAL;
}

/* ---- quotas ------------------------------------------------------------- */

/* What a quota child does, and what came of it. */
struct job {
	struct sec_ids *made;	/* system-owned mailboxes it creates */
	__u32 box;		/* the mailbox it sends to */
	__u32 len;		/* message length */
	__u32 prio;
	__u32 victim;		/* a mailbox to destroy first, if not 0 */
	unsigned int max;	/* at most this many creates or sends */
	unsigned int done;	/* how many succeeded */
	int err;		/* what stopped it; 0 if max was reached */
	int victim_err;
};

/* CREATE system-owned mailboxes until something stops it. */
static int job_create(void *arg)
{
	struct job *j = arg;
	int fd = mbox_dev_open();
	__u32 id;

	if (fd < 0)
		return fd;
	j->done = 0;
	j->err = 0;
	j->victim_err = j->victim ? mbox_destroy(fd, j->victim) : 0;
	while (j->done < j->max) {
		j->err = mbox_create(fd, NULL, MBOX_CREATE_SYSTEM, 1,
				     MBOX_POLICY_SHARED, 0600, &id);
		if (j->err)
			break;
		if (j->made->n < SEC_IDS)
			j->made->ids[j->made->n++] = id;
		j->done++;
	}
	close(fd);
	return 0;
}

/* CREATE process-owned mailboxes until stopped; they end with the child. */
static int job_create_process_owned(void *arg)
{
	struct job *j = arg;
	int fd = mbox_dev_open();
	__u32 id;

	if (fd < 0)
		return fd;
	j->done = 0;
	j->err = 0;
	while (j->done < j->max) {
		j->err = mbox_create(fd, NULL, 0, 1, MBOX_POLICY_SHARED, 0600,
				     &id);
		if (j->err)
			break;
		j->done++;
	}
	close(fd);
	return 0;
}

/* SEND len-byte messages to j->box without blocking, until stopped. */
static int job_send(void *arg)
{
	struct job *j = arg;
	char *msg = calloc(1, j->len + 1);
	int fd = mbox_dev_open(), ret;

	if (!msg)
		return ENOMEM;
	ret = fd < 0 ? fd : mbox_open_id(fd, j->box, MBOX_OPEN_SEND);
	if (ret) {
		free(msg);
		return ret;
	}
	j->done = 0;
	j->err = 0;
	while (j->done < j->max) {
		j->err = mbox_send(fd, j->box, msg, j->len, j->prio,
				   MBOX_NONBLOCK);
		if (j->err)
			break;
		j->done++;
	}
	close(fd);
	free(msg);
	return 0;
}

/*
 * What another user does while the first one is at its limits: create a
 * mailbox, send to it and receive, and send to the shared one (j->box).
 */
static int job_unaffected(void *arg)
{
	struct job *j = arg;
	char msg[100] = "nobody's", buf[100];
	__u32 id, len = sizeof(buf);
	int fd = mbox_dev_open(), ret;

	if (fd < 0)
		return fd;
	ret = mbox_create(fd, NULL, 0, MBOX_UNBOUNDED, MBOX_POLICY_SHARED,
			  0600, &id);
	if (ret)
		return 100 + -ret;
	ret = mbox_send(fd, id, msg, sizeof(msg), 0, MBOX_NONBLOCK);
	if (ret)
		return 120 + -ret;
	ret = mbox_recv(fd, id, buf, &len, MBOX_NONBLOCK);
	if (ret || len != sizeof(msg))
		return 140;
	if (j->box) {
		ret = mbox_open_id(fd, j->box, MBOX_OPEN_SEND);
		if (!ret)
			ret = mbox_send(fd, j->box, msg, sizeof(msg), 0,
					MBOX_NONBLOCK);
		if (ret)
			return 160 + -ret;
	}
	close(fd);
	return 0;
}

#define QUOTA_BOXES	8

/*
 * max_user_mailboxes: uid 1000 without capabilities creates mailboxes
 * without end and stops at the limit with ENOSPC; nobody still creates and
 * sends; uid 1000 with CAP_SYS_RESOURCE alone goes beyond; destroying one
 * (by DESTROY, or by closing the endpoint that owns a process-owned one)
 * gives it back.
 */
TEST_F(sec, quota_mailboxes_per_user)
{
	struct job *j = mbox_shared_alloc(sizeof(*j));
	unsigned int i, first_made;

	ASSERT_NE(NULL, j);
	j->made = self->made;
	ASSERT_EQ(0, sec_param_set(self, "max_user_mailboxes", QUOTA_BOXES));

	/* Without end: stops at the limit. */
	j->max = 4 * QUOTA_BOXES;
	ASSERT_EQ(0, cred_run(&user1000, job_create, j));
	EXPECT_EQ(QUOTA_BOXES, j->done);
	EXPECT_EQ(-ENOSPC, j->err);
	first_made = self->made->n;

	/* The limit is the user's, not the process's. */
	j->max = 1;
	ASSERT_EQ(0, cred_run(&user1000, job_create, j));
	EXPECT_EQ(0, j->done);
	EXPECT_EQ(-ENOSPC, j->err);

	/* Another user is not held up. */
	j->box = 0;
	EXPECT_EQ(0, cred_run(&nobody, job_unaffected, j));
	j->max = QUOTA_BOXES;
	ASSERT_EQ(0, cred_run(&nobody, job_create, j));
	EXPECT_EQ(QUOTA_BOXES, j->done);
	EXPECT_EQ(0, j->err);

	/* CAP_SYS_RESOURCE alone, same uid: beyond the limit. */
	j->max = 4;
	ASSERT_EQ(0, cred_run(&user1000_sys_resource, job_create, j));
	EXPECT_EQ(4, j->done);
	EXPECT_EQ(0, j->err);
	/* Those and nobody's go. */
	while (self->made->n > first_made)
		EXPECT_EQ(0, mbox_destroy(self->fd,
					  self->made->ids[--self->made->n]));

	/* DESTROY gives one back, and only one. */
	j->victim = self->made->ids[0];
	j->max = 2;
	ASSERT_EQ(0, cred_run(&user1000, job_create, j));
	EXPECT_EQ(0, j->victim_err);
	EXPECT_EQ(1, j->done);
	EXPECT_EQ(-ENOSPC, j->err);
	j->victim = 0;

	/* So does closing the endpoint that owns process-owned ones. */
	for (i = 0; i < 2; i++)
		EXPECT_EQ(0, mbox_destroy(self->fd, self->made->ids[1 + i]));
	j->max = 4;
	ASSERT_EQ(0, cred_run(&user1000, job_create_process_owned, j));
	EXPECT_EQ(2, j->done);
	EXPECT_EQ(-ENOSPC, j->err);
	j->max = 4;
	ASSERT_EQ(0, cred_run(&user1000, job_create, j));
	EXPECT_EQ(2, j->done);
	EXPECT_EQ(-ENOSPC, j->err);

	/* All of them destroyed: the whole quota is back. */
	for (i = 0; i < self->made->n; i++)
		mbox_destroy(self->fd, self->made->ids[i]);
	self->made->n = 0;
	j->max = 4 * QUOTA_BOXES;
	ASSERT_EQ(0, cred_run(&user1000, job_create, j));
	EXPECT_EQ(QUOTA_BOXES, j->done);
	EXPECT_EQ(-ENOSPC, j->err);
	munmap(j, sizeof(*j));
}

#define QUOTA_LEN	1000
#define QUOTA_BYTES	64000

/*
 * max_user_bytes: uid 1000 without capabilities queues messages without
 * end into an unbounded mailbox and stops with ENOSPC, no later than its
 * payload alone would reach the limit.  The quota may charge each message
 * more than its payload (an overhead of its own): the test does not
 * depend on how much, beyond assuming it is less than three times the
 * payload of a 1000-byte message.  nobody still sends; uid 1000 with
 * CAP_SYS_RESOURCE alone goes beyond; receiving a message gives exactly
 * its room back, destroying the mailbox all of it.
 */
TEST_F(sec, quota_bytes_per_user)
{
	struct job *j = mbox_shared_alloc(sizeof(*j));
	unsigned int i, k;
	struct mbox_recv r;
	struct mbox_stat st;
	char buf[QUOTA_LEN];

	ASSERT_NE(NULL, j);
	ASSERT_EQ(0, sec_param_set(self, "max_user_bytes", QUOTA_BYTES));
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL,
					MBOX_UNBOUNDED, MBOX_POLICY_SHARED,
					0666, &j->box));
	j->len = QUOTA_LEN;

	/* Without end: stops at the quota, whatever each message costs. */
	j->max = 10 * QUOTA_BYTES / QUOTA_LEN;
	ASSERT_EQ(0, cred_run(&user1000, job_send, j));
	k = j->done;
	EXPECT_EQ(-ENOSPC, j->err);
	EXPECT_GE(QUOTA_BYTES / QUOTA_LEN, k);
	EXPECT_LE(QUOTA_BYTES / QUOTA_LEN / 4, k);
	ASSERT_EQ(0, sec_stat(self->fd, 0, j->box, &st));
	EXPECT_EQ(k, st.nr_msgs);
	EXPECT_EQ((__u64)k * QUOTA_LEN, st.nr_bytes);
	TH_LOG("uid 1000 queued %u messages of %u bytes under max_user_bytes %u",
	       k, QUOTA_LEN, QUOTA_BYTES);

	/* The quota is the user's; another user is not held up. */
	j->max = 1;
	ASSERT_EQ(0, cred_run(&user1000, job_send, j));
	EXPECT_EQ(0, j->done);
	EXPECT_EQ(-ENOSPC, j->err);
	EXPECT_EQ(0, cred_run(&nobody, job_unaffected, j));

	/* CAP_SYS_RESOURCE alone, same uid: beyond it (priority 1). */
	j->max = 4;
	j->prio = 1;
	ASSERT_EQ(0, cred_run(&user1000_sys_resource, job_send, j));
	EXPECT_EQ(4, j->done);
	EXPECT_EQ(0, j->err);
	j->prio = 0;

	/* Receive those four, then one of the first ones. */
	for (i = 0; i < 5; i++) {
		mbox_recv_init(&r, j->box, buf, sizeof(buf), MBOX_NONBLOCK);
		ASSERT_EQ(0, mbox_recv_ex(self->fd, &r));
		EXPECT_EQ(i < 4 ? 1 : 0, r.priority);
		EXPECT_EQ(1000, r.sender_uid);
	}
	/* That one's room is back, no more. */
	j->max = 10 * QUOTA_BYTES / QUOTA_LEN;
	ASSERT_EQ(0, cred_run(&user1000, job_send, j));
	EXPECT_EQ(1, j->done);
	EXPECT_EQ(-ENOSPC, j->err);

	/* Destroying the mailbox frees them all, and their charge. */
	EXPECT_EQ(0, mbox_destroy(self->fd, j->box));
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL,
					MBOX_UNBOUNDED, MBOX_POLICY_SHARED,
					0666, &j->box));
	ASSERT_EQ(0, cred_run(&user1000, job_send, j));
	EXPECT_EQ(k, j->done);
	EXPECT_EQ(-ENOSPC, j->err);
	EXPECT_EQ(0, mbox_destroy(self->fd, j->box));
	munmap(j, sizeof(*j));
}

/* A bounded mailbox's messages count against the quota too. */
TEST_F(sec, quota_bytes_counts_bounded_mailboxes)
{
	struct job *j = mbox_shared_alloc(sizeof(*j));
	__u32 big;

	ASSERT_NE(NULL, j);
	ASSERT_EQ(0, sec_param_set(self, "max_user_bytes", QUOTA_BYTES));
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL,
					10 * QUOTA_BYTES / QUOTA_LEN,
					MBOX_POLICY_SHARED, 0666, &big));
	j->box = big;
	j->len = QUOTA_LEN;
	j->max = 10 * QUOTA_BYTES / QUOTA_LEN;
	ASSERT_EQ(0, cred_run(&user1000, job_send, j));
	EXPECT_EQ(-ENOSPC, j->err);
	EXPECT_GE(QUOTA_BYTES / QUOTA_LEN, j->done);
	EXPECT_LT(0, j->done);
	EXPECT_EQ(0, mbox_destroy(self->fd, big));
	munmap(j, sizeof(*j));
}

#define EMPTY_QUOTA	4096

/*
 * Empty messages are not free: each is kernel memory (its header, the
 * sender's pid), so the byte quota charges it something too.  Whatever
 * that overhead, at least a byte a message, ENOSPC comes within
 * EMPTY_QUOTA + 1 of them, where a quota of payload bytes alone would
 * let an unprivileged user queue them without end.
 */
TEST_F_TIMEOUT(sec, quota_bytes_counts_empty_messages, 60)
{
	struct job *j = mbox_shared_alloc(sizeof(*j));

	ASSERT_NE(NULL, j);
	ASSERT_EQ(0, sec_param_set(self, "max_user_bytes", EMPTY_QUOTA));
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL,
					MBOX_UNBOUNDED, MBOX_POLICY_SHARED,
					0666, &j->box));
	j->len = 0;
	j->max = EMPTY_QUOTA + 1;
	ASSERT_EQ(0, cred_run(&user1000, job_send, j));
	TH_LOG("uid 1000 queued %u empty messages under max_user_bytes %u",
	       j->done, EMPTY_QUOTA);
	EXPECT_EQ(-ENOSPC, j->err);
	EXPECT_GE(EMPTY_QUOTA, j->done);
	EXPECT_LT(0, j->done);
	/* And they give it back. */
	EXPECT_EQ(0, mbox_destroy(self->fd, j->box));
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL,
					MBOX_UNBOUNDED, MBOX_POLICY_SHARED,
					0666, &j->box));
	j->max = j->done;
	ASSERT_EQ(0, cred_run(&user1000, job_send, j));
	EXPECT_EQ(0, j->err);
	EXPECT_EQ(0, mbox_destroy(self->fd, j->box));
	munmap(j, sizeof(*j));
}

/* ---- permissions -------------------------------------------------------- */

static const __u32 modes[] = {
	0000, 0200, 0400, 0600, 0020, 0040, 0060, 0002, 0004, 0006,
	0622, 0644, 0666,
};

#define NR_MODES	MBOX_ARRAY_SIZE(modes)

/*
 * The mailboxes of the matrix are made by uid 1000 (gid 1000: their
 * creator), then given to uid 1001 and group 2000 with SET.
 */
#define M_CREATOR	1000
#define M_OWNER		1001
#define M_GROUP		2000

enum m_class { C_OWNER, C_GROUP, C_OTHER, C_CAP };

static const struct relation {
	struct cred cred;
	enum m_class cls;
} relations[] = {
	{ { .what = "owner (uid after SET_UID)",
	    .uid = M_OWNER, .gid = M_OWNER }, C_OWNER },
	{ { .what = "creator (uid before SET_UID)",
	    .uid = M_CREATOR, .gid = M_CREATOR }, C_OWNER },
	{ { .what = "group member (egid)",
	    .uid = 1002, .gid = M_GROUP }, C_GROUP },
	{ { .what = "group member (supplementary gid)",
	    .uid = 1003, .gid = 1003, .ngroups = 1, .groups = { M_GROUP } },
	  C_GROUP },
	{ { .what = "creator's group (egid = cgid)",
	    .uid = 1004, .gid = M_CREATOR }, C_GROUP },
	{ { .what = "other",
	    .uid = 1005, .gid = 1005, .ngroups = 1, .groups = { 1005 } },
	  C_OTHER },
	{ { .what = "uid 1006 with CAP_IPC_OWNER alone",
	    .uid = 1006, .gid = 1006, .caps = CAP_BIT(CAP_IPC_OWNER) },
	  C_CAP },
	/* Last: root_without_cap_ipc_owner_is_its_uid uses it. */
	{ { .what = "root without CAP_IPC_OWNER",
	    .uid = 0, .gid = 0, .caps = CAP_BIT(CAP_IPC_OWNER), .drop = true },
	  C_OTHER },
};

#define NR_RELS		MBOX_ARRAY_SIZE(relations)

enum m_op { OP_STAT, OP_LIST, OP_SEND, OP_RECV, OP_BOTH, OP_SET, OP_DESTROY,
	    NR_OPS };

static const char *const op_names[] = {
	"STAT", "STAT_NEXT listing", "OPEN send", "OPEN recv",
	"OPEN send+recv", "SET", "DESTROY",
};

struct matrix {
	__u32 ids[NR_RELS][NR_MODES];
	int got[NR_MODES][NR_OPS];
	unsigned int rel;
};

/* What op must give to a caller of class cls on a mailbox of mode. */
static int m_expect(enum m_class cls, __u32 mode, enum m_op op)
{
	__u32 bits = cls == C_OWNER ? mode >> 6 :
		     cls == C_GROUP ? mode >> 3 : mode;
	bool send = cls == C_CAP || bits & 2, recv = cls == C_CAP || bits & 4;
	bool owner = cls == C_OWNER || cls == C_CAP;

	switch (op) {
	case OP_STAT:
		return send || recv || owner ? 0 : -EACCES;
	case OP_LIST:
		return send || recv || owner ? 0 : -ENOENT;
	case OP_SEND:
		return send ? 0 : -EACCES;
	case OP_RECV:
		return recv ? 0 : -EACCES;
	case OP_BOTH:
		return send && recv ? 0 : -EACCES;
	case OP_SET:
	case OP_DESTROY:
		return owner ? 0 : -EPERM;
	default:
		return -EINVAL;
	}
}

/* As uid 1000: one system-owned mailbox per relation and mode. */
static int matrix_create(void *arg)
{
	struct matrix *m = arg;
	unsigned int r, i;
	int fd = mbox_dev_open(), ret;

	if (fd < 0)
		return fd;
	for (r = 0; r < NR_RELS; r++) {
		for (i = 0; i < NR_MODES; i++) {
			ret = mbox_create(fd, NULL, MBOX_CREATE_SYSTEM, 1,
					  MBOX_POLICY_SHARED, modes[i],
					  &m->ids[r][i]);
			if (!ret)
				ret = mbox_set(fd, m->ids[r][i],
					       MBOX_SET_UID | MBOX_SET_GID,
					       M_OWNER, M_GROUP, 0);
			if (ret)
				return ret;
		}
	}
	close(fd);
	return 0;
}

/* As the relation m->rel: every operation on its row of mailboxes. */
static int matrix_check(void *arg)
{
	struct matrix *m = arg;
	struct mbox_stat st;
	int fd = mbox_dev_open();
	unsigned int i;
	__u32 id;

	if (fd < 0)
		return fd;
	for (i = 0; i < NR_MODES; i++) {
		id = m->ids[m->rel][i];
		m->got[i][OP_STAT] = sec_stat(fd, 0, id, &st);
		m->got[i][OP_LIST] = sec_listed(fd, id);
		m->got[i][OP_SEND] = sec_open_close(fd, id, MBOX_OPEN_SEND);
		m->got[i][OP_RECV] = sec_open_close(fd, id, MBOX_OPEN_RECV);
		m->got[i][OP_BOTH] = sec_open_close(fd, id, MBOX_OPEN_SEND |
						    MBOX_OPEN_RECV);
		m->got[i][OP_SET] = mbox_set(fd, id, MBOX_SET_MODE, 0, 0,
					     modes[i]);
		m->got[i][OP_DESTROY] = mbox_destroy(fd, id);
	}
	close(fd);
	return 0;
}

/*
 * Every mode of the set against every relation of the caller to the
 * mailbox and every operation that checks permissions: exactly the
 * result abi.rst gives (System V rules: the owner's bits for the owner
 * and the creator, the group's for the mailbox's group and the creator's,
 * else the other's; SET and DESTROY for the owner and creator alone;
 * CAP_IPC_OWNER over everything; root without it is just uid 0).
 */
TEST_F_TIMEOUT(sec, permission_matrix, 120)
{
	struct matrix *m = mbox_shared_alloc(sizeof(*m));
	unsigned int r, i, op, wrong = 0;
	const struct relation *rel;
	struct mbox_stat st;
	int want;

	ASSERT_NE(NULL, m);
	/* uid 1000 makes them all: not a quota test. */
	ASSERT_EQ(0, sec_param_set(self, "max_user_mailboxes", 4096));
	ASSERT_EQ(0, cred_run(&user1000, matrix_create, m));
	for (r = 0; r < NR_RELS; r++)
		for (i = 0; i < NR_MODES; i++)
			if (self->made->n < SEC_IDS)
				self->made->ids[self->made->n++] = m->ids[r][i];

	for (r = 0; r < NR_RELS; r++) {
		rel = &relations[r];
		m->rel = r;
		memset(m->got, 0x7f, sizeof(m->got));
		ASSERT_EQ(0, cred_run(&rel->cred, matrix_check, m)) {
			TH_LOG("%s", rel->cred.what);
		}
		for (i = 0; i < NR_MODES; i++) {
			for (op = 0; op < NR_OPS; op++) {
				want = m_expect(rel->cls, modes[i], op);
				if (m->got[i][op] == want)
					continue;
				wrong++;
				TH_LOG("mode %04o, %s: %s gave %d (%s), expected %d",
				       modes[i], rel->cred.what, op_names[op],
				       m->got[i][op], strerror(-m->got[i][op]),
				       want);
			}
			/* A DESTROY that was refused left it there. */
			want = m_expect(rel->cls, modes[i], OP_DESTROY) ?
			       0 : -ENOENT;
			EXPECT_EQ(want, sec_stat(self->fd, 0, m->ids[r][i], &st));
			if (!want) {
				EXPECT_EQ(modes[i], st.mode);
				EXPECT_EQ(M_OWNER, st.uid);
				EXPECT_EQ(M_GROUP, st.gid);
				EXPECT_EQ(M_CREATOR, st.cuid);
				EXPECT_EQ(M_CREATOR, st.cgid);
			}
		}
	}
	EXPECT_EQ(0, wrong);
	munmap(m, sizeof(*m));
}

/* Root without CAP_IPC_OWNER on its own mailbox: the owner's bits. */
struct own {
	__u32 none;	/* mode 0000 */
	__u32 rw;	/* mode 0600 */
	int got[6];
};

static int own_check(void *arg)
{
	struct own *o = arg;
	struct mbox_stat st;
	int fd = mbox_dev_open();

	if (fd < 0)
		return fd;
	o->got[0] = sec_open_close(fd, o->none, MBOX_OPEN_SEND);
	o->got[1] = sec_open_close(fd, o->none, MBOX_OPEN_RECV);
	o->got[2] = sec_stat(fd, 0, o->none, &st);
	o->got[3] = mbox_set(fd, o->none, MBOX_SET_MODE, 0, 0, 0);
	o->got[4] = sec_open_close(fd, o->rw, MBOX_OPEN_SEND | MBOX_OPEN_RECV);
	o->got[5] = mbox_destroy(fd, o->none);
	close(fd);
	return 0;
}

TEST_F(sec, root_without_cap_ipc_owner_is_its_uid)
{
	const struct cred *root_nocap = &relations[NR_RELS - 1].cred;
	struct own *o = mbox_shared_alloc(sizeof(*o));
	struct mbox_stat st;

	ASSERT_NE(NULL, o);
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 1,
					MBOX_POLICY_SHARED, 0000, &o->none));
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 1,
					MBOX_POLICY_SHARED, 0600, &o->rw));
	/* With it, root opens a mode-0000 mailbox (another endpoint). */
	ASSERT_EQ(0, cred_run(&(struct cred){ .what = "root", .drop = true },
			      own_check, o));
	EXPECT_EQ(0, o->got[0]);
	EXPECT_EQ(0, o->got[1]);
	EXPECT_EQ(0, o->got[5]);
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 1,
					MBOX_POLICY_SHARED, 0000, &o->none));
	ASSERT_EQ(0, cred_run(root_nocap, own_check, o));
	EXPECT_EQ(-EACCES, o->got[0]);
	EXPECT_EQ(-EACCES, o->got[1]);
	EXPECT_EQ(0, o->got[2]);
	EXPECT_EQ(0, o->got[3]);
	EXPECT_EQ(0, o->got[4]);
	EXPECT_EQ(0, o->got[5]);
	EXPECT_EQ(-ENOENT, sec_stat(self->fd, 0, o->none, &st));
	munmap(o, sizeof(*o));
}

/* Rights are taken at OPEN: a later SET does not take them back. */
struct kept {
	__u32 w;		/* mode 0622: uid 1000 opens it to send */
	__u32 r;		/* mode 0644: uid 1000 opens it to receive */
	int to_parent, from_parent;
	int open_w, open_r;	/* before the SET */
	int send, recv, reopen_w, reopen_r, stat_w;	/* after it */
	char msg[16];
};

static int kept_child(void *arg)
{
	struct kept *k = arg;
	struct mbox_stat st;
	__u32 len = sizeof(k->msg);
	int fd = mbox_dev_open(), fd2 = mbox_dev_open();

	if (fd < 0 || fd2 < 0)
		return ENODEV;
	k->open_w = mbox_open_id(fd, k->w, MBOX_OPEN_SEND);
	k->open_r = mbox_open_id(fd, k->r, MBOX_OPEN_RECV);
	/* Opened: the parent now takes every right away. */
	if (mbox_pipe_write_byte(k->to_parent, 0) ||
	    mbox_pipe_read_byte(k->from_parent, MBOX_WAIT_MS) != 0)
		return EPIPE;
	k->send = mbox_send(fd, k->w, "kept", 4, 0, MBOX_NONBLOCK);
	k->recv = mbox_recv(fd, k->r, k->msg, &len, MBOX_NONBLOCK);
	k->reopen_w = mbox_open_id(fd2, k->w, MBOX_OPEN_SEND);
	k->reopen_r = mbox_open_id(fd2, k->r, MBOX_OPEN_RECV);
	k->stat_w = sec_stat(fd2, 0, k->w, &st);
	close(fd2);
	close(fd);
	return 0;
}

TEST_F(sec, rights_are_taken_at_open)
{
	struct kept *k = mbox_shared_alloc(sizeof(*k));
	int to_parent[2], from_parent[2];
	pid_t pid;

	ASSERT_NE(NULL, k);
	ASSERT_EQ(0, pipe(to_parent));
	ASSERT_EQ(0, pipe(from_parent));
	k->to_parent = to_parent[1];
	k->from_parent = from_parent[0];
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
					MBOX_POLICY_SHARED, 0622, &k->w));
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
					MBOX_POLICY_SHARED, 0644, &k->r));
	pid = cred_spawn(&user1000, kept_child, k);
	ASSERT_LT(0, pid);
	mbox_track_pid(&self->cl, pid);
	ASSERT_EQ(0, mbox_pipe_read_byte(to_parent[0], MBOX_WAIT_MS));
	/* Mode 0000, and owned by someone else than uid 1000. */
	EXPECT_EQ(0, mbox_set(self->fd, k->w, MBOX_SET_MODE | MBOX_SET_UID,
			      M_OWNER, 0, 0000));
	EXPECT_EQ(0, mbox_set(self->fd, k->r, MBOX_SET_MODE | MBOX_SET_UID,
			      M_OWNER, 0, 0000));
	EXPECT_EQ(0, mbox_send(self->fd, k->r, "still", 5, 0, MBOX_NONBLOCK));
	ASSERT_EQ(0, mbox_pipe_write_byte(from_parent[1], 0));
	ASSERT_EQ(0, mbox_reap(pid));

	EXPECT_EQ(0, k->open_w);
	EXPECT_EQ(0, k->open_r);
	/* What was open stays usable... */
	EXPECT_EQ(0, k->send);
	EXPECT_EQ(0, k->recv);
	EXPECT_EQ(0, memcmp(k->msg, "still", 5));
	EXPECT_TRUE(mbox_recv_is(self->fd, k->w, "kept"));
	/* ...while a new OPEN is refused, and STAT goes by the mode now. */
	EXPECT_EQ(-EACCES, k->reopen_w);
	EXPECT_EQ(-EACCES, k->reopen_r);
	EXPECT_EQ(-EACCES, k->stat_w);
	close(to_parent[0]);
	close(to_parent[1]);
	close(from_parent[0]);
	close(from_parent[1]);
	munmap(k, sizeof(*k));
}

/* ---- IPC and user namespaces -------------------------------------------- */

/*
 * Three views: the test's (the initial IPC namespace) and two children's,
 * each in an IPC namespace of its own.  Each makes a mailbox named after
 * itself, one with the name all three share, and one without a name.
 */
#define NS_VIEWS	3

struct ns_view {
	__u32 own;		/* named "<base>-<view>" */
	__u32 same;		/* named "<base>-same" in every view */
	__u32 anon;
	int err;		/* setting up: 0 or -errno */
	unsigned int wrong;	/* checks that failed */
};

struct ns_test {
	char base[64];
	struct ns_view v[NS_VIEWS];
	int ready[2];		/* children to the test: one byte each */
	int go[NS_VIEWS][2];	/* the test to each child */
};

static void ns_name(const struct ns_test *t, const char *what, char *buf,
		    size_t size)
{
	snprintf(buf, size, "%s-%s", t->base, what);
}

static int ns_make(const struct ns_test *t, int fd, unsigned int view,
		   struct ns_view *v)
{
	char own[96], same[96], tag[8];
	int ret;

	snprintf(tag, sizeof(tag), "%u", view);
	ns_name(t, tag, own, sizeof(own));
	ns_name(t, "same", same, sizeof(same));
	ret = mbox_create(fd, own, 0, 1, MBOX_POLICY_SHARED, 0666, &v->own);
	if (!ret)
		ret = mbox_create(fd, same, 0, 1, MBOX_POLICY_SHARED, 0666,
				  &v->same);
	if (!ret)
		ret = mbox_create(fd, NULL, 0, 1, MBOX_POLICY_SHARED, 0666,
				  &v->anon);
	return ret;
}

#define NS_CHECK(v, cond, ...) do {					\
	if (!(cond)) {							\
		(v)->wrong++;						\
		fprintf(stderr, "#   view %u: " #cond ": ", view);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
	}								\
} while (0)

/* From view: nothing of view other can be found by name or id. */
static void ns_check_other(const struct ns_test *t, int fd, unsigned int view,
			   unsigned int other, struct ns_view *v)
{
	const struct ns_view *o = &t->v[other];
	const __u32 ids[] = { o->own, o->same, o->anon };
	char name[96], tag[8];
	struct mbox_stat st;
	unsigned int i;
	__u32 got;
	int ret, fd2;

	snprintf(tag, sizeof(tag), "%u", other);
	ns_name(t, tag, name, sizeof(name));
	ret = mbox_open_name(fd, name, MBOX_OPEN_SEND, NULL);
	NS_CHECK(v, ret == -ENOENT, "OPEN %s: %d", name, ret);
	for (i = 0; i < MBOX_ARRAY_SIZE(ids); i++) {
		ret = mbox_open_id(fd, ids[i], MBOX_OPEN_SEND);
		NS_CHECK(v, ret == -ENOENT, "OPEN id %u: %d", ids[i], ret);
		ret = sec_stat(fd, 0, ids[i], &st);
		NS_CHECK(v, ret == -ENOENT, "STAT id %u: %d", ids[i], ret);
		ret = sec_listed(fd, ids[i]);
		NS_CHECK(v, ret == -ENOENT, "listed id %u: %d", ids[i], ret);
		ret = proc_lists(ids[i]);
		NS_CHECK(v, ret == 0, "%s id %u: %d", MBOX_PROC_LIST, ids[i],
			 ret);
		ret = mbox_set(fd, ids[i], MBOX_SET_MODE, 0, 0, 0);
		NS_CHECK(v, ret == -ENOENT, "SET id %u: %d", ids[i], ret);
		ret = mbox_destroy(fd, ids[i]);
		NS_CHECK(v, ret == -ENOENT, "DESTROY id %u: %d", ids[i], ret);
	}
	/* The shared name is this view's own mailbox (a new endpoint). */
	ns_name(t, "same", name, sizeof(name));
	fd2 = mbox_dev_open();
	got = 0;
	ret = fd2 < 0 ? fd2 : mbox_open_name(fd2, name, MBOX_OPEN_SEND, &got);
	NS_CHECK(v, ret == 0, "OPEN %s: %d", name, ret);
	NS_CHECK(v, got == v->same, "OPEN %s: id %u, not %u", name, got,
		 v->same);
	if (fd2 >= 0)
		close(fd2);
}

/* From view: its own mailboxes are all there. */
static void ns_check_own(int fd, unsigned int view, struct ns_view *v)
{
	const __u32 ids[] = { v->own, v->same, v->anon };
	struct mbox_stat st;
	unsigned int i;
	int ret;

	for (i = 0; i < MBOX_ARRAY_SIZE(ids); i++) {
		ret = sec_stat(fd, 0, ids[i], &st);
		NS_CHECK(v, ret == 0, "STAT own id %u: %d", ids[i], ret);
		ret = sec_listed(fd, ids[i]);
		NS_CHECK(v, ret == 0, "listed own id %u: %d", ids[i], ret);
		ret = proc_lists(ids[i]);
		NS_CHECK(v, ret == 1, "%s own id %u: %d", MBOX_PROC_LIST,
			 ids[i], ret);
	}
}

static void ns_check_all(struct ns_test *t, int fd, unsigned int view)
{
	unsigned int other;

	ns_check_own(fd, view, &t->v[view]);
	for (other = 0; other < NS_VIEWS; other++)
		if (other != view)
			ns_check_other(t, fd, view, other, &t->v[view]);
}

struct ns_child {
	struct ns_test *t;
	unsigned int view;
};

static int ns_child_main(void *arg)
{
	struct ns_child *c = arg;
	struct ns_test *t = c->t;
	struct ns_view *v = &t->v[c->view];
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (unshare(CLONE_NEWIPC)) {
		v->err = -errno;
		mbox_pipe_write_byte(t->ready[1], 0);
		return 0;
	}
	fd = mbox_dev_open();
	v->err = fd < 0 ? fd : ns_make(t, fd, c->view, v);
	/* Made, or failed: tell the test, wait until all three are made. */
	mbox_pipe_write_byte(t->ready[1], 0);
	if (mbox_pipe_read_byte(t->go[c->view][0], MBOX_WAIT_MS) != 0 ||
	    v->err)
		return 0;
	ns_check_all(t, fd, c->view);
	/* Checked: hold the mailboxes until the others are done too. */
	mbox_pipe_write_byte(t->ready[1], 0);
	mbox_pipe_read_byte(t->go[c->view][0], MBOX_WAIT_MS);
	close(fd);
	return 0;
}

/*
 * Two IPC namespaces, and the test's own: none sees a mailbox of another,
 * by name (OPEN ENOENT; the same name can be created in each), by id
 * (OPEN, STAT, SET and DESTROY ENOENT), in the STAT_NEXT listing or in
 * /proc/driver/mbox/mailboxes.  The children are root: CAP_IPC_OWNER in
 * the initial user namespace does not reach across IPC namespaces either.
 */
TEST_F_TIMEOUT(sec, ipc_namespaces_see_only_their_own, 60)
{
	struct ns_test *t = mbox_shared_alloc(sizeof(*t));
	struct ns_child c[NS_VIEWS];
	unsigned int i;
	pid_t pid[NS_VIEWS];

	ASSERT_NE(NULL, t);
	snprintf(t->base, sizeof(t->base), "/mbox-sec-%d", (int)getpid());
	ASSERT_EQ(0, pipe(t->ready));
	for (i = 1; i < NS_VIEWS; i++)
		ASSERT_EQ(0, pipe(t->go[i]));
	for (i = 1; i < NS_VIEWS; i++) {
		c[i].t = t;
		c[i].view = i;
		pid[i] = mbox_spawn(ns_child_main, &c[i]);
		ASSERT_LT(0, pid[i]);
		mbox_track_pid(&self->cl, pid[i]);
	}
	/* Process-owned: they go with the test's endpoint. */
	t->v[0].err = ns_make(t, self->fd, 0, &t->v[0]);
	for (i = 1; i < NS_VIEWS; i++)
		ASSERT_EQ(0, mbox_pipe_read_byte(t->ready[0], MBOX_WAIT_MS));
	for (i = 1; i < NS_VIEWS; i++)
		if (t->v[i].err == -EINVAL || t->v[i].err == -EPERM)
			SKIP(return, "cannot make an IPC namespace here (%s)",
			     strerror(-t->v[i].err));
	for (i = 0; i < NS_VIEWS; i++)
		ASSERT_EQ(0, t->v[i].err) {
			TH_LOG("view %u could not make its mailboxes", i);
		}
	for (i = 1; i < NS_VIEWS; i++)
		ASSERT_EQ(0, mbox_pipe_write_byte(t->go[i][1], 0));
	ns_check_all(t, self->fd, 0);
	for (i = 1; i < NS_VIEWS; i++)
		ASSERT_EQ(0, mbox_pipe_read_byte(t->ready[0], MBOX_WAIT_MS));
	for (i = 1; i < NS_VIEWS; i++)
		ASSERT_EQ(0, mbox_pipe_write_byte(t->go[i][1], 0));
	for (i = 1; i < NS_VIEWS; i++)
		EXPECT_EQ(0, mbox_reap(pid[i]));
	for (i = 0; i < NS_VIEWS; i++)
		EXPECT_EQ(0, t->v[i].wrong) {
			TH_LOG("view %u saw what it should not (above)", i);
		}
	close(t->ready[0]);
	close(t->ready[1]);
	for (i = 1; i < NS_VIEWS; i++) {
		close(t->go[i][0]);
		close(t->go[i][1]);
	}
	munmap(t, sizeof(*t));
}

/*
 * A user namespace's root (uid 1000 outside it, without capabilities
 * there) and CAP_IPC_OWNER: over a mailbox of the initial IPC namespace,
 * which that user namespace does not own, it is nothing (EACCES, EPERM);
 * over one that real root made inside an IPC namespace owned by it, mode
 * 0000, it is everything; and without CAP_IPC_OWNER, nothing again.
 */
struct userns_test {
	__u32 host;		/* mode 0000, root's, initial IPC namespace */
	__u32 inside;		/* mode 0000, root's, the child's namespace */
	int ready[2], go[2];
	int unshare_user, unshare_ipc;
	int host_got[5];	/* OPEN send, OPEN recv, STAT, SET, DESTROY */
	int host_listed;
	int host_after;		/* OPEN, once in its own IPC namespace */
	int in_got[5];		/* the same, with CAP_IPC_OWNER */
	int in_listed;
	int nocap_got[5];	/* the same, without it */
	int nocap_take;		/* dropping it: 0 */
};

static void ops5(int fd, __u32 id, int got[5], bool destroy)
{
	struct mbox_stat st;

	got[0] = sec_open_close(fd, id, MBOX_OPEN_SEND);
	got[1] = sec_open_close(fd, id, MBOX_OPEN_RECV);
	got[2] = sec_stat(fd, 0, id, &st);
	got[3] = mbox_set(fd, id, MBOX_SET_MODE, 0, 0, 0);
	got[4] = destroy ? mbox_destroy(fd, id) : 0;
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;
	ssize_t len = strlen(s);

	if (fd < 0)
		return -errno;
	if (write(fd, s, len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

/* Without CAP_IPC_OWNER, in the same namespaces: a grandchild. */
static int userns_nocap(void *arg)
{
	struct userns_test *u = arg;
	__u64 eff, prm, inh;
	int fd;

	u->nocap_take = capget2(&eff, &prm, &inh);
	if (!u->nocap_take)
		u->nocap_take = capset2(eff & ~CAP_BIT(CAP_IPC_OWNER),
					prm & ~CAP_BIT(CAP_IPC_OWNER));
	fd = mbox_dev_open();
	if (fd < 0)
		return fd;
	ops5(fd, u->inside, u->nocap_got, true);
	close(fd);
	return 0;
}

static int userns_child(void *arg)
{
	struct userns_test *u = arg;
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	u->unshare_user = unshare(CLONE_NEWUSER) ? -errno : 0;
	if (u->unshare_user) {
		mbox_pipe_write_byte(u->ready[1], 0);
		return 0;
	}
	/* uid and gid 0 inside are 1000 outside. */
	if (write_file("/proc/self/uid_map", "0 1000 1") ||
	    write_file("/proc/self/setgroups", "deny") ||
	    write_file("/proc/self/gid_map", "0 1000 1"))
		return 101;
	fd = mbox_dev_open();
	if (fd < 0)
		return 102;
	/* Every capability, but in a user namespace that owns nothing. */
	ops5(fd, u->host, u->host_got, true);
	u->host_listed = sec_listed(fd, u->host);

	u->unshare_ipc = unshare(CLONE_NEWIPC) ? -errno : 0;
	u->host_after = mbox_open_id(fd, u->host, MBOX_OPEN_SEND);
	/* Now root makes a mailbox in here. */
	mbox_pipe_write_byte(u->ready[1], 0);
	if (u->unshare_ipc || mbox_pipe_read_byte(u->go[0], MBOX_WAIT_MS))
		return 0;
	if (mbox_run(userns_nocap, u))
		return 103;
	u->in_listed = sec_listed(fd, u->inside);
	ops5(fd, u->inside, u->in_got, true);
	close(fd);
	return 0;
}

/* Real root makes a mailbox in the IPC namespace of pid. */
struct setns_make {
	pid_t pid;
	__u32 *id;
};

static int setns_make(void *arg)
{
	struct setns_make *s = arg;
	char path[64];
	int nsfd, fd, ret;

	snprintf(path, sizeof(path), "/proc/%d/ns/ipc", (int)s->pid);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0 || setns(nsfd, CLONE_NEWIPC))
		return errno;
	fd = mbox_dev_open();
	if (fd < 0)
		return -fd;
	ret = mbox_create(fd, NULL, MBOX_CREATE_SYSTEM, 1, MBOX_POLICY_SHARED,
			  0000, s->id);
	close(fd);
	return ret;
}

TEST_F_TIMEOUT(sec, userns_root_owns_only_its_ipc_namespace, 60)
{
	struct userns_test *u = mbox_shared_alloc(sizeof(*u));
	struct setns_make s;
	struct mbox_stat st;
	unsigned int i;
	pid_t pid;

	ASSERT_NE(NULL, u);
	ASSERT_EQ(0, pipe(u->ready));
	ASSERT_EQ(0, pipe(u->go));
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 1,
					MBOX_POLICY_SHARED, 0000, &u->host));
	pid = cred_spawn(&user1000, userns_child, u);
	ASSERT_LT(0, pid);
	mbox_track_pid(&self->cl, pid);
	ASSERT_EQ(0, mbox_pipe_read_byte(u->ready[0], MBOX_WAIT_MS));
	if (u->unshare_user == -EPERM || u->unshare_user == -EINVAL ||
	    u->unshare_user == -ENOSPC || u->unshare_user == -EACCES)
		SKIP(return, "no unprivileged user namespaces here (%s)",
		     strerror(-u->unshare_user));
	ASSERT_EQ(0, u->unshare_user);
	ASSERT_EQ(0, u->unshare_ipc);
	s.pid = pid;
	s.id = &u->inside;
	EXPECT_EQ(0, mbox_run(setns_make, &s));
	ASSERT_EQ(0, mbox_pipe_write_byte(u->go[1], 0));
	ASSERT_EQ(0, mbox_reap(pid));

	/* The initial IPC namespace's: refused, and it is still there. */
	EXPECT_EQ(-EACCES, u->host_got[0]);
	EXPECT_EQ(-EACCES, u->host_got[1]);
	EXPECT_EQ(-EACCES, u->host_got[2]);
	EXPECT_EQ(-EPERM, u->host_got[3]);
	EXPECT_EQ(-EPERM, u->host_got[4]);
	EXPECT_EQ(-ENOENT, u->host_listed);
	EXPECT_EQ(-ENOENT, u->host_after);
	ASSERT_EQ(0, sec_stat(self->fd, 0, u->host, &st));
	EXPECT_EQ(0000, st.mode);
	/* Its own IPC namespace's: without CAP_IPC_OWNER, refused... */
	EXPECT_EQ(0, u->nocap_take);
	EXPECT_EQ(-EACCES, u->nocap_got[0]);
	EXPECT_EQ(-EACCES, u->nocap_got[1]);
	EXPECT_EQ(-EACCES, u->nocap_got[2]);
	EXPECT_EQ(-EPERM, u->nocap_got[3]);
	EXPECT_EQ(-EPERM, u->nocap_got[4]);
	/* ...with it, everything. */
	EXPECT_EQ(0, u->in_listed);
	for (i = 0; i < 5; i++)
		EXPECT_EQ(0, u->in_got[i]) {
			TH_LOG("operation %u in its own IPC namespace", i);
		}
	/* Not even real root sees that one from here. */
	EXPECT_EQ(-ENOENT, sec_stat(self->fd, 0, u->inside, &st));
	close(u->ready[0]);
	close(u->ready[1]);
	close(u->go[0]);
	close(u->go[1]);
	munmap(u, sizeof(*u));
}

/* ---- memory cgroups ----------------------------------------------------- */

#define CG_ROOT		"/sys/fs/cgroup"
#define CG_MAX		(16ULL << 20)
/* memory.current may pass memory.max by no more than this. */
#define CG_SLACK	(1ULL << 20)

static int cg_read(const char *dir, const char *file, char *buf, size_t size)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int cg_write(const char *dir, const char *file, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return write_file(path, val);
}

static long long cg_u64(const char *dir, const char *file)
{
	char buf[64];
	int ret = cg_read(dir, file, buf, sizeof(buf));

	return ret ? ret : strtoll(buf, NULL, 10);
}

/* A "key value" line of a flat-keyed file such as memory.events. */
static long long cg_key(const char *dir, const char *file, const char *key)
{
	char buf[1024], *p;
	size_t len = strlen(key);
	int ret = cg_read(dir, file, buf, sizeof(buf));

	if (ret)
		return ret;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, len) && p[len] == ' ')
			return strtoll(p + len + 1, NULL, 10);
	return -ENOENT;
}

FIXTURE(memcg) {
	int fd;
	char cg[128];
	bool made_cg;
	bool enabled_memory;	/* we added +memory to the root's subtree */
	struct mbox_cleanup cl;
};

/* Message lengths: a slab object, and more than a page (kvmalloc). */
FIXTURE_VARIANT(memcg) {
	__u32 len;
};

FIXTURE_VARIANT_ADD(memcg, slab) {
	.len = 1000,
};

FIXTURE_VARIANT_ADD(memcg, kvmalloc) {
	.len = 20000,
};

FIXTURE_SETUP(memcg)
{
	char buf[256];

	self->made_cg = false;
	self->enabled_memory = false;
	self->fd = mbox_dev_open();
	if (self->fd == -ENOENT)
		SKIP(return, "/dev/mbox is absent: the mbox module is not loaded");
	ASSERT_LE(0, self->fd);
	MBOX_NEED_ROOT("make a memory cgroup");
	if (cg_read(CG_ROOT, "cgroup.controllers", buf, sizeof(buf)))
		SKIP(return, "no cgroup2 at %s", CG_ROOT);
	if (!strstr(buf, "memory"))
		SKIP(return, "no memory controller in %s (no CONFIG_MEMCG?)",
		     CG_ROOT);
	ASSERT_EQ(0, cg_read(CG_ROOT, "cgroup.subtree_control", buf,
			     sizeof(buf)));
	if (!strstr(buf, "memory")) {
		ASSERT_EQ(0, cg_write(CG_ROOT, "cgroup.subtree_control",
				      "+memory"));
		self->enabled_memory = true;
	}
	snprintf(self->cg, sizeof(self->cg), CG_ROOT "/mbox-sec-%d",
		 (int)getpid());
	ASSERT_EQ(0, mkdir(self->cg, 0755));
	self->made_cg = true;
	snprintf(buf, sizeof(buf), "%llu", CG_MAX);
	ASSERT_EQ(0, cg_write(self->cg, "memory.max", buf));
	/* No swap in the guest; where there is, keep it out. */
	cg_write(self->cg, "memory.swap.max", "0");
}

FIXTURE_TEARDOWN(memcg)
{
	int i;

	mbox_cleanup_run(&self->cl);
	if (self->made_cg) {
		/* A killed child may take a moment to leave it. */
		for (i = 0; i < 1000 && rmdir(self->cg) && errno == EBUSY; i++)
			mbox_sleep_ms(10);
	}
	if (self->enabled_memory)
		cg_write(CG_ROOT, "cgroup.subtree_control", "-memory");
	if (self->fd >= 0)
		close(self->fd);
}

struct flood {
	const char *cg;
	__u32 box;
	__u32 len;
	unsigned long long limit;	/* bytes to send at most */
	unsigned long long sent;	/* bytes */
	unsigned long long high;	/* highest memory.current seen */
	int err;
	bool joined;
	bool sample;	/* no memory.peak (before 5.19): read memory.current */
};

/* Join the cgroup, then send to the unbounded mailbox without end. */
static int flood_child(void *arg)
{
	struct flood *f = arg;
	char *msg = calloc(1, f->len);
	unsigned long long n = 0;
	long long cur;
	int fd;

	if (!msg || cg_write(f->cg, "cgroup.procs", "0"))
		return 101;
	f->joined = true;
	fd = mbox_dev_open();
	if (fd < 0 || mbox_open_id(fd, f->box, MBOX_OPEN_SEND))
		return 102;
	f->sent = 0;
	f->err = 0;
	while (f->sent < f->limit) {
		f->err = mbox_send(fd, f->box, msg, f->len, 0, MBOX_NONBLOCK);
		if (f->err)
			break;
		f->sent += f->len;
		/* Reading it allocates too: not when there is memory.peak. */
		if (f->sample && ++n % 64 == 0) {
			cur = cg_u64(f->cg, "memory.current");
			if (cur > 0 && (unsigned long long)cur > f->high)
				f->high = cur;
		}
	}
	close(fd);
	return 0;
}

/* The unbounded mailbox of a flood, for messages of f->len bytes. */
static int flood_box(FIXTURE_DATA(memcg) *self, struct flood *f)
{
	int ret = mbox_create_sized(self->fd, MBOX_CREATE_SYSTEM,
				    MBOX_UNBOUNDED, f->len, 0, 0, 0600,
				    &f->box);

	if (!ret)
		mbox_track_id(&self->cl, f->box);
	return ret;
}

/*
 * Messages are kernel memory charged to the sender's memory cgroup: a
 * root process (CAP_SYS_RESOURCE: no mbox quota) in a cgroup with
 * memory.max 16 MiB sends to an unbounded mailbox without end.  The limit
 * holds: the sends fail with ENOMEM (messages are allocated with
 * __GFP_RETRY_MAYFAIL, so a full cgroup fails the allocation instead of
 * running its OOM killer); memory.current (memory.peak) never goes past
 * memory.max; the rest of the system goes on; and destroying the mailbox
 * gives the memory back.
 */
TEST_F_TIMEOUT(memcg, limit_holds_and_is_given_back, 120)
{
	struct flood *f = mbox_shared_alloc(sizeof(*f));
	long long peak, before, after, kills_before, kills;
	struct mbox_stat st;
	__u32 other;
	pid_t pid;
	int status, i;

	ASSERT_NE(NULL, f);
	f->cg = self->cg;
	f->len = variant->len;
	/* Four times memory.max is "without end": it must stop before. */
	f->limit = 4 * CG_MAX;
	f->sample = cg_u64(self->cg, "memory.peak") < 0;
	ASSERT_EQ(0, flood_box(self, f));
	kills_before = cg_key(self->cg, "memory.events", "oom_kill");

	pid = mbox_spawn(flood_child, f);
	ASSERT_LT(0, pid);
	mbox_track_pid(&self->cl, pid);
	status = mbox_reap(pid);

	kills = cg_key(self->cg, "memory.events", "oom_kill") - kills_before;
	peak = cg_u64(self->cg, "memory.peak");	/* 5.19 on */
	if (peak < 0)
		peak = f->high;
	ASSERT_TRUE(f->joined);
	ASSERT_EQ(0, sec_stat(self->fd, 0, f->box, &st));
	TH_LOG("%u-byte messages: %s after %llu bytes (%u queued, %llu bytes); memory.peak %lld of %llu; %lld OOM kill(s)",
	       f->len, status == 128 + SIGKILL ? "killed" : strerror(-f->err),
	       f->sent, st.nr_msgs, (unsigned long long)st.nr_bytes, peak,
	       CG_MAX, kills);

	/* It stopped with a failed send, and nobody was OOM-killed. */
	EXPECT_EQ(0, status);
	EXPECT_EQ(0, kills);
	EXPECT_EQ(-ENOMEM, f->err);
	EXPECT_GT(4 * CG_MAX, f->sent);
	EXPECT_GE(CG_MAX + CG_SLACK, (unsigned long long)peak);
	EXPECT_LT(0, st.nr_msgs);

	/* The rest of the system is fine. */
	ASSERT_EQ(0, mbox_create(self->fd, NULL, 0, 1, MBOX_POLICY_SHARED,
				 0600, &other));
	EXPECT_EQ(0, mbox_send(self->fd, other, "alive", 5, 0, MBOX_NONBLOCK));
	EXPECT_TRUE(mbox_recv_is(self->fd, other, "alive"));
	EXPECT_EQ(0, cred_run(&nobody, job_unaffected,
			      &(struct job){ .box = 0 }));

	/*
	 * Destroying the mailbox gives the cgroup its memory back: the
	 * messages were what filled it.
	 */
	before = cg_u64(self->cg, "memory.current");
	TH_LOG("memory.stat: slab %lld, vmalloc %lld, anon %lld, kernel %lld",
	       cg_key(self->cg, "memory.stat", "slab"),
	       cg_key(self->cg, "memory.stat", "vmalloc"),
	       cg_key(self->cg, "memory.stat", "anon"),
	       cg_key(self->cg, "memory.stat", "kernel"));
	EXPECT_LE(CG_MAX / 2, before);
	EXPECT_EQ(0, mbox_destroy(self->fd, f->box));
	for (i = 0; i < 100; i++) {
		after = cg_u64(self->cg, "memory.current");
		if (after < (long long)(CG_MAX / 8))
			break;
		mbox_sleep_ms(10);
	}
	TH_LOG("memory.current %lld before the destroy, %lld after", before,
	       after);
	EXPECT_GT((long long)(CG_MAX / 8), after);

	/* The cgroup's room is back: half as many messages fit again. */
	ASSERT_EQ(0, flood_box(self, f));
	f->limit = (unsigned long long)f->len * (st.nr_msgs / 2 + 1);
	EXPECT_EQ(0, mbox_run(flood_child, f));
	EXPECT_EQ(0, f->err);
	EXPECT_LE(f->limit, f->sent);
	EXPECT_EQ(0, mbox_destroy(self->fd, f->box));
	munmap(f, sizeof(*f));
}

TEST_HARNESS_MAIN
