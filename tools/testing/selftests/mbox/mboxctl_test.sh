#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# mboxctl_test.sh: mboxctl as shell scripts use it, in TAP.  Runs in the
# test VM (busybox sh, as root, "nobody" in /etc/passwd) with mboxctl in
# PATH or in $MBOXCTL.  Every wait is bounded by a timeout.
#
# make check runs it as root and again as an unprivileged user.  What
# takes another user (su nobody) is root's; unprivileged, the script is
# the other user of root's mailboxes /mbox-selftest-root-0600 and -0622,
# which the guest creates for that run (MBOX_ROOT_* in mbox_util.h).
#
# The tests marked "needs STAT" use MBOX_IOC_STAT (list, stat, and the
# details that errors take from it); they SKIP while the loaded module
# answers it with ENOTTY.

MBOXCTL=${MBOXCTL:-$(command -v mboxctl)}
n=0
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT

ok() { n=$((n + 1)); echo "ok $n $1"; }
nok() {
	n=$((n + 1))
	echo "not ok $n $1"
	echo "# rc=$rc; stdout: $(head -c 300 "$T/out" 2>/dev/null | tr '\n' '|')"
	echo "# stderr: $(head -c 300 "$T/err" 2>/dev/null | tr '\n' '|')"
}
skip() { n=$((n + 1)); echo "ok $n $1 # SKIP $2"; }
uid=$(id -u) gid=$(id -g) user=$(id -un)
# t NAME CONDITION...: one result
t() {
	name=$1
	shift
	if eval "$*"; then ok "$name"; else nok "$name"; fi
}
# m ARGS...: run mboxctl; $rc, $T/out, $T/err
m() {
	timeout 30 "$MBOXCTL" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	return $rc
}
out() { cat "$T/out"; }
err_has() { grep -q -- "$1" "$T/err"; }
# as_nobody ARGS...: mboxctl as uid 65534
as_nobody() {
	timeout 30 su -s /bin/sh nobody -c "$MBOXCTL $*" >"$T/out" 2>"$T/err"
	rc=$?
}

if [ ! -c /dev/mbox ] || [ -z "$MBOXCTL" ]; then
	echo "1..0 # SKIP no /dev/mbox or no mboxctl"
	exit 0
fi

# --- help and usage --------------------------------------------------

m --help
t "help: --help on stdout, exit 0" '[ $rc -eq 0 ] && grep -q "^exit status" "$T/out" && [ ! -s "$T/err" ]'
for c in create open list stat send receive recv call serve reply destroy chown chmod version help; do
	m "$c" --help
	cp "$T/out" "$T/help1"
	r1=$rc
	m help "$c"
	t "help: $c --help and help $c" '[ $r1 -eq 0 ] && [ $rc -eq 0 ] && grep -q "^usage: mboxctl " "$T/out" && cmp -s "$T/out" "$T/help1"'
done

m
t "usage: no command gives 2, usage on stderr" '[ $rc -eq 2 ] && [ ! -s "$T/out" ] && err_has "^usage: mboxctl"'
m frobnicate
t "usage: unknown command gives 2" '[ $rc -eq 2 ] && err_has "no command"'
m send /x --bogus
t "usage: unknown option gives 2 with the command's usage" '[ $rc -eq 2 ] && err_has "usage: mboxctl send"'
m receive jobs
t "usage: a mailbox that is neither /name nor id gives 2" '[ $rc -eq 2 ] && err_has "names no mailbox"'
m receive /x --timeout soon
t "usage: bad --timeout gives 2" '[ $rc -eq 2 ]'
m send /x --priority 32 hi
t "usage: --priority above 31 gives 2" '[ $rc -eq 2 ]'
m create --process /x
t "usage: create --process is refused with a reason" '[ $rc -eq 2 ] && err_has "mboxctl exits"'
m reply 1 hi
t "usage: reply explains serve" '[ $rc -eq 2 ] && err_has "mboxctl serve"'
MBOX_DEVICE=/dev/nonexistent m send /x hi
t "no device: exit 6, says to load the module" '[ $rc -eq 6 ] && err_has "module loaded"'

m version
t "version: library, ABI, features" '[ $rc -eq 0 ] && grep -q "^libmbox 1\." "$T/out" && grep -q "^mbox ABI 1\." "$T/out" && grep -q "^features:.* mailbox" "$T/out"'

