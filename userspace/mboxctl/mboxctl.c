// SPDX-License-Identifier: GPL-2.0
/*
 * mboxctl: command-line access to mbox, for people and shell scripts.
 *
 * Written on libmbox only.  Each run is one process with one endpoint,
 * closed when mboxctl exits; what follows from that:
 *  - create makes system-owned mailboxes (a process-owned one would be
 *    destroyed as mboxctl exits);
 *  - a reply token is good only on the endpoint that received the call,
 *    so there is no stand-alone "reply": "serve" receives calls in a loop
 *    and answers each with the output of a command, and "receive --reply"
 *    answers calls with a fixed text;
 *  - direct links: "send --pid" and "call --pid" reach long-running
 *    processes; there is no direct receive, since a process's direct
 *    queue dies with it.
 *
 * Exit status: see exit_help[] below and mboxctl(1).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/mbox.h>

#include "mbox.h"

/* Exit status, the same for every command. */
enum {
	RC_OK = 0,	/* done */
	RC_FAIL = 1,	/* the operation failed (message on stderr) */
	RC_USAGE = 2,	/* bad command line */
	RC_AGAIN = 3,	/* would block, or timed out: EAGAIN, ETIMEDOUT */
	RC_NOENT = 4,	/* no such mailbox (or process): ENOENT, EIDRM, ... */
	RC_PERM = 5,	/* permission denied: EACCES, EPERM */
	RC_NOMBOX = 6,	/* no /dev/mbox, or the module lacks the feature */
};

static const char exit_help[] =
	"exit status:\n"
	"  0  success\n"
	"  1  the operation failed (the message says why)\n"
	"  2  usage error\n"
	"  3  would block or timed out (EAGAIN, ETIMEDOUT): nothing was\n"
	"     sent or received\n"
	"  4  no such mailbox, or it was destroyed (ENOENT, EIDRM); with --pid,\n"
	"     no such process or it is not reachable (ESRCH, ECONNREFUSED)\n"
	"  5  permission denied (EACCES, EPERM)\n"
	"  6  mbox is not available: no /dev/mbox (module not loaded), or the\n"
	"     loaded module lacks what the command needs (ENOTTY)\n";

#define MiB			(1024 * 1024)
#define STDIN_MAX		(256UL * MiB)	/* longest message read */
#define REPLY_DEFAULT		(1U * MiB)	/* call's reply buffer */
#define RECV_BUF_FIRST		(64U * 1024)
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))

static struct mbox_endpoint *ep;
static const struct command *cur;

struct command {
	const char *name;
	const char *alias;
	int (*fn)(int argc, char **argv);
	const char *synopsis;	/* forms after "mboxctl NAME ", one a line */
	const char *summary;	/* one line for mboxctl --help */
	const char *help;	/* details and options */
};

/* A mailbox as named on the command line: "/name", "12" or "#12". */
struct mref {
	const char *name;	/* NULL if named by id */
	uint32_t id;		/* given, or found */
	char label[MBOX_NAME_MAX + 32];
};

/* -- messages and exit codes ------------------------------------------ */

static int rc_of(int err)
{
	switch (err) {
	case -EAGAIN:
	case -ETIMEDOUT:
		return RC_AGAIN;
	case -ENOENT:
	case -EIDRM:
	case -ESRCH:
	case -ECONNREFUSED:
		return RC_NOENT;
	case -EACCES:
	case -EPERM:
		return RC_PERM;
	case -ENOTTY:
		return RC_NOMBOX;
	default:
		return RC_FAIL;
	}
}

/*
 * "mboxctl: OP WHAT: EXPLANATION (strerror)", and the exit status of
 * @err.  @fmt may be NULL: then the strerror text alone.
 */
static int __attribute__((format(printf, 4, 5)))
report(const char *op, const char *what, int err, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mboxctl: %s%s%s: ", op, what ? " " : "",
		what ? what : "");
	if (fmt) {
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fprintf(stderr, " (%s)\n", strerror(-err));
	} else {
		fprintf(stderr, "%s\n", strerror(-err));
	}
	return rc_of(err);
}

static void print_synopsis(FILE *f, const struct command *c)
{
	const char *s = c->synopsis, *nl;
	bool first = true;

	do {
		nl = strchr(s, '\n');
		fprintf(f, "%s mboxctl %s %.*s\n", first ? "usage:" : "      ",
			c->name, nl ? (int)(nl - s) : (int)strlen(s), s);
		first = false;
		s = nl + 1;
	} while (nl && *s);
}

static int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mboxctl: %s: ", cur->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	print_synopsis(stderr, cur);
	fprintf(stderr, "Try 'mboxctl help %s' for more.\n", cur->name);
	return RC_USAGE;
}

static int command_help(const struct command *c)
{
	print_synopsis(stdout, c);
	printf("\n%s\n%s%s", c->summary, *c->help ? "\n" : "", c->help);
	return RC_OK;
}

/* getopt_long's complaints (optstrings start with ':'), with the usage. */
static int bad_option(int c, char **argv)
{
	const char *what = c == ':' ? "needs an argument" : "is unknown";

	if (optopt && optopt != '?' && c != ':')
		return usage_error("option '-%c' %s", optopt, what);
	return usage_error("option '%s' %s", argv[optind - 1], what);
}

/* -- parsing --------------------------------------------------------- */

static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!*s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return !errno && !*end;
}

static bool parse_u32(const char *s, uint32_t *v)
{
	uint64_t x;

	if (!parse_u64(s, &x) || x > UINT32_MAX)
		return false;
	*v = x;
	return true;
}

/* Bytes, with an optional k, M or G suffix (powers of 1024). */
static bool parse_size(const char *s, uint64_t *v)
{
	char buf[32], *suf;
	unsigned int shift = 0;
	size_t n = strlen(s);

	if (!n || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n + 1);
	suf = buf + n - 1;
	switch (*suf) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	}
	if (shift)
		*suf = '\0';
	if (!parse_u64(buf, v) || *v > (UINT64_MAX >> shift))
		return false;
	*v <<= shift;
	return true;
}

static bool parse_size32(const char *s, uint32_t *v)
{
	uint64_t x;

	if (!parse_size(s, &x) || x > UINT32_MAX)
		return false;
	*v = x;
	return true;
}

/* Seconds, decimals allowed: 0 is MBOX_NOWAIT; absurdly long is forever. */
static bool parse_timeout(const char *s, int64_t *ns)
{
	char *end;
	double d;

	if (!*s || !strchr("0123456789.", *s))
		return false;
	errno = 0;
	d = strtod(s, &end);
	if (errno || *end || d != d || d < 0)
		return false;
	if (d > 1e9)			/* 31 years */
		*ns = MBOX_FOREVER;
	else if (d > 0 && d * 1e9 < 1)	/* not 0: as short as it gets */
		*ns = 1;
	else
		*ns = (int64_t)(d * 1e9);
	return true;
}

static bool parse_pid(const char *s, pid_t *pid)
{
	uint32_t v;

	if (!parse_u32(s, &v) || !v || v > INT_MAX)
		return false;
	*pid = v;
	return true;
}

static bool parse_mref(const char *s, struct mref *m)
{
	memset(m, 0, sizeof(*m));
	if (s[0] == '/') {
		m->name = s;
		snprintf(m->label, sizeof(m->label), "%s", s);
		return true;
	}
	if (!parse_u32(s + (s[0] == '#'), &m->id) || !m->id)
		return false;
	snprintf(m->label, sizeof(m->label), "mailbox %" PRIu32, m->id);
	return true;
}

static int bad_mref(const char *s)
{
	return usage_error("'%s' names no mailbox: give a name (it starts with '/') or an id (a number)",
			   s);
}

/* -- user and group names: /etc/passwd and /etc/group ------------------ */

/*
 * mboxctl is linked statically, where glibc's NSS cannot load its
 * modules: read the files themselves.  Numbers always work.
 */
static bool idfile_lookup(const char *file, const char *name, unsigned long id,
			  char *out, size_t outlen, unsigned long *idp)
{
	char line[1024], *f1, *f3, *end;
	bool found = false;
	size_t n;
	FILE *f;

	f = fopen(file, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		f1 = strchr(line, ':');
		if (!f1)
			continue;
		*f1++ = '\0';
		f3 = strchr(f1, ':');
		if (!f3)
			continue;
		f3++;
		if (name) {
			if (strcmp(line, name))
				continue;
			*idp = strtoul(f3, &end, 10);
			found = end != f3 && *end == ':';
		} else {
			if (strtoul(f3, &end, 10) != id || end == f3 || *end != ':')
				continue;
			n = strlen(line);
			if (n >= outlen)
				n = outlen - 1;
			memcpy(out, line, n);
			out[n] = '\0';
			found = true;
		}
	}
	fclose(f);
	return found;
}

static const char *uid_name(uid_t uid, char *buf, size_t n)
{
	if (!idfile_lookup("/etc/passwd", NULL, uid, buf, n, NULL))
		snprintf(buf, n, "%u", (unsigned int)uid);
	return buf;
}

