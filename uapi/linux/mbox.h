/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * mbox: message-passing IPC through /dev/mbox.
 *
 * Every open() of /dev/mbox is an endpoint; every operation is an ioctl on
 * its file descriptor.  Every ioctl takes a pointer to a struct whose first
 * member is "__u32 size", set by the caller to sizeof the struct as it
 * knows it.  The kernel accepts any size from the first version of the
 * struct up: a shorter one is EINVAL, a longer one is accepted if every
 * byte past what the kernel knows is zero (E2BIG otherwise), and output is
 * written back only up to the caller's size.  Every undefined flag and
 * every reserved field must be zero (EINVAL).  Unknown ioctls give ENOTTY.
 * Documentation/abi.rst is the reference, errno by errno.
 */
#ifndef _UAPI_LINUX_MBOX_H
#define _UAPI_LINUX_MBOX_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

#define MBOX_DEVICE_NAME	"mbox"

#define MBOX_ABI_MAJOR		1
#define MBOX_ABI_MINOR		5

/* ioctl numbers: type 0xB9, the struct size travels in the struct. */
#define MBOX_IOCTL_TYPE		0xB9

enum {
	MBOX_CMD_VERSION	= 0x00,
	MBOX_CMD_CREATE		= 0x01,
	MBOX_CMD_OPEN		= 0x02,
	MBOX_CMD_CLOSE		= 0x03,
	MBOX_CMD_DESTROY	= 0x04,
	MBOX_CMD_SET		= 0x05,
	MBOX_CMD_SEND		= 0x06,
	MBOX_CMD_RECV		= 0x07,
	MBOX_CMD_STAT		= 0x08,
	MBOX_CMD_DIRECT		= 0x09,
	MBOX_CMD_CALL		= 0x0a,
	MBOX_CMD_REPLY		= 0x0b,
	MBOX_CMD_SEND_BATCH	= 0x0c,
	MBOX_CMD_RECV_BATCH	= 0x0d,
};

/* Feature bits reported by MBOX_IOC_VERSION. */
#define MBOX_FEATURE_VERSION	_BITULL(0)	/* MBOX_IOC_VERSION */
#define MBOX_FEATURE_MAILBOX	_BITULL(1)	/* CREATE..RECV on mailboxes */
#define MBOX_FEATURE_DIRECT	_BITULL(2)	/* direct links */
#define MBOX_FEATURE_CALL	_BITULL(3)	/* call and reply */
#define MBOX_FEATURE_BATCH	_BITULL(4)	/* SEND_BATCH, RECV_BATCH */
#define MBOX_FEATURE_STAT	_BITULL(5)	/* MBOX_IOC_STAT */

/* Limits. */
#define MBOX_NAME_MAX		255	/* bytes of a name, without the NUL */
#define MBOX_PRIO_MAX		31	/* priorities are 0..MBOX_PRIO_MAX */
#define MBOX_UNBOUNDED		0xffffffffU	/* capacity: no count limit */
/*
 * A queued message counts its length plus MBOX_MSG_OVERHEAD bytes against
 * its sender's quota (the module parameter max_user_bytes).
 */
#define MBOX_MSG_OVERHEAD	128

/*
 * Blocking, for every operation that can wait (send, receive, ...): by
 * default it blocks; MBOX_NONBLOCK fails with EAGAIN instead (so does an
 * endpoint opened with O_NONBLOCK); MBOX_DEADLINE blocks until
 * deadline_ns, an absolute CLOCK_MONOTONIC time, then fails with
 * ETIMEDOUT.  An absolute deadline stays right when a signal restarts the
 * call.  These two bits have the same value in every flags word.
 *
 * Bits 30 and 31 of every flags word will never be defined (EINVAL
 * always): libraries may use them for flags of their own.
 */
#define MBOX_NONBLOCK		_BITUL(0)
#define MBOX_DEADLINE		_BITUL(1)

