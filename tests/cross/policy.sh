#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The policy commands whose output must be the same text on every CPU:
# run by tests/cross/run.sh on the host (the reference) and in each guest,
# compared block by block on the host. A byte-order slip in how op25bctl
# writes the trees, ports or counters, or reads them back, changes some
# block. Runs under busybox sh. Usage: policy.sh OP25BCTL PIN_DIR
ctl=$1
pin=$2

# run CMD...: one block: a header, stdout, stderr, exit code. What differs
# between the runs and is no byte order's doing is left out: the pin dir's
# path, and what status says of the kernel (the memory it charges for the
# maps, whether it takes libxdp's dispatcher).
run() {
	echo "### op25bctl $*"
	"$ctl" --pin-dir "$pin" "$@" >/tmp/policy.out 2>/tmp/policy.err
	echo "exit $?"
	sed -e "s|$pin|PIN|g" -e 's/"memory":{[^}]*{[^}]*}},//' \
		-e 's/"xdp_dispatcher":{[^}]*},//' /tmp/policy.out
	echo
	sed "s|$pin|PIN|g" /tmp/policy.err
}

run deny subscriber 192.0.2.0/24 10.0.0.0/8 2001:db8:25::/48 2001:db8::/32
run allow subscriber 192.0.2.7/32 10.1.2.0/23 2001:db8:25:7::/64
run allow relay 198.51.100.25/32 2001:db8:100::25/128 203.0.113.0/24
run deny relay 203.0.113.128/25
run port add 2525 65535 1
run port del 1
run -j port list
run test 192.0.2.1 203.0.113.9 25
run test 192.0.2.7 203.0.113.9 25
run test 10.1.3.255 198.51.100.25 2525
run test 10.1.4.0 203.0.113.200 65535
run test 10.1.4.0 203.0.113.100 25
run test 192.0.2.1 198.51.100.9 25
run test 192.0.2.1 203.0.113.9 587
run test 172.16.0.1 203.0.113.9 25
run test 2001:db8:25::1 2001:db8:1::1 2525
run test 2001:db8:25:7::ffff 2001:db8:1::1 25
run test 2001:db8:ffff::1 2001:db8:100::25 25
run test 2001:db9::1 2001:db8:1::1 25
run list
run -j list subscriber
run -j list relay
run del subscriber 10.1.2.0/23
run test 10.1.3.255 198.51.100.24 25
run action reject
run save
run -j status
run stats --prometheus
