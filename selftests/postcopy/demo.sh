#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The main job, run inside the test VM: a postcopy migration of a
# DEMO_MIB MiB image from a source host to a running VMM on the
# destination host, two network namespaces joined by a veth pair.
# The VMM's vCPUs run from the first instant; umemd fetches each page
# they fault on and streams the rest; at the end the VMM checks every
# page.  TAP on stdout; the run fails unless every page verified.

T=$(dirname "$0")
. "$T/netns.sh"
# The setting (make demo-sim passes it: run-vm.sh --env).
MIB=${DEMO_MIB:?}
IMAGE=pattern:${MIB}M:42
# $RUN: the run's files.
RUN=${RUN:-/tmp/demo-sim}
CREDS=$RUN/tls
mkdir -p "$CREDS"

echo "TAP version 13"
echo "1..1"
if ! net_up > "$RUN/net.log" 2>&1; then
	sed 's/^/# /' "$RUN/net.log"
	echo "not ok 1 demo.postcopy # cannot set up the network namespaces"
	exit 1
fi
echo "# demo: source host $SRC_IP, destination host $DST_IP (veth)"
echo "# demo: migrating a $MIB MiB image into a running VMM, 4 vCPUs"
# TLS with the tests' credentials (mkcreds.sh), kernel TLS where it loads.
tar xf "$T/creds.tar" -C "$CREDS"
on_src "$T/umemctl" source --image $IMAGE --listen $SRC_IP:4444 --once \
	--tls-creds "$CREDS/good" --verbose \
	> "$RUN/source.log" 2>&1 &
src=$!
sleep 0.3
on_dst "$T/umemctl" vmm --image $IMAGE --source $SRC_IP:4444 \
	--vcpus 4 --ops 50000 --umemd "$T/umemd" --tls-creds "$CREDS/good" \
	--umemd-arg --progress=line 2>&1
rc=$?
wait $src
sed 's/^/# /' "$RUN/source.log"
net_down
if [ $rc = 0 ]; then
	echo "ok 1 demo.postcopy"
else
	echo "not ok 1 demo.postcopy # umemctl vmm exit status $rc"
	exit 1
fi