/**
 * struct mbox_version - MBOX_IOC_VERSION: ABI version and features
 * @size: in: sizeof(struct mbox_version)
 * @flags: in: must be 0
 * @abi_major: out: MBOX_ABI_MAJOR of the loaded module; changes only
 *	when an existing ioctl changes incompatibly (never, so far)
 * @abi_minor: out: MBOX_ABI_MINOR; grows when ioctls or fields are added
 * @features: out: MBOX_FEATURE_* bits the loaded module supports
 */
struct mbox_version {
	__u32 size;
	__u32 flags;
	__u32 abi_major;
	__u32 abi_minor;
	__u64 features;
};

/* Sharing policies: who may receive from a mailbox. */
enum mbox_policy {
	MBOX_POLICY_SHARED	= 0,	/* any permitted endpoint, one each */
	MBOX_POLICY_EXCLUSIVE	= 1,	/* one receiving endpoint at a time */
	MBOX_POLICY_PAIR	= 2,	/* at most two endpoints open */
};

/* Create flags. */
#define MBOX_CREATE_SYSTEM	_BITUL(2)	/* system-owned, else process-owned */

/*
 * Permission bits (@mode): for owner, group and other, as in System V IPC
 * and in chmod: "r" (0444) may receive, "w" (0222) may send.  "x" bits
 * are EINVAL.
 */
#define MBOX_MODE_MASK		0666

/**
 * struct mbox_create - MBOX_IOC_CREATE: make a mailbox and open it
 * @size: in: sizeof(struct mbox_create)
 * @flags: in: MBOX_CREATE_*
 * @name: in: pointer to a NUL-terminated name, or 0 for none.  A name is
 *	1..MBOX_NAME_MAX bytes, starts with '/', and holds only printable
 *	ASCII without spaces (0x21..0x7e); it is unique within the creator's
 *	IPC namespace (EEXIST if taken)
 * @capacity: in: 0 (rendezvous: no queue), N messages, or MBOX_UNBOUNDED
 * @max_msg_size: in: largest message; 0 takes the module's default.  At
 *	most the module parameter max_msg_size.  out: the value in force
 * @max_bytes: in: bytes the queue may hold; 0 means capacity *
 *	max_msg_size (bounded) or no limit but the user's quota (unbounded)
 * @msg_size: in: if not 0, every message must be exactly this long
 * @mode: in: permission bits (MBOX_MODE_MASK)
 * @policy: in: enum mbox_policy
 * @id: out: the new mailbox's id, unique while the module is loaded
 *
 * The creating endpoint has the mailbox open to send and to receive.  A
 * process-owned mailbox is destroyed when its creating endpoint is
 * closed, and only that endpoint may receive from it.
 */
struct mbox_create {
	__u32 size;
	__u32 flags;
	__u64 name;
	__u32 capacity;
	__u32 max_msg_size;
	__u64 max_bytes;
	__u32 msg_size;
	__u32 mode;
	__u32 policy;
	__u32 id;
};

/* Open flags: the rights asked for (at least one). */
#define MBOX_OPEN_SEND		_BITUL(2)
#define MBOX_OPEN_RECV		_BITUL(3)

/**
 * struct mbox_open - MBOX_IOC_OPEN: open a mailbox on this endpoint
 * @size: in: sizeof(struct mbox_open)
 * @flags: in: MBOX_OPEN_SEND and/or MBOX_OPEN_RECV
 * @id: in: the mailbox id, if @name is 0; out: the mailbox id
 * @__reserved: must be 0
 * @name: in: pointer to the NUL-terminated name to look up, or 0
 */
struct mbox_open {
	__u32 size;
	__u32 flags;
	__u32 id;
	__u32 __reserved;
	__u64 name;
};

/**
 * struct mbox_id - MBOX_IOC_CLOSE and MBOX_IOC_DESTROY: name one mailbox
 * @size: in: sizeof(struct mbox_id)
 * @flags: in: must be 0
 * @id: in: the mailbox id
 * @__reserved: must be 0
 */
