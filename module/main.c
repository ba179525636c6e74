// SPDX-License-Identifier: GPL-2.0
/*
 * mbox: message-passing IPC through /dev/mbox - device, endpoints, ioctl
 * dispatch and poll.
 *
 * Each open() of /dev/mbox is an endpoint (struct mbox_endpoint), kept in
 * file->private_data and freed at the last close.  Every ioctl takes a
 * struct that starts with "__u32 size": mbox_ioctl() reads that size,
 * copies the struct into a kernel buffer once with copy_struct_from_user(),
 * calls the one helper that implements the command on the kernel copy,
 * and copies the result back up to the caller's size.  Helpers never touch
 * the user struct.  If that last copy fails (the struct was unmapped or
 * write-protected meanwhile), the call fails and the command's undo
 * helper, where it has one, unmakes what it made.  A batch (SEND_BATCH,
 * RECV_BATCH) is a loop over its entries, each dispatched as the single
 * ioctl it stands for.
 *
 * poll: once an endpoint has been polled, every queue it receives from
 * (its open mailboxes, its direct queue) forwards its wake-ups to
 * ep->poll_wq through a struct mbox_forward, so a mailbox opened after an
 * epoll_ctl() still wakes the epoll; mbox_poll() asks each of them for
 * its state under the xa_lock of the endpoint's mailboxes.  Endpoints
 * never polled forward nothing, so that a send or receive on a queue
 * nobody polls wakes nothing.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compat.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/nospec.h>
#include <linux/overflow.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "internal.h"

static_assert(sizeof(struct mbox_version) == 24);
static_assert(sizeof(struct mbox_create) == 48);
static_assert(sizeof(struct mbox_open) == 24);
static_assert(sizeof(struct mbox_id) == 16);
static_assert(sizeof(struct mbox_set) == 24);
static_assert(sizeof(struct mbox_stat) == 112);
static_assert(sizeof(struct mbox_send) == 48);
static_assert(sizeof(struct mbox_recv) == 72);
static_assert(sizeof(struct mbox_direct) == 32);
static_assert(sizeof(struct mbox_call) == 56);
static_assert(sizeof(struct mbox_reply) == 40);
static_assert(sizeof(struct mbox_batch) == 32);

void mbox_version_fill(struct mbox_version *v)
{
	v->abi_major = MBOX_ABI_MAJOR;
	v->abi_minor = MBOX_ABI_MINOR;
	v->features = MBOX_FEATURES_ALL;
}
EXPORT_SYMBOL_IF_KUNIT(mbox_version_fill);

static int mbox_ioc_version(struct mbox_endpoint *ep, void *arg)
{
	struct mbox_version *v = arg;

	if (v->flags)
		return -EINVAL;
	mbox_version_fill(v);
	return 0;
}

/* The kernel copy of any ioctl argument. */
union mbox_ioctl_buf {
	struct mbox_version version;
	struct mbox_create create;
	struct mbox_open open;
	struct mbox_id id;
	struct mbox_set set;
	struct mbox_stat stat;
	struct mbox_send send;
	struct mbox_recv recv;
	struct mbox_direct direct;
	struct mbox_call call;
	struct mbox_reply reply;
	struct mbox_batch batch;
};

/**
 * struct mbox_ioctl_arg - an ioctl's argument while it runs
 * @buf: the kernel copy; handlers get a pointer to it
 * @uarg: the caller's struct
 * @size: how much of @buf goes back: the smaller of the two structs
 * @written: the handler wrote @buf back itself (mbox_ioctl_write_back())
 * @nowait: never block, whatever the flags say (a batch's later receives)
 */
struct mbox_ioctl_arg {
	union mbox_ioctl_buf buf;
	void __user *uarg;
	u32 size;
	bool written;
	bool nowait;
};

/* Whether the ioctl whose kernel copy is @arg must not block. */
bool mbox_ioctl_nowait(const void *arg)
{
	return container_of(arg, struct mbox_ioctl_arg, buf)->nowait;
}

/**
 * mbox_ioctl_write_back - write an ioctl's result back now
 * @arg: the kernel copy the handler was given
 *
 * For a handler whose last step must not fail after its effect: a receive
 * writes its result before the message leaves the queue, so that an
 * unwritable struct leaves the message queued.  The dispatcher then does
 * not write it again.
 *
 * Return: 0 or -EFAULT.
 */
