// SPDX-License-Identifier: GPL-2.0
/*
 * direct: messages from process to process, without a mailbox.
 *
 * A process that calls mbox_process_enable() on an endpoint can be sent
 * messages by its pid, or by a pidfd (which, unlike a pid number, cannot
 * come to name another process once it exits).  Each pair of processes
 * gets its own link, with a queue in each direction.  Receiving names a
 * sender, receive(Q) (symmetric naming), or takes the next message from
 * anyone and says who sent it, receive(ANY) (asymmetric naming).
 *
 * The parent and two children, A and B, all enable direct receiving:
 *
 *  1. A sends two messages to the parent by pid, B two by pidfd;
 *  2. the parent takes B's first, naming B by a pidfd, then A's, naming
 *     A by pid: the other's messages wait meanwhile;
 *  3. the parent answers each child, A by pid, B by pidfd; each child
 *     takes the answer with receive(Q = its parent), says goodbye and
 *     exits;
 *  4. the parent takes the goodbyes with receive(ANY), which reports the
 *     senders (their messages outlive them), until -EAGAIN;
 *  5. a send through the pidfd of B, which has exited, fails with -ESRCH.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mbox.h>

#define TIMEOUT_NS	(10 * 1000000000LL)	/* give up after 10 s */

static void check(int ret, const char *what)
{
	if (ret < 0) {
		fprintf(stderr, "direct: %s: %s\n", what, strerror(-ret));
		exit(1);
	}
}

/* A pidfd for pid: an fd that names that process, and it alone. */
static int pidfd_of(pid_t pid)
{
	int fd = syscall(SYS_pidfd_open, pid, 0);

	if (fd < 0) {
		perror("direct: pidfd_open");
		exit(1);
	}
	return fd;
}

static void send_text(struct mbox_endpoint *ep, pid_t to, uint32_t flags,
		      const char *text)
{
	struct mbox_msg msg = { .buf = (void *)text, .len = strlen(text) };

	/* to is a pid, or a pidfd with MBOX_PIDFD in the flags. */
	check(mbox_process_send(ep, to, &msg, flags, TIMEOUT_NS), "send");
}

/* Receive from one process (pid or pidfd) or from any (0), as text. */
static int receive_text(struct mbox_endpoint *ep, pid_t from, uint32_t flags,
			int64_t timeout_ns, char *buf, size_t size, pid_t *sender)
{
	struct mbox_msg msg = { .buf = buf, .len = size - 1 };
	int ret;

	*sender = 0;
	ret = mbox_process_receive(ep, from, &msg, flags, timeout_ns);
	if (ret)
		return ret;
	buf[msg.len] = '\0';
	*sender = msg.pid;	/* stamped by the kernel */
	return 0;
}

/*
 * A child: child A names its parent by pid, child B by pidfd.  It
 * prints only once the parent has answered it.
 */
static int child(char me, int by_pidfd)
{
	uint32_t flags = by_pidfd ? MBOX_PIDFD : 0;
	struct mbox_endpoint *ep;
	char buf[64], text[64];
	pid_t parent, from;

	check(mbox_endpoint_open(&ep), "open /dev/mbox");
	/* Reachable by pid and pidfd from now on, through this endpoint. */
	check(mbox_process_enable(ep, NULL, 0), "enable");

	/* How this child names its parent: a pid, or a pidfd. */
	parent = by_pidfd ? pidfd_of(getppid()) : getppid();
	snprintf(text, sizeof(text), "hello #1 from %c", me);
	send_text(ep, parent, flags, text);
	snprintf(text, sizeof(text), "hello #2 from %c", me);
	send_text(ep, parent, flags, text);

	/* receive(Q): only what the parent sends. */
	check(receive_text(ep, parent, flags, TIMEOUT_NS, buf, sizeof(buf),
			   &from), "receive");
	printf("%c: receive(parent, by %s) got \"%s\" from pid %d\n", me,
	       by_pidfd ? "pidfd" : "pid", buf, (int)from);

	snprintf(text, sizeof(text), "bye from %c", me);
	send_text(ep, parent, flags, text);
	if (by_pidfd && close(parent)) {
		perror("direct: close");
		return 1;
	}
	check(mbox_endpoint_close(ep), "close");
	return 0;
}