# Does the module answer MBOX_IOC_STAT?
"$MBOXCTL" list >/dev/null 2>&1
[ $? -ne 6 ] && stat=1 || stat=
needs_stat() {	# needs_stat NAME: 0 to run it, else SKIP it
	[ -n "$stat" ] && return 0
	skip "$1" "no MBOX_IOC_STAT in this module"
	return 1
}

# --- create, open, list, stat, destroy --------------------------------

m create --capacity 4 --mode 0660 /t/jobs
id=$(out)
t "create: prints the new id" '[ $rc -eq 0 ] && [ "$id" -gt 0 ] 2>/dev/null'
m create /t/jobs
t "create: an existing name fails with a reason" '[ $rc -eq 1 ] && err_has "exists"'
m create --exist-ok /t/jobs
t "create --exist-ok: the existing id" '[ $rc -eq 0 ] && [ "$(out)" = "$id" ]'
m open /t/jobs
t "open: a name gives its id" '[ $rc -eq 0 ] && [ "$(out)" = "$id" ]'
m open --send --recv "$id"
t "open: an id, both rights" '[ $rc -eq 0 ] && [ "$(out)" = "$id" ]'
m open "#$id"
t "open: #id" '[ $rc -eq 0 ] && [ "$(out)" = "$id" ]'
m create
anon=$(out)
t "create: a mailbox without a name" '[ $rc -eq 0 ] && [ "$anon" -gt "$id" ]'
m open /t/none
t "open: unknown name gives 4, says so" '[ $rc -eq 4 ] && err_has "no mailbox of that name"'

if needs_stat "list: header and a line per mailbox (needs STAT)"; then
	m list
	t "list: header and a line per mailbox (needs STAT)" '[ $rc -eq 0 ] && head -1 "$T/out" | grep -q "^ *ID OWNER" && grep -q "^ *$id $user .* 0660 shared *system *4 .* /t/jobs\$" "$T/out" && grep -q "^ *$anon .* -\$" "$T/out"'
fi
if needs_stat "list -H -o tsv: fields by tab (needs STAT)"; then
	m list -H -o tsv
	t "list -H -o tsv: fields by tab (needs STAT)" '[ $rc -eq 0 ] && ! grep -q "^id" "$T/out" && grep -q "^$id	/t/jobs	system	shared	0660	$uid	$gid	" "$T/out"'
fi
if needs_stat "list -o json (needs STAT)"; then
	m list -o json
	t "list -o json (needs STAT)" '[ $rc -eq 0 ] && head -1 "$T/out" | grep -q "^\[" && grep -q "\"id\": $id, \"name\": \"/t/jobs\", .*\"capacity\": 4," "$T/out" && tail -1 "$T/out" | grep -q "^\]"'
fi
if needs_stat "stat: every field, key: value (needs STAT)"; then
	m stat /t/jobs
	t "stat: every field, key: value (needs STAT)" '[ $rc -eq 0 ] && [ $(wc -l <"$T/out") -eq 20 ] && grep -q "^id: $id\$" "$T/out" && grep -q "^name: /t/jobs\$" "$T/out" && grep -q "^capacity: 4\$" "$T/out" && grep -q "^mode: 0660\$" "$T/out" && grep -q "^owned: system\$" "$T/out" && grep -q "^nr_msgs: 0\$" "$T/out"'
fi
if needs_stat "stat -o json by id (needs STAT)"; then
	m stat -o json "$id"
	t "stat -o json by id (needs STAT)" '[ $rc -eq 0 ] && grep -q "^{\"id\": $id, \"name\": \"/t/jobs\", .*\"total_received\": 0}\$" "$T/out"'
fi
if needs_stat "stat: unknown mailbox gives 4 (needs STAT)"; then
	m stat /t/none
	t "stat: unknown mailbox gives 4 (needs STAT)" '[ $rc -eq 4 ] && err_has "no mailbox"'
fi

# --- send and receive -------------------------------------------------

m send /t/jobs "hello, world"
r1=$rc
m receive /t/jobs --timeout 5
t "send and receive a text argument" '[ $r1 -eq 0 ] && [ $rc -eq 0 ] && [ "$(out)" = "hello, world" ]'

# Bytes 0..255 as one printf format of octal escapes (no fork per byte).
fmt= i=0
while [ $i -lt 256 ]; do
	fmt="$fmt\\$((i / 64))$((i / 8 % 8))$((i % 8))"
	i=$((i + 1))
