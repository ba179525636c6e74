# SPDX-License-Identifier: GPL-2.0
#
# mbox: message-passing IPC for Linux.
#
#   make              module for the running kernel (or KDIR=...), libmbox,
#                     mboxctl, examples and the selftests
#   make check        the whole test pipeline on Debian 6.1, 6.12 and a debug
#                     kernel, in QEMU (installs and fetches what it needs)
#   make demo         the examples in a Debian 6.12 VM
#   make stress       the long reliability run in a debug-kernel VM:
#                     DURATION=seconds (600), STRESS_KERNEL, SEED
#   make bench        mbox against pipes, sockets, POSIX mq, SysV msg and
#                     eventfd in a Debian 6.12 VM: ROUNDS (5), BENCH_QUICK=1,
#                     BENCH_FILTER=regex, BENCH_KERNEL; report in build/bench
#   make vm           an interactive shell in a VM (VM_KERNEL=6.1|6.12|debug)
#   make install      module (for KDIR), libmbox, headers, mboxctl, man pages,
#                     udev rule; DESTDIR, PREFIX and *DIR as usual
#   make uninstall    removes what make install installed
#
# Build output other than module/*.ko goes to build/.
# Documentation/install.rst describes installing, packaging and DKMS.

KDIR ?= /lib/modules/$(shell uname -r)/build
VM_KERNEL ?= 6.12
B := build
TOOLS := tools/testing/vm

# The package's version (dkms, releases): VERSION, and nowhere else
# but dkms.conf, which must be static and is checked against it.
VERSION := $(shell cat VERSION 2>/dev/null)

# libmbox's version: LIBMBOX_MAJOR and LIBMBOX_MINOR of its header.
# The soname changes with the major; the minor grows with new functions.
libmbox_ver = $(shell sed -n 's/^.define LIBMBOX_$(1)[^0-9]*\([0-9][0-9]*\).*/\1/p' \
	userspace/include/mbox.h 2>/dev/null)
LIBMBOX_MAJOR := $(call libmbox_ver,MAJOR)
LIBMBOX_MINOR := $(call libmbox_ver,MINOR)
LIBMBOX_VERSION := $(LIBMBOX_MAJOR).$(LIBMBOX_MINOR).0
LIBMBOX_SONAME := libmbox.so.$(LIBMBOX_MAJOR)

# Where make install puts things (Documentation/install.rst).  DESTDIR is
# prepended to every path, also to the module's /lib/modules.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# udev reads /lib/udev/rules.d (the distribution's rules) and, since
# systemd 247 (Debian 11), /usr/local/lib/udev/rules.d too.
UDEVRULESDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/udev/rules.d,$(PREFIX)/lib/udev/rules.d)
# The kernel the module is built and installed for: the one of KDIR
# (its utsrelease.h; the headers' kernel.release may differ), else uname -r.
KERNELRELEASE ?= $(or $(shell sed -n 's/^.define UTS_RELEASE "\(.*\)"/\1/p' \
	$(KDIR)/include/generated/utsrelease.h 2>/dev/null),$(shell uname -r))
INSTALL_MOD_DIR ?= extra

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

.PHONY: all module module-build userspace selftests selftests32 check demo vm stress bench \
	clean help install install-user install-module uninstall \
	uninstall-user uninstall-module dkms-source FORCE

all: module userspace selftests

help:
	@sed -n '3,22p' Makefile | sed 's/^# \{0,1\}//'

# The module, built in place for KDIR (the running kernel by default).
module:
	@test -d "$(KDIR)" || { \
	  echo "mbox: no kernel build tree at $(KDIR)."; \
	  echo "      Install the headers (apt-get install linux-headers-\$$(uname -r))"; \
	  echo "      or pass KDIR=/path/to/kernel/build."; exit 1; }
	@command -v pahole >/dev/null || ! grep -qs '^CONFIG_DEBUG_INFO_BTF_MODULES=y' \
		"$(KDIR)/.config" || echo "mbox: no pahole: building without BTF (apt-get install pahole)"
	$(MAKE) -C "$(KDIR)" M="$(CURDIR)/module" $(NO_BTF) modules