int mbox_ioctl_write_back(void *arg)
{
	struct mbox_ioctl_arg *a = container_of(arg, struct mbox_ioctl_arg, buf);

	if (copy_to_user(a->uarg, &a->buf, a->size))
		return -EFAULT;
	a->written = true;
	return 0;
}

/**
 * struct mbox_ioctl_op - one ioctl command
 * @handler: works on the kernel copy of the argument
 * @undo: if not NULL, unmakes what @handler did, when its result could
 *	not be copied back (the call then fails with EFAULT)
 * @size: sizeof the struct this module knows
 * @min_size: sizeof the first version of the struct; less is EINVAL
 * @out: copy the struct back to the caller on success (and on EMSGSIZE,
 *	which reports the length needed)
 */
struct mbox_ioctl_op {
	int (*handler)(struct mbox_endpoint *ep, void *arg);
	void (*undo)(struct mbox_endpoint *ep, void *arg);
	u32 size;
	u32 min_size;
	bool out;
};

#define MBOX_OP_UNDO(_cmd, _handler, _undo, _struct, _last, _out)	\
	[_IOC_NR(_cmd)] = {						\
		.handler = _handler,					\
		.undo = _undo,						\
		.size = sizeof(_struct),				\
		.min_size = offsetofend(_struct, _last),		\
		.out = _out,						\
	}

#define MBOX_OP(_cmd, _handler, _struct, _last, _out)			\
	MBOX_OP_UNDO(_cmd, _handler, NULL, _struct, _last, _out)

static int mbox_ioc_send_batch(struct mbox_endpoint *ep, void *arg);
static int mbox_ioc_recv_batch(struct mbox_endpoint *ep, void *arg);

static const struct mbox_ioctl_op mbox_ops[] = {
	MBOX_OP(MBOX_IOC_VERSION, mbox_ioc_version, struct mbox_version,
		features, true),
	MBOX_OP_UNDO(MBOX_IOC_CREATE, mbox_ioc_create, mbox_ioc_create_undo,
		     struct mbox_create, id, true),
	MBOX_OP_UNDO(MBOX_IOC_OPEN, mbox_ioc_open, mbox_ioc_open_undo,
		     struct mbox_open, name, true),
	MBOX_OP(MBOX_IOC_CLOSE, mbox_ioc_close, struct mbox_id, __reserved,
		false),
	MBOX_OP(MBOX_IOC_DESTROY, mbox_ioc_destroy, struct mbox_id, __reserved,
		false),
	MBOX_OP(MBOX_IOC_SET, mbox_ioc_set, struct mbox_set, mode, false),
	MBOX_OP(MBOX_IOC_STAT, mbox_ioc_stat, struct mbox_stat, total_received,
		true),
	MBOX_OP(MBOX_IOC_SEND, mbox_ioc_send, struct mbox_send, __pad, true),
	MBOX_OP(MBOX_IOC_RECV, mbox_ioc_recv, struct mbox_recv, token, true),
	MBOX_OP_UNDO(MBOX_IOC_DIRECT, mbox_ioc_direct, mbox_ioc_direct_undo,
		     struct mbox_direct, pid, true),
	MBOX_OP(MBOX_IOC_CALL, mbox_ioc_call, struct mbox_call, server_pid, true),
	MBOX_OP(MBOX_IOC_REPLY, mbox_ioc_reply, struct mbox_reply, recv, false),
	MBOX_OP(MBOX_IOC_SEND_BATCH, mbox_ioc_send_batch, struct mbox_batch,
		error, true),
	MBOX_OP(MBOX_IOC_RECV_BATCH, mbox_ioc_recv_batch, struct mbox_batch,
		error, true),
};

/*
 * Run @op on its struct at @uarg, of @usize bytes: copy in once, handle,
 * copy out.  With @nowait, the handler must not block.
 */
