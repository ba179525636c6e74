// SPDX-License-Identifier: GPL-2.0
/*
 * MBOX_IOC_STAT: what it reports about a mailbox, the listing with
 * MBOX_STAT_NEXT, who may see what, and its errors.  Raw ioctls: this is
 * the ABI test of the stat ioctl (libmbox_test.c tests the library's view).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mbox_util.h"
#include "kselftest_harness.h"

_Static_assert(sizeof(struct mbox_stat) == 112, "mbox_stat layout");
_Static_assert(offsetof(struct mbox_stat, attrs) == 24, "mbox_stat layout");
_Static_assert(offsetof(struct mbox_stat, total_sent) == 96,
	       "mbox_stat layout");

FIXTURE(stat) {
	int fd;
	struct mbox_cleanup cl;
};

FIXTURE_SETUP(stat)
{
	__u64 features;

	self->fd = mbox_dev_open();
	if (self->fd == -ENOENT)
		SKIP(return, "/dev/mbox is absent: the mbox module is not loaded");
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, mbox_features(self->fd, &features));
	ASSERT_TRUE(features & MBOX_FEATURE_STAT);
}

FIXTURE_TEARDOWN(stat)
{
	mbox_cleanup_run(&self->cl);
	if (self->fd >= 0)
		close(self->fd);
}

static int mbox_stat(int fd, __u32 flags, __u32 id, char *name,
		     __u32 name_len, struct mbox_stat *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	st->flags = flags;
	st->id = id;
	st->name = mbox_ptr(name);
	st->name_len = name_len;
	return mbox_ioctl(fd, MBOX_IOC_STAT, st);
}

/* Is @id in the listing the caller sees? */
static bool mbox_listed(int fd, __u32 id)
{
	struct mbox_stat st;
	__u32 next = 1;

	while (!mbox_stat(fd, MBOX_STAT_NEXT, next, NULL, 0, &st)) {
		if (st.id == id)
			return true;
		if (st.id < next)
			return false;	/* would loop: a bug */
		next = st.id + 1;
	}
	return false;
}

TEST_F(stat, reports_attributes)
{
	struct mbox_create c = {
		.flags = MBOX_CREATE_SYSTEM,
		.capacity = 5,
		.max_msg_size = 100,
		.max_bytes = 300,
		.msg_size = 0,
		.mode = 0620,
		.policy = MBOX_POLICY_EXCLUSIVE,
	};
	char name[64], got[MBOX_NAME_MAX + 1];
	struct mbox_stat st;
	__u32 id;

	mbox_test_name(name, sizeof(name), "attrs");
	c.name = mbox_ptr(name);
	ASSERT_EQ(0, mbox_create_ex(self->fd, &c, &id));
	mbox_track_id(&self->cl, id);

	ASSERT_EQ(0, mbox_stat(self->fd, 0, id, got, sizeof(got), &st));
	EXPECT_EQ(id, st.id);
	EXPECT_STREQ(name, got);
	EXPECT_EQ(strlen(name), st.name_len);
	EXPECT_EQ(MBOX_CREATE_SYSTEM, st.attrs);
	EXPECT_EQ(MBOX_POLICY_EXCLUSIVE, st.policy);
	EXPECT_EQ(0620, st.mode);
	EXPECT_EQ(geteuid(), st.uid);
	EXPECT_EQ(getegid(), st.gid);
	EXPECT_EQ(geteuid(), st.cuid);
	EXPECT_EQ(getegid(), st.cgid);
	EXPECT_EQ(5, st.capacity);
	EXPECT_EQ(100, st.max_msg_size);
	EXPECT_EQ(0, st.msg_size);
	EXPECT_EQ(300, st.max_bytes);
	EXPECT_EQ(0, st.nr_msgs);
	EXPECT_EQ(0, st.nr_bytes);
	EXPECT_EQ(1, st.nr_open);
	EXPECT_EQ(0, st.nr_senders);
	EXPECT_EQ(0, st.nr_receivers);
	EXPECT_EQ(0, st.total_sent);
	EXPECT_EQ(0, st.total_received);
}

