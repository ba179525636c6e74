/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmbox: the C library of mbox, message-passing IPC through /dev/mbox.
 *
 * Conventions, for every function that can fail:
 *  - names are mbox_<object>_<verb>: endpoint, attr, mailbox, process
 *    (direct links), call;
 *  - handles are opaque (struct mbox_endpoint); mailboxes are named by the
 *    kernel's u32 id, processes by pid or pidfd;
 *  - the return value is 0 on success and a negative errno on failure
 *    (-EAGAIN, -ETIMEDOUT, ...); errno itself is left untouched, so
 *    strerror(-ret) explains a failure;
 *  - a function that fails changed nothing, except where its man page
 *    says otherwise (a too-small receive buffer reports the length needed).
 *
 * Waiting: every operation that can block takes a timeout in ns:
 * MBOX_FOREVER blocks until done, MBOX_NOWAIT (0) fails at once with
 * -EAGAIN, and a positive value gives up with -ETIMEDOUT after that long.
 * The timeout is turned into an absolute CLOCK_MONOTONIC deadline when the
 * call starts, so signal restarts do not extend it; with MBOX_ABSTIME in
 * the flags, timeout_ns is that deadline already.
 *
 * The flags and constants of the kernel ABI (MBOX_SEND_SYNC,
 * MBOX_POLICY_*, MBOX_UNBOUNDED, ...) come from <linux/mbox.h>, included
 * here.  See libmbox(3) and the man page of each function.
 */
#ifndef _LIBMBOX_H
#define _LIBMBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/mbox.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LIBMBOX_MAJOR		1
#define LIBMBOX_MINOR		1

/* Timeouts. */
#define MBOX_FOREVER		(-1LL)	/* block until done */
#define MBOX_NOWAIT		0LL	/* never block: -EAGAIN */

/*
 * Library flags, beside the kernel's flags of each operation, in the two
 * bits the kernel leaves to libraries.
 */
#define MBOX_ABSTIME		(1U << 31)	/* timeout_ns is a deadline */
#define MBOX_PIDFD		(1U << 30)	/* the pid argument is a pidfd */

/* An endpoint: one open of /dev/mbox. */
struct mbox_endpoint;

/*
 * Attributes of a new mailbox, or of the direct queues of a process
 * (capacity, max_msg_size and max_bytes only).  Start from
 * mbox_attr_init(): the reserved words must stay zero.
 */
struct mbox_attr {
	uint32_t capacity;	/* 0 (rendezvous), N, or MBOX_UNBOUNDED */
	uint32_t max_msg_size;	/* longest message; 0: module default */
	uint64_t max_bytes;	/* bytes queued at most; 0: default */
	uint32_t msg_size;	/* if not 0, the only message length */
	uint32_t mode;		/* permission bits, MBOX_MODE_MASK */
	uint32_t policy;	/* enum mbox_policy */
	uint32_t flags;		/* MBOX_CREATE_SYSTEM */
	uint64_t reserved[4];
};

/*
 * One message, for send, receive and call.  Fields are "in" for a send,
 * "out" for a receive, unless said otherwise.
 */
struct mbox_msg {
	void *buf;		/* the message, or the receive buffer */
	size_t len;		/* its length; receive: in: the buffer's
				 * size, out: the message's length (also
				 * on -EMSGSIZE: the length needed) */
	uint32_t priority;	/* 0..MBOX_PRIO_MAX */
	uint32_t flags;		/* receive: out: MBOX_MSG_SYNC, MBOX_MSG_CALL */
	pid_t pid;		/* receive: the sender (in with
				 * MBOX_RECV_FROM: the only sender taken);
				 * sync send: out: the receiver; call:
				 * reply: out: the server */
	uid_t uid;		/* receive: the sender's effective uid */
	gid_t gid;		/* receive: the sender's effective gid */
	uint64_t token;		/* receive of a call: the reply token */
	uint64_t reserved[2];
};

/* What mbox_mailbox_stat() reports about a mailbox. */
struct mbox_info {
	uint32_t id;
	char name[MBOX_NAME_MAX + 1];	/* "" if it has none */
	uint32_t flags;		/* MBOX_CREATE_SYSTEM if system-owned */
	uint32_t policy;	/* enum mbox_policy */
	uint32_t mode;		/* permission bits */
	uid_t uid;		/* owner */
	gid_t gid;
	uid_t cuid;		/* creator */
	gid_t cgid;
	uint32_t capacity;
	uint32_t max_msg_size;
	uint32_t msg_size;
	uint64_t max_bytes;	/* UINT64_MAX: no byte limit */
	uint32_t nr_msgs;	/* messages queued */
	uint64_t nr_bytes;	/* their bytes */
	uint32_t nr_open;	/* endpoints that have it open */
	uint32_t nr_senders;	/* senders blocked on it */
	uint32_t nr_receivers;	/* receivers blocked on it */
	uint64_t total_sent;	/* messages sent since creation */
	uint64_t total_received;	/* messages received since creation */
	uint64_t reserved[4];
};