static pid_t spawn(struct mbox_endpoint *ep, char me, int by_pidfd)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("direct: fork");
		exit(1);
	}
	if (pid == 0) {
		/* The parent's endpoint is the parent's: close our copy. */
		check(mbox_endpoint_close(ep), "close");
		exit(child(me, by_pidfd));
	}
	return pid;
}

static void reap(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid) {
		perror("direct: waitpid");
		exit(1);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "direct: child %d failed\n", (int)pid);
		exit(1);
	}
}

int main(void)
{
	struct mbox_endpoint *ep;
	struct mbox_msg msg;
	pid_t a, b, from;
	int bfd, i, ret;
	char buf[64];

	setvbuf(stdout, NULL, _IOLBF, 0);
	check(mbox_endpoint_open(&ep), "open /dev/mbox");
	/* NULL: the default queue of each link towards us (16 messages). */
	check(mbox_process_enable(ep, NULL, 0), "enable");
	printf("parent (pid %d): direct receiving on\n", (int)getpid());

	/* 1. Both children send as soon as they start. */
	a = spawn(ep, 'A', 0);
	b = spawn(ep, 'B', 1);
	printf("children: A is pid %d (sends by pid), B is pid %d (sends by pidfd)\n",
	       (int)a, (int)b);
	bfd = pidfd_of(b);

	/* 2. receive(Q): B first, by pidfd, whatever A sent meanwhile. */
	for (i = 0; i < 2; i++) {
		check(receive_text(ep, bfd, MBOX_PIDFD, TIMEOUT_NS, buf,
				   sizeof(buf), &from), "receive from B");
		printf("parent: receive(B, by pidfd) got \"%s\" from pid %d\n",
		       buf, (int)from);
	}
	for (i = 0; i < 2; i++) {
		check(receive_text(ep, a, 0, TIMEOUT_NS, buf, sizeof(buf), &from),
		      "receive from A");
		printf("parent: receive(A, by pid) got \"%s\" from pid %d\n",
		       buf, (int)from);
	}

	/* 3. Answer each child in turn, and let it finish. */
	printf("parent: send(A, by pid) \"thanks, A\"\n");
	send_text(ep, a, 0, "thanks, A");
	reap(a);
	printf("parent: send(B, by pidfd) \"thanks, B\"\n");
	send_text(ep, bfd, MBOX_PIDFD, "thanks, B");
	reap(b);

	/* 4. receive(ANY) (pid 0): the goodbyes, in sending order. */
	for (i = 0; ; i++) {
		ret = receive_text(ep, 0, 0, MBOX_NOWAIT, buf, sizeof(buf), &from);
		if (ret == -EAGAIN)
			break;
		check(ret, "receive from anyone");
		printf("parent: receive(ANY) got \"%s\" from pid %d (%s)\n", buf,
		       (int)from, from == a ? "A" : from == b ? "B" : "?");
	}
	printf("parent: receive(ANY, MBOX_NOWAIT): %s: nothing left\n",
	       strerror(EAGAIN));
	if (i != 2) {
		fprintf(stderr, "direct: %d goodbyes, not 2\n", i);
		return 1;
	}

	/* 5. B is gone: its pidfd says so, it never names another process. */
	msg = (struct mbox_msg){ .buf = "hello?", .len = 6 };
	ret = mbox_process_send(ep, bfd, &msg, MBOX_PIDFD, MBOX_NOWAIT);
	if (ret != -ESRCH) {
		fprintf(stderr, "direct: send to an exited B: %d, not -ESRCH\n", ret);
		return 1;
	}
	printf("parent: send(B, by pidfd) after B exited: %s\n", strerror(-ret));
	if (close(bfd)) {
		perror("direct: close");
		return 1;
	}
	check(mbox_endpoint_close(ep), "close");
	return 0;
}