# Kernels with BTF for modules (Debian's 6.12) need pahole to build them;
# without it, build the module without BTF rather than fail.
NO_BTF = $(if $(shell command -v pahole 2>/dev/null),,CONFIG_DEBUG_INFO_BTF_MODULES=)

# The module built out of tree in $(B)/$(KNAME), one tree per kernel, for
# the VM runner and make check.  Extra kbuild arguments in KBUILD_ARGS.
module-build:
	@$(TOOLS)/build-module.sh "$(KNAME)" "$(KDIR)" $(KBUILD_ARGS)

LIB_SO := $(B)/user/lib/libmbox.so.$(LIBMBOX_VERSION)

userspace: $(B)/user/lib/libmbox.a $(LIB_SO) $(B)/user/lib/libmbox.pc \
	$(B)/user/bin/mboxctl $(EXAMPLES) $(B)/user/bench/mbox_bench

$(B)/user/lib/%.o: userspace/lib/%.c $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -fPIC -c -o $@ $<

$(B)/user/lib/libmbox.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

# The shared library: only the symbols of libmbox.map are exported, under
# its version nodes.  (A symbol the map names and no object defines is
# not an error for GNU ld.)
$(LIB_SO): $(LIB_OBJ) userspace/lib/libmbox.map
	$(CC) $(USER_CFLAGS) -shared -Wl,-soname,$(LIBMBOX_SONAME) \
		-Wl,--version-script=userspace/lib/libmbox.map -Wl,--no-undefined \
		$(LDFLAGS) -o $@ $(LIB_OBJ)
	ln -sf $(@F) $(@D)/$(LIBMBOX_SONAME)
	ln -sf $(LIBMBOX_SONAME) $(@D)/libmbox.so

# libmbox.pc for the install paths: remade when they change.
$(B)/user/lib/libmbox.pc: userspace/lib/libmbox.pc.in FORCE
	@mkdir -p $(@D)
	@sed -e 's|@PREFIX@|$(PREFIX)|' \
	     -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|' \
	     -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|' \
	     -e 's|@VERSION@|$(LIBMBOX_VERSION)|' $< >$@.tmp
	@if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; fi

$(B)/user/bin/mboxctl: userspace/mboxctl/mboxctl.c $(B)/user/lib/libmbox.a
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -static -o $@ $< $(B)/user/lib/libmbox.a

$(B)/user/bin/%: userspace/examples/%.c $(B)/user/lib/libmbox.a $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -static -pthread -o $@ $< $(B)/user/lib/libmbox.a

