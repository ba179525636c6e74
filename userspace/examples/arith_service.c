// SPDX-License-Identifier: GPL-2.0
/*
 * arith_service: a client-server program over mbox calls.
 *
 * The server creates a mailbox and forks four clients.  Each client calls
 * the server with requests such as "7 * 6" and waits for the answer in
 * the same call (the extended rendezvous).  The server answers each call
 * and waits for the next one in a single ioctl (reply-and-receive), so
 * serving a request costs one system call.  Every request tells the
 * server who sent it, stamped by the kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/mbox.h>

#define CLIENTS		4
#define REQUESTS	3

static __u64 ptr(const void *p)
{
	return (__u64)(unsigned long)p;
}

static int client(int fd, __u32 mbox, int n)
{
	static const char ops[] = "+-*/";
	char req[64], ans[64];
	int i;

	for (i = 0; i < REQUESTS; i++) {
		struct mbox_call c = {
			.size = sizeof(c), .to = mbox,
			.buf = ptr(req), .reply_buf = ptr(ans),
			.reply_len = sizeof(ans) - 1,
		};

		snprintf(req, sizeof(req), "%d %c %d", 10 * (n + 1) + i,
			 ops[(n + i) % 4], i + 2);
		c.len = strlen(req);
		if (ioctl(fd, MBOX_IOC_CALL, &c)) {
			perror("arith_service: call");
			return 1;
		}
		ans[c.reply_len] = 0;
		printf("client %d: %s = %s (answered by pid %u)\n",
		       getpid(), req, ans, c.server_pid);
	}
	return 0;
}

/* "a op b" -> its value as text */
static void compute(const char *req, char *ans, size_t size)
{
	long a, b;
	char op;

	if (sscanf(req, "%ld %c %ld", &a, &op, &b) != 3)
		snprintf(ans, size, "bad request");
	else if (op == '/' && b == 0)
		snprintf(ans, size, "division by zero");
	else
		snprintf(ans, size, "%ld", op == '+' ? a + b : op == '-' ? a - b :
			 op == '*' ? a * b : a / b);
}

int main(void)
{
	struct mbox_create cr = { .size = sizeof(cr), .capacity = 8, .mode = 0600 };
	char req[64], ans[64];
	struct mbox_recv r;
	int fd, i, served;

	fd = open("/dev/mbox", O_RDWR | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, MBOX_IOC_CREATE, &cr)) {
		perror("arith_service: /dev/mbox");
		return 1;
	}
	printf("server %d: serving on mailbox %u\n", getpid(), cr.id);
	fflush(stdout);
	for (i = 0; i < CLIENTS; i++)
		if (fork() == 0)
			_exit(client(fd, cr.id, i));

	/* The first request comes with a plain receive ... */
	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.from = cr.id;
	r.buf = ptr(req);
	r.len = sizeof(req) - 1;
	if (ioctl(fd, MBOX_IOC_RECV, &r)) {
		perror("arith_service: receive");
		return 1;
	}
	/* ... then each reply also waits for the next request. */
	for (served = 1; ; served++) {
		struct mbox_reply rep = {
			.size = sizeof(rep), .token = r.token, .buf = ptr(ans),
		};

		req[r.len] = 0;
		compute(req, ans, sizeof(ans));
		rep.len = strlen(ans);
		if (served == CLIENTS * REQUESTS) {
			ioctl(fd, MBOX_IOC_REPLY, &rep);
			break;
		}
		rep.flags = MBOX_REPLY_RECV;
		rep.recv = ptr(&r);
		r.len = sizeof(req) - 1;
		if (ioctl(fd, MBOX_IOC_REPLY, &rep)) {
			perror("arith_service: reply and receive");
			return 1;
		}
	}
	while (wait(NULL) > 0)
		;
	printf("server %d: answered %d calls from %d clients\n", getpid(),
	       served, CLIENTS);
	return 0;
}