TEST_F(stat, process_owned_unnamed_unbounded)
{
	struct mbox_stat st;
	char got[8];
	__u32 id;

	ASSERT_EQ(0, mbox_create(self->fd, NULL, 0, MBOX_UNBOUNDED,
				 MBOX_POLICY_SHARED, 0600, &id));
	memset(got, 'x', sizeof(got));
	ASSERT_EQ(0, mbox_stat(self->fd, 0, id, got, sizeof(got), &st));
	EXPECT_EQ(0, st.attrs);
	EXPECT_EQ(0, st.name_len);
	EXPECT_EQ('\0', got[0]);
	EXPECT_EQ(MBOX_UNBOUNDED, st.capacity);
	EXPECT_EQ(~0ULL, st.max_bytes);
	/* Not open on the endpoint, and still visible to its owner. */
	ASSERT_EQ(0, mbox_close_id(self->fd, id));
	EXPECT_EQ(-ENOENT, mbox_stat(self->fd, 0, id, NULL, 0, &st));
}

TEST_F(stat, counts_follow_the_queue)
{
	struct mbox_stat st;
	char buf[16];
	__u32 id, len;
	int ep2;

	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 4,
					MBOX_POLICY_SHARED, 0600, &id));
	ep2 = mbox_dev_open();
	ASSERT_LE(0, ep2);
	ASSERT_EQ(0, mbox_open_id(ep2, id, MBOX_OPEN_SEND));
	ASSERT_EQ(0, mbox_send(ep2, id, "one", 3, 0, MBOX_NONBLOCK));
	ASSERT_EQ(0, mbox_send(ep2, id, "three", 5, 0, MBOX_NONBLOCK));
	ASSERT_EQ(0, mbox_send(ep2, id, "xx", 2, 1, MBOX_NONBLOCK));

	ASSERT_EQ(0, mbox_stat(self->fd, 0, id, NULL, 0, &st));
	EXPECT_EQ(3, st.nr_msgs);
	EXPECT_EQ(10, st.nr_bytes);
	EXPECT_EQ(2, st.nr_open);
	EXPECT_EQ(3, st.total_sent);
	EXPECT_EQ(0, st.total_received);

	len = sizeof(buf);
	ASSERT_EQ(0, mbox_recv(self->fd, id, buf, &len, MBOX_NONBLOCK));
	EXPECT_EQ(2, len);
	/* A failed receive and a failed send count nothing. */
	len = 1;
	EXPECT_EQ(-EMSGSIZE, mbox_recv(self->fd, id, buf, &len, MBOX_NONBLOCK));
	EXPECT_EQ(-EMSGSIZE, mbox_send(ep2, id, buf, 9000, 0, MBOX_NONBLOCK));

	ASSERT_EQ(0, mbox_stat(self->fd, 0, id, NULL, 0, &st));
	EXPECT_EQ(2, st.nr_msgs);
	EXPECT_EQ(8, st.nr_bytes);
	EXPECT_EQ(3, st.total_sent);
	EXPECT_EQ(1, st.total_received);
	close(ep2);
	ASSERT_EQ(0, mbox_stat(self->fd, 0, id, NULL, 0, &st));
	EXPECT_EQ(1, st.nr_open);
}

