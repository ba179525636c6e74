// SPDX-License-Identifier: GPL-2.0
/*
 * hello_mailbox: a first look at mbox.
 *
 * A parent creates a bounded mailbox; a child process sends it three
 * messages with different priorities and finally a synchronous one; the
 * parent receives them (highest priority first), with the sender's pid
 * stamped by the kernel, and the child learns who received its last one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/mbox.h>

static int send_text(int fd, __u32 id, const char *text, __u32 prio, __u32 flags)
{
	struct mbox_send s = {
		.size = sizeof(s), .flags = flags, .to = id,
		.buf = (__u64)(unsigned long)text, .len = strlen(text),
		.priority = prio,
	};

	if (ioctl(fd, MBOX_IOC_SEND, &s))
		return -errno;
	return s.receiver_pid;
}

int main(void)
{
	struct mbox_create c = {
		.size = sizeof(c), .capacity = 4, .mode = 0600,
		.flags = MBOX_CREATE_SYSTEM,
	};
	struct mbox_id d = { .size = sizeof(d) };
	char buf[64];
	pid_t child;
	int fd, i;

	fd = open("/dev/mbox", O_RDWR | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, MBOX_IOC_CREATE, &c)) {
		perror("hello_mailbox: /dev/mbox");
		return 1;
	}
	printf("parent %d: created mailbox %u (capacity 4)\n", getpid(), c.id);

	child = fork();
	if (child == 0) {
		send_text(fd, c.id, "low priority", 1, 0);
		send_text(fd, c.id, "urgent", 9, 0);
		send_text(fd, c.id, "also low", 1, 0);
		printf("child %d: sent 3 messages without waiting\n", getpid());
		i = send_text(fd, c.id, "goodbye", 0, MBOX_SEND_SYNC);
		printf("child %d: synchronous send taken by pid %d\n", getpid(), i);
		_exit(0);
	}

	sleep(1);	/* let the child queue its first three */
	for (i = 0; i < 4; i++) {
		struct mbox_recv r = {
			.size = sizeof(r), .from = c.id,
			.buf = (__u64)(unsigned long)buf, .len = sizeof(buf) - 1,
		};

		if (ioctl(fd, MBOX_IOC_RECV, &r)) {
			perror("hello_mailbox: receive");
			return 1;
		}
		buf[r.len] = 0;
		printf("parent: received \"%s\" (priority %u) from pid %u%s\n",
		       buf, r.priority, r.sender_pid,
		       r.msg_flags & MBOX_MSG_SYNC ? ", sender waiting" : "");
	}
	waitpid(child, NULL, 0);
	d.id = c.id;
	ioctl(fd, MBOX_IOC_DESTROY, &d);
	printf("parent: destroyed mailbox %u\n", c.id);
	return 0;
}
