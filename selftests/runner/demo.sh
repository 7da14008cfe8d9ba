#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The main job, run inside the test VM: for now a smoke run of the module
# through umemctl.  The postcopy demo replaces it (see the README).
echo "TAP version 13"
echo "1..1"
if /tests/umemctl info > /tmp/info 2>&1; then
	sed 's/^/# /' /tmp/info
	echo "ok 1 demo.umemctl_info"
else
	sed 's/^/# /' /tmp/info
	echo "not ok 1 demo.umemctl_info"
	exit 1
fi
