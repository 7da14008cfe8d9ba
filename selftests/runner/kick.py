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
import sys

from monitor import Monitor

mon = Monitor(sys.argv[1])
if not mon.answered(mon.banner) or not mon.answered(mon.cmd("sendkey shift")):
    sys.exit(1)