static int mbox_dispatch_sized(struct mbox_endpoint *ep,
			       const struct mbox_ioctl_op *op,
			       void __user *uarg, u32 usize, bool nowait)
{
	struct mbox_ioctl_arg a = { .uarg = uarg, .nowait = nowait };
	int ret;

	if (usize < op->min_size)
		return -EINVAL;
	ret = copy_struct_from_user(&a.buf, op->size, uarg, usize);
	if (ret)
		return ret;
	a.size = min_t(u32, usize, op->size);
	/*
	 * The result is written back after the operation: make sure it can
	 * be, before a receive consumes a message or a send delivers one.
	 * The struct spans at most two pages: its first and last bytes,
	 * written as they are, tell for both.
	 */
	if (op->out && (put_user(*(u8 *)&a.buf, (u8 __user *)uarg) ||
			put_user(*((u8 *)&a.buf + a.size - 1),
				 (u8 __user *)uarg + a.size - 1)))
		return -EFAULT;

	ret = op->handler(ep, &a.buf);
	if ((ret >= 0 || ret == -EMSGSIZE) && op->out && !a.written &&
	    copy_to_user(uarg, &a.buf, a.size)) {
		/*
		 * A batch returns how many entries it did: that count reaches
		 * the caller whatever became of its struct, and what a receive
		 * batch took is not lost.
		 */
		if (ret > 0)
			return ret;
		/*
		 * Unwritable after all (unmapped or write-protected by another
		 * thread meanwhile): the call fails, so what it made goes, or
		 * a system-owned mailbox would outlive the id nobody learned.
		 * A message sent stays so.
		 */
		if (!ret && op->undo)
			op->undo(ep, &a.buf);
		return -EFAULT;
	}
	return ret;
}

static int mbox_dispatch(struct mbox_endpoint *ep,
			 const struct mbox_ioctl_op *op, void __user *uarg)
{
	u32 usize;

	if (get_user(usize, (u32 __user *)uarg))
		return -EFAULT;
	return mbox_dispatch_sized(ep, op, uarg, usize, false);
}

/*
 * A batch: the entries of @b, each an ioctl @cmd of its own, in order
 * until one fails.  With @wait_first, only the first entry may block.
 * Returns the number of entries done, or the first one's error.
 */
static int mbox_batch(struct mbox_endpoint *ep, struct mbox_batch *b,
		      unsigned int cmd, bool wait_first)
{
	const struct mbox_ioctl_op *op = &mbox_ops[cmd];
	u64 end, entry = b->entries;
	u32 usize;
	int ret = 0;

	b->done = 0;
	b->error = 0;
	if (b->flags || !b->count || b->count > MBOX_BATCH_MAX ||
	    b->entry_size < op->min_size ||
	    check_add_overflow(entry, (u64)b->count * b->entry_size, &end))
		return -EINVAL;

	for (; b->done < b->count; b->done++, entry += b->entry_size) {
		if (get_user(usize, (u32 __user *)u64_to_user_ptr(entry)))
			ret = -EFAULT;
		else if (usize != b->entry_size)
			ret = -EINVAL;
		else
			ret = mbox_dispatch_sized(ep, op, u64_to_user_ptr(entry),
						  usize, wait_first && b->done);
		if (ret)
			break;
		cond_resched();
	}
	/* Entries done stay done: the batch succeeds, saying how far. */
	if (!b->done)
		return ret;
	b->error = ret == -ERESTARTSYS ? EINTR : -ret;
	return b->done;
}

static int mbox_ioc_send_batch(struct mbox_endpoint *ep, void *arg)
{
	return mbox_batch(ep, arg, MBOX_CMD_SEND, false);
}

static int mbox_ioc_recv_batch(struct mbox_endpoint *ep, void *arg)
{
	return mbox_batch(ep, arg, MBOX_CMD_RECV, true);
}

/* A receive whose struct is in userspace at @uarg (reply-and-receive). */
int mbox_ioc_recv_user(struct mbox_endpoint *ep, void __user *uarg)
{
	return mbox_dispatch(ep, &mbox_ops[MBOX_CMD_RECV], uarg);
}

static long mbox_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	const struct mbox_ioctl_op *op;
	unsigned int nr;

	nr = _IOC_NR(cmd);
	if (cmd != _IO(MBOX_IOCTL_TYPE, nr) || nr >= ARRAY_SIZE(mbox_ops))
		return -ENOTTY;
	op = &mbox_ops[array_index_nospec(nr, ARRAY_SIZE(mbox_ops))];
	if (!op->handler)
		return -ENOTTY;
	return mbox_dispatch(file->private_data, op, (void __user *)arg);
}

/* A queue's poll wake-up, forwarded to the endpoint's pollers. */
static int mbox_forward_wake(wait_queue_entry_t *wait, unsigned int mode,
			     int sync, void *key)
{
	struct mbox_forward *f = container_of(wait, struct mbox_forward, wait);

	if (wq_has_sleeper(&f->ep->poll_wq))
		wake_up_poll(&f->ep->poll_wq, key_to_poll(key));
	return 0;
}