/* What mbox_process_query() reports about this process's direct queues. */
struct mbox_process_info {
	pid_t pid;		/* the process reachable through the endpoint */
	uint32_t flags;		/* MBOX_DIRECT_ANYONE if enabled with it */
	uint32_t links;		/* processes it has a link with */
	uint32_t capacity;	/* of each link's queue towards it */
	uint64_t max_bytes;	/* UINT64_MAX: no byte limit */
	uint32_t max_msg_size;
	uint32_t reserved[5];
};

/* Endpoints */
int mbox_endpoint_open(struct mbox_endpoint **epp);
int mbox_endpoint_close(struct mbox_endpoint *ep);
int mbox_endpoint_fd(const struct mbox_endpoint *ep);
int mbox_endpoint_query(struct mbox_endpoint *ep, uint32_t *abi_major,
			uint32_t *abi_minor, uint64_t *features);

/* Mailboxes (indirect communication) */
void mbox_attr_init(struct mbox_attr *attr);
int mbox_mailbox_create(struct mbox_endpoint *ep, const char *name,
			const struct mbox_attr *attr, uint32_t *idp);
int mbox_mailbox_open(struct mbox_endpoint *ep, const char *name,
		      uint32_t rights, uint32_t *idp);
int mbox_mailbox_open_id(struct mbox_endpoint *ep, uint32_t id,
			 uint32_t rights);
int mbox_mailbox_close(struct mbox_endpoint *ep, uint32_t id);
int mbox_mailbox_destroy(struct mbox_endpoint *ep, uint32_t id);
int mbox_mailbox_chown(struct mbox_endpoint *ep, uint32_t id, uid_t uid,
		       gid_t gid);
int mbox_mailbox_chmod(struct mbox_endpoint *ep, uint32_t id, mode_t mode);
int mbox_mailbox_stat(struct mbox_endpoint *ep, uint32_t id,
		      struct mbox_info *info);
int mbox_mailbox_next(struct mbox_endpoint *ep, uint32_t id,
		      struct mbox_info *info);
int mbox_mailbox_send(struct mbox_endpoint *ep, uint32_t id,
		      struct mbox_msg *msg, uint32_t flags, int64_t timeout_ns);
int mbox_mailbox_receive(struct mbox_endpoint *ep, uint32_t id,
			 struct mbox_msg *msg, uint32_t flags,
			 int64_t timeout_ns);
/*
 * Batches (libmbox 1.1): many sends or receives in one ioctl.  They return
 * how many were done (1..count), or a negative errno if none was; only the
 * first receive waits.
 */
int mbox_mailbox_send_batch(struct mbox_endpoint *ep, uint32_t id,
			    struct mbox_msg *msgs, unsigned int count,
			    uint32_t flags, int64_t timeout_ns);
int mbox_mailbox_receive_batch(struct mbox_endpoint *ep, uint32_t id,
			       struct mbox_msg *msgs, unsigned int count,
			       uint32_t flags, int64_t timeout_ns);
int mbox_mailbox_call(struct mbox_endpoint *ep, uint32_t id,
		      const struct mbox_msg *req, struct mbox_msg *rep,
		      uint32_t flags, int64_t timeout_ns);
int mbox_mailbox_reply_receive(struct mbox_endpoint *ep, uint64_t token,
			       const void *buf, size_t len, uint32_t id,
			       struct mbox_msg *msg, uint32_t flags,
			       int64_t timeout_ns);

/* Processes (direct communication) */
int mbox_process_enable(struct mbox_endpoint *ep, const struct mbox_attr *attr,
			uint32_t flags);
int mbox_process_disable(struct mbox_endpoint *ep);
int mbox_process_query(struct mbox_endpoint *ep,
		       struct mbox_process_info *info);
int mbox_process_send(struct mbox_endpoint *ep, pid_t pid,
		      struct mbox_msg *msg, uint32_t flags, int64_t timeout_ns);
int mbox_process_receive(struct mbox_endpoint *ep, pid_t pid,
			 struct mbox_msg *msg, uint32_t flags,
			 int64_t timeout_ns);
int mbox_process_send_batch(struct mbox_endpoint *ep, pid_t pid,
			    struct mbox_msg *msgs, unsigned int count,
			    uint32_t flags, int64_t timeout_ns);
int mbox_process_receive_batch(struct mbox_endpoint *ep, pid_t pid,
			       struct mbox_msg *msgs, unsigned int count,
			       uint32_t flags, int64_t timeout_ns);
int mbox_process_call(struct mbox_endpoint *ep, pid_t pid,
		      const struct mbox_msg *req, struct mbox_msg *rep,
		      uint32_t flags, int64_t timeout_ns);
int mbox_process_reply_receive(struct mbox_endpoint *ep, uint64_t token,
			       const void *buf, size_t len, pid_t pid,
			       struct mbox_msg *msg, uint32_t flags,
			       int64_t timeout_ns);

/* Calls (extended rendezvous): the server's side */
int mbox_call_reply(struct mbox_endpoint *ep, uint64_t token,
		    const void *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* _LIBMBOX_H */
