// SPDX-License-Identifier: GPL-2.0
/*
 * mbox introspection: MBOX_IOC_STAT and the read-only listing of mailboxes
 * in /proc/driver/mbox/mailboxes, which is MBOX_STAT_NEXT in a loop.
 *
 * Both see what the caller (the reader of the file) could STAT: the
 * mailboxes of its IPC namespace that it may send to, receive from, owns
 * or created, or all of them with CAP_IPC_OWNER.  mbox_mailbox_stat()
 * (mailbox.c) takes one snapshot of one mailbox; nothing here keeps a
 * lock or a reference between two mailboxes, so a listing may miss a
 * mailbox created meanwhile, never shows one twice, and never blocks the
 * data path.
 *
 * Locking: none of its own; a seq_file iteration keeps its state in the
 * file's private buffer.
 */
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>

#include "internal.h"

int mbox_ioc_stat(struct mbox_endpoint *ep, void *arg)
{
	char name[MBOX_NAME_MAX + 1];
	struct mbox_stat *st = arg;
	u32 len;
	int ret;

	if (st->flags & ~MBOX_STAT_NEXT)
		return -EINVAL;
	/* Everything past the input fields is output. */
	*st = (struct mbox_stat) {
		.size = st->size,
		.flags = st->flags,
		.id = st->id,
		.name_len = st->name_len,
		.name = st->name,
	};
	ret = mbox_mailbox_stat(st->id, st->flags & MBOX_STAT_NEXT, st, name);
	if (ret)
		return ret;

	len = strlen(name);
	if (st->name) {
		if (st->name_len <= len)
			ret = -EMSGSIZE;
		else if (copy_to_user(u64_to_user_ptr(st->name), name, len + 1))
			ret = -EFAULT;
	}
	st->name_len = len;
	return ret;
}

/* /proc/driver/mbox/mailboxes */

/* The mailbox being shown; *pos is its id (0: the header line). */
struct mbox_proc_iter {
	struct mbox_stat st;
	char name[MBOX_NAME_MAX + 1];
};

static void *mbox_proc_find(struct mbox_proc_iter *it, loff_t *pos)
{
	if (*pos > U32_MAX ||
	    mbox_mailbox_stat(*pos, true, &it->st, it->name)) {
		*pos = (loff_t)U32_MAX + 1;
		return NULL;
	}
	*pos = it->st.id;
	return it;
}

static void *mbox_proc_start(struct seq_file *m, loff_t *pos)
{
	return *pos ? mbox_proc_find(m->private, pos) : SEQ_START_TOKEN;
}

static void *mbox_proc_next(struct seq_file *m, void *v, loff_t *pos)
{
	++*pos;
	return mbox_proc_find(m->private, pos);
}

static void mbox_proc_stop(struct seq_file *m, void *v)
{
}

static const char *const mbox_policy_names[] = {
	[MBOX_POLICY_SHARED] = "shared",
	[MBOX_POLICY_EXCLUSIVE] = "exclusive",
	[MBOX_POLICY_PAIR] = "pair",
};

static int mbox_proc_show(struct seq_file *m, void *v)
{
	struct mbox_proc_iter *it = v;
	const struct mbox_stat *st = &it->st;

	if (v == SEQ_START_TOKEN) {
		seq_puts(m, "        id       uid       gid      cuid      cgid mode owner   policy      capacity max_msg_size  msgs      bytes  open senders receivers       sent   received name\n");
		return 0;
	}
	seq_printf(m, "%10u %9u %9u %9u %9u %04o %-7s %-9s %10u %12u %5u %10llu %5u %7u %9u %10llu %10llu %s\n",
		   st->id, st->uid, st->gid, st->cuid, st->cgid, st->mode,
		   st->attrs & MBOX_CREATE_SYSTEM ? "system" : "process",
		   mbox_policy_names[st->policy], st->capacity,
		   st->max_msg_size, st->nr_msgs, st->nr_bytes, st->nr_open,
		   st->nr_senders, st->nr_receivers, st->total_sent,
		   st->total_received, it->name[0] ? it->name : "-");
	return 0;
}

static const struct seq_operations mbox_proc_ops = {
	.start = mbox_proc_start,
	.next = mbox_proc_next,
	.stop = mbox_proc_stop,
	.show = mbox_proc_show,
};

static struct proc_dir_entry *mbox_proc_dir;

int mbox_stat_init(void)
{
	if (!IS_ENABLED(CONFIG_PROC_FS))
		return 0;
	mbox_proc_dir = proc_mkdir("driver/mbox", NULL);
	if (!mbox_proc_dir)
		return -ENOMEM;
	if (!proc_create_seq_private("mailboxes", 0444, mbox_proc_dir,
				     &mbox_proc_ops,
				     sizeof(struct mbox_proc_iter), NULL)) {
		proc_remove(mbox_proc_dir);
		return -ENOMEM;
	}
	return 0;
}

/* Waits for readers in the middle of a read (proc_remove's rundown). */
void mbox_stat_exit(void)
{
	proc_remove(mbox_proc_dir);
}
