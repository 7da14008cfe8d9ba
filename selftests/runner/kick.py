#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Kick a wedged guest (run-vm.sh's heartbeat watchdog): one key press on
# its PS/2 keyboard, through qemu's human monitor.
#
#   kick.py MONITOR_SOCKET
#
# The key raises an interrupt in the guest, and qemu's TCG vCPU notices
# its pending interrupts again.  TCG's nested SVM can lose the one that
# should end a nested guest's run (a read-modify-write of
# interrupt_request that races with the timer, testing.rst): L1 then
# runs L2 for minutes, its own timer never heard, until some device
# interrupts it.  Shift alone types nothing.  Fails when the monitor
# does not answer.
import socket, sys, time

s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])

def prompt():
    buf, end = b"", time.time() + 5
    while time.time() < end and not buf.rstrip().endswith(b"(qemu)"):
        d = s.recv(4096)
        if not d:
            sys.exit(1)
        buf += d

prompt()
s.sendall(b"sendkey shift\n")
prompt()
