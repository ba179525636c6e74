#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check-syzkaller.sh: the syzkaller description of the ABI,
# tools/testing/syzkaller/dev_mbox.txt and its dev_mbox.txt.const, stays
# the ABI of uapi/linux/mbox.h.  syzkaller itself is not needed:
#
#  1. constants: a C program built against the header (gcc, then gcc -m32)
#     prints every constant of the .const file; its values must be those
#     the file gives for amd64 and for 386.  Every constant the
#     description uses is in the .const file, with the __NR_ of every
#     system call it describes, and the file has no other;
#  2. completeness: every ioctl (MBOX_IOC_*), every flag bit (the
#     _BITUL()/_BITULL() defines) and every member of enum mbox_policy and
#     enum mbox_addr of the header appears in the description, so that a
#     new ioctl or flag cannot be forgotten there;
#  3. layout: every struct of the description named after one of the
#     header's (struct mbox_*) has the header's members, in its order, at
#     its offsets and of its sizes (the same C program prints offsetof()
#     and sizeof(), 64- and 32-bit), without holes, and its size, the sum
#     of its fields, is sizeof() of the C struct.  The description's
#     "reserved" and "pad" are the header's "__reserved" and "__pad"; its
#     unions mbox_to and mbox_from stand for "addr" and "to" or "from",
#     and each of their variants must lay them out alike.
#
# The parser knows the subset of syzlang the description uses: resources,
# structs, unions, flags, intN, const, flags, len/bytesize and ptr64.
#
# Prints one line per check and last "syzkaller: N passed, M failed";
# exits non-zero if a check failed.  Standalone, from anywhere:
#   bash tools/testing/check-syzkaller.sh [--write]
# --write rewrites dev_mbox.txt.const from the C program's values (after
# the header changed), in syz-sysgen's format, and checks it.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
write=0
[ "${1:-}" = --write ] && write=1

if ! command -v python3 >/dev/null || ! command -v gcc >/dev/null; then
	bash "$top/tools/testing/vm/deps.sh" build check m32 >/dev/null || true
fi
for tool in python3 gcc; do
	if ! command -v $tool >/dev/null; then
		echo "syzkaller: $tool is missing (tools/testing/vm/deps.sh check)"
		echo "syzkaller: 0 passed, 1 failed"
		exit 1
	fi
done

exec python3 - "$top" "$write" <<'EOF'
import os
import re
import subprocess
import sys
import tempfile

top, write = sys.argv[1], sys.argv[2] == "1"
header = os.path.join(top, "uapi/linux/mbox.h")
desc_path = os.path.join(top, "tools/testing/syzkaller/dev_mbox.txt")
const_path = desc_path + ".const"
# syzkaller's arch -> the gcc flags that build for it here.
ARCHES = {"386": ["-m32"], "amd64": []}
# Upstream resources the description uses, and their sizes.
BUILTIN = {"fd": 4, "fd_pidfd": 4, "pid": 4, "uid": 4, "gid": 4}
INTS = {"int8": 1, "int16": 2, "int32": 4, "int64": 8}
ALIASES = {"reserved": "__reserved", "pad": "__pad"}

passed = failed = 0


def result(name, problems):
    global passed, failed
    if problems:
        failed += 1
        print("  FAIL: " + name)
        for p in problems:
            print("    " + p)
    else:
        passed += 1
        print("  PASS: " + name)


# ---- the description -------------------------------------------------------

def split_args(s):
    """Top-level comma-separated arguments of a type's [...]."""
    args, depth, cur = [], 0, ""
    for ch in s:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        args.append(cur.strip())
    return args


def type_head(t):
    m = re.match(r"(\w+)(?:\[(.*)\])?$", t.strip())
    if not m:
        raise ValueError("cannot parse type %r" % t)
    return m.group(1), split_args(m.group(2) or "")


lines = []
for raw in open(desc_path).read().splitlines():
    # Strings hold no '#': everything after one is a comment.
    lines.append(raw.split("#", 1)[0].rstrip())

resources, structs, unions, flagsets, syscalls = {}, {}, {}, {}, []
i = 0
while i < len(lines):
    line = lines[i]
    i += 1
    if not line.strip() or line.startswith("include "):
        continue
    m = re.match(r"resource (\w+)\[(\w+)\]", line)
    if m:
        resources[m.group(1)] = m.group(2)
        continue
    m = re.match(r"(\w+) ([{\[])$", line)
    if m:
        name, close = m.group(1), "}" if m.group(2) == "{" else "]"
        fields = []
        while not lines[i].startswith(close):
            fl = lines[i].strip()
            i += 1
            if not fl:
                continue
            fm = re.match(r"(\w+)\s+(.*?)(?:\s+\((in|out|inout)\))?$", fl)
            if not fm:
                raise ValueError("cannot parse field %r of %s" % (fl, name))
            fields.append((fm.group(1), fm.group(2)))
        i += 1
        (structs if close == "}" else unions)[name] = fields
        continue
    m = re.match(r"(\w+) = (.*)$", line)
    if m:
        flagsets[m.group(1)] = [v.strip() for v in m.group(2).split(",")]
        continue
    m = re.match(r"(\w+)(\$\w+)?\(", line)
    if m:
        syscalls.append(m.group(1) + (m.group(2) or ""))
        continue
    raise ValueError("cannot parse line %r" % line)

