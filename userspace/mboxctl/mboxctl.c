// SPDX-License-Identifier: GPL-2.0
/*
 * mboxctl: command-line access to mbox.
 *
 * Exit status: 0 success, 1 the operation failed, 2 usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <linux/mbox.h>

#include "mbox.h"

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

static int usage(FILE *f)
{
	fprintf(f,
		"usage: mboxctl COMMAND\n"
		"\n"
		"commands:\n"
		"  version    print the loaded module's ABI version and features\n"
		"  help       this text\n");
	return f == stdout ? 0 : 2;
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "mboxctl: %s: %s\n", what, strerror(-err));
	if (err == -ENOENT)
		fprintf(stderr, "mboxctl: is the mbox module loaded? (insmod mbox.ko)\n");
	return 1;
}

static int cmd_version(void)
{
	struct mbox_endpoint *ep;
	uint32_t major, minor;
	uint64_t feat;
	size_t i;
	int ret;

	ret = mbox_endpoint_open(&ep);
	if (ret)
		return fail("cannot open /dev/" MBOX_DEVICE_NAME, ret);
	ret = mbox_endpoint_query(ep, &major, &minor, &feat);
	mbox_endpoint_close(ep);
	if (ret)
		return fail("version query", ret);
	printf("mbox ABI %" PRIu32 ".%" PRIu32 "\nfeatures:", major, minor);
	for (i = 0; i < sizeof(features) / sizeof(features[0]); i++)
		if (feat & features[i].bit)
			printf(" %s", features[i].name);
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "version"))
		return cmd_version();
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h"))
		return usage(stdout);
	fprintf(stderr, "mboxctl: unknown command '%s'\n", argv[1]);
	return usage(stderr);
}