TEST_F(stat, counts_blocked_tasks)
{
	struct mbox_stat st;
	struct mbox_recv r;
	struct mbox_send s;
	struct mbox_bg rb, sb;
	char buf[16];
	__u32 id, rz;

	/* A blocked receiver on one mailbox... */
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 1,
					MBOX_POLICY_SHARED, 0600, &id));
	mbox_recv_init(&r, id, buf, sizeof(buf), 0);
	ASSERT_EQ(0, mbox_bg_start(&rb, self->fd, MBOX_IOC_RECV, &r));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&rb));
	ASSERT_EQ(0, mbox_stat(self->fd, 0, id, NULL, 0, &st));
	EXPECT_EQ(1, st.nr_receivers);
	EXPECT_EQ(0, st.nr_senders);
	ASSERT_EQ(0, mbox_send(self->fd, id, "go", 2, 0, MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_bg_join(&rb));
	ASSERT_EQ(0, mbox_stat(self->fd, 0, id, NULL, 0, &st));
	EXPECT_EQ(0, st.nr_receivers);
	EXPECT_EQ(1, st.total_received);

	/* ...and a blocked sender on a full one. */
	ASSERT_EQ(0, mbox_send(self->fd, id, "full", 4, 0, MBOX_NONBLOCK));
	mbox_send_init(&s, id, "wait", 4, 0, 0);
	ASSERT_EQ(0, mbox_bg_start(&sb, self->fd, MBOX_IOC_SEND, &s));
	ASSERT_EQ(0, mbox_bg_wait_blocked(&sb));
	ASSERT_EQ(0, mbox_stat(self->fd, 0, id, NULL, 0, &st));
	EXPECT_EQ(1, st.nr_senders);
	EXPECT_EQ(1, st.nr_msgs);
	rz = sizeof(buf);
	ASSERT_EQ(0, mbox_recv(self->fd, id, buf, &rz, MBOX_NONBLOCK));
	EXPECT_EQ(0, mbox_bg_join(&sb));
	ASSERT_EQ(0, mbox_stat(self->fd, 0, id, NULL, 0, &st));
	EXPECT_EQ(0, st.nr_senders);
	EXPECT_EQ(1, st.nr_msgs);
	EXPECT_EQ(3, st.total_sent);
}

TEST_F(stat, name_buffer_too_small_emsgsize)
{
	struct mbox_stat st;
	char name[64], got[64];
	__u32 id, len;

	mbox_test_name(name, sizeof(name), "short");
	len = strlen(name);
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, name, 1,
					MBOX_POLICY_SHARED, 0600, &id));
	/* No buffer: the length alone. */
	ASSERT_EQ(0, mbox_stat(self->fd, 0, id, NULL, 0, &st));
	EXPECT_EQ(len, st.name_len);
	/* Room for the name but not its NUL: nothing copied, length told. */
	memset(got, 'x', sizeof(got));
	EXPECT_EQ(-EMSGSIZE, mbox_stat(self->fd, 0, id, got, len, &st));
	EXPECT_EQ(len, st.name_len);
	EXPECT_EQ(id, st.id);
	EXPECT_EQ('x', got[0]);
	ASSERT_EQ(0, mbox_stat(self->fd, 0, id, got, len + 1, &st));
	EXPECT_STREQ(name, got);
}

TEST_F(stat, errors)
{
	struct mbox_stat st;
	__u32 id;

	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, "/mbox-stat-err",
					1, MBOX_POLICY_SHARED, 0600, &id));
	EXPECT_EQ(-EINVAL, mbox_stat(self->fd, 1U << 3, id, NULL, 0, &st));
	EXPECT_EQ(-EINVAL, mbox_stat(self->fd, MBOX_NONBLOCK, id, NULL, 0, &st));
	EXPECT_EQ(-EINVAL, mbox_stat(self->fd, 1U << 31, id, NULL, 0, &st));
	EXPECT_EQ(-ENOENT, mbox_stat(self->fd, 0, 0, NULL, 0, &st));
	EXPECT_EQ(-ENOENT, mbox_stat(self->fd, 0, ~0U, NULL, 0, &st));
	EXPECT_EQ(-EFAULT, mbox_stat(self->fd, 0, id, (char *)8, 64, &st));
	EXPECT_EQ(-ENOENT, mbox_stat(self->fd, MBOX_STAT_NEXT, ~0U, NULL, 0,
				     &st));
	ASSERT_EQ(0, mbox_destroy(self->fd, id));
	EXPECT_EQ(-ENOENT, mbox_stat(self->fd, 0, id, NULL, 0, &st));
	EXPECT_FALSE(mbox_listed(self->fd, id));
}

TEST_F(stat, read_only_name_buffer_efault)
{
	long page = sysconf(_SC_PAGESIZE);
	struct mbox_stat st;
	char name[64];
	void *ro;
	__u32 id;

	mbox_test_name(name, sizeof(name), "ro");
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, name, 1,
					MBOX_POLICY_SHARED, 0600, &id));
	ro = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_EQ(-EFAULT, mbox_stat(self->fd, 0, id, ro, 64, &st));
	munmap(ro, page);
}

