// SPDX-License-Identifier: GPL-2.0
/*
 * A program of the world outside mbox: built by tools/testing/install.sh
 * against an installed libmbox with nothing but
 *
 *	cc pkgconfig_client.c $(pkg-config --cflags --libs libmbox)
 *
 * linked to libmbox.so.1, and run in a VM with the module loaded.  It runs
 * each step of steps[] on one endpoint, prints a line per step and
 * "pkgconfig_client: ok" last; exit status 0 when every step passed.
 *
 * Only the headers and the library as installed may be used here.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <mbox.h>

/* The module's ABI version and features, as libmbox reports them. */
static int query(struct mbox_endpoint *ep)
{
	uint32_t major, minor;
	uint64_t features;
	int ret;

	ret = mbox_endpoint_query(ep, &major, &minor, &features);
	if (ret) {
		printf("pkgconfig_client: mbox_endpoint_query: %s\n", strerror(-ret));
		return 1;
	}
	printf("pkgconfig_client: abi %" PRIu32 ".%" PRIu32 " features 0x%" PRIx64 "\n",
	       major, minor, features);
	if (major != MBOX_ABI_MAJOR || !(features & MBOX_FEATURE_VERSION)) {
		printf("pkgconfig_client: expected abi %d.x with the version feature\n",
		       MBOX_ABI_MAJOR);
		return 1;
	}
	return 0;
}

/* A message through a mailbox of its own, and the mailbox's stat. */
static int roundtrip(struct mbox_endpoint *ep)
{
	char text[] = "through libmbox.so", buf[64];
	struct mbox_msg out = { .buf = text, .len = strlen(text), .priority = 3 };
	struct mbox_msg in = { .buf = buf, .len = sizeof(buf) };
	struct mbox_info info;
	uint32_t id;
	int ret;

	ret = mbox_mailbox_create(ep, "/pkgconfig-client", NULL, &id);
	if (!ret)
		ret = mbox_mailbox_send(ep, id, &out, 0, MBOX_NOWAIT);
	if (!ret)
		ret = mbox_mailbox_stat(ep, id, &info);
	if (!ret)
		ret = mbox_mailbox_receive(ep, id, &in, 0, MBOX_NOWAIT);
	if (ret) {
		printf("pkgconfig_client: roundtrip: %s\n", strerror(-ret));
		return 1;
	}
	printf("pkgconfig_client: mailbox %s held %" PRIu32 " message; got \"%.*s\" at priority %" PRIu32 "\n",
	       info.name, info.nr_msgs, (int)in.len, buf, in.priority);
	if (info.nr_msgs != 1 || in.len != out.len || memcmp(buf, text, in.len) ||
	    in.priority != 3)
		return 1;
	return mbox_mailbox_destroy(ep, id) ? 1 : 0;
}

/*
 * Each step gets the endpoint, prints what it found and returns 0, or
 * says what went wrong and returns 1.  A new step is a function above and
 * a line here.
 */
static const struct {
	const char *name;
	int (*run)(struct mbox_endpoint *ep);
} steps[] = {
	{ "query", query },
	{ "roundtrip", roundtrip },
};

int main(void)
{
	struct mbox_endpoint *ep;
	int ret, failed = 0;
	size_t i;

	printf("pkgconfig_client: libmbox %d.%d\n", LIBMBOX_MAJOR, LIBMBOX_MINOR);
	ret = mbox_endpoint_open(&ep);
	if (ret) {
		printf("pkgconfig_client: mbox_endpoint_open: %s\n", strerror(-ret));
		return 1;
	}
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if (steps[i].run(ep)) {
			printf("pkgconfig_client: step %s failed\n", steps[i].name);
			failed++;
		}
	}
	ret = mbox_endpoint_close(ep);
	if (ret) {
		printf("pkgconfig_client: mbox_endpoint_close: %s\n", strerror(-ret));
		failed++;
	}
	if (failed)
		return 1;
	printf("pkgconfig_client: ok\n");
	return 0;
}
