# SPDX-License-Identifier: GPL-2.0
#
# qemu's human monitor on its unix socket (run-vm.sh's -monitor), for
# stall-dump.py and kick.py (run with python3 -B: no __pycache__ in the
# tree).
import socket, time

PROMPT = "(qemu)"

class Monitor:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(5)
        self.s.connect(path)
        # The banner, up to its prompt: read, not answered (an empty
        # command's prompt would end the next command's reading early).
        self.banner = self.cmd(None)

    def cmd(self, c):
        """Send c (None: nothing); what came back up to the next prompt,
        or what came within 10 s without one."""
        if c is not None:
            self.s.sendall((c + "\n").encode())
        buf, end = b"", time.time() + 10
        while time.time() < end and not buf.rstrip().endswith(PROMPT.encode()):
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                break
            if not d:
                break
            buf += d
        return buf.decode(errors="replace")

    def answered(self, out):
        return out.rstrip().endswith(PROMPT)
