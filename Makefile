# SPDX-License-Identifier: GPL-2.0
#
# mbox: message-passing IPC for Linux.
#
#   make              module for the running kernel (or KDIR=...), libmbox,
#                     mboxctl, examples and the selftests
#   make check        the whole test pipeline on Debian 6.1, 6.12 and a debug
#                     kernel, in QEMU (installs and fetches what it needs)
#   make demo         the examples in a Debian 6.12 VM
#   make vm           an interactive shell in a VM (VM_KERNEL=6.1|6.12|debug)
#
# Build output other than module/*.ko goes to build/.

KDIR ?= /lib/modules/$(shell uname -r)/build
VM_KERNEL ?= 6.12
B := build
TOOLS := tools/testing/vm

CC ?= gcc
USER_CFLAGS := -O2 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE \
	-Iuapi -Iuserspace/include $(EXTRA_CFLAGS)

# The kselftest harness compares ints with the unsigned values it is given
# and has callbacks that ignore some of their parameters.
SELFTEST_CFLAGS := -Wno-sign-compare -Wno-unused-parameter

LIB_SRC := $(wildcard userspace/lib/*.c)
LIB_HDR := userspace/include/mbox.h uapi/linux/mbox.h
LIB_OBJ := $(patsubst userspace/lib/%.c,$(B)/user/lib/%.o,$(LIB_SRC))
EXAMPLES := $(patsubst userspace/examples/%.c,$(B)/user/bin/%,\
	$(wildcard userspace/examples/*.c))
SELFTESTS := $(patsubst tools/testing/selftests/mbox/%.c,$(B)/user/selftests/%,\
	$(wildcard tools/testing/selftests/mbox/*.c))
# Shell selftests (TAP) are copied as they are; they run in the guest too.
SELFTEST_SCRIPTS := $(patsubst tools/testing/selftests/mbox/%.sh,$(B)/user/selftests/%.sh,\
	$(wildcard tools/testing/selftests/mbox/*.sh))

.PHONY: all module module-build userspace selftests check demo vm clean help

all: module userspace selftests

help:
	@sed -n '3,13p' Makefile | sed 's/^# \{0,1\}//'

# The module, built in place for KDIR (the running kernel by default).
module:
	@test -d "$(KDIR)" || { \
	  echo "mbox: no kernel build tree at $(KDIR)."; \
	  echo "      Install the headers (apt-get install linux-headers-\$$(uname -r))"; \
	  echo "      or pass KDIR=/path/to/kernel/build."; exit 1; }
	$(MAKE) -C "$(KDIR)" M="$(CURDIR)" modules

# The module built out of tree in $(B)/$(KNAME), one tree per kernel, for
# the VM runner and make check.  Extra kbuild arguments in KBUILD_ARGS.
module-build:
	@$(TOOLS)/build-module.sh "$(KNAME)" "$(KDIR)" $(KBUILD_ARGS)

userspace: $(B)/user/lib/libmbox.a $(B)/user/bin/mboxctl $(EXAMPLES)

$(B)/user/lib/%.o: userspace/lib/%.c $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -fPIC -c -o $@ $<

$(B)/user/lib/libmbox.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(B)/user/bin/mboxctl: userspace/mboxctl/mboxctl.c $(B)/user/lib/libmbox.a
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -static -o $@ $< $(B)/user/lib/libmbox.a

$(B)/user/bin/%: userspace/examples/%.c $(B)/user/lib/libmbox.a $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -static -pthread -o $@ $< $(B)/user/lib/libmbox.a

# Selftests: static binaries that run in the initramfs, built with the
# kselftest harness extracted from Debian's linux-source-6.12.
$(B)/ksft/.done:
	@mkdir -p $(@D)
	@d=$$($(TOOLS)/kernel.sh tools) && \
	  cp $$d/tools/testing/selftests/kselftest_harness.h \
	     $$d/tools/testing/selftests/kselftest.h $(@D)/ && touch $@

selftests: $(SELFTESTS) $(SELFTEST_SCRIPTS)

$(B)/user/selftests/%.sh: tools/testing/selftests/mbox/%.sh
	@mkdir -p $(@D)
	install -m 755 $< $@

$(B)/user/selftests/%: tools/testing/selftests/mbox/%.c $(B)/ksft/.done \
		$(B)/user/lib/libmbox.a $(wildcard tools/testing/selftests/mbox/*.h)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(SELFTEST_CFLAGS) -I$(B)/ksft -static -pthread -o $@ $< \
		$(B)/user/lib/libmbox.a

check:
	@tools/testing/check.sh

demo:
	@tools/testing/demo.sh

vm: userspace
	@$(TOOLS)/run.sh --kernel $(VM_KERNEL) --interactive \
		--add $(B)/user/bin/mboxctl

clean:
	rm -rf $(B)
	rm -f module/*.o module/*.ko module/*.mod module/*.mod.c module/.*.cmd \
		module/modules.order module/Module.symvers Module.symvers \
		modules.order .*.cmd .module-common.o
