// SPDX-License-Identifier: GPL-2.0
/*
 * rendezvous: a mailbox with capacity 0.
 *
 * A zero-capacity mailbox has no queue: a send completes only when a
 * receiver takes the message from the sender's hands (the rendezvous of
 * the textbooks).  The parent creates one and is its receiver; a child is
 * the sender.  In four steps:
 *
 *  1. nobody receives: a non-blocking send fails at once with -EAGAIN;
 *  2. a blocking send waits until the receiver, who sleeps a while first,
 *     calls receive;
 *  3. once poll() says a receiver is waiting (POLLOUT), a non-blocking
 *     send succeeds: the message is handed straight to it;
 *  4. a synchronous send (MBOX_SEND_SYNC) tells the sender which process
 *     received its message.
 *
 * Each process prints only while the other is blocked, so the lines come
 * out in the same order every time.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mbox.h>

#define DELAY_US	300000		/* the sender's wait in step 2 */
#define TIMEOUT_NS	(10 * 1000000000LL)	/* give up after 10 s */

static void check(int ret, const char *what)
{
	if (ret < 0) {
		fprintf(stderr, "rendezvous: %s: %s\n", what, strerror(-ret));
		exit(1);
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* poll() the endpoint's fd for one event, for at most 10 s. */
static void wait_for(struct mbox_endpoint *ep, short event)
{
	struct pollfd pfd = { .fd = mbox_endpoint_fd(ep), .events = event };
	int n;

	n = poll(&pfd, 1, 10000);
	if (n < 0) {
		perror("rendezvous: poll");
		exit(1);
	}
	if (n == 0 || !(pfd.revents & event)) {
		fprintf(stderr, "rendezvous: nothing to poll for\n");
		exit(1);
	}
}

/*
 * Wait until a receiver is blocked on the mailbox.  The endpoint's fd is
 * writable (POLLOUT) when a send to a mailbox it has open to send would
 * not block: for a capacity-0 mailbox, when a receiver is waiting.
 */
static void wait_for_receiver(struct mbox_endpoint *ep)
{
	wait_for(ep, POLLOUT);
}

/*
 * Wait until a sender is blocked on the mailbox: the endpoint's fd is
 * readable (POLLIN) when a receive would not block, and a blocked
 * sender's message can be taken at once.
 */
static void wait_for_sender(struct mbox_endpoint *ep)
{
	wait_for(ep, POLLIN);
}

static void send_text(struct mbox_endpoint *ep, uint32_t id, const char *text,
		      uint32_t flags, int64_t timeout_ns, struct mbox_msg *msg)
{
	*msg = (struct mbox_msg){ .buf = (void *)text, .len = strlen(text) };
	check(mbox_mailbox_send(ep, id, msg, flags, timeout_ns), "send");
}

/* The sender: steps 2 to 4. */
static int sender(const char *name)
{
	struct mbox_endpoint *ep;
	struct mbox_msg msg;
	double t0, waited;
	uint32_t id;

	check(mbox_endpoint_open(&ep), "open /dev/mbox");
	check(mbox_mailbox_open(ep, name, MBOX_OPEN_SEND, &id), "open mailbox");

	/* 2. A blocking send: nobody is receiving yet, so it waits. */
	printf("2. [sender]   send(\"hello\"): blocks, nobody is receiving\n");
	t0 = now();
	send_text(ep, id, "hello", 0, TIMEOUT_NS, &msg);
	waited = now() - t0;
	wait_for_receiver(ep);	/* the receiver has printed; our turn */
	printf("   [sender]   the send returned after %.1f s, when the receiver took \"hello\"\n",
	       waited);

	/* 3. A receiver waits (poll said so): NOWAIT hands the message over. */
	printf("3. [sender]   poll(): POLLOUT, a receiver waits; send(\"no wait\", MBOX_NOWAIT)\n");
	send_text(ep, id, "no wait", 0, MBOX_NOWAIT, &msg);
	wait_for_receiver(ep);
	printf("   [sender]   send(MBOX_NOWAIT) succeeded: the message went straight to the receiver\n");

	/* 4. A synchronous send reports who took the message. */
	printf("4. [sender]   send(\"bye\", MBOX_SEND_SYNC)\n");
	send_text(ep, id, "bye", MBOX_SEND_SYNC, TIMEOUT_NS, &msg);
	printf("   [sender]   \"bye\" was taken by pid %d%s\n", (int)msg.pid,
	       msg.pid == getppid() ? " (my parent)" : "");
	check(mbox_endpoint_close(ep), "close");
	return 0;
}

/* The receiver's side of steps 2 to 4: one message each. */
static void receive(struct mbox_endpoint *ep, uint32_t id, struct mbox_msg *msg,
		    char *buf, size_t size)
{
	*msg = (struct mbox_msg){ .buf = buf, .len = size - 1 };
	check(mbox_mailbox_receive(ep, id, msg, 0, TIMEOUT_NS), "receive");
	buf[msg->len] = '\0';
}

int main(void)
{
	struct mbox_endpoint *ep;
	struct mbox_attr attr;
	struct mbox_msg msg;
	char name[64], buf[64];
	int ret, status;
	uint32_t id;
	pid_t pid;

	setvbuf(stdout, NULL, _IOLBF, 0);
	check(mbox_endpoint_open(&ep), "open /dev/mbox");

	/*
	 * Capacity 0: no queue at all.  Process-owned (the default): this
	 * endpoint is its receiver; the child opens it to send.
	 */
	mbox_attr_init(&attr);
	attr.capacity = 0;
	snprintf(name, sizeof(name), "/examples/rendezvous-%d", (int)getpid());
	check(mbox_mailbox_create(ep, name, &attr, &id), "create");
	printf("rendezvous: mailbox %u has capacity 0: a send completes only by hand-off to a receiver\n",
	       id);

	/* 1. Nobody receives: a non-blocking send has nowhere to go. */
	msg = (struct mbox_msg){ .buf = "anyone?", .len = 7 };
	ret = mbox_mailbox_send(ep, id, &msg, 0, MBOX_NOWAIT);
	if (ret != -EAGAIN) {
		fprintf(stderr, "rendezvous: send(MBOX_NOWAIT) gave %d, not -EAGAIN\n",
			ret);
		return 1;
	}
	printf("1. [receiver] not receiving: send(MBOX_NOWAIT) fails at once: %s\n",
	       strerror(-ret));

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("rendezvous: fork");
		return 1;
	}
	if (pid == 0) {
		check(mbox_endpoint_close(ep), "close");
		exit(sender(name));
	}

	/* 2. Once the sender waits, let it wait a while, then receive. */
	wait_for_sender(ep);
	usleep(DELAY_US);
	printf("   [receiver] %.1f s later: receive()\n", DELAY_US / 1e6);
	receive(ep, id, &msg, buf, sizeof(buf));
	printf("   [receiver] got \"%s\" from pid %d\n", buf, (int)msg.pid);

	/* 3. Wait in receive: the sender sees us with poll(). */
	receive(ep, id, &msg, buf, sizeof(buf));
	printf("   [receiver] got \"%s\" from pid %d\n", buf, (int)msg.pid);

	/* 4. The sender prints its last lines before it exits. */
	receive(ep, id, &msg, buf, sizeof(buf));
	if (waitpid(pid, &status, 0) != pid) {
		perror("rendezvous: waitpid");
		return 1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "rendezvous: the sender failed\n");
		return 1;
	}
	printf("   [receiver] got \"%s\" from pid %d%s\n", buf, (int)msg.pid,
	       msg.flags & MBOX_MSG_SYNC ? ", flagged MBOX_MSG_SYNC: its sender waits to learn who took it" : "");
	check(mbox_endpoint_close(ep), "close");
	return 0;
}
