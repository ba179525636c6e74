#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs in the VMs of tools/testing/install.sh, once the module that dkms
# built and installed is loaded; install.sh reads the "install-vm:" lines.
if [ -c /dev/mbox ]; then
	echo "install-vm: device ok $(ls -l /dev/mbox)"
else
	echo "install-vm: no /dev/mbox"
fi
mboxctl version && echo "install-vm: mboxctl ok"
if [ -e /mbox/bin/pkgconfig_client ]; then
	pkgconfig_client
	echo "install-vm: client-exit $?"
fi
exit 0
