// SPDX-License-Identifier: GPL-2.0
/*
 * mbox_bench: mbox against pipes, UNIX sockets, POSIX mq, System V msg and
 * eventfd, with the same loops and the same timing code for all of them.
 * Documentation/benchmarks.rst describes the method; tools/testing/bench.sh
 * (make bench) runs it in a VM and makes the report.
 *
 *   mbox_bench [-r ROUNDS] [-d SECONDS] [-w SECONDS] [-c CAPACITY]
 *              [-f REGEX] [-q] [-n] [-l]
 *
 *   -r  rounds (5): every selected cell runs once per round, rounds
 *       interleaved (for each round, for each cell), after a round 0
 *       of short cells that is not reported (TCG translates the code
 *       paths, the kernel fills its caches)
 *   -d  measured time of a cell (0.5 s), after -w of warm-up (0.1 s)
 *   -c  queue capacity in messages of the streaming cells (64)
 *   -f  only the cells whose name matches this extended regex
 *   -q  quick: -d 0.15 -w 0.05
 *   -n  no round 0
 *   -l  list the cells and exit
 *
 * Cells are named workload/transport/size/placement[/extra]:
 *   rt/pipe/64/same        round trip, 64 B, both processes on CPU 0
 *   stream/posix-mq/4096/cross   one producer on CPU 0, a consumer on CPU 1
 *   rdv/mbox/64/same/cap0  streaming on a capacity-0 mailbox (rendezvous)
 *   nm/mbox/64/free/8x1    8 producers, 1 consumer, one queue, unpinned
 *   calls/mbox-call/64/same/4c   4 clients calling one server, all on CPU 0
 *
 * Output, one line each, to be read by tools/testing/bench/report.py:
 *   BENCH_META {...}     the run's parameters
 *   BENCH_XPORT {...}    a transport and what it does
 *   BENCH_MBOX {...}     the module's ABI version and features
 *   BENCH_SNDBUF {...}   the SO_SNDBUF a socket pair needs for the capacity
 *   BENCH_CAP {...}      the measured capacity of a streaming queue
 *   BENCH {...}          one cell in one round
 *   BENCH_DONE {...}
 *
 * Must run as root (it raises the System V and POSIX mq limits and pins
 * processes); without /dev/mbox the mbox cells report an error.
 */
#include <errno.h>
#include <getopt.h>
#include <regex.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define MAX_SAMPLES	(1U << 18)
#define MAX_CELLS	256

enum phase { PH_SETUP, PH_RUN, PH_MEASURE, PH_STOP };

/* A worker's counters, written by it alone. */
struct slot {
	uint64_t count;		/* operations done (messages, round trips) */
	uint32_t nsamples;	/* round trip times in samples[] */
	int ready;
	int failed;
	pid_t pid;
	char err[192];
} __attribute__((aligned(64)));

/* Shared by the controller and its workers (MAP_SHARED). */
struct shared {
	int phase;
	struct slot slot[BENCH_MAX_WORKERS];
	uint32_t samples[MAX_SAMPLES];	/* the round trip client's, in ns */
};

struct mbox_endpoint *bench_ep;
int bench_have_batch;

static struct shared *sh;
static struct cell cells[MAX_CELLS];
static int ncells;
static double opt_secs = 0.5, opt_warmup = 0.1;
static unsigned int opt_capacity = 64;
static int ncpus;
static int quiet;		/* round 0: print nothing */
static char mbox_error[128];