# The constants it uses: the upper-case words outside strings.
code = "\n".join(re.sub(r'"[^"]*"|\w+\$\w+', "", l) for l in lines)
used = set(re.findall(r"\b[A-Z_][A-Z0-9_]*[A-Z0-9]\b", code))
used |= {"__NR_" + s.split("$")[0] for s in syscalls}


def layout(name, base=0):
    """(size, align, [(field, offset, size)]) of a struct or union, flat."""
    if name in unions:
        variants = [layout(t, base) for _, t in
                    ((f, type_head(t)[0]) for f, t in unions[name])]
        size = max(v[0] for v in variants)
        align = max(v[1] for v in variants)
        for v in variants[1:]:
            if v[2] != variants[0][2]:
                raise ValueError("union %s: variants lay out %s and %s"
                                 % (name, variants[0][2], v[2]))
        return size, align, variants[0][2]
    off, align, flat = 0, 1, []
    for fname, ftype in structs[name]:
        size, falign, sub = field_layout(ftype, base + off)
        if off % falign:
            raise ValueError("struct %s: field %s at %d needs alignment %d "
                             "(a hole)" % (name, fname, off, falign))
        flat += sub if sub is not None else [(fname, base + off, size)]
        off += size
        align = max(align, falign)
    if off % align:
        raise ValueError("struct %s: %d bytes, padded to %d" % (name, off, align))
    return off, align, flat


def field_layout(t, base):
    head, args = type_head(t)
    while head in resources:
        head, args = resources[head], []
    if head in INTS:
        return INTS[head], INTS[head], None
    if head in ("const", "flags", "len", "bytesize"):
        n = INTS[args[-1]]
        return n, n, None
    if head == "ptr64":
        return 8, 8, None
    if head in BUILTIN:
        return BUILTIN[head], BUILTIN[head], None
    if head in structs or head in unions:
        size, align, flat = layout(head, base)
        return size, align, flat
    raise ValueError("type %r: not in the subset this check knows" % t)


# ---- the header --------------------------------------------------------------

hsrc = open(header).read()
cstructs = {}
for m in re.finditer(r"^struct (mbox_\w+) \{(.*?)^\};", hsrc, re.S | re.M):
    cstructs[m.group(1)] = re.findall(r"__u(?:8|16|32|64) (\w+);", m.group(2))
ioctls = re.findall(r"^#define (MBOX_IOC_\w+)\s", hsrc, re.M)
bits = re.findall(r"^#define (MBOX_\w+)\s+_BITULL?\(", hsrc, re.M)
enums = []
for e in ("mbox_policy", "mbox_addr"):
    m = re.search(r"enum %s \{(.*?)\};" % e, hsrc, re.S)
    enums += re.findall(r"^\s*(MBOX_\w+)\s*=", m.group(1), re.M) if m else []

# ---- the C program: constants, offsets and sizes ----------------------------

consts = sorted(used)
prog = ["#include <fcntl.h>", "#include <stddef.h>", "#include <stdio.h>",
        "#include <sys/stat.h>", "#include <sys/syscall.h>",
        "#include <linux/mbox.h>", "int main(void)", "{"]
for c in consts:
    prog.append('\tprintf("const %%s %%llu\\n", "%s", (unsigned long long)(%s));'
                % (c, c))
for s, members in cstructs.items():
    prog.append('\tprintf("sizeof %%s %%zu\\n", "%s", sizeof(struct %s));' % (s, s))
    for mem in members:
        prog.append('\tprintf("member %s %s %%zu %%zu\\n", offsetof(struct %s, %s), '
                    'sizeof(((struct %s *)0)->%s));' % (s, mem, s, mem, s, mem))
prog += ["\treturn 0;", "}"]