done
printf "$fmt" >"$T/bytes"
timeout 30 "$MBOXCTL" send "$id" <"$T/bytes"
r1=$?
m receive "$id" --timeout 5
t "binary: bytes 0..255 through stdin and stdout" '[ $r1 -eq 0 ] && [ $rc -eq 0 ] && [ $(wc -c <"$T/out") -eq 256 ] && cmp -s "$T/out" "$T/bytes"'

printf 'one\n\ntwo\nthree' | timeout 30 "$MBOXCTL" send --lines /t/jobs
r1=$?
m receive -c 4 --lines /t/jobs -t 5
printf 'one\n\ntwo\nthree\n' >"$T/want"
t "send --lines: a message per line, receive -c 4 --lines" '[ $r1 -eq 0 ] && [ $rc -eq 0 ] && cmp -s "$T/out" "$T/want"'

m send -p 1 /t/jobs low && m send -p 9 /t/jobs high && m send -p 5 /t/jobs mid && m send -p 9 /t/jobs high2
r1=$rc
m receive -c 4 -l /t/jobs -t 5
printf 'high\nhigh2\nmid\nlow\n' >"$T/want"
t "priorities: highest first, FIFO within one" '[ $r1 -eq 0 ] && [ $rc -eq 0 ] && cmp -s "$T/out" "$T/want"'

m receive /t/jobs --timeout 0
t "receive --timeout 0 on an empty mailbox gives 3" '[ $rc -eq 3 ] && [ ! -s "$T/out" ] && err_has "receive /t/jobs: no message is queued and --timeout 0 was given"'
m receive /t/jobs --timeout 0.3
t "receive --timeout 0.3 times out with 3" '[ $rc -eq 3 ] && err_has "within --timeout 0.3 s"'

m send /t/jobs a && m send /t/jobs b && m send /t/jobs c && m send /t/jobs d
r1=$rc
m send /t/jobs e --timeout 0
t "send --timeout 0 to a full mailbox gives 3" '[ $r1 -eq 0 ] && [ $rc -eq 3 ] && err_has "full"'
if needs_stat "send: full mailbox error names the capacity (needs STAT)"; then
	t "send: full mailbox error names the capacity (needs STAT)" 'err_has "capacity 4"'
fi
if needs_stat "stat -k nr_msgs counts the queue (needs STAT)"; then
	m stat -k nr_msgs /t/jobs
	t "stat -k nr_msgs counts the queue (needs STAT)" '[ $rc -eq 0 ] && [ "$(out)" = 4 ]'
fi
m receive -c 0 -t 0 /t/jobs
t "receive -c 0 -t 0 drains the mailbox, exit 0" '[ $rc -eq 0 ] && [ "$(out)" = abcd ]'

m create --capacity 0 /t/rdv
m send /t/rdv hi --timeout 0
t "capacity 0: send --timeout 0 without a receiver gives 3" '[ $rc -eq 3 ]'
timeout 30 "$MBOXCTL" receive /t/rdv -t 20 >"$T/rdv" 2>&1 &
rpid=$!
m send --sync /t/rdv handoff --timeout 20
wait $rpid
r1=$?
t "send --sync: hand-off on capacity 0, prints the receiver's pid" '[ $rc -eq 0 ] && [ "$(out)" = "$rpid" ] && [ $r1 -eq 0 ] && [ "$(cat "$T/rdv")" = handoff ]'

m create --max-size 16 /t/small
m send /t/small "this message is longer than sixteen bytes"
t "send: too long a message fails with 1 and its length" '[ $rc -eq 1 ] && err_has "41 bytes"'

# Selective receive names a live sender: synchronous senders wait.
timeout 30 "$MBOXCTL" send --sync /t/jobs from-a >/dev/null &
pa=$!
timeout 30 "$MBOXCTL" send --sync /t/jobs from-b >/dev/null &
pb=$!
m receive --from "$pb" -v /t/jobs -t 20
wait $pb
r1=$?
t "receive --from PID: selective receive, -v names the sender" '[ $rc -eq 0 ] && [ "$(out)" = from-b ] && [ $r1 -eq 0 ] && err_has "from pid $pb (uid $uid, gid $gid), priority 0"'
m receive /t/jobs -t 20
wait $pa
r1=$?
t "receive: the other sender's message is still there" '[ $rc -eq 0 ] && [ "$(out)" = from-a ] && [ $r1 -eq 0 ]'

# --- unknown and destroyed mailboxes -----------------------------------