TEST_F(stat, next_lists_every_mailbox_once_in_id_order)
{
	struct mbox_stat st;
	__u32 ids[3], next = 1, last = 0;
	unsigned int i, seen = 0;

	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 1,
						MBOX_POLICY_SHARED, 0600,
						&ids[i]));
	while (!mbox_stat(self->fd, MBOX_STAT_NEXT, next, NULL, 0, &st)) {
		EXPECT_LT(last, st.id);
		last = st.id;
		for (i = 0; i < 3; i++)
			seen += st.id == ids[i];
		next = st.id + 1;
	}
	EXPECT_EQ(3, seen);
	/* NEXT from an id that exists reports that one. */
	ASSERT_EQ(0, mbox_stat(self->fd, MBOX_STAT_NEXT, ids[1], NULL, 0, &st));
	EXPECT_EQ(ids[1], st.id);
}

TEST_F(stat, out_fields_zeroed)
{
	struct mbox_stat st;
	__u32 id;

	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 2,
					MBOX_POLICY_SHARED, 0600, &id));
	/* Every output byte pre-filled: all of them come back written. */
	memset(&st, 0xa5, sizeof(st));
	st.size = sizeof(st);
	st.flags = 0;
	st.id = id;
	st.name = 0;
	ASSERT_EQ(0, mbox_ioctl(self->fd, MBOX_IOC_STAT, &st));
	EXPECT_EQ(0, st.name_len);
	EXPECT_EQ(0, st.attrs & ~MBOX_CREATE_SYSTEM);
	EXPECT_EQ(0, st.msg_size);
	EXPECT_EQ(0, st.nr_msgs);
	EXPECT_EQ(0, st.nr_bytes);
	EXPECT_EQ(0, st.nr_senders);
	EXPECT_EQ(0, st.nr_receivers);
	EXPECT_EQ(0, st.total_sent);
	EXPECT_EQ(0, st.total_received);
	EXPECT_EQ(0, st.mode & ~0666);
}

TEST_F(stat, struct_sizes)
{
	__u64 buf[20];
	struct mbox_stat st = { .id = ~0U };

	memset(buf, 0, sizeof(buf));
	st.size = sizeof(st) - 8;
	memcpy(buf, &st, sizeof(st));
	EXPECT_EQ(-EINVAL, mbox_ioctl(self->fd, MBOX_IOC_STAT, buf));
	st.size = sizeof(st) + 8;
	memcpy(buf, &st, sizeof(st));
	buf[sizeof(struct mbox_stat) / 8] = 1;
	EXPECT_EQ(-E2BIG, mbox_ioctl(self->fd, MBOX_IOC_STAT, buf));
	buf[sizeof(struct mbox_stat) / 8] = 0;
	/* A zero tail is fine, and nothing is written past what we know. */
	buf[sizeof(struct mbox_stat) / 8 + 1] = 0x5a5a;
	EXPECT_EQ(-ENOENT, mbox_ioctl(self->fd, MBOX_IOC_STAT, buf));
	EXPECT_EQ(0x5a5a, buf[sizeof(struct mbox_stat) / 8 + 1]);
}

/* What another user sees: stat needs some right on the mailbox. */
struct who {
	__u32 hidden;	/* mode 0600, root's */
	__u32 sendable;	/* mode 0622 */
};

static int child_stat(void *arg)
{
	struct who *w = arg;
	struct mbox_stat st;
	int fd = mbox_dev_open(), ret;

	if (fd < 0)
		return 100;
	ret = mbox_stat(fd, 0, w->hidden, NULL, 0, &st);
	if (ret != -EACCES)
		return 101;
	if (mbox_listed(fd, w->hidden))
		return 102;
	if (mbox_stat(fd, 0, w->sendable, NULL, 0, &st) || st.mode != 0622)
		return 103;
	if (!mbox_listed(fd, w->sendable))
		return 104;
	close(fd);
	return 0;
}

