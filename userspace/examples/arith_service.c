// SPDX-License-Identifier: GPL-2.0
/*
 * arith_service: a client-server program over mbox calls.
 *
 * The server creates a mailbox and forks four clients.  Each client opens
 * the mailbox by name and calls the server with requests such as "7 * 6":
 * mbox_mailbox_call() sends the request and waits for the answer, in one
 * system call (the extended rendezvous).  The server takes the first
 * request with a plain receive; from then on, mbox_mailbox_reply_receive()
 * answers one request and waits for the next in one system call, so a
 * request costs the server one system call.  Each request carries its
 * sender's pid, stamped by the kernel: the server counts its clients
 * with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mbox.h>

#define CLIENTS		4
#define REQUESTS	3
#define TIMEOUT_NS	(10 * 1000000000LL)	/* give up after 10 s */

static void check(int ret, const char *what)
{
	if (ret < 0) {
		fprintf(stderr, "arith_service: %s: %s\n", what, strerror(-ret));
		exit(1);
	}
}

/* "a op b" -> its value as text */
static void compute(const char *req, char *ans, size_t size)
{
	long a, b;
	char op;

	if (sscanf(req, "%ld %c %ld", &a, &op, &b) != 3 || !strchr("+-*/", op))
		snprintf(ans, size, "bad request");
	else if (op == '/' && b == 0)
		snprintf(ans, size, "division by zero");
	else
		snprintf(ans, size, "%ld", op == '+' ? a + b : op == '-' ? a - b :
			 op == '*' ? a * b : a / b);
}

/* Client n: REQUESTS calls, each answer checked. */
static int client(const char *name, int n)
{
	static const char ops[] = "+-*/";
	struct mbox_endpoint *ep;
	char req[64], ans[64], want[64];
	uint32_t id;
	int i;

	check(mbox_endpoint_open(&ep), "open /dev/mbox");
	/* Clients only send: a process-owned mailbox has one receiver. */
	check(mbox_mailbox_open(ep, name, MBOX_OPEN_SEND, &id), "open mailbox");

	for (i = 0; i < REQUESTS; i++) {
		struct mbox_msg rq = { .buf = req };
		struct mbox_msg rp = { .buf = ans, .len = sizeof(ans) - 1 };

		snprintf(req, sizeof(req), "%d %c %d", 10 * (n + 1) + i,
			 ops[(n + i) % 4], i + 2);
		rq.len = strlen(req);
		/*
		 * The call: the request goes to the mailbox, and the call
		 * returns with the reply in rp (rp.len in: the buffer's size;
		 * out: the reply's length; rp.pid: who answered).
		 */
		check(mbox_mailbox_call(ep, id, &rq, &rp, 0, TIMEOUT_NS), "call");
		ans[rp.len] = '\0';
		compute(req, want, sizeof(want));
		if (strcmp(ans, want)) {
			fprintf(stderr, "arith_service: %s = %s, not %s\n",
				req, ans, want);
			return 1;
		}
		printf("client %d: %s = %s (answered by pid %d)\n", n, req, ans,
		       (int)rp.pid);
	}
	check(mbox_endpoint_close(ep), "close");
	return 0;
}

int main(void)
{
	pid_t pids[CLIENTS], from[CLIENTS];
	int calls[CLIENTS] = { 0 };
	struct mbox_endpoint *ep;
	struct mbox_attr attr;
	struct mbox_msg msg;
	char req[64], ans[64], name[64];
	int i, j, served, status, failed = 0;
	uint32_t id;

	setvbuf(stdout, NULL, _IOLBF, 0);
	check(mbox_endpoint_open(&ep), "open /dev/mbox");

	/*
	 * A process-owned mailbox (the default): this endpoint is its only
	 * receiver, and it goes away when the server closes the endpoint.
	 */
	mbox_attr_init(&attr);
	attr.capacity = 8;
	snprintf(name, sizeof(name), "/examples/arith-%d", (int)getpid());
	check(mbox_mailbox_create(ep, name, &attr, &id), "create");
	printf("server: serving on mailbox %u \"%s\", pid %d\n", id, name,
	       (int)getpid());

	for (i = 0; i < CLIENTS; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("arith_service: fork");
			return 1;
		}
		if (pids[i] == 0) {
			/*
			 * The child does not use the server's endpoint:
			 * closing its copy leaves the server's open.
			 */
			check(mbox_endpoint_close(ep), "close");
			exit(client(name, i));
		}
	}

	/* The first request comes with a plain receive ... */
	msg = (struct mbox_msg){ .buf = req, .len = sizeof(req) - 1 };
	check(mbox_mailbox_receive(ep, id, &msg, 0, TIMEOUT_NS), "receive");
	for (served = 1; ; served++) {
		/* A call comes with MBOX_MSG_CALL and its reply token. */
		if (!(msg.flags & MBOX_MSG_CALL)) {
			fprintf(stderr, "arith_service: a message that is not a call\n");
			return 1;
		}
		req[msg.len] = '\0';
		compute(req, ans, sizeof(ans));

		/* Who called: the kernel stamped the caller's pid. */
		for (j = 0; j < CLIENTS && calls[j] && from[j] != msg.pid; j++)
			;
		if (j < CLIENTS) {
			from[j] = msg.pid;
			calls[j]++;
		}

		if (served == CLIENTS * REQUESTS) {
			/* The last one: reply, and wait for nothing more. */
			check(mbox_call_reply(ep, msg.token, ans, strlen(ans)),
			      "reply");
			break;
		}
		/*
		 * ... then each reply also waits for the next request: the
		 * token answers this call, msg receives the next one (its
		 * len is the buffer's size again).
		 */
		msg.len = sizeof(req) - 1;
		check(mbox_mailbox_reply_receive(ep, msg.token, ans, strlen(ans),
						 id, &msg, 0, TIMEOUT_NS),
		      "reply and receive");
	}

	for (i = 0; i < CLIENTS; i++) {
		if (waitpid(pids[i], &status, 0) != pids[i]) {
			perror("arith_service: waitpid");
			return 1;
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			failed++;
	}
	if (failed) {
		fprintf(stderr, "arith_service: %d clients failed\n", failed);
		return 1;
	}
	for (j = 0; j < CLIENTS; j++) {
		if (calls[j] != REQUESTS) {
			fprintf(stderr, "arith_service: %d calls from one client\n",
				calls[j]);
			return 1;
		}
	}
	printf("server: answered %d calls, %d from each of the %d clients\n",
	       served, REQUESTS, CLIENTS);
	/* Closing the endpoint destroys the process-owned mailbox. */
	check(mbox_endpoint_close(ep), "close");
	return 0;
}
