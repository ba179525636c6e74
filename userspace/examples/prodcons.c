// SPDX-License-Identifier: GPL-2.0
/*
 * prodcons: producers and consumers on a bounded mailbox.
 *
 * The textbook bounded buffer, with the kernel doing all the waiting.
 * The parent creates a mailbox with room for CAPACITY items and forks
 * PRODUCERS producer processes and CONSUMERS consumer processes:
 *
 *  - a producer sends ITEMS items.  When the mailbox is full a send
 *    blocks until a consumer makes room; to show it, each producer first
 *    tries a non-blocking send (MBOX_NOWAIT), counts the -EAGAIN that
 *    says "full", and then sends again, blocking;
 *  - a consumer receives items until it gets a "stop" item, pretending
 *    to work a little on each one (so the mailbox fills up);
 *  - once every producer is done, the parent sends one "stop" per
 *    consumer, all in one batch: the mailbox is FIFO, so they come after
 *    every item.
 *
 * Every process then sends a report to a second mailbox, the parent's
 * own, and the parent checks that every item was taken exactly once and
 * that the checksums agree, and prints who took how many.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mbox.h>

#define PRODUCERS	3
#define CONSUMERS	2
#define ITEMS		20	/* per producer */
#define CAPACITY	4
#define TIMEOUT_NS	(10 * 1000000000LL)	/* give up after 10 s */

/* One item of work: who made it, which one, and its value. */
struct item {
	uint32_t producer;	/* STOP: no more items */
	uint32_t seq;
	uint32_t value;
};

#define STOP		UINT32_MAX

enum role { PRODUCER, CONSUMER };

/* What each process tells the parent when it is done. */
struct report {
	uint32_t role;		/* enum role */
	uint32_t index;		/* which producer or consumer */
	uint32_t count;		/* items sent, or taken */
	uint32_t full;		/* producer: sends that found it full */
	uint64_t sum;		/* of the values sent, or taken */
	uint8_t taken[PRODUCERS][ITEMS];	/* consumer: which items */
};

static void check(int ret, const char *what)
{
	if (ret < 0) {
		fprintf(stderr, "prodcons: %s: %s\n", what, strerror(-ret));
		exit(1);
	}
}

static uint32_t value_of(uint32_t producer, uint32_t seq)
{
	return (producer + 1) * 1000 + seq;
}

/* Send the report to the parent's results mailbox, on a new endpoint. */
static void send_report(const char *results, struct report *rep)
{
	struct mbox_msg msg = { .buf = rep, .len = sizeof(*rep) };
	struct mbox_endpoint *ep;
	uint32_t id;

	check(mbox_endpoint_open(&ep), "open /dev/mbox");
	check(mbox_mailbox_open(ep, results, MBOX_OPEN_SEND, &id),
	      "open the results mailbox");
	check(mbox_mailbox_send(ep, id, &msg, 0, TIMEOUT_NS), "send report");
	check(mbox_endpoint_close(ep), "close");
}

static int producer(const char *items, const char *results, uint32_t p)
{
	struct report rep = { .role = PRODUCER, .index = p };
	struct mbox_endpoint *ep;
	uint32_t id, i;
	int ret;

	check(mbox_endpoint_open(&ep), "open /dev/mbox");
	check(mbox_mailbox_open(ep, items, MBOX_OPEN_SEND, &id),
	      "open the items mailbox");

	for (i = 0; i < ITEMS; i++) {
		struct item it = { .producer = p, .seq = i, .value = value_of(p, i) };
		struct mbox_msg msg = { .buf = &it, .len = sizeof(it) };

		/* Room for it now?  -EAGAIN is the mailbox saying "full". */
		ret = mbox_mailbox_send(ep, id, &msg, 0, MBOX_NOWAIT);
		if (ret == -EAGAIN) {
			rep.full++;
			/* Then wait for a consumer to make room. */
			ret = mbox_mailbox_send(ep, id, &msg, 0, TIMEOUT_NS);
		}
		check(ret, "send item");
		rep.count++;
		rep.sum += it.value;
	}
	check(mbox_endpoint_close(ep), "close");
	send_report(results, &rep);
	return 0;
}

static int consumer(const char *items, const char *results, uint32_t c)
{
	struct report rep = { .role = CONSUMER, .index = c };
	struct mbox_endpoint *ep;
	struct item it;
	uint32_t id;

	check(mbox_endpoint_open(&ep), "open /dev/mbox");
	check(mbox_mailbox_open(ep, items, MBOX_OPEN_RECV, &id),
	      "open the items mailbox");

	for (;;) {
		struct mbox_msg msg = { .buf = &it, .len = sizeof(it) };

		/*
		 * Blocks while the mailbox is empty.  Each item goes to
		 * exactly one of the consumers waiting, the one that has
		 * waited longest.
		 */
		check(mbox_mailbox_receive(ep, id, &msg, 0, TIMEOUT_NS),
		      "receive item");
		if (it.producer == STOP)
			break;
		if (it.producer >= PRODUCERS || it.seq >= ITEMS) {
			fprintf(stderr, "prodcons: a bad item\n");
			return 1;
		}
		rep.taken[it.producer][it.seq]++;
		rep.count++;
		rep.sum += it.value;
		usleep(1000);	/* the work: consumers are slower */
	}
	check(mbox_endpoint_close(ep), "close");
	send_report(results, &rep);
	return 0;
}

/* Fork a producer or consumer; its exit status is its result. */
static pid_t spawn(enum role role, uint32_t index, const char *items,
		   const char *results, struct mbox_endpoint *ep)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("prodcons: fork");
		exit(1);
	}
	if (pid == 0) {
		/* Children use endpoints of their own, not the parent's. */
		check(mbox_endpoint_close(ep), "close");
		exit(role == PRODUCER ? producer(items, results, index) :
		     consumer(items, results, index));
	}
	return pid;
}