struct mbox_id {
	__u32 size;
	__u32 flags;
	__u32 id;
	__u32 __reserved;
};

/* Set flags: which fields of struct mbox_set to apply. */
#define MBOX_SET_UID		_BITUL(2)
#define MBOX_SET_GID		_BITUL(3)
#define MBOX_SET_MODE		_BITUL(4)

/**
 * struct mbox_set - MBOX_IOC_SET: change owner, group or mode
 * @size: in: sizeof(struct mbox_set)
 * @flags: in: MBOX_SET_*, at least one
 * @id: in: the mailbox id
 * @uid: in: new owner, in the caller's user namespace
 * @gid: in: new group, in the caller's user namespace
 * @mode: in: new permission bits
 *
 * Allowed to the owner or creator of a system-owned mailbox, and to
 * CAP_IPC_OWNER; passing ownership to another user is how a system-owned
 * mailbox changes hands.
 */
struct mbox_set {
	__u32 size;
	__u32 flags;
	__u32 id;
	__u32 uid;
	__u32 gid;
	__u32 mode;
};

/* Stat flags. */
#define MBOX_STAT_NEXT		_BITUL(2)	/* the first mailbox from @id on */

/**
 * struct mbox_stat - MBOX_IOC_STAT: the state of one mailbox
 * @size: in: sizeof(struct mbox_stat)
 * @flags: in: MBOX_STAT_NEXT to report the mailbox with the lowest id
 *	at least @id that the caller may see (a listing: start at 1, go on
 *	from the reported id + 1 until ENOENT)
 * @id: in: the mailbox id; out: the id reported
 * @name_len: in: the size of the buffer at @name; out: the name's length
 *	without its NUL, 0 if it has none.  A buffer too small for the name
 *	and its NUL fails with EMSGSIZE (and @name_len set)
 * @name: in: pointer to a buffer for the NUL-terminated name, or 0
 * @attrs: out: MBOX_CREATE_SYSTEM if system-owned
 * @policy: out: enum mbox_policy
 * @mode: out: permission bits
 * @uid: out: owner, in the caller's user namespace
 * @gid: out: group, in the caller's user namespace
 * @cuid: out: creator's uid
 * @cgid: out: creator's gid
 * @capacity: out: as created
 * @max_msg_size: out: longest message
 * @msg_size: out: the only length allowed, or 0
 * @max_bytes: out: bytes the queue holds at most (~0: no limit but the
 *	quota)
 * @nr_bytes: out: payload bytes queued
 * @nr_msgs: out: messages queued
 * @nr_open: out: endpoints that have it open
 * @nr_senders: out: senders blocked on it (for room, or for a receiver)
 * @nr_receivers: out: receivers blocked on it
 * @total_sent: out: sends completed since it was created
 * @total_received: out: messages received since it was created
 *
 * Allowed to whoever may send to it or receive from it, its owner and
 * creator, and CAP_IPC_OWNER; MBOX_STAT_NEXT skips the others.  The
 * mailbox need not be open on the endpoint.  The counts are one snapshot.
 */
struct mbox_stat {
	__u32 size;
	__u32 flags;
	__u32 id;
	__u32 name_len;
	__u64 name;
	__u32 attrs;
	__u32 policy;
	__u32 mode;
	__u32 uid;
	__u32 gid;
	__u32 cuid;
	__u32 cgid;
	__u32 capacity;
	__u32 max_msg_size;
	__u32 msg_size;
	__u64 max_bytes;
	__u64 nr_bytes;
	__u32 nr_msgs;
	__u32 nr_open;
	__u32 nr_senders;
	__u32 nr_receivers;
	__u64 total_sent;
	__u64 total_received;
};

