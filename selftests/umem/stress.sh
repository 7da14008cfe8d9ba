#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# `make stress`, inside the test VM: the stress selftest binary with the
# long settings (the runner's init runs every test without arguments, so
# the Makefile fills these in with sed).  stress__mixed cycles every mode
# until @STRESS_FAULTS@ faults were served, for at most @STRESS_SECONDS@ s.
export STRESS_SECONDS=@STRESS_SECONDS@
export STRESS_FAULTS=@STRESS_FAULTS@
export STRESS_PAGES=@STRESS_PAGES@
export STRESS_LOCKERS=@STRESS_LOCKERS@
exec "$(dirname "$0")/stress"
