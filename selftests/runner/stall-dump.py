#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Where a stalled guest's vCPUs are (run-vm.sh's stall watchdog).
#
#   stall-dump.py MONITOR_SOCKET DUMP_FILE [SYSTEM_MAP]
#
# Three samples of every vCPU's registers, a second apart, from qemu's
# human monitor, into DUMP_FILE; each sample's instruction pointers by
# kernel symbol on stdout (bare without a real System.map: Debian's is a
# stub, the real one is in its -dbg package; or outside the kernel's
# text: user space, a module, a nested guest).  Then sysrq l (a backtrace
# of every CPU, by NMI) and w (the tasks in D state) on the PS/2
# keyboard: into the console log, if the kernel still takes interrupts.
# Fails when the monitor does not answer.
import bisect, re, sys, time

from monitor import Monitor

sock, dump, sysmap = (sys.argv[1:] + [""])[:3]
syms = []
if sysmap:
    for line in open(sysmap):
        f = line.split()
        if len(f) == 3 and f[1] in "tTwW":
            syms.append((int(f[0], 16), f[2]))
    syms.sort()
addrs = [a for a, _ in syms]

def name(rip):
    i = bisect.bisect_right(addrs, rip) - 1
    if i < 0 or rip - addrs[i] > 0x100000:
        return hex(rip)
    return "%s+%#x" % (syms[i][1], rip - addrs[i])

mon = Monitor(sock)
with open(dump, "w") as out:
    for i in range(3):
        regs = mon.cmd("info registers -a")
        out.write("==== sample %d\n%s\n" % (i, regs))
        rips = re.findall(r"RIP=([0-9a-f]+)", regs)
        print("run-vm: stalled guest, sample %d: %s" % (i, ", ".join(
            "cpu%d %s" % (n, name(int(r, 16))) for n, r in enumerate(rips))))
        time.sleep(1)
    for key in "lw":
        mon.cmd("sendkey alt-sysrq-" + key)
        time.sleep(3)
print("run-vm: stalled guest: sysrq l and w sent (backtraces in its console log)")