static const char *const wl_name[] = {
	[WL_RT] = "rt", [WL_STREAM] = "stream", [WL_RDV] = "rdv",
	[WL_NM] = "nm", [WL_CALLS] = "calls",
};
static const char *const place_name[] = {
	[PL_SAME] = "same", [PL_CROSS] = "cross", [PL_FREE] = "free",
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = {
		.tv_sec = t / 1000000000ULL,
		.tv_nsec = t % 1000000000ULL,
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static int phase(void)
{
	return __atomic_load_n(&sh->phase, __ATOMIC_ACQUIRE);
}

static void set_phase(int p)
{
	__atomic_store_n(&sh->phase, p, __ATOMIC_RELEASE);
}

pid_t bench_worker_pid(int i)
{
	return sh->slot[i].pid;
}

void bench_fail(struct worker *w, const char *fmt, ...)
{
	struct slot *s = &sh->slot[w ? w->idx : 0];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	__atomic_store_n(&s->failed, 1, __ATOMIC_RELEASE);
	_exit(1);
}

/* --- workers ------------------------------------------------------------ */

static void count(struct slot *s, uint64_t n)
{
	__atomic_store_n(&s->count, n, __ATOMIC_RELAXED);
}

static void pin(struct worker *w)
{
	cpu_set_t set;
	int cpu;

	if (w->cell->place == PL_FREE)
		return;
	cpu = w->cell->place == PL_CROSS && w->role == ROLE_B ? 1 : 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		bench_fail(w, "sched_setaffinity(CPU %d): %s", cpu, strerror(errno));
}

/* One round trip after another; the client times each. */
static void rt_client(struct worker *w, struct slot *s)
{
	const struct xport *x = w->cell->x;
	size_t size = w->cell->size;
	uint64_t n = 0, t, prev;
	uint32_t ns = 0;
	int ret;

	prev = now_ns();
	for (;;) {
		if (x->call) {
			ret = x->call(w, w->buf, size);
		} else {
			ret = x->send(w, 0, w->buf, size);
			if (!ret)
				ret = x->recv(w, 1, w->buf, size);
		}
		if (ret)
			bench_fail(w, "round trip: %s", strerror(-ret));
		t = now_ns();
		count(s, ++n);
		if (ns < MAX_SAMPLES && phase() == PH_MEASURE) {
			sh->samples[ns++] = t - prev > UINT32_MAX ? UINT32_MAX :
				(uint32_t)(t - prev);
			__atomic_store_n(&s->nsamples, ns, __ATOMIC_RELAXED);
		}
		prev = t;
	}
}

/* Answers each message with one of the same length. */
static void rt_server(struct worker *w, struct slot *s)
{
	const struct xport *x = w->cell->x;
	size_t size = w->cell->size;
	uint64_t n = 0;
	int ret;

	if (x->serve)
		bench_fail(w, "serve: %s", strerror(-x->serve(w)));
	for (;;) {
		ret = x->recv(w, 0, w->buf, size);
		if (!ret)
			ret = x->send(w, 1, w->buf, size);
		if (ret)
			bench_fail(w, "echo: %s", strerror(-ret));
		count(s, ++n);
	}
}

static void producer(struct worker *w, struct slot *s)
{
	const struct xport *x = w->cell->x;
	size_t size = w->cell->size;
	uint64_t n = 0;
	int ret;

	for (;;) {
		if (x->send_many)
			ret = x->send_many(w, 0, BENCH_BATCH);
		else
			ret = x->send(w, 0, w->buf, size) ?: 1;
		if (ret < 0)
			bench_fail(w, "send: %s", strerror(-ret));
		n += ret;
		count(s, n);
	}
}

static void consumer(struct worker *w, struct slot *s)
{
	const struct xport *x = w->cell->x;
	size_t size = w->cell->size;
	uint64_t n = 0;
	int ret;

	for (;;) {
		if (x->recv_many)
			ret = x->recv_many(w, 0, BENCH_BATCH);
		else
			ret = x->recv(w, 0, w->buf, size) ?: 1;
		if (ret < 0)
			bench_fail(w, "receive: %s", strerror(-ret));
		n += ret;
		count(s, n);
	}
}

static void caller(struct worker *w, struct slot *s)
{
	size_t size = w->cell->size;
	uint64_t n = 0;
	int ret;

	for (;;) {
		ret = w->cell->x->call(w, w->buf, size);
		if (ret)
			bench_fail(w, "call: %s", strerror(-ret));
		count(s, ++n);
	}
}

static void __attribute__((noreturn)) worker_main(struct cell *c, int idx)
{
	struct slot *s = &sh->slot[idx];
	struct worker w = {
		.idx = idx,
		.role = idx < c->na ? ROLE_A : ROLE_B,
		.side_idx = idx < c->na ? idx : idx - c->na,
		.cell = c,
	};
	size_t size = c->size ? c->size : 1;
	char *space;
	int ret;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_IGN);
	s->pid = getpid();
	/* The controller's endpoint is the controller's. */
	if (bench_ep)
		mbox_endpoint_close(bench_ep);
	bench_ep = NULL;
	pin(&w);

	space = malloc(BENCH_HEADROOM + size);
	if (!space)
		bench_fail(&w, "out of memory");
	memset(space, 'm', BENCH_HEADROOM + size);
	w.buf = space + BENCH_HEADROOM;
	ret = c->x->attach(&w);
	if (ret)
		bench_fail(&w, "attach: %s", strerror(-ret));

	__atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
	while (phase() == PH_SETUP)
		usleep(500);

	switch (c->wl) {
	case WL_RT:
		if (w.role == ROLE_A)
			rt_client(&w, s);
		rt_server(&w, s);
		break;
	case WL_STREAM:
	case WL_RDV:
	case WL_NM:
		if (w.role == ROLE_A)
			producer(&w, s);
		consumer(&w, s);
		break;
	case WL_CALLS:
		if (w.role == ROLE_A)
			caller(&w, s);
		rt_server(&w, s);
		break;
	}
	_exit(1);
}

/* --- the controller --------------------------------------------------------- */

/* Prints s as a JSON string. */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fputc(' ', f);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void cell_head(FILE *f, const struct cell *c, int round)
{
	fprintf(f, "BENCH {\"round\":%d,\"cell\":", round);
	json_str(f, c->name);
	fprintf(f, ",\"workload\":\"%s\",\"transport\":\"%s\",\"size\":%zu,"
		"\"place\":\"%s\",\"na\":%d,\"nb\":%d,\"capacity\":%u",
		wl_name[c->wl], c->x->name, c->size, place_name[c->place], c->na,
		c->nb, c->capacity);
}

static void cell_error(const struct cell *c, int round, const char *err)
{
	if (quiet)
		return;
	cell_head(stdout, c, round);
	printf(",\"error\":");
	json_str(stdout, err);
	printf("}\n");
}

/* Context switches of a process so far, voluntary and not. */
static void csw(pid_t pid, uint64_t *v, uint64_t *nv)
{
	char path[64], line[128];
	unsigned long long x;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "voluntary_ctxt_switches: %llu", &x) == 1)
			*v += x;
		else if (sscanf(line, "nonvoluntary_ctxt_switches: %llu", &x) == 1)
			*nv += x;
	}
	fclose(f);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void reap(pid_t *pids, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
	}
	for (i = 0; i < n; i++) {
		if (pids[i] > 0)
			while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
				;
	}
}