/* The id of the mailbox named name in the listing the caller sees, or 0. */
static __u32 mbox_listed_name(int fd, const char *name)
{
	char got[MBOX_NAME_MAX + 1];
	struct mbox_stat st;
	__u32 next = 1;

	while (!mbox_stat(fd, MBOX_STAT_NEXT, next, got, sizeof(got), &st)) {
		if (!strcmp(got, name))
			return st.id;
		if (st.id < next)
			return 0;	/* would loop: a bug */
		next = st.id + 1;
	}
	return 0;
}

TEST_F(stat, others_see_only_what_they_may_use)
{
	struct mbox_stat st;
	struct who w;
	__u32 id;

	if (!mbox_is_root()) {
		/* Root's mailboxes, as another user sees them. */
		MBOX_ROOT_MAILBOX(self->fd, &id);
		ASSERT_EQ(0, mbox_stat(self->fd, 0, id, NULL, 0, &st));
		EXPECT_EQ(0622, st.mode);
		EXPECT_EQ(0, st.uid);
		EXPECT_EQ(0, st.cuid);
		EXPECT_EQ(id, mbox_listed_name(self->fd, MBOX_ROOT_SENDONLY));
		EXPECT_EQ(0, mbox_listed_name(self->fd, MBOX_ROOT_PRIVATE));
		/* Without CAP_IPC_OWNER: its own, whatever their mode. */
		ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 1,
						MBOX_POLICY_SHARED, 0000,
						&id));
		ASSERT_EQ(0, mbox_stat(self->fd, 0, id, NULL, 0, &st));
		EXPECT_EQ(0, st.mode);
		EXPECT_TRUE(mbox_listed(self->fd, id));
		return;
	}
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 1,
					MBOX_POLICY_SHARED, 0600, &w.hidden));
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 1,
					MBOX_POLICY_SHARED, 0622, &w.sendable));
	EXPECT_EQ(0, mbox_run_as_nobody(child_stat, &w));
	/* CAP_IPC_OWNER (root here) sees everything. */
	EXPECT_TRUE(mbox_listed(self->fd, w.hidden));
}

/* /proc/driver/mbox/mailboxes */

#define MBOX_PROC_LIST	"/proc/driver/mbox/mailboxes"

/* Read the whole listing into a malloc'ed string; NULL on error. */
static char *proc_read(void)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	FILE *f = fopen(MBOX_PROC_LIST, "r");
	size_t n;

	if (!buf || !f) {
		free(buf);
		if (f)
			fclose(f);
		return NULL;
	}
	/* Small reads, so that seq_file restarts in the middle. */
	while ((n = fread(buf + len, 1, 100, f)) > 0) {
		len += n;
		if (cap - len < 101) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				break;
		}
	}
	fclose(f);
	if (buf)
		buf[len] = '\0';
	return buf;
}

/* The listing's line for @id, copied into @line; false if absent. */
static bool proc_line(const char *list, __u32 id, char *line, size_t size)
{
	const char *p = list;
	unsigned int got;

	while (p && *p) {
		const char *end = strchr(p, '\n');

		if (sscanf(p, "%u", &got) == 1 && got == id) {
			size_t n = end ? (size_t)(end - p) : strlen(p);

			snprintf(line, size, "%.*s", (int)n, p);
			return true;
		}
		p = end ? end + 1 : NULL;
	}
	return false;
}

TEST_F(stat, proc_listing_shows_the_fields)
{
	char name[64], line[512], fname[300], owner[16], policy[16];
	unsigned int fid, uid, gid, cuid, cgid, mode, cap, maxsz, msgs, open;
	unsigned int snd, rcv;
	unsigned long long bytes, sent, recvd;
	char *list;
	__u32 id;

	mbox_test_name(name, sizeof(name), "proc");
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, name, 3,
					MBOX_POLICY_PAIR, 0640, &id));
	ASSERT_EQ(0, mbox_send(self->fd, id, "hello", 5, 0, MBOX_NONBLOCK));

	list = proc_read();
	ASSERT_NE(NULL, list);
	EXPECT_EQ(0, strncmp(list, "        id ", 11));
	ASSERT_TRUE(proc_line(list, id, line, sizeof(line)));
	free(list);
	ASSERT_EQ(18, sscanf(line, "%u %u %u %u %u %o %15s %15s %u %u %u %llu %u %u %u %llu %llu %299s",
			     &fid, &uid, &gid, &cuid, &cgid, &mode, owner,
			     policy, &cap, &maxsz, &msgs, &bytes, &open, &snd,
			     &rcv, &sent, &recvd, fname)) {
		TH_LOG("line: %s", line);
	}
	EXPECT_EQ(geteuid(), uid);
	EXPECT_EQ(getegid(), cgid);
	EXPECT_EQ(0640, mode);
	EXPECT_STREQ("system", owner);
	EXPECT_STREQ("pair", policy);
	EXPECT_EQ(3, cap);
	EXPECT_EQ(1, msgs);
	EXPECT_EQ(5, bytes);
	EXPECT_EQ(1, open);
	EXPECT_EQ(0, snd);
	EXPECT_EQ(0, rcv);
	EXPECT_EQ(1, sent);
	EXPECT_EQ(0, recvd);
	EXPECT_STREQ(name, fname);
}

