// SPDX-License-Identifier: GPL-2.0
/*
 * event_loop: one endpoint, many mailboxes, one epoll.
 *
 * A server often waits on many sources at once.  An mbox endpoint is one
 * file descriptor however many mailboxes it has open: it is readable
 * (EPOLLIN) when a receive from any of them, or from its direct queue,
 * would not block, and it reports EPOLLHUP while one of its mailboxes has
 * been destroyed.  So the loop is:
 *
 *	epoll_wait() on the endpoint's fd;
 *	for each mailbox, and the direct queue:
 *		receive with MBOX_NOWAIT until -EAGAIN (-EIDRM: it is gone).
 *
 * The parent creates MAILBOXES mailboxes and enables direct receiving on
 * one endpoint; one child per mailbox, and one more by pid, send it
 * MESSAGES messages each, at their own pace.  Once every message has
 * arrived (in order from each sender), another child destroys a mailbox,
 * and the loop sees EPOLLHUP.
 *
 * Run with -v to see what each wake-up found.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mbox.h>

#define MAILBOXES	3
#define SOURCES		(MAILBOXES + 1)	/* the mailboxes, then direct */
#define DIRECT		MAILBOXES
#define MESSAGES	5		/* per sender */
#define TIMEOUT_NS	(10 * 1000000000LL)	/* give up after 10 s */
#define TIMEOUT_MS	10000

struct note {
	uint32_t source;	/* the mailbox index, or DIRECT */
	uint32_t seq;		/* 0..MESSAGES-1, in sending order */
};

static struct mbox_endpoint *ep;
static uint32_t ids[MAILBOXES];
static int is_open[MAILBOXES];	/* still open on ep */
static char names[MAILBOXES][64];
static unsigned int got[SOURCES];	/* messages from each source */
static pid_t senders[SOURCES];		/* the pid each reported */
static int verbose;

static void check(int ret, const char *what)
{
	if (ret < 0) {
		fprintf(stderr, "event_loop: %s: %s\n", what, strerror(-ret));
		exit(1);
	}
}

/* A sender: MESSAGES notes to mailbox `source`, or to pid `to`. */
static int sender(uint32_t source, pid_t to)
{
	struct mbox_endpoint *sep;
	uint32_t id = 0, seq;

	check(mbox_endpoint_open(&sep), "open /dev/mbox");
	if (source != DIRECT)
		check(mbox_mailbox_open(sep, names[source], MBOX_OPEN_SEND, &id),
		      "open mailbox");
	for (seq = 0; seq < MESSAGES; seq++) {
		struct note n = { .source = source, .seq = seq };
		struct mbox_msg msg = { .buf = &n, .len = sizeof(n) };

		/*
		 * In pairs, each sender at its own pace (10, 20, 30 and
		 * 40 ms): one wake-up often finds several messages.
		 */
		if (seq % 2 == 0)
			usleep(10000 * (source + 1));
		if (source == DIRECT)
			check(mbox_process_send(sep, to, &msg, 0, TIMEOUT_NS),
			      "send to pid");
		else
			check(mbox_mailbox_send(sep, id, &msg, 0, TIMEOUT_NS),
			      "send to mailbox");
	}
	check(mbox_endpoint_close(sep), "close");
	return 0;
}

/* Another process destroys a mailbox: it need not even open it. */
static int destroyer(uint32_t id, pid_t unused)
{
	struct mbox_endpoint *dep;

	(void)unused;
	check(mbox_endpoint_open(&dep), "open /dev/mbox");
	check(mbox_mailbox_destroy(dep, id), "destroy");
	check(mbox_endpoint_close(dep), "close");
	return 0;
}

static pid_t spawn(int (*fn)(uint32_t, pid_t), uint32_t arg, pid_t to)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("event_loop: fork");
		exit(1);
	}
	if (pid == 0) {
		check(mbox_endpoint_close(ep), "close");
		exit(fn(arg, to));
	}
	return pid;
}

static void reap(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid) {
		perror("event_loop: waitpid");
		exit(1);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "event_loop: child %d failed\n", (int)pid);
		exit(1);
	}
}

/* Account for one message from source i (FIFO from each sender). */
static void take(uint32_t i, const struct mbox_msg *msg, const struct note *n)
{
	if (msg->len != sizeof(*n) || n->source != i || n->seq != got[i]) {
		fprintf(stderr, "event_loop: unexpected message\n");
		exit(1);
	}
	got[i]++;
	senders[i] = msg->pid;
}

/*
 * Take everything there is, without blocking: each mailbox until -EAGAIN,
 * then the direct queue.  -EIDRM: the mailbox was destroyed; close it,
 * and the endpoint stops reporting EPOLLHUP for it.  Returns how many
 * messages it took.
 */