/* The first failure a worker reported, or a worker that died. */
static int worker_error(pid_t *pids, int n, char *err, size_t size)
{
	int i, status;

	for (i = 0; i < n; i++) {
		if (__atomic_load_n(&sh->slot[i].failed, __ATOMIC_ACQUIRE)) {
			snprintf(err, size, "worker %d: %s", i, sh->slot[i].err);
			return 1;
		}
		if (pids[i] > 0 && waitpid(pids[i], &status, WNOHANG) == pids[i]) {
			pids[i] = 0;
			if (sh->slot[i].failed)
				snprintf(err, size, "worker %d: %s", i, sh->slot[i].err);
			else
				snprintf(err, size, "worker %d died (status 0x%x)", i,
					 status);
			return 1;
		}
	}
	return 0;
}

static void run_cell(struct cell *c, int round)
{
	int n = c->na + c->nb, i, ready;
	uint64_t c0[BENCH_MAX_WORKERS], c1[BENCH_MAX_WORKERS];
	uint64_t t0 = 0, t1 = 0, deadline, total = 0, amin = UINT64_MAX, amax = 0;
	uint64_t bmin = UINT64_MAX, bmax = 0, d;
	uint64_t v0 = 0, nv0 = 0, v1 = 0, nv1 = 0;
	pid_t pids[BENCH_MAX_WORKERS] = { 0 };
	char msg[256] = "";
	double secs;
	uint32_t ns = 0, *samples = NULL;

	if ((c->x->caps & X_BATCH) && !bench_have_batch) {
		cell_error(c, round, BENCH_HAVE_BATCH ?
			   "the module has no batch send/receive" :
			   "built without libmbox's batch functions");
		return;
	}
	if (!strncmp(c->x->name, "mbox", 4) && !bench_ep) {
		cell_error(c, round, mbox_error);
		return;
	}
	if (c->place != PL_FREE && ncpus < 2) {
		cell_error(c, round, "needs 2 CPUs");
		return;
	}

	c->fds[0] = c->fds[1] = c->fds[2] = c->fds[3] = -1;
	c->mq[0] = c->mq[1] = (mqd_t)-1;
	c->msqid[0] = c->msqid[1] = -1;
	c->mbox_id[0] = c->mbox_id[1] = 0;
	c->mqname[0][0] = c->mqname[1][0] = '\0';
	if (c->x->create) {
		i = c->x->create(c);
		if (i) {
			snprintf(msg, sizeof(msg), "create: %s", strerror(-i));
			goto out;
		}
	}

	memset(sh->slot, 0, sizeof(sh->slot));
	set_phase(PH_SETUP);
	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			snprintf(msg, sizeof(msg), "fork: %s", strerror(errno));
			pids[i] = 0;
			goto kill;
		}
		if (pids[i] == 0)
			worker_main(c, i);
		sh->slot[i].pid = pids[i];
	}

	/* Everyone attached (20 s: TCG is slow to fork 16 processes). */
	deadline = now_ns() + 20000000000ULL;
	do {
		if (worker_error(pids, n, msg, sizeof(msg)))
			goto kill;
		for (i = 0, ready = 0; i < n; i++)
			ready += __atomic_load_n(&sh->slot[i].ready, __ATOMIC_ACQUIRE);
		if (ready < n)
			usleep(1000);
	} while (ready < n && now_ns() < deadline);
	if (ready < n) {
		snprintf(msg, sizeof(msg), "workers not ready in 20 s");
		goto kill;
	}

	set_phase(PH_RUN);
	sleep_until(now_ns() + (uint64_t)(opt_warmup * 1e9));
	set_phase(PH_MEASURE);
	t0 = now_ns();
	for (i = 0; i < n; i++)
		c0[i] = __atomic_load_n(&sh->slot[i].count, __ATOMIC_RELAXED);
	/* Read after the counters at both ends: the same shift. */
	for (i = 0; i < n; i++)
		csw(pids[i], &v0, &nv0);
	sleep_until(t0 + (uint64_t)(opt_secs * 1e9));
	t1 = now_ns();
	for (i = 0; i < n; i++)
		c1[i] = __atomic_load_n(&sh->slot[i].count, __ATOMIC_RELAXED);
	for (i = 0; i < n; i++)
		csw(pids[i], &v1, &nv1);
	set_phase(PH_STOP);
	ns = __atomic_load_n(&sh->slot[0].nsamples, __ATOMIC_RELAXED);
	worker_error(pids, n, msg, sizeof(msg));