/* Where a message goes to, or comes from. */
enum mbox_addr {
	MBOX_ADDR_MAILBOX	= 0,	/* a mailbox id open on this endpoint */
	MBOX_ADDR_PID		= 1,	/* a process, by pid (direct link) */
	MBOX_ADDR_PIDFD		= 2,	/* a process, by pidfd (direct link) */
};

/* Direct flags: enable (no mode flag), or one of DISABLE, QUERY. */
#define MBOX_DIRECT_ANYONE	_BITUL(2)	/* accept from any user */
#define MBOX_DIRECT_DISABLE	_BITUL(3)	/* stop being reachable */
#define MBOX_DIRECT_QUERY	_BITUL(4)	/* change nothing, report */

/**
 * struct mbox_direct - MBOX_IOC_DIRECT: direct receiving on this endpoint
 * @size: in: sizeof(struct mbox_direct)
 * @flags: in: MBOX_DIRECT_ANYONE to enable, or MBOX_DIRECT_DISABLE, or
 *	MBOX_DIRECT_QUERY; out, with MBOX_DIRECT_QUERY: also
 *	MBOX_DIRECT_ANYONE if direct receiving was enabled with it
 * @capacity: in: the capacity of each link's queue towards this process
 *	(0, N or MBOX_UNBOUNDED); out: the value in force
 * @max_msg_size: in: longest message (0: module default); out: in force
 * @max_bytes: in: bytes each link's queue holds (0: capacity *
 *	max_msg_size, or no limit but the quota if unbounded); out: in force
 * @links: out: the processes this endpoint has a link with
 * @pid: out: the process now reachable through it, in the caller's pid
 *	namespace
 *
 * Enabling makes the calling process reachable by pid and pidfd through
 * this endpoint, one endpoint per process.  Links appear on the first
 * message between two processes, one per pair, in both directions; each
 * direction has its own queue, sized by its receiver.
 */
struct mbox_direct {
	__u32 size;
	__u32 flags;
	__u32 capacity;
	__u32 max_msg_size;
	__u64 max_bytes;
	__u32 links;
	__u32 pid;
};

/* Send flags, with MBOX_NONBLOCK and MBOX_DEADLINE. */
#define MBOX_SEND_SYNC		_BITUL(2)	/* wait until received */

/**
 * struct mbox_send - MBOX_IOC_SEND: send one message
 * @size: in: sizeof(struct mbox_send)
 * @flags: in: MBOX_SEND_SYNC, MBOX_NONBLOCK, MBOX_DEADLINE
 * @addr: in: enum mbox_addr
 * @to: in: mailbox id, pid (in the sender's pid namespace) or pidfd
 * @buf: in: pointer to the message
 * @len: in: its length in bytes
 * @priority: in: 0..MBOX_PRIO_MAX, higher is received first
 * @deadline_ns: in: with MBOX_DEADLINE, CLOCK_MONOTONIC time to give up
 * @receiver_pid: out: with MBOX_SEND_SYNC, the process that received the
 *	message, as seen from the sender's pid namespace (0 if not visible)
 * @__pad: out: 0
 *
 * Asynchronous (default): returns once the message is queued, blocking
 * only while the queue is full.  On a capacity-0 mailbox, a send completes
 * only by hand-off to a receiver.  MBOX_SEND_SYNC returns once a receiver
 * has the message.  A send that fails, however it fails, delivered
 * nothing.
 */
struct mbox_send {
	__u32 size;
	__u32 flags;
	__u32 addr;
	__u32 to;
	__u64 buf;
	__u32 len;
	__u32 priority;
	__u64 deadline_ns;
	__u32 receiver_pid;
	__u32 __pad;
};

/* Receive flags, with MBOX_NONBLOCK and MBOX_DEADLINE. */
#define MBOX_RECV_FROM		_BITUL(2)	/* only messages from @from_pid */

/* Message flags, out in struct mbox_recv. */
#define MBOX_MSG_SYNC		_BITUL(0)	/* the sender waits for it */
#define MBOX_MSG_CALL		_BITUL(1)	/* a call: reply with @token */

