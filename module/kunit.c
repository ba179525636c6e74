// SPDX-License-Identifier: GPL-2.0
/*
 * mbox_kunit.ko: the KUnit suites of mbox (module/<what>_kunit.c), built only
 * for kernels with CONFIG_KUNIT.
 */
#include <linux/module.h>

MODULE_DESCRIPTION("KUnit tests for mbox");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