kill:
	reap(pids, n);
out:
	if (c->x->destroy)
		c->x->destroy(c);
	if (msg[0]) {
		cell_error(c, round, msg);
		return;
	}

	secs = (t1 - t0) / 1e9;
	for (i = 0; i < n; i++) {
		d = c1[i] - c0[i];
		if (i < c->na) {
			amin = d < amin ? d : amin;
			amax = d > amax ? d : amax;
		} else {
			bmin = d < bmin ? d : bmin;
			bmax = d > bmax ? d : bmax;
		}
		/* Side A counts round trips and calls, side B messages. */
		if ((i < c->na) == (c->wl == WL_RT || c->wl == WL_CALLS))
			total += d;
	}
	if (!total) {
		cell_error(c, round, "no progress");
		return;
	}
	if (quiet)
		return;
	cell_head(stdout, c, round);
	printf(",\"secs\":%.6f,\"count\":%llu,\"rate\":%.1f", secs,
	       (unsigned long long)total, total / secs);
	/* Every worker's context switches, per operation counted. */
	printf(",\"vcsw\":%.3f,\"ivcsw\":%.3f", (double)(v1 - v0) / total,
	       (double)(nv1 - nv0) / total);
	if (c->wl == WL_RT) {
		if (ns > 0) {
			samples = malloc(ns * sizeof(*samples));
			if (samples) {
				memcpy(samples, sh->samples, ns * sizeof(*samples));
				qsort(samples, ns, sizeof(*samples), cmp_u32);
			}
		}
		printf(",\"rtt_ns\":%.1f,\"samples\":%u", secs * 1e9 / total, ns);
		if (samples)
			printf(",\"p50_ns\":%u,\"p90_ns\":%u,\"p99_ns\":%u,"
			       "\"p999_ns\":%u,\"max_ns\":%u", samples[ns / 2],
			       samples[(uint64_t)ns * 90 / 100],
			       samples[(uint64_t)ns * 99 / 100],
			       samples[(uint64_t)ns * 999 / 1000], samples[ns - 1]);
		free(samples);
	}
	printf(",\"amin\":%llu,\"amax\":%llu,\"bmin\":%llu,\"bmax\":%llu}\n",
	       (unsigned long long)amin, (unsigned long long)amax,
	       (unsigned long long)bmin, (unsigned long long)bmax);
}