/**
 * struct mbox_recv - MBOX_IOC_RECV: receive one message
 * @size: in: sizeof(struct mbox_recv)
 * @flags: in: MBOX_RECV_FROM, MBOX_NONBLOCK, MBOX_DEADLINE
 * @addr: in: enum mbox_addr
 * @from: in: mailbox id; or, for direct messages, the pid (in the
 *	receiver's pid namespace) or pidfd of the only sender to take from,
 *	pid 0 for any sender
 * @buf: in: pointer to the receive buffer
 * @len: in: its size; out: the message's length, also when the buffer is
 *	too small (EMSGSIZE, and the message stays queued)
 * @from_pid: in: with MBOX_RECV_FROM, take only messages sent by this
 *	process (a pid in the receiver's pid namespace)
 * @deadline_ns: in: with MBOX_DEADLINE, CLOCK_MONOTONIC time to give up
 * @priority: out: the message's priority
 * @msg_flags: out: MBOX_MSG_*
 * @sender_pid: out: the sending process, in the receiver's pid namespace
 *	(0 if it is not visible there); stamped by the kernel
 * @sender_uid: out: its effective uid, in the receiver's user namespace
 * @sender_gid: out: its effective gid, in the receiver's user namespace
 * @__pad: out: 0
 * @token: out: with MBOX_MSG_CALL, the one-shot token to reply with
 *	(MBOX_IOC_REPLY on this endpoint), else 0
 */
struct mbox_recv {
	__u32 size;
	__u32 flags;
	__u32 addr;
	__u32 from;
	__u64 buf;
	__u32 len;
	__u32 from_pid;
	__u64 deadline_ns;
	__u32 priority;
	__u32 msg_flags;
	__u32 sender_pid;
	__u32 sender_uid;
	__u32 sender_gid;
	__u32 __pad;
	__u64 token;
};

/**
 * struct mbox_call - MBOX_IOC_CALL: send a request and wait for its reply
 * @size: in: sizeof(struct mbox_call)
 * @flags: in: MBOX_NONBLOCK (fail with EAGAIN unless a receiver can take
 *	the request now), MBOX_DEADLINE (for the whole call)
 * @addr: in: enum mbox_addr, as for MBOX_IOC_SEND
 * @to: in: mailbox id, pid or pidfd, as for MBOX_IOC_SEND
 * @buf: in: pointer to the request
 * @len: in: its length
 * @priority: in: the request's priority
 * @deadline_ns: in: with MBOX_DEADLINE, CLOCK_MONOTONIC time to give up
 * @reply_buf: in: pointer to the reply buffer
 * @reply_len: in: its size, the longest reply accepted; out: the reply's
 *	length
 * @server_pid: out: the process that received the request, in the
 *	caller's pid namespace
 *
 * The receiver gets the request with MBOX_MSG_CALL and a token, and
 * answers with MBOX_IOC_REPLY.
 */
struct mbox_call {
	__u32 size;
	__u32 flags;
	__u32 addr;
	__u32 to;
	__u64 buf;
	__u32 len;
	__u32 priority;
	__u64 deadline_ns;
	__u64 reply_buf;
	__u32 reply_len;
	__u32 server_pid;
};

/* Reply flags. */
#define MBOX_REPLY_RECV		_BITUL(2)	/* then receive, with @recv */

/**
 * struct mbox_reply - MBOX_IOC_REPLY: answer a call
 * @size: in: sizeof(struct mbox_reply)
 * @flags: in: MBOX_REPLY_RECV to receive the next message in the same
 *	ioctl (reply-and-receive)
 * @token: in: the token the request came with; good for one reply
 * @buf: in: pointer to the reply
 * @len: in: its length, at most the caller's reply buffer (EMSGSIZE)
 * @__reserved: must be 0
 * @recv: in: with MBOX_REPLY_RECV, pointer to a struct mbox_recv, used
 *	as by MBOX_IOC_RECV once the reply is delivered
 */