m receive /t/none --timeout 0
t "receive: unknown name gives 4, readable" '[ $rc -eq 4 ] && err_has "receive /t/none: no mailbox of that name in this IPC namespace (No such file or directory)"'
m receive 4000000000 --timeout 0
t "receive: unknown id gives 4" '[ $rc -eq 4 ] && err_has "mailbox 4000000000: no mailbox with that id"'

m create /t/doomed
timeout 30 "$MBOXCTL" receive /t/doomed -t 20 >"$T/dout" 2>"$T/derr" &
dpid=$!
sleep 1
m destroy /t/doomed
r1=$rc
wait $dpid
rc=$?
cp "$T/derr" "$T/err"
t "destroy wakes a blocked receiver: 4, 'destroyed'" '[ $r1 -eq 0 ] && [ $rc -eq 4 ] && (err_has "was destroyed" || err_has "no mailbox")'
m receive /t/doomed --timeout 0
t "receive from a destroyed mailbox gives 4" '[ $rc -eq 4 ] && err_has "no mailbox of that name"'
m destroy /t/doomed
t "destroy: unknown mailbox gives 4" '[ $rc -eq 4 ]'
m destroy -f /t/doomed
t "destroy -f: unknown mailbox is no error" '[ $rc -eq 0 ]'

# --- permissions --------------------------------------------------------

if [ "$uid" -eq 0 ]; then
	m create --mode 0600 /t/priv
	as_nobody send /t/priv hi
	t "permission: nobody cannot send to a 0600 mailbox: 5" '[ $rc -eq 5 ] && err_has "permission denied"'
	as_nobody destroy /t/priv
	t "permission: nobody cannot destroy a 0600 mailbox: 5" '[ $rc -eq 5 ] && err_has "owner or creator"'
	m chmod /t/priv 0602
	as_nobody receive /t/priv --timeout 0
	t "permission: 0602 lets others send, not receive: 5" '[ $rc -eq 5 ] && err_has "permission denied to receive"'
	if needs_stat "permission: the error explains the mode (needs STAT)"; then
		t "permission: the error explains the mode (needs STAT)" 'err_has "mode 0602 lets others (you are not its owner uid 0 nor in its group 0) send only"'
	fi
	as_nobody send /t/priv from-nobody
	t "permission: chmod 0602 lets nobody send" '[ $rc -eq 0 ]'
	m receive -v /t/priv -t 5
	t "receive -v: the sender's uid is nobody's" '[ $rc -eq 0 ] && [ "$(out)" = from-nobody ] && err_has "(uid 65534, gid 65534)"'
	as_nobody destroy /t/priv
	t "permission: nobody cannot destroy root's mailbox: 5" '[ $rc -eq 5 ] && err_has "owner or creator"'
	m chown /t/priv nobody
	as_nobody destroy /t/priv
	t "chown: the new owner may destroy it" '[ $rc -eq 0 ]'
	if needs_stat "list: nobody sees only what it may use (needs STAT)"; then
		m create --mode 0666 /t/open
		m create --mode 0600 /t/closed
		as_nobody list -H
		t "list: nobody sees only what it may use (needs STAT)" '[ $rc -eq 0 ] && grep -q " /t/open\$" "$T/out" && ! grep -q " /t/closed\$" "$T/out"'
		m destroy /t/open /t/closed
	fi
