#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# runner: a guest whose heartbeat stops for 16 s while its tests go on.
# `make check-runner` boots with it and passes only if the host kicks the
# guest once (KICK) and sees the heartbeat come back, in a run that
# passes.  The heartbeat is init's (selftests/runner/init).
echo "TAP version 13"
echo "1..1"
pid=$(cat /tmp/heartbeat.pid) || { echo "not ok 1 runner__heartbeat_stops # no /tmp/heartbeat.pid"; exit 1; }
kill -STOP "$pid"
sleep 16
kill -CONT "$pid"
echo "ok 1 runner__heartbeat_stops"