TEST_F(stat, proc_listing_long_and_in_order)
{
	__u32 ids[150], last = 0, got;
	unsigned int i, seen = 0;
	char *list, *p;

	/* Unnamed process-owned ones: closing the fixture's fd ends them. */
	for (i = 0; i < MBOX_ARRAY_SIZE(ids); i++)
		ASSERT_EQ(0, mbox_create(self->fd, NULL, 0, 1,
					 MBOX_POLICY_SHARED, 0600, &ids[i]));
	list = proc_read();
	ASSERT_NE(NULL, list);
	for (p = strchr(list, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
		ASSERT_EQ(1, sscanf(p + 1, "%u", &got));
		EXPECT_LT(last, got);
		last = got;
		seen += got >= ids[0] && got <= ids[MBOX_ARRAY_SIZE(ids) - 1];
	}
	free(list);
	EXPECT_EQ(MBOX_ARRAY_SIZE(ids), seen);
}

static int child_proc(void *arg)
{
	struct who *w = arg;
	char line[512], *list = proc_read();
	int ret = 0;

	if (!list) {
		ret = errno;
		fprintf(stderr, "# cannot read %s: %s\n", MBOX_PROC_LIST,
			strerror(ret));
		return 110;
	}
	if (proc_line(list, w->hidden, line, sizeof(line)))
		ret = 111;
	else if (!proc_line(list, w->sendable, line, sizeof(line)))
		ret = 112;
	free(list);
	return ret;
}

/* The listing's line of the mailbox named name: whether there is one. */
static bool proc_has_name(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	for (p = strstr(list, name); p; p = strstr(p + 1, name))
		if (p > list && p[-1] == ' ' && (p[n] == '\n' || !p[n]))
			return true;
	return false;
}

TEST_F(stat, proc_listing_shows_others_only_what_they_may_use)
{
	struct who w;
	char line[512], *list;
	struct stat sb;
	__u32 id;

	if (!mbox_is_root()) {
		/* Root's mailboxes, as another user sees them. */
		MBOX_ROOT_MAILBOX(self->fd, &id);
		ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 1,
						MBOX_POLICY_SHARED, 0000,
						&w.hidden));
		list = proc_read();
		ASSERT_NE(NULL, list);
		EXPECT_TRUE(proc_line(list, id, line, sizeof(line)));
		EXPECT_TRUE(proc_has_name(list, MBOX_ROOT_SENDONLY));
		EXPECT_FALSE(proc_has_name(list, MBOX_ROOT_PRIVATE));
		/* Its own, whatever their mode. */
		EXPECT_TRUE(proc_line(list, w.hidden, line, sizeof(line)));
		free(list);
		ASSERT_EQ(0, stat(MBOX_PROC_LIST, &sb));
		EXPECT_EQ(S_IFREG | 0444, sb.st_mode);
		return;
	}
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 1,
					MBOX_POLICY_SHARED, 0600, &w.hidden));
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 1,
					MBOX_POLICY_SHARED, 0622, &w.sendable));
	EXPECT_EQ(0, mbox_run_as_nobody(child_proc, &w));
	list = proc_read();
	ASSERT_NE(NULL, list);
	EXPECT_TRUE(proc_line(list, w.hidden, line, sizeof(line)));
	free(list);
	/* Read-only, for everyone. */
	ASSERT_EQ(0, stat(MBOX_PROC_LIST, &sb));
	EXPECT_EQ(S_IFREG | 0444, sb.st_mode);
}