else
	# Unprivileged: root's mailboxes, made by the guest, as another user.
	R=/mbox-selftest-root
	m open $R-0622
	if [ $rc -eq 4 ]; then
		why="no $R-0622: make check's guest creates root's mailboxes for the unprivileged run"
	else
		why=
	fi
	# ut NAME CONDITION: t, or SKIP without root's mailboxes
	ut() { if [ -n "$why" ]; then skip "$1" "$why"; else t "$@"; fi; }
	m send $R-0600 hi
	ut "permission: a user cannot send to root's 0600 mailbox: 5" '[ $rc -eq 5 ] && err_has "permission denied"'
	m destroy $R-0600
	ut "permission: a user cannot destroy root's 0600 mailbox: 5" '[ $rc -eq 5 ] && err_has "owner or creator"'
	m receive $R-0622 --timeout 0
	ut "permission: 0622 lets others send, not receive: 5" '[ $rc -eq 5 ] && err_has "permission denied to receive"'
	if needs_stat "permission: the error explains the mode (needs STAT)"; then
		ut "permission: the error explains the mode (needs STAT)" 'err_has "mode 0622 lets others (you are not its owner uid 0 nor in its group 0) send only"'
	fi
	m destroy $R-0622
	ut "permission: a user cannot destroy root's mailbox: 5" '[ $rc -eq 5 ] && err_has "owner or creator"'
	m chmod $R-0622 0666
	ut "permission: a user cannot chmod root's mailbox: 5" '[ $rc -eq 5 ]'
	m chown $R-0622 "$user"
	ut "permission: a user cannot take root's mailbox: 5" '[ $rc -eq 5 ]'
	m create --mode 0000 /t/priv
	m send /t/priv hi --timeout 0
	t "permission: mode 0000 binds its owner too, without CAP_IPC_OWNER: 5" '[ $rc -eq 5 ] && err_has "permission denied"'
	m chmod /t/priv 0600
	m send /t/priv hi --timeout 0
	r1=$rc
	m destroy /t/priv
	t "permission: its owner may chmod and destroy it" '[ $r1 -eq 0 ] && [ $rc -eq 0 ]'
	if needs_stat "list: a user sees only what it may use (needs STAT)"; then
		m list -H
		ut "list: a user sees only what it may use (needs STAT)" '[ $rc -eq 0 ] && grep -q " $R-0622\$" "$T/out" && ! grep -q " $R-0600\$" "$T/out"'
	fi
fi

# --- calls --------------------------------------------------------------

m create /t/srv
timeout 60 "$MBOXCTL" serve -c 3 /t/srv -- tr a-z A-Z >"$T/sout" 2>"$T/serr" &
spid=$!
m call /t/srv hello -t 20
c1=$(out) r1=$rc
echo "from stdin" | timeout 30 "$MBOXCTL" call /t/srv -t 20 >"$T/out" 2>"$T/err"
c2=$(out) r2=$?
m call -v /t/srv third -t 20
wait $spid
r3=$?
t "call and serve: replies are the command's output" '[ $r1 -eq 0 ] && [ "$c1" = HELLO ] && [ $r2 -eq 0 ] && [ "$c2" = "FROM STDIN" ] && [ $rc -eq 0 ] && [ "$(out)" = THIRD ] && err_has "reply from pid $spid"'
t "serve -c 3 exits 0 after three calls" '[ $r3 -eq 0 ]'

timeout 60 "$MBOXCTL" serve /t/srv -t 3 -- sh -c 'echo "$MBOX_CALL $MBOX_SENDER_UID $MBOX_PRIORITY $(cat)"' >"$T/sout" 2>"$T/serr" &
spid=$!
m send -p 7 /t/srv plain
r1=$rc
m call -p 3 /t/srv request -t 20
wait $spid
r2=$?
t "serve: environment, plain messages to stdout, idle timeout ends it" '[ $r1 -eq 0 ] && [ $rc -eq 0 ] && [ "$(out)" = "1 $uid 3 request" ] && [ "$(cat "$T/sout")" = "0 $uid 7 plain" ] && [ $r2 -eq 0 ]'

timeout 30 "$MBOXCTL" call /t/srv ping -t 20 >"$T/cout" 2>"$T/cerr" &
cpid=$!
m receive --reply pong /t/srv -t 20
wait $cpid
r1=$?
t "receive --reply answers a call" '[ $rc -eq 0 ] && [ "$(out)" = ping ] && [ $r1 -eq 0 ] && [ "$(cat "$T/cout")" = pong ]'

timeout 30 "$MBOXCTL" call /t/srv ping -t 20 >"$T/cout" 2>"$T/cerr" &
cpid=$!
m receive /t/srv -t 20
wait $cpid
r1=$?
cp "$T/cerr" "$T/err"
t "call answered by no one: the caller fails when receive exits" '[ $rc -eq 0 ] && [ $r1 -eq 1 ] && err_has "closed without replying"'

m call /t/srv nobody-home --timeout 0
t "call --timeout 0 with no server gives 3" '[ $rc -eq 3 ]'
m call /t/srv nobody-home --timeout 0.3
t "call --timeout 0.3 with no server gives 3" '[ $rc -eq 3 ]'

m destroy /t/jobs /t/rdv /t/small /t/srv "$anon"
t "destroy: several at once" '[ $rc -eq 0 ]'
m open "$anon"
t "destroy: the anonymous one is gone too" '[ $rc -eq 4 ]'

echo "1..$n"