static unsigned int drain(void)
{
	unsigned int n = 0, here;
	struct mbox_msg msg;
	struct note note;
	uint32_t i;
	int ret;

	for (i = 0; i < MAILBOXES; i++) {
		if (!is_open[i])
			continue;
		for (here = 0; ; here++) {
			msg = (struct mbox_msg){ .buf = &note, .len = sizeof(note) };
			ret = mbox_mailbox_receive(ep, ids[i], &msg, 0, MBOX_NOWAIT);
			if (ret == -EAGAIN)
				break;
			if (ret == -EIDRM) {
				printf("event_loop: receive from mailbox %u: %s: it was destroyed; closing it\n",
				       i, strerror(-ret));
				check(mbox_mailbox_close(ep, ids[i]), "close mailbox");
				is_open[i] = 0;
				break;
			}
			check(ret, "receive from mailbox");
			take(i, &msg, &note);
		}
		if (verbose && here)
			printf("  mailbox %u: %u\n", i, here);
		n += here;
	}
	for (here = 0; ; here++) {
		msg = (struct mbox_msg){ .buf = &note, .len = sizeof(note) };
		/* pid 0: receive(ANY), from whichever process sent. */
		ret = mbox_process_receive(ep, 0, &msg, 0, MBOX_NOWAIT);
		if (ret == -EAGAIN)
			break;
		check(ret, "receive direct");
		take(DIRECT, &msg, &note);
	}
	if (verbose && here)
		printf("  direct: %u\n", here);
	return n + here;
}

/* One epoll_wait: the events it reported, or 0 if none in timeout_ms. */
static uint32_t wait_events(int epfd, int timeout_ms)
{
	struct epoll_event ev;
	int n;

	n = epoll_wait(epfd, &ev, 1, timeout_ms);
	if (n < 0) {
		perror("event_loop: epoll_wait");
		exit(1);
	}
	return n ? ev.events : 0;
}

int main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN };
	unsigned int total = 0, wakeups = 0;
	pid_t pids[SOURCES], killer;
	struct mbox_attr attr;
	uint32_t i, events;
	int epfd;

	verbose = argc > 1 && !strcmp(argv[1], "-v");
	setvbuf(stdout, NULL, _IOLBF, 0);
	check(mbox_endpoint_open(&ep), "open /dev/mbox");

	/* MAILBOXES process-owned mailboxes: this endpoint receives. */
	mbox_attr_init(&attr);
	attr.capacity = 8;
	for (i = 0; i < MAILBOXES; i++) {
		snprintf(names[i], sizeof(names[i]), "/examples/event_loop-%d/%u",
			 (int)getpid(), i);
		check(mbox_mailbox_create(ep, names[i], &attr, &ids[i]), "create");
		is_open[i] = 1;
	}
	/* And its direct queue: other processes may send to our pid. */
	check(mbox_process_enable(ep, NULL, 0), "enable");

	/*
	 * One fd to watch.  Level-triggered EPOLLIN: it is reported as long
	 * as something is left to receive.  EPOLLHUP needs no asking.
	 */
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, mbox_endpoint_fd(ep), &ev)) {
		perror("event_loop: epoll");
		return 1;
	}
	printf("event_loop: one epoll on one endpoint: %d mailboxes and the direct queue; %d senders x %d messages\n",
	       MAILBOXES, SOURCES, MESSAGES);

	for (i = 0; i < SOURCES; i++)
		pids[i] = spawn(sender, i, getpid());

	/* The loop: wait, drain, until every message is in. */
	while (total < SOURCES * MESSAGES) {
		events = wait_events(epfd, TIMEOUT_MS);
		if (!events) {
			fprintf(stderr, "event_loop: nothing for %d ms\n", TIMEOUT_MS);
			return 1;
		}
		wakeups++;
		if (verbose)
			printf("wake-up %u:%s%s\n", wakeups,
			       events & EPOLLIN ? " EPOLLIN" : "",
			       events & EPOLLHUP ? " EPOLLHUP" : "");
		total += drain();
	}
	for (i = 0; i < SOURCES; i++)
		reap(pids[i]);
	printf("event_loop: all %u messages arrived, in order from each sender, in %u wake-ups\n",
	       total, wakeups);
	for (i = 0; i < MAILBOXES; i++)
		printf("  mailbox %u \"%s\": %u from pid %d\n", i, names[i], got[i],
		       (int)senders[i]);
	printf("  direct queue: %u from pid %d\n", got[DIRECT], (int)senders[DIRECT]);

	/* Now somebody destroys mailbox 2: the endpoint reports EPOLLHUP. */
	printf("event_loop: another process destroys mailbox %d\n", MAILBOXES - 1);
	killer = spawn(destroyer, ids[MAILBOXES - 1], 0);
	events = wait_events(epfd, TIMEOUT_MS);
	reap(killer);
	if (!(events & EPOLLHUP)) {
		fprintf(stderr, "event_loop: no EPOLLHUP (events %#x)\n", events);
		return 1;
	}
	printf("event_loop: epoll_wait: EPOLLHUP\n");
	drain();
	if (is_open[MAILBOXES - 1]) {
		fprintf(stderr, "event_loop: EPOLLHUP, but no mailbox is gone\n");
		return 1;
	}
	/* Closed: nothing to report any more. */
	events = wait_events(epfd, 0);
	if (events) {
		fprintf(stderr, "event_loop: still events %#x\n", events);
		return 1;
	}
	printf("event_loop: epoll_wait: nothing more to report\n");

	if (close(epfd)) {
		perror("event_loop: close");
		return 1;
	}
	/* Closing the endpoint destroys the mailboxes it owns. */
	check(mbox_endpoint_close(ep), "close");
	return 0;
}