struct mbox_reply {
	__u32 size;
	__u32 flags;
	__u64 token;
	__u64 buf;
	__u32 len;
	__u32 __reserved;
	__u64 recv;
};

/* The most entries one batch takes. */
#define MBOX_BATCH_MAX		1024

/**
 * struct mbox_batch - MBOX_IOC_SEND_BATCH, MBOX_IOC_RECV_BATCH: many
 *	sends or receives in one ioctl, as sendmmsg() and recvmmsg() do
 * @size: in: sizeof(struct mbox_batch)
 * @flags: in: must be 0
 * @entries: in: pointer to an array of @count struct mbox_send
 *	(SEND_BATCH) or struct mbox_recv (RECV_BATCH)
 * @count: in: the number of entries, 1..MBOX_BATCH_MAX
 * @entry_size: in: the distance between entries, sizeof(struct mbox_send)
 *	or sizeof(struct mbox_recv) as the caller knows it; the @size of
 *	every entry must be this (EINVAL)
 * @done: out: the entries done, from the first on (the ioctl's value)
 * @error: out: 0 if all @count were done; else the (positive) errno that
 *	entry @done failed with, EAGAIN when a batch receive found no more
 *	messages, EINTR when a signal came
 *
 * Each entry is an MBOX_IOC_SEND or MBOX_IOC_RECV of its own, done in
 * order with its result written into it, up to the first that fails.  A
 * send entry blocks as its flags say.  A receive entry blocks as its
 * flags say if it is the first; the others take only what is already
 * there.  If the first entry fails, the ioctl fails with its errno (and
 * its entry says what a single ioctl would, such as the length needed);
 * else it returns the number of entries done, as sendmmsg() and
 * recvmmsg() do, and @done and @error tell how far it went and why.
 */
struct mbox_batch {
	__u32 size;
	__u32 flags;
	__u64 entries;
	__u32 count;
	__u32 entry_size;
	__u32 done;
	__u32 error;
};

#define MBOX_IOC_VERSION	_IO(MBOX_IOCTL_TYPE, MBOX_CMD_VERSION)
#define MBOX_IOC_CREATE		_IO(MBOX_IOCTL_TYPE, MBOX_CMD_CREATE)
#define MBOX_IOC_OPEN		_IO(MBOX_IOCTL_TYPE, MBOX_CMD_OPEN)
#define MBOX_IOC_CLOSE		_IO(MBOX_IOCTL_TYPE, MBOX_CMD_CLOSE)
#define MBOX_IOC_DESTROY	_IO(MBOX_IOCTL_TYPE, MBOX_CMD_DESTROY)
#define MBOX_IOC_SET		_IO(MBOX_IOCTL_TYPE, MBOX_CMD_SET)
#define MBOX_IOC_STAT		_IO(MBOX_IOCTL_TYPE, MBOX_CMD_STAT)
#define MBOX_IOC_SEND		_IO(MBOX_IOCTL_TYPE, MBOX_CMD_SEND)
#define MBOX_IOC_RECV		_IO(MBOX_IOCTL_TYPE, MBOX_CMD_RECV)
#define MBOX_IOC_DIRECT		_IO(MBOX_IOCTL_TYPE, MBOX_CMD_DIRECT)
#define MBOX_IOC_CALL		_IO(MBOX_IOCTL_TYPE, MBOX_CMD_CALL)
#define MBOX_IOC_REPLY		_IO(MBOX_IOCTL_TYPE, MBOX_CMD_REPLY)
#define MBOX_IOC_SEND_BATCH	_IO(MBOX_IOCTL_TYPE, MBOX_CMD_SEND_BATCH)
#define MBOX_IOC_RECV_BATCH	_IO(MBOX_IOCTL_TYPE, MBOX_CMD_RECV_BATCH)

#endif /* _UAPI_LINUX_MBOX_H */