values = {}	# arch -> {const: value}
clayout = {}	# arch -> {struct: (sizeof, [(member, offset, size)])}
problems = []
with tempfile.TemporaryDirectory() as tmp:
    src = os.path.join(tmp, "consts.c")
    open(src, "w").write("\n".join(prog) + "\n")
    for arch, flags in ARCHES.items():
        exe = os.path.join(tmp, "consts-" + arch)
        cc = subprocess.run(["gcc"] + flags + ["-Wall", "-Werror", "-I",
                            os.path.join(top, "uapi"), "-o", exe, src],
                            capture_output=True, text=True)
        if cc.returncode:
            problems.append("gcc %s failed:" % " ".join(flags))
            problems += cc.stderr.splitlines()[:20]
            continue
        out = subprocess.run([exe], capture_output=True, text=True).stdout
        values[arch], clayout[arch] = {}, {}
        for l in out.splitlines():
            w = l.split()
            if w[0] == "const":
                values[arch][w[1]] = int(w[2])
            elif w[0] == "sizeof":
                clayout[arch].setdefault(w[1], [0, []])[0] = int(w[2])
            else:
                clayout[arch].setdefault(w[1], [0, []])[1].append(
                    (w[2], int(w[3]), int(w[4])))
if problems:
    result("the C program builds (gcc, gcc -m32)", problems)
    print("syzkaller: %d passed, %d failed" % (passed, failed))
    sys.exit(1)

# ---- 1. constants ------------------------------------------------------------


def serialize(vals):
    """dev_mbox.txt.const as syz-sysgen writes it (ConstFile.Serialize)."""
    arches = sorted(vals)
    out = ["# Constants of dev_mbox.txt for 386 and amd64, in the format of",
           "# syz-sysgen's .const files: written and checked by",
           "# tools/testing/check-syzkaller.sh; syzkaller's make extract",
           "# rewrites it for every arch.",
           "arches = " + ", ".join(arches)]
    for c in sorted(vals[arches[0]]):
        per = [vals[a][c] for a in arches]
        if len(set(per)) == 1:
            out.append("%s = %d" % (c, per[0]))
        else:
            out.append("%s = %s" % (c, ", ".join("%s:%d" % (a, vals[a][c])
                                                  for a in arches)))
    return "\n".join(out) + "\n"


if write:
    open(const_path, "w").write(serialize(values))
    print("syzkaller: wrote " + os.path.relpath(const_path, top))

problems = []
carches, cvals = [], {}
for n, l in enumerate(open(const_path).read().splitlines(), 1):
    if not l or l.startswith("#"):
        continue
    name, _, val = (x.strip() for x in l.partition("="))
    if name == "arches":
        carches = [a.strip() for a in val.split(",")]
        continue
    per = {}
    for pair in val.split(","):
        f = [x.strip() for x in pair.split(":")]
        for a in (carches if len(f) == 1 else f[:-1]):
            per[a] = int(f[-1], 0)
    cvals[name] = per
for arch in ARCHES:
    if arch not in carches:
        problems.append("arches has no %s" % arch)
for c in sorted(set(cvals) - used):
    problems.append("%s is in the .const file, not in the description" % c)
for c in sorted(used - set(cvals)):
    problems.append("%s is used by the description, not in the .const file" % c)
for c in sorted(used & set(cvals)):
    for arch in ARCHES:
        want, have = values[arch][c], cvals[c].get(arch)
        if want != have:
            problems.append("%s on %s: the header says %d, the .const file %s"
                            % (c, arch, want, have))
result("dev_mbox.txt.const: every constant the description uses, with the "
       "header's values for amd64 and 386", problems)

# ---- 2. completeness ---------------------------------------------------------

problems = []
for what, names in (("ioctl", ioctls), ("flag", bits), ("enum member", enums)):
    if not names:
        problems.append("the header has no %s? (parse error)" % what)
    for c in names:
        if c not in used:
            problems.append("%s %s of the header is not in the description"
                            % (what, c))
for c in ioctls:
    if "ioctl$%s" % c not in syscalls:
        problems.append("no ioctl$%s in the description" % c)
result("dev_mbox.txt: every ioctl (%d), flag bit (%d) and policy and "
       "address (%d) of the header" % (len(ioctls), len(bits), len(enums)),
       problems)

# ---- 3. layout ---------------------------------------------------------------

problems = []
checked = 0
for name in sorted(structs):
    if name not in cstructs:
        continue
    checked += 1
    try:
        size, _, flat = layout(name)
    except (ValueError, KeyError) as e:
        problems.append(str(e))
        continue
    flat = [(ALIASES.get(f, f), o, s) for f, o, s in flat]
    for arch in ARCHES:
        csize, cmembers = clayout[arch][name]
        if flat != cmembers:
            problems.append("struct %s on %s: the description has %s" %
                            (name, arch, ", ".join("%s@%d:%d" % x for x in flat)))
            problems.append("  the header %s" %
                            ", ".join("%s@%d:%d" % x for x in cmembers))
        if size != csize:
            problems.append("struct %s on %s: %d bytes in the description, "
                            "sizeof() %d" % (name, arch, size, csize))
for name in sorted(set(cstructs) - set(structs)):
    problems.append("struct %s of the header is not in the description" % name)
result("dev_mbox.txt: the %d structs have the header's members, order, "
       "offsets and sizes (64- and 32-bit)" % checked, problems)

print("syzkaller: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
EOF
