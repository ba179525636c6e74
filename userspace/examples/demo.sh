#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs inside the demo VM (make demo): a tour of what mbox can do today.
echo
echo "== mbox is loaded: /dev/mbox is its device =="
ls -l /dev/mbox
echo
echo "== ask the module which ABI and features it has =="
echo "\$ mboxctl version"
mboxctl version
echo
echo "== two processes talk through a mailbox =="
echo "\$ hello_mailbox"
hello_mailbox
echo
echo "== client-server: four clients call an arithmetic server =="
echo "\$ arith_service"
arith_service