/* --- the cells ---------------------------------------------------------------- */

static void add(enum workload wl, const struct xport *x, size_t size,
		enum placement place, int na, int nb, unsigned int capacity,
		const char *extra)
{
	struct cell *c;

	if (ncells == MAX_CELLS) {
		fprintf(stderr, "mbox_bench: too many cells\n");
		exit(2);
	}
	c = &cells[ncells++];
	memset(c, 0, sizeof(*c));
	c->wl = wl;
	c->x = x;
	c->size = size;
	c->place = place;
	c->na = na;
	c->nb = nb;
	c->capacity = capacity;
	snprintf(c->name, sizeof(c->name), "%s/%s/%zu/%s%s%s", wl_name[wl],
		 x->name, size, place_name[place], extra ? "/" : "",
		 extra ? extra : "");
}

static const struct xport *xport(const char *name)
{
	int i;

	for (i = 0; bench_xports[i]; i++) {
		if (!strcmp(bench_xports[i]->name, name))
			return bench_xports[i];
	}
	fprintf(stderr, "mbox_bench: no transport %s\n", name);
	exit(2);
}

/*
 * Every cell, in the order each round runs them: cells that are compared
 * with each other run one after the other.
 */
static void make_cells(void)
{
	static const size_t rt_sizes[] = { 1, 64, 4096 };
	static const size_t st_sizes[] = { 64, 4096, 65536 };
	static const int nm[][2] = {
		{ 1, 1 }, { 2, 2 }, { 4, 4 }, { 8, 8 }, { 8, 1 }, { 1, 8 },
	};
	const struct xport *x;
	char extra[16];
	static const enum placement many[] = { PL_SAME, PL_FREE };
	int s, p, i, j, k;

	for (s = 0; s < 3; s++) {
		for (p = PL_SAME; p <= PL_CROSS; p++) {
			for (i = 0; (x = bench_xports[i]); i++) {
				if ((x->caps & X_RT) && !(x->caps & X_FIXED8))
					add(WL_RT, x, rt_sizes[s], p, 1, 1,
					    opt_capacity, NULL);
			}
			/* The floor, once, beside the 64 B cells. */
			if (rt_sizes[s] == 64)
				add(WL_RT, xport("eventfd"), 8, p, 1, 1,
				    opt_capacity, NULL);
		}
	}
	for (s = 0; s < 3; s++) {
		for (p = PL_SAME; p <= PL_CROSS; p++) {
			for (i = 0; (x = bench_xports[i]); i++) {
				if (x->caps & X_STREAM)
					add(WL_STREAM, x, st_sizes[s], p, 1, 1,
					    opt_capacity, NULL);
			}
		}
	}
	for (p = PL_SAME; p <= PL_CROSS; p++) {
		add(WL_RDV, xport("mbox"), 64, p, 1, 1, 0, "cap0");
		add(WL_RDV, xport("mbox"), 64, p, 1, 1, 1, "cap1");
	}
	/*
	 * Many processes: all on CPU 0, and unpinned (spread by the
	 * scheduler over both CPUs).
	 */
	for (j = 0; j < 2; j++) {
		p = many[j];
		for (k = 0; k < 6; k++) {
			snprintf(extra, sizeof(extra), "%dx%d", nm[k][0], nm[k][1]);
			for (i = 0; (x = bench_xports[i]); i++) {
				if (x->caps & X_SHARED)
					add(WL_NM, x, 64, p, nm[k][0], nm[k][1],
					    opt_capacity, extra);
			}
		}
		for (k = 1; k <= 8; k++) {
			snprintf(extra, sizeof(extra), "%dc", k);
			for (i = 0; (x = bench_xports[i]); i++) {
				if (x->caps & X_MULTI)
					add(WL_CALLS, x, 64, p, k, 1,
					    opt_capacity, extra);
			}
		}
	}
}