# The benchmark program of make bench (tools/testing/bench.sh), built with
# the rest so that it stays warning-free; static, for the initramfs.
BENCH_SRC := $(wildcard tools/testing/bench/*.c)
BENCH_HDR := $(wildcard tools/testing/bench/*.h)

$(B)/user/bench/mbox_bench: $(BENCH_SRC) $(BENCH_HDR) $(B)/user/lib/libmbox.a $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -static -o $@ $(BENCH_SRC) $(B)/user/lib/libmbox.a

$(B)/user32/bench/mbox_bench: $(BENCH_SRC) $(BENCH_HDR) $(B)/user32/lib/libmbox.a $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) -m32 $(USER_CFLAGS) -static -o $@ $(BENCH_SRC) $(B)/user32/lib/libmbox.a

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

# The selftests again as 32-bit (i386) programs, which reach the module
# through compat_ioctl.  The harness casts pointers to intmax_t, which
# -m32 warns about.
LIB32_OBJ := $(patsubst userspace/lib/%.c,$(B)/user32/lib/%.o,$(LIB_SRC))
SELFTESTS32 := $(patsubst $(B)/user/%,$(B)/user32/%,$(SELFTESTS))

selftests32: $(SELFTESTS32) $(B)/user32/bench/mbox_bench

$(B)/user32/lib/%.o: userspace/lib/%.c $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) -m32 $(USER_CFLAGS) -c -o $@ $<

$(B)/user32/lib/libmbox.a: $(LIB32_OBJ)
	$(AR) rcs $@ $^

$(B)/user32/selftests/%: tools/testing/selftests/mbox/%.c $(B)/ksft/.done \
		$(B)/user32/lib/libmbox.a $(wildcard tools/testing/selftests/mbox/*.h)
	@mkdir -p $(@D)
	$(CC) -m32 $(USER_CFLAGS) $(SELFTEST_CFLAGS) -Wno-pointer-to-int-cast \
		-I$(B)/ksft -static -pthread -o $@ $< $(B)/user32/lib/libmbox.a

# Installing.  The module goes through kbuild's modules_install into
# $(DESTDIR)/lib/modules/$(KERNELRELEASE)/$(INSTALL_MOD_DIR), then depmod.
MODLIB = $(DESTDIR)/lib/modules/$(KERNELRELEASE)
MOD_FILES = $(foreach m,mbox mbox_kunit,$(foreach z,.ko .ko.gz .ko.xz .ko.zst,\
	$(MODLIB)/$(INSTALL_MOD_DIR)/$(m)$(z)))
# What depmod writes into a tree, removed again when the last module is.
DEPMOD_FILES = $(addprefix $(MODLIB)/modules.,alias alias.bin builtin.alias.bin \
	builtin.bin dep dep.bin devname softdep symbols symbols.bin weakdep)
DEPMOD_RUN = PATH="$$PATH:/sbin:/usr/sbin"; \
	if ! command -v depmod >/dev/null; then \
		echo "mbox: no depmod (package kmod): run 'depmod -a $(KERNELRELEASE)' later"; \
	else depmod -a $(if $(DESTDIR),-b "$(abspath $(DESTDIR))") $(KERNELRELEASE); fi
MAN_PAGES := $(wildcard userspace/man/man1/*.1 userspace/man/man3/*.3 \
	userspace/man/man4/*.4)
USER_FILES = $(DESTDIR)$(BINDIR)/mboxctl \
	$(addprefix $(DESTDIR)$(LIBDIR)/,libmbox.a libmbox.so.$(LIBMBOX_VERSION) \
		$(LIBMBOX_SONAME) libmbox.so) \
	$(DESTDIR)$(INCLUDEDIR)/mbox.h $(DESTDIR)$(INCLUDEDIR)/linux/mbox.h \
	$(DESTDIR)$(PKGCONFIGDIR)/libmbox.pc $(DESTDIR)$(UDEVRULESDIR)/60-mbox.rules \
	$(patsubst userspace/man/%,$(DESTDIR)$(MANDIR)/%,$(MAN_PAGES))
# ldconfig for a live install; only root can update its cache.
LDCONFIG_RUN = if [ -n "$(DESTDIR)" ]; then :; \
	elif [ "$$(id -u)" -ne 0 ]; then echo "mbox: not root, no ldconfig: programs" \
		"find libmbox in $(LIBDIR) with LD_LIBRARY_PATH=$(LIBDIR)"; \
	else PATH="$$PATH:/sbin:/usr/sbin"; ldconfig; fi

install: install-module install-user

# kbuild signs what it installs when the kernel has MODULE_SIG_ALL, with
# the key of a kernel build tree; headers have none: do not try.
install-module: module
	$(MAKE) -C "$(KDIR)" M="$(CURDIR)/module" KERNELRELEASE=$(KERNELRELEASE) \
		INSTALL_MOD_PATH="$(abspath $(DESTDIR))" INSTALL_MOD_DIR=$(INSTALL_MOD_DIR) \
		$(if $(wildcard $(KDIR)/certs/signing_key.x509),,CONFIG_MODULE_SIG_ALL=) \
		DEPMOD=true modules_install
	@$(if $(DESTDIR),test -e "$(MODLIB)/modules.order" || echo "mbox: depmod -b $(DESTDIR):" \
		"no kernel in $(MODLIB): depmod warns about its modules.order and modules.builtin")
	@$(DEPMOD_RUN)

install-user: $(B)/user/lib/libmbox.a $(LIB_SO) $(B)/user/lib/libmbox.pc \
		$(B)/user/bin/mboxctl
	install -d $(sort $(dir $(USER_FILES)))
	install -m 755 $(B)/user/bin/mboxctl $(DESTDIR)$(BINDIR)/
	install -m 644 $(B)/user/lib/libmbox.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libmbox.so.$(LIBMBOX_VERSION) $(DESTDIR)$(LIBDIR)/$(LIBMBOX_SONAME)
	ln -sf $(LIBMBOX_SONAME) $(DESTDIR)$(LIBDIR)/libmbox.so
	install -m 644 userspace/include/mbox.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 uapi/linux/mbox.h $(DESTDIR)$(INCLUDEDIR)/linux/
	install -m 644 $(B)/user/lib/libmbox.pc $(DESTDIR)$(PKGCONFIGDIR)/
	install -m 644 userspace/udev/60-mbox.rules $(DESTDIR)$(UDEVRULESDIR)/
	for m in $(MAN_PAGES:userspace/man/%=%); do \
		install -m 644 userspace/man/$$m $(DESTDIR)$(MANDIR)/$$m || exit 1; done
	@$(LDCONFIG_RUN)

uninstall: uninstall-module uninstall-user

uninstall-module:
	rm -f $(MOD_FILES)
	@if [ -n "$(DESTDIR)" ] && [ -z "$$(find "$(MODLIB)" -name '*.ko*' 2>/dev/null)" ]; then \
		echo "rm -f $(MODLIB)/modules.* (depmod's files)"; rm -f $(DEPMOD_FILES); \
	elif [ -d "$(MODLIB)" ]; then $(DEPMOD_RUN); fi

uninstall-user:
	rm -f $(USER_FILES)
	@$(LDCONFIG_RUN)

# The module's sources and dkms.conf, for 'dkms add mbox/$(VERSION)':
# only what a module build needs (no build/ or .git).
DKMS_SRCDIR ?= /usr/src/mbox-$(VERSION)
DKMS_FILES := dkms.conf VERSION Makefile Kbuild uapi/linux/mbox.h module/Kbuild \
	$(filter-out %.mod.c,$(wildcard module/*.[ch]))

dkms-source:
	install -d $(DESTDIR)$(DKMS_SRCDIR)/module $(DESTDIR)$(DKMS_SRCDIR)/uapi/linux
	for f in $(DKMS_FILES); do \
		install -m 644 $$f $(DESTDIR)$(DKMS_SRCDIR)/$$f || exit 1; done

check:
	@tools/testing/check.sh

demo:
	@tools/testing/demo.sh

DURATION ?= 600
STRESS_KERNEL ?= debug
stress:
	@tools/testing/stress.sh --seconds $(DURATION) --kernel $(STRESS_KERNEL) \
		$(if $(SEED),--seed $(SEED))

# make bench: ROUNDS (5), BENCH_QUICK=1 (short cells, for trying things),
# BENCH_FILTER (an extended regex of cell names, mbox_bench -l lists them),
# BENCH_KERNEL (6.12), BENCH_ICOUNT=1 (QEMU -icount: guest time that does
# not depend on the host's load).  Documentation/benchmarks.rst.
ROUNDS ?= 5
BENCH_KERNEL ?= 6.12
bench:
	@tools/testing/bench.sh --rounds $(ROUNDS) --kernel $(BENCH_KERNEL) \
		$(if $(filter-out 0,$(BENCH_QUICK)),--quick) \
		$(if $(filter-out 0,$(BENCH_ICOUNT)),--icount) \
		$(if $(BENCH_FILTER),--filter '$(subst ','\'',$(BENCH_FILTER))')

vm: userspace
	@$(TOOLS)/run.sh --kernel $(VM_KERNEL) --interactive \
		--add $(B)/user/bin/mboxctl

clean:
	rm -rf $(B)
	rm -f module/*.o module/*.ko module/*.mod module/*.mod.c module/.*.cmd \
		module/modules.order module/Module.symvers module/.module-common.o \
		Module.symvers modules.order .*.cmd .module-common.o