static const char *gid_name(gid_t gid, char *buf, size_t n)
{
	if (!idfile_lookup("/etc/group", NULL, gid, buf, n, NULL))
		snprintf(buf, n, "%u", (unsigned int)gid);
	return buf;
}

static bool name_uid(const char *s, uid_t *uid, const char *file)
{
	unsigned long v;
	uint32_t n;

	if (parse_u32(s, &n) && n != UINT32_MAX) {
		*uid = n;
		return true;
	}
	if (!idfile_lookup(file, s, 0, NULL, 0, &v) || v >= UINT32_MAX)
		return false;
	*uid = v;
	return true;
}

static bool in_group(gid_t gid)
{
	gid_t groups[256];
	int i, n;

	if (getegid() == gid)
		return true;
	n = getgroups(256, groups);
	for (i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* -- the endpoint and mailboxes ------------------------------------------ */

static const char *device_path(void)
{
	const char *p = getenv("MBOX_DEVICE");

	return p ? p : "/dev/" MBOX_DEVICE_NAME;
}

static int endpoint_open(void)
{
	int ret = mbox_endpoint_open(&ep);

	if (!ret)
		return RC_OK;
	switch (ret) {
	case -ENOENT:
		fprintf(stderr, "mboxctl: %s: not found: is the mbox module loaded? (modprobe mbox, or insmod mbox.ko) (%s)\n",
			device_path(), strerror(-ret));
		break;
	case -ENXIO:
	case -ENODEV:
		fprintf(stderr, "mboxctl: %s: no device behind it: is the mbox module loaded? (%s)\n",
			device_path(), strerror(-ret));
		break;
	case -EACCES:
	case -EPERM:
		fprintf(stderr, "mboxctl: %s: permission denied: check its mode and your groups (%s)\n",
			device_path(), strerror(-ret));
		return RC_PERM;
	default:
		fprintf(stderr, "mboxctl: %s: cannot open it (%s)\n",
			device_path(), strerror(-ret));
		return RC_FAIL;
	}
	return RC_NOMBOX;
}

/*
 * The state of @m: by id, or by name through the listing (STAT has no
 * lookup by name, and OPEN would take rights or a pair's slot).
 * 0, -ENOENT, or STAT's errno (-ENOTTY without it).
 */
static int mref_stat(struct mref *m, struct mbox_info *info)
{
	uint32_t id = 1;
	int ret;

	if (!m->name || m->id)
		return mbox_mailbox_stat(ep, m->id, info);
	for (;;) {
		ret = mbox_mailbox_next(ep, id, info);
		if (ret)
			return ret;
		if (!strcmp(info->name, m->name)) {
			m->id = info->id;
			return 0;
		}
		if (info->id == UINT32_MAX)
			return -ENOENT;
		id = info->id + 1;
	}
}

static const char *rights_verb(uint32_t rights)
{
	if (!rights)
		return "send or receive";
	if ((rights & (MBOX_OPEN_SEND | MBOX_OPEN_RECV)) ==
	    (MBOX_OPEN_SEND | MBOX_OPEN_RECV))
		return "send and receive";
	return rights & MBOX_OPEN_SEND ? "send" : "receive";
}

static const char *policy_name(uint32_t p)
{
	switch (p) {
	case MBOX_POLICY_SHARED: return "shared";
	case MBOX_POLICY_EXCLUSIVE: return "exclusive";
	case MBOX_POLICY_PAIR: return "pair";
	}
	return "unknown";
}

/* Why OPEN said EACCES, from the mode when the caller may stat it. */
static int explain_eacces(const char *op, struct mref *m, uint32_t rights,
			  int err)
{
	static const char *const can[] = {
		"do nothing", "do nothing", "send only", "send only",
		"receive only", "receive only", "send and receive",
		"send and receive",
	};
	struct mbox_info in;
	uid_t euid = geteuid();
	unsigned int bits;
	char who[96];

	if (mref_stat(m, &in))
		return report(op, m->label, err,
			      "permission denied to %s by the mailbox's mode",
			      rights_verb(rights));
	if (euid == in.uid || euid == in.cuid) {
		bits = (in.mode >> 6) & 7;
		snprintf(who, sizeof(who), "its owner (you)");
	} else if (in_group(in.gid)) {
		bits = (in.mode >> 3) & 7;
		snprintf(who, sizeof(who), "its group %u (yours)",
			 (unsigned int)in.gid);
	} else {
		bits = in.mode & 7;
		snprintf(who, sizeof(who),
			 "others (you are not its owner uid %u nor in its group %u)",
			 (unsigned int)in.uid, (unsigned int)in.gid);
	}
	return report(op, m->label, err,
		      "permission denied to %s: mode %04o lets %s %s",
		      rights_verb(rights), (unsigned int)in.mode, who, can[bits]);
}

static int open_error(const char *op, struct mref *m, uint32_t rights, int err)
{
	struct mbox_info in = { 0 };

	switch (err) {
	case -ENOENT:
		if (m->name)
			return report(op, m->label, err,
				      "no mailbox of that name in this IPC namespace");
		return report(op, m->label, err,
			      "no mailbox with that id in this IPC namespace (destroyed, or never made)");
	case -EACCES:
		return explain_eacces(op, m, rights, err);
	case -EPERM:
		return report(op, m->label, err,
			      "it is process-owned: only the endpoint that created it may receive from it");
	case -EBUSY:
		if (!mref_stat(m, &in) && in.policy == MBOX_POLICY_PAIR)
			return report(op, m->label, err,
				      "its policy is pair and two endpoints have it open already");
		if (in.policy == MBOX_POLICY_EXCLUSIVE)
			return report(op, m->label, err,
				      "its policy is exclusive and another endpoint holds the right to receive");
		return report(op, m->label, err,
			      "held by others: an exclusive mailbox's receiver, or a pair's two endpoints");
	case -EINVAL:
		if (m->name)
			return report(op, m->label, err,
				      "not a valid name: a name starts with '/' and holds printable ASCII, no spaces");
		break;
	case -ENAMETOOLONG:
		return report(op, m->label, err, "a name has at most %d bytes",
			      MBOX_NAME_MAX);
	}
	return report(op, m->label, err, NULL);
}

/* Open @m on the endpoint with @rights; an exit status. */
static int mref_open(const char *op, struct mref *m, uint32_t rights)
{
	int ret;

	if (m->name)
		ret = mbox_mailbox_open(ep, m->name, rights, &m->id);
	else
		ret = mbox_mailbox_open_id(ep, m->id, rights);
	return ret ? open_error(op, m, rights, ret) : RC_OK;
}

/*
 * The id of @m without using it: through the listing, or, on a module
 * without STAT, by opening it (to send, else to receive) and closing it.
 * The listing hides mailboxes the caller has no right on; opening tells
 * those (EACCES) from missing ones (ENOENT).  0 or -errno.
 */
static int mref_resolve(struct mref *m)
{
	struct mbox_info in;
	int ret, ret2;

	if (!m->name || m->id)
		return 0;
	ret = mref_stat(m, &in);
	if (ret != -ENOTTY && ret != -ENOENT)
		return ret;
	ret = mbox_mailbox_open(ep, m->name, MBOX_OPEN_SEND, &m->id);
	if (ret == -EACCES || ret == -EBUSY) {
		ret2 = mbox_mailbox_open(ep, m->name, MBOX_OPEN_RECV, &m->id);
		if (!ret2)
			ret = 0;
	}
	if (!ret)
		mbox_mailbox_close(ep, m->id);
	return ret;
}

/* -- input and output -------------------------------------------------- */

/* All of stdin, up to STDIN_MAX bytes; an exit status. */
static int read_stdin(const char *op, const char *what, char **bufp,
		      size_t *lenp)
{
	size_t len = 0, size = 0;
	char *buf = NULL, *nb;
	ssize_t n;

	for (;;) {
		if (len == size) {
			size = size ? size * 2 : 65536;
			nb = realloc(buf, size);
			if (!nb) {
				free(buf);
				return report(op, what, -ENOMEM, "reading the message from stdin");
			}
			buf = nb;
		}
		n = read(0, buf + len, size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			free(buf);
			return report(op, what, n, "reading the message from stdin");
		}
		if (!n)
			break;
		len += n;
		if (len > STDIN_MAX) {
			free(buf);
			return report(op, what, -EMSGSIZE,
				      "more than %lu MiB on stdin",
				      STDIN_MAX / MiB);
		}
	}
	*bufp = buf;
	*lenp = len;
	return RC_OK;
}

static bool write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= n;
	}
	return true;
}

static int write_stdout(const char *op, const char *what, const void *buf,
			size_t len, bool newline)
{
	if (fwrite(buf, 1, len, stdout) != len ||
	    (newline && putchar('\n') == EOF) || fflush(stdout))
		return report(op, what, -errno, "writing to stdout");
	return RC_OK;
}

/* A receive buffer that can grow to what EMSGSIZE says is needed. */
struct rbuf {
	char *buf;
	size_t size;
};

static bool rbuf_grow(struct rbuf *b, size_t need)
{
	char *nb;

	if (need <= b->size)
		return true;
	nb = realloc(b->buf, need);
	if (!nb)
		return false;
	b->buf = nb;
	b->size = need;
	return true;
}

