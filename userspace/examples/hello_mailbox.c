// SPDX-License-Identifier: GPL-2.0
/*
 * hello_mailbox: a first look at mbox, through libmbox.
 *
 * A parent process creates a mailbox with room for four messages and a
 * name, and sends it three messages of different priorities: they are
 * queued, so the sends return at once.  Then it forks a child, which opens
 * the mailbox by its name and receives them, highest priority first, each
 * with the sender's pid stamped by the kernel.  Last, the parent sends a
 * synchronous message: that send returns only once the child has taken
 * it, and tells the parent which process took it.
 *
 * Build: make userspace (build/user/bin/hello_mailbox); run it where the
 * mbox module is loaded (make demo does).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mbox.h>

/*
 * Every libmbox function returns 0 or a negative errno: strerror(-ret)
 * says what went wrong.
 */
static void check(int ret, const char *what)
{
	if (ret < 0) {
		fprintf(stderr, "hello_mailbox: %s: %s\n", what, strerror(-ret));
		exit(1);
	}
}

static void send_text(struct mbox_endpoint *ep, uint32_t id, const char *text,
		      uint32_t priority)
{
	struct mbox_msg msg = {
		.buf = (void *)text,
		.len = strlen(text),
		.priority = priority,
	};

	/*
	 * An asynchronous send (flags 0): the message is queued and the
	 * call returns.  MBOX_FOREVER would block only if the queue were full.
	 */
	check(mbox_mailbox_send(ep, id, &msg, 0, MBOX_FOREVER), "send");
}

/* The child: open the mailbox by name, receive the four messages. */
static int child(const char *name)
{
	struct mbox_endpoint *ep;
	char buf[64];
	uint32_t id;
	int i;

	/* Its own endpoint, and the mailbox opened on it to receive. */
	check(mbox_endpoint_open(&ep), "open /dev/mbox");
	check(mbox_mailbox_open(ep, name, MBOX_OPEN_RECV, &id), "open mailbox");

	for (i = 0; i < 4; i++) {
		struct mbox_msg msg = {
			.buf = buf,
			.len = sizeof(buf) - 1,	/* in: the buffer's size */
		};

		check(mbox_mailbox_receive(ep, id, &msg, 0, MBOX_FOREVER),
		      "receive");
		buf[msg.len] = '\0';	/* out: the message's length */
		printf("child:  received \"%s\" (priority %u) from pid %d%s\n",
		       buf, msg.priority, (int)msg.pid,
		       msg.flags & MBOX_MSG_SYNC ? ", whose sender waits for it" : "");
	}
	check(mbox_endpoint_close(ep), "close");
	return 0;
}

int main(void)
{
	struct mbox_endpoint *ep;
	struct mbox_attr attr;
	struct mbox_msg bye;
	char name[64];
	int status;
	uint32_t id;
	pid_t pid;

	/* Line-buffered, so that parent and child print whole lines. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* An endpoint is one open of /dev/mbox. */
	check(mbox_endpoint_open(&ep), "open /dev/mbox");

	/*
	 * A mailbox for four messages.  It is system-owned, so that any
	 * process with permission (mode 0600: same user) may open it to
	 * receive; a process-owned one would have its creator as its only
	 * receiver.  Its name is unique, so it holds our pid.
	 */
	mbox_attr_init(&attr);
	attr.capacity = 4;
	attr.flags = MBOX_CREATE_SYSTEM;
	snprintf(name, sizeof(name), "/examples/hello-%d", (int)getpid());
	check(mbox_mailbox_create(ep, name, &attr, &id), "create");
	printf("parent: created mailbox %u \"%s\" (capacity 4)\n", id, name);

	send_text(ep, id, "low priority", 1);
	send_text(ep, id, "urgent", 9);
	send_text(ep, id, "also low", 1);
	printf("parent: sent 3 messages without waiting: they are queued\n");

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("hello_mailbox: fork");
		return 1;
	}
	if (pid == 0) {
		/*
		 * The child has a copy of the parent's endpoint, which it does
		 * not use: close it (its own opens a new one).
		 */
		check(mbox_endpoint_close(ep), "close");
		exit(child(name));
	}

	/*
	 * A synchronous send: it returns once a receiver has the message,
	 * and reports which process that was.  The parent prints nothing
	 * until the child is done, so that the output keeps its order.  If
	 * the child died, nobody would ever take it: give up after 10 s
	 * (timeouts are in ns; the send then fails with -ETIMEDOUT).
	 */
	bye = (struct mbox_msg){ .buf = "goodbye", .len = 7 };
	check(mbox_mailbox_send(ep, id, &bye, MBOX_SEND_SYNC, 10000000000LL),
	      "synchronous send");
	if (waitpid(pid, &status, 0) != pid) {
		perror("hello_mailbox: waitpid");
		return 1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "hello_mailbox: the child failed\n");
		return 1;
	}
	printf("parent: synchronous send taken by pid %d%s\n", (int)bye.pid,
	       bye.pid == pid ? " (the child)" : "");

	/* A system-owned mailbox lives until it is destroyed. */
	check(mbox_mailbox_destroy(ep, id), "destroy");
	printf("parent: destroyed mailbox %u\n", id);
	check(mbox_endpoint_close(ep), "close");
	return 0;
}
