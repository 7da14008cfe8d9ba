#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Two network namespaces joined by a veth pair: the source host
# (10.99.0.1) and the destination host (10.99.0.2).  Sourced by the
# postcopy tests and the demo; busybox only.
#
#   net_up        create both hosts; sets SRC_NS and DST_NS (holder pids)
#   on_src CMD    run CMD on the source host
#   on_dst CMD    run CMD on the destination host
#   link_down / link_up   cut and restore the wire (the destination end)
#   net_down      tear everything down

SRC_IP=10.99.0.1
DST_IP=10.99.0.2

net_up() {
	local before peer d

	unshare -n sleep 100000 &
	SRC_NS=$!
	unshare -n sleep 100000 &
	DST_NS=$!
	sleep 0.2
	# busybox ip cannot name the peer: the kernel calls it vethN.
	before=$(ls /sys/class/net)
	ip link add umsrc type veth || return 1
	peer=""
	for d in $(ls /sys/class/net); do
		case " $before umsrc " in
		*" $d "*) ;;
		*) peer=$d ;;
		esac
	done
	[ -n "$peer" ] || return 1
	ip link set "$peer" name umdst || return 1
	ip link set umsrc netns "$SRC_NS" || return 1
	ip link set umdst netns "$DST_NS" || return 1
	on_src ip addr add $SRC_IP/24 dev umsrc
	on_src ip link set umsrc up
	on_src ip link set lo up
	on_dst ip addr add $DST_IP/24 dev umdst
	on_dst ip link set umdst up
	on_dst ip link set lo up
}

on_src() {
	nsenter -t "$SRC_NS" -n "$@"
}

on_dst() {
	nsenter -t "$DST_NS" -n "$@"
}

link_down() {
	on_dst ip link set umdst down
}

link_up() {
	on_dst ip link set umdst up
}

net_down() {
	# Delete the pair first, synchronously, so veth can be unloaded.
	on_dst ip link del umdst 2>/dev/null
	kill "$SRC_NS" "$DST_NS" 2>/dev/null
	wait "$SRC_NS" "$DST_NS" 2>/dev/null
}