/* -- key: value, tab-separated and JSON output of struct mbox_info ------- */

struct kv {
	const char *key;
	char val[MBOX_NAME_MAX + 16];
	bool quote;	/* a string in JSON */
	bool null;	/* null in JSON: no name, no limit */
};

enum { NKV = 20 };

static void kv_set(struct kv *kv, const char *key, bool quote, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void kv_set(struct kv *kv, const char *key, bool quote, const char *fmt, ...)
{
	va_list ap;

	kv->key = key;
	kv->quote = quote;
	kv->null = false;
	va_start(ap, fmt);
	vsnprintf(kv->val, sizeof(kv->val), fmt, ap);
	va_end(ap);
}

static void info_kv(const struct mbox_info *in, struct kv *kv)
{
	int i = 0;

	kv_set(&kv[i++], "id", false, "%" PRIu32, in->id);
	kv_set(&kv[i], "name", true, "%s", in->name[0] ? in->name : "-");
	kv[i++].null = !in->name[0];
	kv_set(&kv[i++], "owned", true, "%s",
	       in->flags & MBOX_CREATE_SYSTEM ? "system" : "process");
	kv_set(&kv[i++], "policy", true, "%s", policy_name(in->policy));
	kv_set(&kv[i++], "mode", true, "%04o", (unsigned int)in->mode);
	kv_set(&kv[i++], "uid", false, "%u", (unsigned int)in->uid);
	kv_set(&kv[i++], "gid", false, "%u", (unsigned int)in->gid);
	kv_set(&kv[i++], "cuid", false, "%u", (unsigned int)in->cuid);
	kv_set(&kv[i++], "cgid", false, "%u", (unsigned int)in->cgid);
	if (in->capacity == MBOX_UNBOUNDED) {
		kv_set(&kv[i], "capacity", false, "unbounded");
		kv[i++].null = true;
	} else {
		kv_set(&kv[i++], "capacity", false, "%" PRIu32, in->capacity);
	}
	kv_set(&kv[i++], "max_msg_size", false, "%" PRIu32, in->max_msg_size);
	kv_set(&kv[i++], "msg_size", false, "%" PRIu32, in->msg_size);
	if (in->max_bytes == UINT64_MAX) {
		kv_set(&kv[i], "max_bytes", false, "unlimited");
		kv[i++].null = true;
	} else {
		kv_set(&kv[i++], "max_bytes", false, "%" PRIu64, in->max_bytes);
	}
	kv_set(&kv[i++], "nr_msgs", false, "%" PRIu32, in->nr_msgs);
	kv_set(&kv[i++], "nr_bytes", false, "%" PRIu64, in->nr_bytes);
	kv_set(&kv[i++], "nr_open", false, "%" PRIu32, in->nr_open);
	kv_set(&kv[i++], "nr_senders", false, "%" PRIu32, in->nr_senders);
	kv_set(&kv[i++], "nr_receivers", false, "%" PRIu32, in->nr_receivers);
	kv_set(&kv[i++], "total_sent", false, "%" PRIu64, in->total_sent);
	kv_set(&kv[i++], "total_received", false, "%" PRIu64, in->total_received);
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
	putchar('"');
}

static void kv_json(const struct kv *kv, const char *indent)
{
	int i;

	printf("%s{", indent);
	for (i = 0; i < NKV; i++) {
		printf("%s\"%s\": ", i ? ", " : "", kv[i].key);
		if (kv[i].null)
			printf("null");
		else if (kv[i].quote)
			json_string(kv[i].val);
		else
			printf("%s", kv[i].val);
	}
	printf("}");
}

enum format { FMT_TABLE, FMT_TSV, FMT_JSON };

static bool parse_format(const char *s, enum format *f)
{
	if (!strcmp(s, "table") || !strcmp(s, "text"))
		*f = FMT_TABLE;
	else if (!strcmp(s, "tsv"))
		*f = FMT_TSV;
	else if (!strcmp(s, "json"))
		*f = FMT_JSON;
	else
		return false;
	return true;
}

static int no_stat(const char *op, const char *what, int err)
{
	return report(op, what, err,
		      "the loaded mbox module cannot report mailboxes (no MBOX_IOC_STAT: see 'mboxctl version')");
}

/* -- create ---------------------------------------------------------- */

static int cmd_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "capacity", required_argument, NULL, 'c' },
		{ "max-size", required_argument, NULL, 's' },
		{ "max-bytes", required_argument, NULL, 'b' },
		{ "msg-size", required_argument, NULL, 'S' },
		{ "mode", required_argument, NULL, 'm' },
		{ "policy", required_argument, NULL, 'P' },
		{ "exist-ok", no_argument, NULL, 'e' },
		{ "system", no_argument, NULL, 'y' },
		{ "process", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct mbox_attr attr;
	const char *name = NULL;
	bool exist_ok = false;
	struct mref m;
	char *end;
	uint32_t id;
	uint64_t v;
	int c, ret;

	mbox_attr_init(&attr);
	attr.flags = MBOX_CREATE_SYSTEM;
	while ((c = getopt_long(argc, argv, ":c:s:b:m:P:eh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (!strcmp(optarg, "unbounded"))
				attr.capacity = MBOX_UNBOUNDED;
			else if (!parse_u32(optarg, &attr.capacity) ||
				 attr.capacity == MBOX_UNBOUNDED)
				return usage_error("--capacity takes a number of messages, 0, or 'unbounded', not '%s'",
						   optarg);
			break;
		case 's':
			if (!parse_size32(optarg, &attr.max_msg_size))
				return usage_error("--max-size takes bytes (k, M, G suffixes), not '%s'",
						   optarg);
			break;
		case 'b':
			if (!parse_size(optarg, &v))
				return usage_error("--max-bytes takes bytes (k, M, G suffixes), not '%s'",
						   optarg);
			attr.max_bytes = v;
			break;
		case 'S':
			if (!parse_size32(optarg, &attr.msg_size) || !attr.msg_size)
				return usage_error("--msg-size takes a number of bytes above 0, not '%s'",
						   optarg);
			break;
		case 'm':
			errno = 0;
			v = strtoul(optarg, &end, 8);
			if (errno || *end || !*optarg || optarg[0] == '-' ||
			    v & ~(uint64_t)MBOX_MODE_MASK)
				return usage_error("--mode takes octal permission bits within 0666 (r: receive, w: send), not '%s'",
						   optarg);
			attr.mode = v;
			break;
		case 'P':
			if (!strcmp(optarg, "shared"))
				attr.policy = MBOX_POLICY_SHARED;
			else if (!strcmp(optarg, "exclusive"))
				attr.policy = MBOX_POLICY_EXCLUSIVE;
			else if (!strcmp(optarg, "pair"))
				attr.policy = MBOX_POLICY_PAIR;
			else
				return usage_error("--policy is shared, exclusive or pair, not '%s'",
						   optarg);
			break;
		case 'e':
			exist_ok = true;
			break;
		case 'y':
			break;
		case 'p':
			return usage_error("--process is not offered: a process-owned mailbox is destroyed when the endpoint that made it closes, that is when mboxctl exits; make it with libmbox in the process that owns it");
		case 'h':
			return command_help(cur);
		default:
			return bad_option(c, argv);
		}
	}
	if (argc - optind > 1)
		return usage_error("one mailbox at a time");
	if (optind < argc) {
		name = argv[optind];
		if (name[0] != '/')
			return usage_error("a mailbox name starts with '/': '%s'", name);
	}
	ret = endpoint_open();
	if (ret)
		return ret;
	ret = mbox_mailbox_create(ep, name, &attr, &id);
	if (ret == -EEXIST && exist_ok) {
		parse_mref(name, &m);
		ret = mref_resolve(&m);
		if (ret)
			return report("create", name, ret, "it exists, but its id cannot be found");
		id = m.id;
	}
	switch (ret) {
	case 0:
		printf("%" PRIu32 "\n", id);
		return RC_OK;
	case -EEXIST:
		return report("create", name, ret,
			      "a mailbox of that name exists in this IPC namespace (--exist-ok takes it as it is)");
	case -EINVAL:
		if (name && (strlen(name) < 2 || strpbrk(name, " \t\n")))
			return report("create", name, ret,
				      "not a valid name: a name starts with '/' and holds printable ASCII, no spaces");
		return report("create", name, ret,
			      "the module refused these attributes: --max-size above its ceiling (/sys/module/mbox/parameters/max_msg_size), --msg-size above --max-size, --max-bytes below the message size, or a bad name");
	case -ENAMETOOLONG:
		return report("create", name, ret, "a name has at most %d bytes",
			      MBOX_NAME_MAX);
	case -ENOSPC:
		return report("create", name, ret,
			      "your user owns as many mailboxes as it may (/sys/module/mbox/parameters/max_user_mailboxes)");
	}
	return report("create", name, ret, NULL);
}

/* -- open ------------------------------------------------------------ */

static int cmd_open(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "send", no_argument, NULL, 's' },
		{ "recv", no_argument, NULL, 'r' },
		{ "receive", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	uint32_t rights = 0;
	struct mref m;
	int c, ret;

	while ((c = getopt_long(argc, argv, ":srh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			rights |= MBOX_OPEN_SEND;
			break;
		case 'r':
			rights |= MBOX_OPEN_RECV;
			break;
		case 'h':
			return command_help(cur);
		default:
			return bad_option(c, argv);
		}
	}
	if (argc - optind != 1)
		return usage_error("name one mailbox");
	if (!parse_mref(argv[optind], &m))
		return bad_mref(argv[optind]);
	ret = endpoint_open();
	if (ret)
		return ret;
	if (rights) {
		ret = mref_open("open", &m, rights);
	} else {
		/* Either right will do: report why sending is refused. */
		ret = m.name ? mbox_mailbox_open(ep, m.name, MBOX_OPEN_SEND, &m.id) :
			mbox_mailbox_open_id(ep, m.id, MBOX_OPEN_SEND);
		if (ret == -EACCES || ret == -EBUSY) {
			if (m.name ? !mbox_mailbox_open(ep, m.name, MBOX_OPEN_RECV, &m.id) :
			    !mbox_mailbox_open_id(ep, m.id, MBOX_OPEN_RECV))
				ret = 0;
		}
		if (ret)
			ret = open_error("open", &m, 0, ret);
	}
	if (ret)
		return ret;
	printf("%" PRIu32 "\n", m.id);
	return RC_OK;
}

/* -- list and stat --------------------------------------------------- */

static void list_row(const struct mbox_info *in)
{
	char u[64], g[64], cap[16];

	if (in->capacity == MBOX_UNBOUNDED)
		snprintf(cap, sizeof(cap), "unbounded");
	else
		snprintf(cap, sizeof(cap), "%" PRIu32, in->capacity);
	printf("%5" PRIu32 " %-8s %-8s %04o %-9s %-7s %9s %6" PRIu32 " %9" PRIu64
	       " %5" PRIu32 " %5" PRIu32 " %s\n",
	       in->id, uid_name(in->uid, u, sizeof(u)),
	       gid_name(in->gid, g, sizeof(g)), (unsigned int)in->mode,
	       policy_name(in->policy),
	       in->flags & MBOX_CREATE_SYSTEM ? "system" : "process", cap,
	       in->nr_msgs, in->nr_bytes, in->nr_senders, in->nr_receivers,
	       in->name[0] ? in->name : "-");
}

static int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-header", no_argument, NULL, 'H' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	enum format fmt = FMT_TABLE;
	bool header = true;
	struct mbox_info in;
	struct kv kv[NKV];
	uint32_t id = 1;
	int c, i, n = 0, ret;

	while ((c = getopt_long(argc, argv, ":Ho:h", opts, NULL)) != -1) {
		switch (c) {
		case 'H':
			header = false;
			break;
		case 'o':
			if (!parse_format(optarg, &fmt))
				return usage_error("--output is table, tsv or json, not '%s'",
						   optarg);
			break;
		case 'h':
			return command_help(cur);
		default:
			return bad_option(c, argv);
		}
	}
	if (optind < argc)
		return usage_error("no arguments, only options");
	ret = endpoint_open();
	if (ret)
		return ret;
	ret = mbox_mailbox_next(ep, id, &in);
	if (ret == -ENOTTY)
		return no_stat("list", NULL, ret);
	if (ret && ret != -ENOENT)
		return report("list", NULL, ret, NULL);
	if (header && fmt == FMT_TABLE)
		printf("   ID OWNER    GROUP    MODE POLICY    OWNED    CAPACITY   MSGS     BYTES WSEND WRECV NAME\n");
	if (header && fmt == FMT_TSV) {
		struct mbox_info zero = { 0 };

		info_kv(&zero, kv);
		for (i = 0; i < NKV; i++)
			printf("%s%c", kv[i].key, i == NKV - 1 ? '\n' : '\t');
	}
	if (fmt == FMT_JSON)
		printf("[");
	while (!ret) {
		info_kv(&in, kv);
		switch (fmt) {
		case FMT_TABLE:
			list_row(&in);
			break;
		case FMT_TSV:
			for (i = 0; i < NKV; i++)
				printf("%s%c", kv[i].val, i == NKV - 1 ? '\n' : '\t');
			break;
		case FMT_JSON:
			printf("%s\n", n ? "," : "");
			kv_json(kv, "  ");
			break;
		}
		n++;
		if (in.id == UINT32_MAX)
			break;
		id = in.id + 1;
		ret = mbox_mailbox_next(ep, id, &in);
	}
	if (fmt == FMT_JSON)
		printf("%s]\n", n ? "\n" : "");
	if (ret && ret != -ENOENT)
		return report("list", NULL, ret, "after mailbox %" PRIu32, id - 1);
	return RC_OK;
}

static int cmd_stat(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "key", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	enum format fmt = FMT_TABLE;
	const char *key = NULL;
	struct mbox_info in;
	struct kv kv[NKV];
	struct mref m;
	int c, i, ret;

	while ((c = getopt_long(argc, argv, ":o:k:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (!parse_format(optarg, &fmt) || fmt == FMT_TSV)
				return usage_error("--output is text or json, not '%s'",
						   optarg);
			break;
		case 'k':
			key = optarg;
			break;
		case 'h':
			return command_help(cur);
		default:
			return bad_option(c, argv);
		}
	}
	if (argc - optind != 1)
		return usage_error("name one mailbox");
	if (!parse_mref(argv[optind], &m))
		return bad_mref(argv[optind]);
	if (key) {
		memset(&in, 0, sizeof(in));
		info_kv(&in, kv);
		for (i = 0; i < NKV && strcmp(kv[i].key, key); i++)
			;
		if (i == NKV)
			return usage_error("no key '%s' (see 'mboxctl help stat')", key);
	}
	ret = endpoint_open();
	if (ret)
		return ret;
	ret = mref_stat(&m, &in);
	if (ret == -ENOTTY)
		return no_stat("stat", m.label, ret);
	if (ret == -ENOENT)
		return report("stat", m.label, ret, m.name ?
			      "no mailbox of that name that you may see in this IPC namespace" :
			      "no mailbox with that id that you may see in this IPC namespace");
	if (ret)
		return report("stat", m.label, ret, NULL);
	info_kv(&in, kv);
	if (key) {
		for (i = 0; i < NKV; i++)
			if (!strcmp(kv[i].key, key))
				printf("%s\n", kv[i].val);
	} else if (fmt == FMT_JSON) {
		kv_json(kv, "");
		putchar('\n');
	} else {
		for (i = 0; i < NKV; i++)
			printf("%s: %s\n", kv[i].key, kv[i].val);
	}
	return RC_OK;
}

/* -- send and call ---------------------------------------------------- */

/* Why a send to @m failed, with what STAT can tell. */
static int send_error(const char *op, struct mref *m, int err, size_t len,
		      bool sync, const char *timeout)
{
	struct mbox_info in;
	bool have = m->id && !mbox_mailbox_stat(ep, m->id, &in);

	switch (err) {
	case -EAGAIN:
		if (have && in.capacity == 0)
			return report(op, m->label, err,
				      "no receiver is waiting (capacity 0: a rendezvous) and --timeout 0 was given");
		if (sync)
			return report(op, m->label, err,
				      "no receiver is waiting to take it now (--sync) and --timeout 0 was given");
		if (have && in.capacity != MBOX_UNBOUNDED &&
		    in.nr_msgs >= in.capacity)
			return report(op, m->label, err,
				      "the mailbox is full (capacity %" PRIu32 ") and --timeout 0 was given",
				      in.capacity);
		if (have && in.max_bytes != UINT64_MAX)
			return report(op, m->label, err,
				      "the mailbox is full (%" PRIu64 " of its %" PRIu64
				      " bytes queued) and --timeout 0 was given",
				      in.nr_bytes, in.max_bytes);
		return report(op, m->label, err,
			      "the mailbox is full (or, with capacity 0, no receiver is waiting) and --timeout 0 was given");
	case -ETIMEDOUT:
		if (sync || (have && in.capacity == 0))
			return report(op, m->label, err,
				      "no receiver took the message within --timeout %s s",
				      timeout);
		return report(op, m->label, err,
			      "the mailbox stayed full for --timeout %s s", timeout);
	case -EIDRM:
		return report(op, m->label, err, "the mailbox was destroyed");
	case -EMSGSIZE:
		if (have && in.msg_size)
			return report(op, m->label, err,
				      "the message has %zu bytes; this mailbox takes exactly %" PRIu32,
				      len, in.msg_size);
		if (have)
			return report(op, m->label, err,
				      "the message has %zu bytes, more than the mailbox's max_msg_size of %" PRIu32,
				      len, in.max_msg_size);
		return report(op, m->label, err,
			      "the message has %zu bytes: too long for this mailbox (or not its fixed size)",
			      len);
	case -ENOSPC:
		return report(op, m->label, err,
			      "your user's queued bytes would pass its quota (/sys/module/mbox/parameters/max_user_bytes)");
	case -ESRCH:
		return report(op, m->label, err, "no such process");
	case -ECONNREFUSED:
		return report(op, m->label, err,
			      "the process does not receive direct messages (it never enabled them, or stopped)");
	case -ECONNRESET:
		if (m->name || m->id)
			return report(op, m->label, err,
				      "the mailbox was destroyed before the reply");
		return report(op, m->label, err,
			      "the process stopped receiving before it took the message");
	case -EPERM:
		if (!m->name && !m->id)
			return report(op, m->label, err,
				      "the process accepts direct messages only from users who may signal it (kill(2) rules)");
		break;
	case -EPIPE:
		return report(op, m->label, err,
			      "the receiver's endpoint closed without replying (was it a server? 'mboxctl receive' cannot answer calls: use 'mboxctl serve')");
	}
	return report(op, m->label, err, NULL);
}

struct sendopts {
	struct mref m;
	pid_t pid;		/* --pid: a process, not a mailbox */
	uint32_t priority;
	int64_t timeout;
	const char *timeout_s;
	bool sync, lines, verbose;
	uint32_t reply_size;
};

/*
 * The common options of send and call; the target and message words
 * are left in argv[optind..].  An exit status, or -1 to go on.
 */
static int send_parse(int argc, char **argv, struct sendopts *o, bool call)
{
	static const struct option opts[] = {
		{ "priority", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ "pid", required_argument, NULL, 'P' },
		{ "sync", no_argument, NULL, 's' },
		{ "lines", no_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "reply-size", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->timeout = MBOX_FOREVER;
	o->reply_size = REPLY_DEFAULT;
	while ((c = getopt_long(argc, argv, ":p:t:slvh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (!parse_u32(optarg, &o->priority) ||
			    o->priority > MBOX_PRIO_MAX)
				return usage_error("--priority is 0..%d, not '%s'",
						   MBOX_PRIO_MAX, optarg);
			break;
		case 't':
			if (!parse_timeout(optarg, &o->timeout))
				return usage_error("--timeout takes seconds (0, 2, 0.5, ...), not '%s'",
						   optarg);
			o->timeout_s = optarg;
			break;
		case 'P':
			if (!parse_pid(optarg, &o->pid))
				return usage_error("--pid takes a process id, not '%s'",
						   optarg);
			break;
		case 's':
			if (call)
				return usage_error("a call is synchronous already (no --sync)");
			o->sync = true;
			break;
		case 'l':
			if (call)
				return usage_error("a call sends one request (no --lines)");
			o->lines = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'R':
			if (!call || !parse_size32(optarg, &o->reply_size))
				return usage_error(call ? "--reply-size takes bytes, not '%s'" :
						   "--reply-size is for call", optarg);
			break;
		case 'h':
			return command_help(cur);
		default:
			return bad_option(c, argv);
		}
	}
	if (o->pid) {
		snprintf(o->m.label, sizeof(o->m.label), "pid %d", (int)o->pid);
	} else {
		if (optind == argc)
			return usage_error("name a mailbox (or --pid PID)");
		if (!parse_mref(argv[optind], &o->m))
			return bad_mref(argv[optind]);
		optind++;
	}
	if (argc - optind > 1)
		return usage_error("one message: quote it, or give it on stdin");
	if (o->lines && optind < argc)
		return usage_error("--lines reads stdin: no message argument");
	return -1;
}

static int send_one(struct sendopts *o, void *buf, size_t len)
{
	struct mbox_msg msg = {
		.buf = buf,
		.len = len,
		.priority = o->priority,
	};
	uint32_t flags = o->sync ? MBOX_SEND_SYNC : 0;
	int ret;

	if (o->pid)
		ret = mbox_process_send(ep, o->pid, &msg, flags, o->timeout);
	else
		ret = mbox_mailbox_send(ep, o->m.id, &msg, flags, o->timeout);
	if (ret)
		return send_error("send", &o->m, ret, len, o->sync, o->timeout_s);
	if (o->sync)
		printf("%d\n", (int)msg.pid);
	if (o->verbose)
		fprintf(stderr, "mboxctl: send %s: %zu bytes, priority %" PRIu32 "%s\n",
			o->m.label, len, o->priority,
			o->sync ? ", received" : "");
	return fflush(stdout) ? report("send", o->m.label, -errno, "writing to stdout") :
		RC_OK;
}

static int cmd_send(int argc, char **argv)
{
	struct sendopts o;
	char *buf = NULL;
	size_t len = 0, size = 0;
	ssize_t n;
	int ret;

	ret = send_parse(argc, argv, &o, false);
	if (ret >= 0)
		return ret;
	ret = endpoint_open();
	if (!ret && !o.pid)
		ret = mref_open("send", &o.m, MBOX_OPEN_SEND);
	if (ret)
		return ret;
	if (optind < argc)
		return send_one(&o, argv[optind], strlen(argv[optind]));
	if (!o.lines) {
		ret = read_stdin("send", o.m.label, &buf, &len);
		if (!ret)
			ret = send_one(&o, buf, len);
		free(buf);
		return ret;
	}
	while ((n = getline(&buf, &size, stdin)) >= 0) {
		len = n;
		if (len && buf[len - 1] == '\n')
			len--;
		ret = send_one(&o, buf, len);
		if (ret)
			break;
	}
	if (!ret && ferror(stdin))
		ret = report("send", o.m.label, -errno, "reading stdin");
	free(buf);
	return ret;
}

static int cmd_call(int argc, char **argv)
{
	struct mbox_msg req = { 0 }, rep = { 0 };
	struct sendopts o;
	char *in = NULL;
	int ret;

	ret = send_parse(argc, argv, &o, true);
	if (ret >= 0)
		return ret;
	ret = endpoint_open();
	if (!ret && !o.pid)
		ret = mref_open("call", &o.m, MBOX_OPEN_SEND);
	if (ret)
		return ret;
	if (optind < argc) {
		req.buf = argv[optind];
		req.len = strlen(argv[optind]);
	} else {
		ret = read_stdin("call", o.m.label, &in, &req.len);
		if (ret)
			return ret;
		req.buf = in;
	}
	req.priority = o.priority;
	rep.len = o.reply_size;
	rep.buf = malloc(rep.len ? rep.len : 1);
	if (!rep.buf) {
		free(in);
		return report("call", o.m.label, -ENOMEM, "the reply buffer");
	}
	if (o.pid)
		ret = mbox_process_call(ep, o.pid, &req, &rep, 0, o.timeout);
	else
		ret = mbox_mailbox_call(ep, o.m.id, &req, &rep, 0, o.timeout);
	free(in);
	if (ret == -EAGAIN)
		ret = report("call", o.m.label, ret,
			     "no server is waiting to take the call now and --timeout 0 was given");
	else if (ret == -ETIMEDOUT)
		ret = report("call", o.m.label, ret,
			     "no server took the call and replied within --timeout %s s",
			     o.timeout_s);
	else if (ret)
		ret = send_error("call", &o.m, ret, req.len, true, o.timeout_s);
	else {
		if (o.verbose)
			fprintf(stderr, "mboxctl: call %s: %zu bytes of reply from pid %d\n",
				o.m.label, rep.len, (int)rep.pid);
		ret = write_stdout("call", o.m.label, rep.buf, rep.len, false);
	}
	free(rep.buf);
	return ret;
}

/* -- receive ---------------------------------------------------------- */

static int recv_error(const char *op, struct mref *m, int err, pid_t from,
		      const char *timeout)
{
	switch (err) {
	case -EAGAIN:
		return report(op, m->label, err,
			      "no message%s is queued and --timeout 0 was given",
			      from ? " from that process" : "");
	case -ETIMEDOUT:
		return report(op, m->label, err,
			      "no message%s within --timeout %s s",
			      from ? " from that process" : "", timeout);
	case -EIDRM:
		return report(op, m->label, err, "the mailbox was destroyed");
	case -ESRCH:
		return report(op, m->label, err, "--from %d: no such process",
			      (int)from);
	}
	return report(op, m->label, err, NULL);
}

/* Receive one message into @b, growing it as EMSGSIZE asks; 0 or -errno. */
static int recv_one(struct mref *m, struct rbuf *b, struct mbox_msg *msg,
		    pid_t from, int64_t timeout)
{
	int ret;

	for (;;) {
		memset(msg, 0, sizeof(*msg));
		msg->buf = b->buf;
		msg->len = b->size;
		msg->pid = from;
		ret = mbox_mailbox_receive(ep, m->id, msg,
					   from ? MBOX_RECV_FROM : 0, timeout);
		if (ret != -EMSGSIZE || msg->len <= b->size)
			return ret;
		if (!rbuf_grow(b, msg->len))
			return -ENOMEM;
	}
}

static void describe(const char *op, const struct mref *m,
		     const struct mbox_msg *msg)
{
	fprintf(stderr, "mboxctl: %s %s: %zu byte%s from pid %d (uid %u, gid %u), priority %" PRIu32 "%s%s\n",
		op, m->label, msg->len, msg->len == 1 ? "" : "s", (int)msg->pid, (unsigned int)msg->uid,
		(unsigned int)msg->gid, msg->priority,
		msg->flags & MBOX_MSG_SYNC ? ", synchronous" : "",
		msg->flags & MBOX_MSG_CALL ? ", a call" : "");
}

static int cmd_receive(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "lines", no_argument, NULL, 'l' },
		{ "timeout", required_argument, NULL, 't' },
		{ "from", required_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "reply", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	const char *timeout_s = NULL, *reply = NULL;
	int64_t timeout = MBOX_FOREVER;
	struct rbuf b = { 0 };
	bool lines = false, verbose = false;
	uint32_t count = 1, got = 0;
	struct mbox_msg msg;
	struct mref m;
	pid_t from = 0;
	int c, ret;

	while ((c = getopt_long(argc, argv, ":c:lt:f:vr:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (!parse_u32(optarg, &count))
				return usage_error("--count takes a number (0: no limit), not '%s'",
						   optarg);
			break;
		case 'l':
			lines = true;
			break;
		case 't':
			if (!parse_timeout(optarg, &timeout))
				return usage_error("--timeout takes seconds (0, 2, 0.5, ...), not '%s'",
						   optarg);
			timeout_s = optarg;
			break;
		case 'f':
			if (!parse_pid(optarg, &from))
				return usage_error("--from takes a process id, not '%s'",
						   optarg);
			break;
		case 'v':
			verbose = true;
			break;
		case 'r':
			reply = optarg;
			break;
		case 'h':
			return command_help(cur);
		default:
			return bad_option(c, argv);
		}
	}
	if (argc - optind != 1)
		return usage_error("name one mailbox");
	if (!parse_mref(argv[optind], &m))
		return bad_mref(argv[optind]);
	ret = endpoint_open();
	if (!ret)
		ret = mref_open("receive", &m, MBOX_OPEN_RECV);
	if (ret)
		return ret;
	if (!rbuf_grow(&b, RECV_BUF_FIRST))
		return report("receive", m.label, -ENOMEM, NULL);
	while (!count || got < count) {
		ret = recv_one(&m, &b, &msg, from, timeout);
		if (ret) {
			/* With no count, the timeout is the end, not a failure. */
			if (!count && (ret == -EAGAIN || ret == -ETIMEDOUT))
				ret = 0;
			else
				ret = recv_error("receive", &m, ret, from, timeout_s);
			break;
		}
		got++;
		if (verbose)
			describe("receive", &m, &msg);
		ret = write_stdout("receive", m.label, msg.buf, msg.len, lines);
		if (msg.flags & MBOX_MSG_CALL) {
			int r = reply ? mbox_call_reply(ep, msg.token, reply, strlen(reply)) : 0;

			if (!reply)
				fprintf(stderr, "mboxctl: receive %s: message %" PRIu32 " is a call from pid %d: mboxctl cannot answer it once it exits, so the caller gets EPIPE (answer calls with 'mboxctl serve', or --reply TEXT)\n",
					m.label, got, (int)msg.pid);
			else if (r)
				report("receive", m.label, r,
				       "the reply to pid %d failed%s", (int)msg.pid,
				       r == -ECANCELED ? ": the caller gave up" : "");
		}
		if (ret)
			break;
	}
	free(b.buf);
	return ret;
}

/* -- serve ------------------------------------------------------------ */

struct output {
	char *buf;
	size_t len;
};

/*
 * Run @cmd with the message on its stdin and @env set; with @out, collect
 * its stdout there, else it writes to ours.  Returns its wait status, or
 * -errno if it could not be run.
 */
static int run_cmd(char **cmd, const struct mbox_msg *msg, const struct mref *m,
		   struct output *out)
{
	int in, pfd[2] = { -1, -1 }, status, saved;
	size_t size = 0;
	char *nb;
	ssize_t n;
	pid_t pid;

	in = memfd_create("mboxctl-message", MFD_CLOEXEC);
	if (in < 0)
		return -errno;
	if (!write_all(in, msg->buf, msg->len) || lseek(in, 0, SEEK_SET)) {
		saved = -errno;
		close(in);
		return saved;
	}
	if (out && pipe2(pfd, O_CLOEXEC)) {
		saved = -errno;
		close(in);
		return saved;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		char v[32];

		dup2(in, 0);
		if (out)
			dup2(pfd[1], 1);
		snprintf(v, sizeof(v), "%" PRIu32, m->id);
		setenv("MBOX_ID", v, 1);
		setenv("MBOX_MAILBOX", m->label, 1);
		snprintf(v, sizeof(v), "%d", (int)msg->pid);
		setenv("MBOX_SENDER_PID", v, 1);
		snprintf(v, sizeof(v), "%u", (unsigned int)msg->uid);
		setenv("MBOX_SENDER_UID", v, 1);
		snprintf(v, sizeof(v), "%u", (unsigned int)msg->gid);
		setenv("MBOX_SENDER_GID", v, 1);
		snprintf(v, sizeof(v), "%" PRIu32, msg->priority);
		setenv("MBOX_PRIORITY", v, 1);
		setenv("MBOX_CALL", msg->flags & MBOX_MSG_CALL ? "1" : "0", 1);
		execvp(cmd[0], cmd);
		fprintf(stderr, "mboxctl: serve: cannot run %s: %s\n", cmd[0],
			strerror(errno));
		_exit(127);
	}
	saved = -errno;
	close(in);
	if (out)
		close(pfd[1]);
	if (pid < 0) {
		if (out)
			close(pfd[0]);
		return saved;
	}
	if (out) {
		out->len = 0;
		for (;;) {
			if (out->len == size) {
				size = size ? size * 2 : 65536;
				nb = realloc(out->buf, size);
				if (!nb)
					break;	/* the rest is lost */
				out->buf = nb;
			}
			n = read(pfd[0], out->buf + out->len, size - out->len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			out->len += n;
		}
		close(pfd[0]);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return status;
}

/* The size of the receive buffer: as large as any message of @m can be. */
static size_t serve_bufsize(struct mref *m)
{
	struct mbox_info in;
	unsigned long v = 0;
	FILE *f;

	if (!mbox_mailbox_stat(ep, m->id, &in))
		return in.max_msg_size ? in.max_msg_size : 1;
	f = fopen("/sys/module/mbox/parameters/max_msg_size", "re");
	if (f) {
		if (fscanf(f, "%lu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v ? v : MiB;
}

static int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	const char *timeout_s = NULL, *where = NULL;
	int64_t timeout = MBOX_FOREVER;
	struct output out = { 0 };
	bool verbose = false, owe = false;
	uint32_t count = 0, served = 0;
	uint64_t token = 0;
	struct mbox_msg msg;
	struct rbuf b = { 0 };
	struct mref m;
	char **cmd;
	int c, ret, st;

	for (;;) {
		while ((c = getopt_long(argc, argv, "+:c:t:vh", opts, NULL)) != -1) {
			switch (c) {
			case 'c':
				if (!parse_u32(optarg, &count))
					return usage_error("--count takes a number (0: no limit), not '%s'",
							   optarg);
				break;
			case 't':
				if (!parse_timeout(optarg, &timeout))
					return usage_error("--timeout takes seconds (0, 2, 0.5, ...), not '%s'",
							   optarg);
				timeout_s = optarg;
				break;
			case 'v':
				verbose = true;
				break;
			case 'h':
				return command_help(cur);
			default:
				return bad_option(c, argv);
			}
		}
		/* Options may follow the mailbox, up to the command. */
		if (where || optind >= argc || !strcmp(argv[optind - 1], "--"))
			break;
		where = argv[optind++];
	}
	if (!where && optind < argc)
		where = argv[optind++];
	if (!where)
		return usage_error("name a mailbox and a command");
	if (optind >= argc)
		return usage_error("name a command to run for each message");
	if (!parse_mref(where, &m))
		return bad_mref(where);
	cmd = argv + optind;
	ret = endpoint_open();
	if (!ret)
		ret = mref_open("serve", &m, MBOX_OPEN_RECV);
	if (ret)
		return ret;
	if (!rbuf_grow(&b, serve_bufsize(&m)))
		return report("serve", m.label, -ENOMEM, NULL);

	while (!count || served < count) {
		memset(&msg, 0, sizeof(msg));
		msg.buf = b.buf;
		msg.len = b.size;
		if (owe) {
			ret = mbox_mailbox_reply_receive(ep, token, out.buf, out.len,
							 m.id, &msg, 0, timeout);
			/*
			 * One errno for two steps: ENOENT and ECANCELED are the
			 * reply's (nothing was received); EMSGSIZE is the
			 * receive's only if it asks for a bigger buffer.
			 */
			if (ret == -ENOENT || ret == -ECANCELED) {
				fprintf(stderr, "mboxctl: serve %s: the caller gave up before the reply\n",
					m.label);
				owe = false;
				continue;
			}
			if (ret == -EMSGSIZE && msg.len <= b.size) {
				report("serve", m.label, ret,
				       "the reply of %zu bytes is longer than the caller accepts: it gets an empty one",
				       out.len);
				mbox_call_reply(ep, token, "", 0);
				owe = false;
				continue;
			}
			owe = false;
		} else {
			ret = mbox_mailbox_receive(ep, m.id, &msg, 0, timeout);
		}
		if (ret == -EMSGSIZE && msg.len > b.size) {
			if (!rbuf_grow(&b, msg.len)) {
				ret = -ENOMEM;
				break;
			}
			continue;
		}
		if (ret)
			break;
		served++;
		if (verbose)
			describe("serve", &m, &msg);
		st = run_cmd(cmd, &msg, &m, msg.flags & MBOX_MSG_CALL ? &out : NULL);
		if (st < 0) {
			ret = report("serve", m.label, st, "cannot run %s", cmd[0]);
			break;
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			fprintf(stderr, "mboxctl: serve %s: %s %s %d%s\n", m.label,
				cmd[0], WIFEXITED(st) ? "exited with status" :
				"was killed by signal",
				WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
				msg.flags & MBOX_MSG_CALL ? "; replying with its output" : "");
		if (msg.flags & MBOX_MSG_CALL) {
			token = msg.token;
			owe = true;
		}
	}
	if (owe) {
		ret = mbox_call_reply(ep, token, out.buf, out.len);
		if (ret == -ECANCELED || ret == -ENOENT)
			ret = 0;
		else if (ret)
			ret = report("serve", m.label, ret, "the last reply");
	} else if (ret == -ETIMEDOUT || ret == -EAGAIN) {
		/* With no count, an idle timeout is the end. */
		ret = count ? recv_error("serve", &m, ret, 0, timeout_s) : 0;
	} else if (ret < 0) {
		ret = recv_error("serve", &m, ret, 0, timeout_s);
	}
	free(out.buf);
	free(b.buf);
	return ret;
}

static int cmd_reply(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return command_help(cur);
	fprintf(stderr, "mboxctl: reply: %s", cur->help);
	return RC_USAGE;
}

/* -- destroy, chown, chmod -------------------------------------------- */

static int cmd_destroy(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	bool force = false;
	int c, i, ret, rc = RC_OK;
	struct mref m;

	while ((c = getopt_long(argc, argv, ":fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			force = true;
			break;
		case 'h':
			return command_help(cur);
		default:
			return bad_option(c, argv);
		}
	}
	if (optind == argc)
		return usage_error("name a mailbox or more");
	for (i = optind; i < argc; i++)
		if (!parse_mref(argv[i], &m))
			return bad_mref(argv[i]);
	ret = endpoint_open();
	if (ret)
		return ret;
	for (i = optind; i < argc; i++) {
		parse_mref(argv[i], &m);
		ret = mref_resolve(&m);
		if (!ret)
			ret = mbox_mailbox_destroy(ep, m.id);
		if (!ret || (force && ret == -ENOENT))
			continue;
		if (ret == -ENOENT)
			ret = open_error("destroy", &m, 0, ret);
		else if (ret == -EPERM)
			ret = report("destroy", m.label, ret,
				     "only its owner or creator (or CAP_IPC_OWNER) may destroy it");
		else if (ret == -EACCES)
			ret = report("destroy", m.label, ret,
				     "you have no right on it, and only its owner or creator (or CAP_IPC_OWNER) may destroy it");
		else
			ret = report("destroy", m.label, ret, NULL);
		if (rc == RC_OK)
			rc = ret;
	}
	return rc;
}

static int set_error(const char *op, struct mref *m, int ret)
{
	if (ret == -ENOENT)
		return open_error(op, m, 0, ret);
	if (ret == -EPERM || ret == -EACCES)
		return report(op, m->label, ret,
			      "only its owner or creator (or CAP_IPC_OWNER) may change it");
	if (ret == -EINVAL && !strcmp(op, "chown"))
		return report(op, m->label, ret,
			      "that user or group does not map into your user namespace");
	return report(op, m->label, ret, NULL);
}

static int cmd_chown(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	char *colon, *user;
	struct mref m;
	int c, ret;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h')
			return command_help(cur);
		return bad_option(c, argv);
	}
	if (argc - optind != 2)
		return usage_error("name a mailbox and an owner");
	if (!parse_mref(argv[optind], &m))
		return bad_mref(argv[optind]);
	user = argv[optind + 1];
	colon = strchr(user, ':');
	if (colon) {
		*colon = '\0';
		if (colon[1] && !name_uid(colon + 1, &gid, "/etc/group"))
			return usage_error("no group '%s' (in /etc/group)", colon + 1);
	}
	if (user[0] && !name_uid(user, &uid, "/etc/passwd"))
		return usage_error("no user '%s' (in /etc/passwd)", user);
	if (uid == (uid_t)-1 && gid == (gid_t)-1)
		return usage_error("give USER, USER:GROUP or :GROUP");
	ret = endpoint_open();
	if (ret)
		return ret;
	ret = mref_resolve(&m);
	if (!ret)
		ret = mbox_mailbox_chown(ep, m.id, uid, gid);
	return ret ? set_error("chown", &m, ret) : RC_OK;
}

static int cmd_chmod(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	unsigned long mode;
	struct mref m;
	char *end;
	int c, ret;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h')
			return command_help(cur);
		return bad_option(c, argv);
	}
	if (argc - optind != 2)
		return usage_error("name a mailbox and a mode");
	if (!parse_mref(argv[optind], &m))
		return bad_mref(argv[optind]);
	errno = 0;
	mode = strtoul(argv[optind + 1], &end, 8);
	if (errno || *end || !argv[optind + 1][0] || argv[optind + 1][0] == '-' ||
	    mode & ~(unsigned long)MBOX_MODE_MASK)
		return usage_error("a mode is octal within 0666 (r: receive, w: send), not '%s'",
				   argv[optind + 1]);
	ret = endpoint_open();
	if (ret)
		return ret;
	ret = mref_resolve(&m);
	if (!ret)
		ret = mbox_mailbox_chmod(ep, m.id, mode);
	return ret ? set_error("chmod", &m, ret) : RC_OK;
}

/* -- version, help ---------------------------------------------------- */

static const struct {
	uint64_t bit;
	const char *name;
} features[] = {
	{ MBOX_FEATURE_VERSION, "version" },
	{ MBOX_FEATURE_MAILBOX, "mailbox" },
	{ MBOX_FEATURE_DIRECT, "direct" },
	{ MBOX_FEATURE_CALL, "call" },
	{ MBOX_FEATURE_BATCH, "batch" },
	{ MBOX_FEATURE_STAT, "stat" },
};

static int cmd_version(int argc, char **argv)
{
	uint32_t major, minor;
	uint64_t feat, known = 0;
	size_t i;
	int ret;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return command_help(cur);
	if (argc > 1)
		return usage_error("no arguments");
	printf("libmbox %d.%d\n", LIBMBOX_MAJOR, LIBMBOX_MINOR);
	fflush(stdout);
	ret = endpoint_open();
	if (ret)
		return ret;
	ret = mbox_endpoint_query(ep, &major, &minor, &feat);
	if (ret)
		return report("version", NULL, ret, "the module's version query");
	printf("mbox ABI %" PRIu32 ".%" PRIu32 "\nfeatures:", major, minor);
	for (i = 0; i < ARRAY_SIZE(features); i++) {
		known |= features[i].bit;
		if (feat & features[i].bit)
			printf(" %s", features[i].name);
	}
	for (i = 0; i < 64; i++)
		if (feat & ~known & (1ULL << i))
			printf(" bit%zu", i);
	printf("\n");
	return RC_OK;
}

static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
	{ "create", NULL, cmd_create,
	  "[OPTIONS] [NAME]",
	  "Make a system-owned mailbox and print its id.",
	  "The mailbox lives until 'mboxctl destroy' (or the module unloads).\n"
	  "Without NAME it has none and is known by its id only.\n"
	  "\n"
	  "  -c, --capacity N        messages queued at most: N, 0 (no queue: each\n"
	  "                          send waits for a receiver) or 'unbounded'\n"
	  "                          (default 16)\n"
	  "  -s, --max-size BYTES    longest message (default: the module's,\n"
	  "                          8192 unless changed); k, M, G suffixes\n"
	  "      --max-bytes BYTES   bytes queued at most (default capacity x\n"
	  "                          max-size, or only the user's quota)\n"
	  "      --msg-size BYTES    every message must be exactly this long\n"
	  "  -m, --mode MODE         octal permissions as chmod: r receive, w send\n"
	  "                          for owner, group, others (default 0600)\n"
	  "  -P, --policy POLICY     who receives: shared (any permitted endpoint;\n"
	  "                          default), exclusive (one endpoint at a time),\n"
	  "                          pair (two endpoints at most)\n"
	  "  -e, --exist-ok          if NAME exists, print its id and succeed (its\n"
	  "                          attributes are not compared)\n"
	  "      --process           refused: a process-owned mailbox would be\n"
	  "                          destroyed as mboxctl exits\n" },
	{ "open", NULL, cmd_open,
	  "[--send] [--recv] MAILBOX",
	  "Check that MAILBOX can be opened with these rights, and print its id.",
	  "Without --send or --recv, either right will do.  Useful to turn a\n"
	  "name into an id, and to test permissions, in scripts.\n"
	  "\n"
	  "  -s, --send              the right to send\n"
	  "  -r, --recv, --receive   the right to receive\n" },
	{ "list", "ls", cmd_list,
	  "[-H] [-o table|tsv|json]",
	  "List the mailboxes you may see in this IPC namespace.",
	  "One line per mailbox you may send to, receive from, own or created\n"
	  "(root sees all): ID, OWNER, GROUP, MODE, POLICY, OWNED (system or\n"
	  "process), CAPACITY, MSGS and BYTES queued, WSEND and WRECV (senders and\n"
	  "receivers blocked on it), NAME ('-' for none).\n"
	  "\n"
	  "  -H, --no-header         no header line\n"
	  "  -o, --output FORMAT     table (default); tsv: every field of 'stat',\n"
	  "                          tab-separated, numeric owners, header of the\n"
	  "                          keys; json: an array of 'stat -o json' objects\n" },
	{ "stat", NULL, cmd_stat,
	  "[-o text|json] [-k KEY] MAILBOX",
	  "Print the state of a mailbox, one 'key: value' a line.",
	  "Keys: id name owned policy mode uid gid cuid cgid capacity max_msg_size\n"
	  "msg_size max_bytes nr_msgs nr_bytes nr_open nr_senders nr_receivers\n"
	  "total_sent total_received.  capacity is 'unbounded' and max_bytes\n"
	  "'unlimited' where they have no limit (null in JSON); name is '-' if\n"
	  "none (null in JSON).  You need a right on it, or to own it.\n"
	  "\n"
	  "  -o, --output FORMAT     text (default) or json (one object)\n"
	  "  -k, --key KEY           print only the value of KEY\n" },
	{ "send", NULL, cmd_send,
	  "[OPTIONS] MAILBOX [MESSAGE]\n[OPTIONS] --pid PID [MESSAGE]",
	  "Send MESSAGE, or all of stdin (binary-safe), as one message.",
	  "  -p, --priority N        0..31, higher is received first (default 0)\n"
	  "  -t, --timeout SECONDS   give up after this long if the mailbox stays\n"
	  "                          full (decimals allowed); 0: never wait;\n"
	  "                          default: wait as long as it takes\n"
	  "  -s, --sync              wait until a receiver has the message, and\n"
	  "                          print that receiver's pid\n"
	  "  -l, --lines             send each line of stdin as its own message\n"
	  "                          (without its newline)\n"
	  "  -P, --pid PID           send to a process's direct queue instead: it\n"
	  "                          must have enabled direct receiving\n"
	  "  -v, --verbose           say what was sent, on stderr\n" },
	{ "receive", "recv", cmd_receive,
	  "[OPTIONS] MAILBOX",
	  "Receive a message and write it to stdout, byte for byte.",
	  "Messages come highest priority first, oldest first within one.\n"
	  "\n"
	  "  -c, --count N           receive N messages (default 1); 0: no limit,\n"
	  "                          until the timeout, which then is no error\n"
	  "                          (-c 0 -t 0 empties the mailbox)\n"
	  "  -l, --lines             write a newline after each message\n"
	  "  -t, --timeout SECONDS   give up after this long without a message\n"
	  "                          (decimals allowed); 0: never wait\n"
	  "  -f, --from PID          take only messages sent by process PID\n"
	  "  -v, --verbose           print each message's sender pid, uid, gid\n"
	  "                          and priority on stderr\n"
	  "  -r, --reply TEXT        answer each call received with TEXT\n"
	  "\n"
	  "A call (from 'mboxctl call') can only be answered from the endpoint\n"
	  "that received it, which closes when mboxctl exits: without --reply\n"
	  "its caller fails (EPIPE).  Answer calls with 'mboxctl serve'.\n" },
	{ "call", NULL, cmd_call,
	  "[OPTIONS] MAILBOX [REQUEST]\n[OPTIONS] --pid PID [REQUEST]",
	  "Send REQUEST (or stdin) as a call and write the reply to stdout.",
	  "Waits until a server (e.g. 'mboxctl serve') receives the request and\n"
	  "replies.\n"
	  "\n"
	  "  -p, --priority N        the request's priority, 0..31\n"
	  "  -t, --timeout SECONDS   give up after this long, for the whole call;\n"
	  "                          0: only if a server is waiting now\n"
	  "  -P, --pid PID           call a process (direct link) instead\n"
	  "  -R, --reply-size BYTES  longest reply accepted (default 1M)\n"
	  "  -v, --verbose           print the server's pid on stderr\n" },
	{ "serve", NULL, cmd_serve,
	  "[OPTIONS] MAILBOX [--] COMMAND [ARG...]",
	  "Receive messages in a loop and run COMMAND for each.",
	  "COMMAND gets the message on its stdin.  For a call, its stdout is the\n"
	  "reply (sent, with the next receive, by one reply-and-receive); for\n"
	  "other messages its stdout is serve's.  Its environment has MBOX_ID,\n"
	  "MBOX_MAILBOX, MBOX_SENDER_PID, MBOX_SENDER_UID, MBOX_SENDER_GID,\n"
	  "MBOX_PRIORITY and MBOX_CALL (1 for a call).  A failing COMMAND is\n"
	  "reported on stderr; its output is still the reply.\n"
	  "\n"
	  "  -c, --count N           stop after N messages (default 0: no limit)\n"
	  "  -t, --timeout SECONDS   stop after this long without a message; that\n"
	  "                          is no error unless --count is not reached\n"
	  "  -v, --verbose           print each message's sender on stderr\n" },
	{ "reply", NULL, cmd_reply,
	  "(not a command of its own: see below)",
	  "Answer a call: done by 'mboxctl serve', or 'mboxctl receive --reply'.",
	  "A call's reply token is good only on the endpoint that received the\n"
	  "call, and mboxctl's endpoint closes when it exits: a separate\n"
	  "'mboxctl reply' could never answer.  Use\n"
	  "  mboxctl serve MAILBOX -- COMMAND...     (reply with COMMAND's output)\n"
	  "  mboxctl receive --reply TEXT MAILBOX    (reply with TEXT)\n" },
	{ "destroy", "rm", cmd_destroy,
	  "[-f] MAILBOX...",
	  "Destroy mailboxes: queued messages are dropped, waiters fail (EIDRM).",
	  "Allowed to the owner or creator of a mailbox, and to CAP_IPC_OWNER.\n"
	  "\n"
	  "  -f, --force             a mailbox that does not exist is no error\n" },
	{ "chown", NULL, cmd_chown,
	  "MAILBOX USER[:GROUP]\nMAILBOX :GROUP",
	  "Give a mailbox to another owner and/or group.",
	  "USER and GROUP are names (in /etc/passwd, /etc/group) or numbers.\n"
	  "Allowed to its owner or creator, and to CAP_IPC_OWNER.\n" },
	{ "chmod", NULL, cmd_chmod,
	  "MAILBOX MODE",
	  "Change a mailbox's permission bits (octal, within 0666).",
	  "r (4) is the right to receive, w (2) to send, for owner, group and\n"
	  "others, as in chmod.  Allowed to its owner or creator, and to\n"
	  "CAP_IPC_OWNER.  Endpoints that have it open keep their rights.\n" },
	{ "version", NULL, cmd_version,
	  "",
	  "Print the libmbox version, the module's ABI version and features.",
	  "" },
	{ "help", NULL, cmd_help,
	  "[COMMAND]",
	  "Print help on mboxctl, or on one command.",
	  "" },
};

#define NCOMMANDS ARRAY_SIZE(commands)

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(name, commands[i].name) ||
		    (commands[i].alias && !strcmp(name, commands[i].alias)))
			return &commands[i];
	return NULL;
}

static int main_help(FILE *f)
{
	size_t i;

	fprintf(f,
		"usage: mboxctl COMMAND [OPTIONS] [ARGS]\n"
		"       mboxctl help COMMAND | mboxctl COMMAND --help\n"
		"\n"
		"Create, inspect and use mbox mailboxes (message-passing IPC through\n"
		"/dev/mbox) from the shell.\n"
		"\n"
		"commands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
		"\n"
		"MAILBOX is a name, which starts with '/' (/jobs), or an id, a number\n"
		"(12, or '#12').  Names and ids are those of this IPC namespace.\n"
		"\n"
		"%s"
		"\n"
		"See mboxctl(1).\n", exit_help);
	return f == stdout ? RC_OK : RC_USAGE;
}

static int cmd_help(int argc, char **argv)
{
	const struct command *c;

	if (argc < 2)
		return main_help(stdout);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return command_help(cur);
	if (argc > 2)
		return usage_error("one command at a time");
	c = find_command(argv[1]);
	if (!c)
		return usage_error("no command '%s'", argv[1]);
	return command_help(c);
}

int main(int argc, char **argv)
{
	int ret;

	if (argc < 2) {
		fprintf(stderr, "mboxctl: no command\n");
		return main_help(stderr);
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return main_help(stdout);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
		argv[1] = "version";
	cur = find_command(argv[1]);
	if (!cur) {
		fprintf(stderr, "mboxctl: no command '%s'; 'mboxctl --help' lists them\n",
			argv[1]);
		return RC_USAGE;
	}
	opterr = 0;
	ret = cur->fn(argc - 1, argv + 1);
	if (ep)
		mbox_endpoint_close(ep);
	return ret;
}