/* Start forwarding @q's wake-ups to @f->ep; its lock held. */
void mbox_forward_start(struct mbox_forward *f, struct mbox_queue *q)
{
	lockdep_assert_held(&f->ep->lock);
	f->q = q;
	init_waitqueue_func_entry(&f->wait, mbox_forward_wake);
	add_wait_queue(&q->poll_wq, &f->wait);
}

/* Forward @q's wake-ups to @ep, once it is polled; ep->lock held. */
void mbox_forward_add(struct mbox_forward *f, struct mbox_endpoint *ep,
		      struct mbox_queue *q)
{
	f->ep = ep;
	f->q = NULL;
	if (ep->polled)
		mbox_forward_start(f, q);
}

/* Stop forwarding; ep->lock held. */
void mbox_forward_del(struct mbox_forward *f)
{
	lockdep_assert_held(&f->ep->lock);
	if (f->q)
		remove_wait_queue(&f->q->poll_wq, &f->wait);
	f->q = NULL;
}

/* The endpoint's first poll: its queues start forwarding wake-ups. */
static void mbox_poll_start(struct mbox_endpoint *ep)
{
	mutex_lock(&ep->lock);
	if (!ep->polled) {
		mbox_attach_poll_start(ep);
		mbox_direct_poll_start(ep);
		/* Pairs with smp_load_acquire() in mbox_poll(). */
		smp_store_release(&ep->polled, true);
	}
	mutex_unlock(&ep->lock);
}

static __poll_t mbox_poll(struct file *file, struct poll_table_struct *pt)
{
	struct mbox_endpoint *ep = file->private_data;
	struct mbox_attach *att;
	unsigned long id;
	__poll_t mask = 0;

	/* Every queue forwards its wake-ups before the first poll_wait(). */
	if (!smp_load_acquire(&ep->polled))
		mbox_poll_start(ep);
	poll_wait(file, &ep->poll_wq, pt);
	xa_lock(&ep->atts);
	xa_for_each(&ep->atts, id, att)
		mask |= mbox_attach_poll(att);
	mask |= mbox_direct_poll(ep);
	xa_unlock(&ep->atts);
	return mask;
}

static int mbox_open(struct inode *inode, struct file *file)
{
	struct mbox_endpoint *ep;

	ep = kzalloc(sizeof(*ep), GFP_KERNEL_ACCOUNT);
	if (!ep)
		return -ENOMEM;
	ep->file = file;
	mutex_init(&ep->lock);
	xa_init(&ep->atts);
	/*
	 * Slot 0 too: a server's one call at a time then lives in the
	 * xarray's head, and a call allocates no node.
	 */
	xa_init_flags(&ep->calls, XA_FLAGS_ALLOC);
	init_waitqueue_head(&ep->poll_wq);
	file->private_data = ep;
	return nonseekable_open(inode, file);
}

static int mbox_release(struct inode *inode, struct file *file)
{
	struct mbox_endpoint *ep = file->private_data;

	mbox_pending_release(ep);
	mbox_direct_release(ep);
	mbox_endpoint_close_all(ep);
	xa_destroy(&ep->calls);
	xa_destroy(&ep->atts);
	mutex_destroy(&ep->lock);
	kfree(ep);
	return 0;
}

static const struct file_operations mbox_fops = {
	.owner = THIS_MODULE,
	.open = mbox_open,
	.release = mbox_release,
	.poll = mbox_poll,
	.unlocked_ioctl = mbox_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice mbox_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = MBOX_DEVICE_NAME,
	.fops = &mbox_fops,
	.mode = 0666,
};

static int __init mbox_init(void)
{
	int ret;

	ret = mbox_registry_init();
	if (ret)
		return ret;
	ret = mbox_stat_init();
	if (ret)
		goto registry;
	ret = misc_register(&mbox_misc);
	if (ret)
		goto stat;
	pr_info("ABI %u.%u loaded\n", MBOX_ABI_MAJOR, MBOX_ABI_MINOR);
	return 0;

stat:
	mbox_stat_exit();
registry:
	mbox_registry_exit();
	return ret;
}

static void __exit mbox_exit(void)
{
	misc_deregister(&mbox_misc);
	mbox_stat_exit();
	mbox_registry_exit();
}

module_init(mbox_init);
module_exit(mbox_exit);

MODULE_DESCRIPTION("mbox: message-passing IPC (mailboxes, direct links, call/reply)");
MODULE_AUTHOR("The mbox developers");
MODULE_LICENSE("GPL");