/*
 * A sender that blocked counts in total_sent, and leaves nr_senders, when
 * its send completes (its message received, for a synchronous send;
 * admitted into the queue, for a sender that waited for room), not when
 * its task runs again: STAT never shows a message received or queued
 * that was not sent.  (It did before: a regression test.)  The receiver
 * runs SCHED_FIFO on the senders' CPU, so that no sender runs between its
 * RECV and its STAT.
 */
FIXTURE(stat_bug) {
	int fd;
	struct mbox_cleanup cl;
};

FIXTURE_VARIANT(stat_bug) {
	int unused;
};

FIXTURE_VARIANT_ADD(stat_bug, regression) {
};

FIXTURE_SETUP(stat_bug)
{
	self->fd = mbox_dev_open();
	if (self->fd == -ENOENT)
		SKIP(return, "/dev/mbox is absent: the mbox module is not loaded");
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(stat_bug)
{
	struct sched_param sp = { .sched_priority = 0 };

	sched_setscheduler(0, SCHED_OTHER, &sp);
	mbox_cleanup_run(&self->cl);
	if (self->fd >= 0)
		close(self->fd);
}

/*
 * Start send @s in a thread and wait until it is blocked; then, running
 * SCHED_FIFO, receive one message of mailbox @id and STAT it at once.
 */
static int recv_then_stat(int fd, __u32 id, struct mbox_send *s,
			  struct mbox_bg *bg, struct mbox_stat *st)
{
	struct sched_param sp = { .sched_priority = 10 };
	char buf[16];
	__u32 len = sizeof(buf);
	int ret;

	ret = mbox_bg_start(bg, fd, MBOX_IOC_SEND, s);
	ret = ret ?: mbox_bg_wait_blocked(bg);
	if (ret)
		return ret;
	if (sched_setscheduler(0, SCHED_FIFO, &sp))
		return -errno;
	ret = mbox_recv(fd, id, buf, &len, MBOX_NONBLOCK);
	ret = ret ?: mbox_stat(fd, 0, id, NULL, 0, st);
	sp.sched_priority = 0;
	sched_setscheduler(0, SCHED_OTHER, &sp);
	return ret;
}

TEST_F(stat_bug, blocked_send_counted_when_it_completes)
{
	struct mbox_stat st;
	struct mbox_send s;
	struct mbox_bg bg;
	cpu_set_t cpu;
	__u32 id;
	int ret;

	/* The senders' threads inherit the CPU. */
	CPU_ZERO(&cpu);
	CPU_SET(sched_getcpu(), &cpu);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpu), &cpu));
	ASSERT_EQ(0, mbox_create_system(self->fd, &self->cl, NULL, 1,
					MBOX_POLICY_SHARED, 0600, &id));

	/* A synchronous send, received. */
	mbox_send_init(&s, id, "sync", 4, 0, MBOX_SEND_SYNC);
	ret = recv_then_stat(self->fd, id, &s, &bg, &st);
	if (ret == -EPERM)
		SKIP(return, "SCHED_FIFO is not allowed here");
	ASSERT_EQ(0, ret);
	EXPECT_EQ(1, st.total_received);
	EXPECT_EQ(1, st.total_sent);
	EXPECT_EQ(0, st.nr_senders);
	EXPECT_EQ(0, mbox_bg_join(&bg));

	/* A send that waited for room, admitted. */
	ASSERT_EQ(0, mbox_send(self->fd, id, "full", 4, 0, MBOX_NONBLOCK));
	mbox_send_init(&s, id, "wait", 4, 0, 0);
	ASSERT_EQ(0, recv_then_stat(self->fd, id, &s, &bg, &st));
	EXPECT_EQ(2, st.total_received);
	EXPECT_EQ(1, st.nr_msgs);
	EXPECT_EQ(3, st.total_sent);
	EXPECT_EQ(0, st.nr_senders);
	EXPECT_EQ(0, mbox_bg_join(&bg));
}

TEST_HARNESS_MAIN
