// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the version/feature query.
 */
#include <kunit/test.h>

#include "internal.h"

static void mbox_version_reports_abi(struct kunit *test)
{
	struct mbox_version v = { .size = sizeof(v) };

	mbox_version_fill(&v);
	KUNIT_EXPECT_EQ(test, v.abi_major, MBOX_ABI_MAJOR);
	KUNIT_EXPECT_EQ(test, v.abi_minor, MBOX_ABI_MINOR);
	KUNIT_EXPECT_EQ(test, v.size, (u32)sizeof(v));
}

static void mbox_version_reports_features(struct kunit *test)
{
	struct mbox_version v = { .size = sizeof(v) };

	mbox_version_fill(&v);
	KUNIT_EXPECT_EQ(test, v.features, (u64)MBOX_FEATURES_ALL);
	KUNIT_EXPECT_TRUE(test, v.features & MBOX_FEATURE_VERSION);
}

static struct kunit_case mbox_version_cases[] = {
	KUNIT_CASE(mbox_version_reports_abi),
	KUNIT_CASE(mbox_version_reports_features),
	{}
};

static struct kunit_suite mbox_version_suite = {
	.name = "mbox_version",
	.test_cases = mbox_version_cases,
};

kunit_test_suite(mbox_version_suite);