static void filter_cells(const char *re)
{
	regex_t rx;
	int i, n = 0, ret;

	ret = regcomp(&rx, re, REG_EXTENDED | REG_NOSUB);
	if (ret) {
		char err[128];

		regerror(ret, &rx, err, sizeof(err));
		fprintf(stderr, "mbox_bench: -f %s: %s\n", re, err);
		exit(2);
	}
	for (i = 0; i < ncells; i++) {
		if (!regexec(&rx, cells[i].name, 0, NULL, 0))
			cells[n++] = cells[i];
	}
	ncells = n;
	regfree(&rx);
}

/* --- setting up -------------------------------------------------------------------- */

static void sysctl(const char *path, unsigned long value)
{
	unsigned long old = 0;
	FILE *f;

	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%lu", &old) != 1)
			old = 0;
		fclose(f);
	}
	if (old >= value)
		return;
	f = fopen(path, "w");
	if (!f || fprintf(f, "%lu\n", value) < 0 || fclose(f))
		fprintf(stderr, "mbox_bench: cannot raise %s to %lu\n", path, value);
}

/* The limits that the baselines' queues need for capacity 64 KiB messages. */
static void raise_limits(void)
{
	unsigned long bytes = (unsigned long)opt_capacity * BENCH_MAX_SIZE;
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

	sysctl("/proc/sys/fs/mqueue/msg_max", opt_capacity);
	sysctl("/proc/sys/fs/mqueue/msgsize_max", BENCH_MAX_SIZE);
	sysctl("/proc/sys/kernel/msgmax", BENCH_MAX_SIZE);
	sysctl("/proc/sys/kernel/msgmnb", bytes);
	sysctl("/proc/sys/fs/pipe-max-size", bytes);
	if (setrlimit(RLIMIT_MSGQUEUE, &rl))
		fprintf(stderr, "mbox_bench: RLIMIT_MSGQUEUE: %s\n", strerror(errno));
}

static void open_mbox(void)
{
	uint32_t major, minor;
	uint64_t features;
	int ret;

	ret = mbox_endpoint_open(&bench_ep);
	if (ret) {
		snprintf(mbox_error, sizeof(mbox_error), "open /dev/mbox: %s",
			 strerror(-ret));
		bench_ep = NULL;
		return;
	}
	ret = mbox_endpoint_query(bench_ep, &major, &minor, &features);
	if (ret) {
		snprintf(mbox_error, sizeof(mbox_error), "query: %s", strerror(-ret));
		mbox_endpoint_close(bench_ep);
		bench_ep = NULL;
		return;
	}
	bench_have_batch = BENCH_HAVE_BATCH && (features & MBOX_FEATURE_BATCH);
	printf("BENCH_MBOX {\"abi\":\"%u.%u\",\"features\":%llu,\"batch\":%d}\n",
	       major, minor, (unsigned long long)features, bench_have_batch);
}