static void reap(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid) {
		perror("prodcons: waitpid");
		exit(1);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "prodcons: child %d failed\n", (int)pid);
		exit(1);
	}
}

int main(void)
{
	struct report prod[PRODUCERS], cons[CONSUMERS], rep;
	struct mbox_msg stop_msgs[CONSUMERS];
	struct item stops[CONSUMERS];
	pid_t pp[PRODUCERS], cp[CONSUMERS];
	char items[64], results[64];
	uint32_t items_id, results_id, i, j, k, n;
	uint64_t sent = 0, taken = 0;
	struct mbox_endpoint *ep;
	struct mbox_attr attr;
	int ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	check(mbox_endpoint_open(&ep), "open /dev/mbox");

	/*
	 * The items mailbox: CAPACITY messages of exactly one size.  It must
	 * be system-owned, as the consumers are other processes: a
	 * process-owned mailbox has its creator as its only receiver.  The
	 * shared policy (the default) lets any number of endpoints receive,
	 * each message going to one of them.
	 */
	mbox_attr_init(&attr);
	attr.capacity = CAPACITY;
	attr.msg_size = sizeof(struct item);
	attr.max_msg_size = sizeof(struct item);
	attr.flags = MBOX_CREATE_SYSTEM;
	snprintf(items, sizeof(items), "/examples/prodcons-%d/items", (int)getpid());
	check(mbox_mailbox_create(ep, items, &attr, &items_id), "create items");

	/*
	 * The results mailbox: process-owned, the parent alone receives
	 * from it; room for every report, so that no report waits.
	 */
	mbox_attr_init(&attr);
	attr.capacity = PRODUCERS + CONSUMERS;
	attr.max_msg_size = sizeof(struct report);
	snprintf(results, sizeof(results), "/examples/prodcons-%d/results",
		 (int)getpid());
	check(mbox_mailbox_create(ep, results, &attr, &results_id),
	      "create results");

	printf("prodcons: mailbox %u \"%s\" holds %d items; %d producers x %d items, %d consumers\n",
	       items_id, items, CAPACITY, PRODUCERS, ITEMS, CONSUMERS);

	for (i = 0; i < CONSUMERS; i++)
		cp[i] = spawn(CONSUMER, i, items, results, ep);
	for (i = 0; i < PRODUCERS; i++)
		pp[i] = spawn(PRODUCER, i, items, results, ep);

	/* Once the producers are gone, every item is in the mailbox or taken. */
	for (i = 0; i < PRODUCERS; i++)
		reap(pp[i]);
	/* One "stop" per consumer, all in one call: a batch. */
	for (i = 0; i < CONSUMERS; i++) {
		stops[i] = (struct item){ .producer = STOP };
		stop_msgs[i] = (struct mbox_msg){
			.buf = &stops[i],
			.len = sizeof(stops[i]),
		};
	}
	ret = mbox_mailbox_send_batch(ep, items_id, stop_msgs, CONSUMERS, 0,
				      TIMEOUT_NS);
	check(ret, "send stops");
	if (ret != CONSUMERS) {
		fprintf(stderr, "prodcons: sent %d stops of %d\n", ret, CONSUMERS);
		return 1;
	}
	for (i = 0; i < CONSUMERS; i++)
		reap(cp[i]);

	/* Every report is queued by now: NOWAIT takes them. */
	memset(prod, 0, sizeof(prod));
	memset(cons, 0, sizeof(cons));
	for (n = 0; n < PRODUCERS + CONSUMERS; n++) {
		struct mbox_msg msg = { .buf = &rep, .len = sizeof(rep) };

		check(mbox_mailbox_receive(ep, results_id, &msg, 0, MBOX_NOWAIT),
		      "receive report");
		if (msg.len != sizeof(rep) ||
		    (rep.role == PRODUCER && rep.index >= PRODUCERS) ||
		    (rep.role == CONSUMER && rep.index >= CONSUMERS) ||
		    rep.role > CONSUMER) {
			fprintf(stderr, "prodcons: a bad report\n");
			return 1;
		}
		if (rep.role == PRODUCER)
			prod[rep.index] = rep;
		else
			cons[rep.index] = rep;
	}

	for (i = 0; i < PRODUCERS; i++) {
		printf("producer %u: sent %u items; found the mailbox full %u times and waited\n",
		       i, prod[i].count, prod[i].full);
		sent += prod[i].sum;
	}
	for (i = 0; i < CONSUMERS; i++) {
		printf("consumer %u: took %u items\n", i, cons[i].count);
		taken += cons[i].sum;
	}

	/* Exactly once: each item taken by one consumer, one time. */
	for (j = 0; j < PRODUCERS; j++) {
		for (k = 0; k < ITEMS; k++) {
			n = 0;
			for (i = 0; i < CONSUMERS; i++)
				n += cons[i].taken[j][k];
			if (n != 1) {
				fprintf(stderr, "prodcons: item %u of producer %u taken %u times\n",
					k, j, n);
				return 1;
			}
		}
	}
	if (sent != taken) {
		fprintf(stderr, "prodcons: checksums differ: sent %llu, taken %llu\n",
			(unsigned long long)sent, (unsigned long long)taken);
		return 1;
	}
	printf("prodcons: all %d items consumed exactly once (checksum %llu = %llu)\n",
	       PRODUCERS * ITEMS, (unsigned long long)sent,
	       (unsigned long long)taken);

	/* The items mailbox is system-owned: it lives until destroyed. */
	check(mbox_mailbox_destroy(ep, items_id), "destroy");
	check(mbox_endpoint_close(ep), "close");
	return 0;
}