/* Measure what each streaming queue holds, as the cells will make it. */
static void capacities(void)
{
	const struct xport *done[32];
	size_t sizes[32];
	unsigned int fit, caps[32];
	int i, j, ndone = 0, ret;

	for (i = 0; i < ncells; i++) {
		struct cell *c = &cells[i];

		if (c->wl != WL_STREAM && c->wl != WL_NM && c->wl != WL_RDV)
			continue;
		for (j = 0; j < ndone; j++) {
			if (done[j]->create == c->x->create && sizes[j] == c->size &&
			    caps[j] == c->capacity)
				break;
		}
		if (j < ndone || ndone == 32)
			continue;
		done[ndone] = c->x;
		sizes[ndone] = c->size;
		caps[ndone++] = c->capacity;
		if (!strncmp(c->x->name, "mbox", 4) && !bench_ep)
			continue;
		if (c->x == xport("unix-stream") || c->x == xport("unix-seqpacket")) {
			int type = c->x == xport("unix-stream") ? SOCK_STREAM :
				SOCK_SEQPACKET;

			ret = bench_sock_sndbuf(type, c->size, c->capacity, &fit);
			if (ret > 0)
				printf("BENCH_SNDBUF {\"transport\":\"%s\",\"size\":%zu,"
				       "\"capacity\":%u,\"sndbuf\":%d}\n", c->x->name,
				       c->size, c->capacity, ret);
		}
		ret = bench_fd_capacity(c->x, c->size, c->capacity, &fit);
		printf("BENCH_CAP {\"transport\":\"%s\",\"size\":%zu,\"capacity\":%u,",
		       c->x->name, c->size, c->capacity);
		if (ret)
			printf("\"error\":\"%s\"}\n", strerror(-ret));
		else
			printf("\"fit\":%u}\n", fit);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: mbox_bench [-r ROUNDS] [-d SECONDS] [-w SECONDS] "
		"[-c CAPACITY] [-f REGEX] [-q] [-l]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *filter = NULL;
	int rounds = 5, list = 0, warm = 1, opt, r, i;
	double secs, warmup;
	struct utsname u;
	uint64_t start;

	while ((opt = getopt(argc, argv, "r:d:w:c:f:qnlh")) != -1) {
		switch (opt) {
		case 'r': rounds = atoi(optarg); break;
		case 'd': opt_secs = atof(optarg); break;
		case 'w': opt_warmup = atof(optarg); break;
		case 'c': opt_capacity = strtoul(optarg, NULL, 0); break;
		case 'f': filter = optarg; break;
		case 'q': opt_secs = 0.15; opt_warmup = 0.05; break;
		case 'n': warm = 0; break;
		case 'l': list = 1; break;
		default: usage();
		}
	}
	if (optind != argc || rounds < 1 || opt_secs <= 0 || opt_warmup < 0 ||
	    opt_capacity < 1 || opt_capacity > 4096)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);

	make_cells();
	if (filter)
		filter_cells(filter);
	if (list) {
		for (i = 0; i < ncells; i++)
			printf("%s\n", cells[i].name);
		return 0;
	}
	if (!ncells) {
		fprintf(stderr, "mbox_bench: no cell matches\n");
		return 2;
	}

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mbox_bench: mmap");
		return 1;
	}
	ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (geteuid())
		fprintf(stderr, "mbox_bench: not root: limits stay as they are\n");
	else
		raise_limits();
	uname(&u);
	printf("BENCH_META {\"kernel\":");
	json_str(stdout, u.release);
	printf(",\"cpus\":%d,\"rounds\":%d,\"secs\":%.3f,\"warmup\":%.3f,"
	       "\"capacity\":%u,\"batch\":%d,\"cells\":%d,\"libmbox\":\"%d.%d\"}\n",
	       ncpus, rounds, opt_secs, opt_warmup, opt_capacity, BENCH_BATCH,
	       ncells, LIBMBOX_MAJOR, LIBMBOX_MINOR);
	for (i = 0; bench_xports[i]; i++) {
		printf("BENCH_XPORT {\"name\":\"%s\",\"desc\":", bench_xports[i]->name);
		json_str(stdout, bench_xports[i]->desc);
		printf("}\n");
	}
	open_mbox();
	capacities();

	start = now_ns();
	if (warm) {
		fprintf(stderr, "mbox_bench: round 0 (warm-up, not reported)\n");
		secs = opt_secs;
		warmup = opt_warmup;
		opt_secs = 0.05;
		opt_warmup = 0.02;
		quiet = 1;
		for (i = 0; i < ncells; i++)
			run_cell(&cells[i], 0);
		quiet = 0;
		opt_secs = secs;
		opt_warmup = warmup;
	}
	for (r = 1; r <= rounds; r++) {
		fprintf(stderr, "mbox_bench: round %d of %d (%d cells), %.0f s so far\n",
			r, rounds, ncells, (now_ns() - start) / 1e9);
		for (i = 0; i < ncells; i++)
			run_cell(&cells[i], r);
	}
	printf("BENCH_DONE {\"secs\":%.1f}\n", (now_ns() - start) / 1e9);
	return 0;
}
