#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""make bench: every figure measured side by side in one run, printed and
written to doc/BENCHMARKS.md with the machine, kernel and compiler, and a
plot of decision cost against table size. Measures; asserts nothing.

Parts:
  packet    per-packet cost of op25b next to a program that only passes
            (BPF_PROG_TEST_RUN, one packet repeated: the hot-cache floor)
  policy    decision cost at 1 .. 1,000,000 prefixes, 200,000 distinct
            packets, next to the pass-only program on the same packets
  load      loading N prefixes: op25bctl deny -f next to nft -f of the same
            set as an interval set, time and peak memory
  latency   one deny, one test at the largest size, whole command
  yardstick dependent loads over arrays of growing size: what any lookup
            structure pays for memory, by the decision-cost method
  flood     live frames into a veth: floors against op25b XDP and tc,
            nftables, iptables-nft and xdp-filter

Usage: run.py BUILD_DIR [--quick]
"""
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def cpu0_steal_ms():
    """Time the hypervisor took from CPU 0 (the flood's) since boot, in ms
    (/proc/stat's steal, in USER_HZ ticks)."""
    with open("/proc/stat") as f:
        for ln in f:
            if ln.startswith("cpu0 "):
                return int(ln.split()[8]) * 1000 // os.sysconf("SC_CLK_TCK")
    return 0


def timed(cmd, **kw):
    """Wall seconds and peak RSS (KiB) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, **kw)
    t = time.monotonic() - t0
    # ru_maxrss of children is the largest so far: run the big ones last
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return t, max(rss, before) if rss > before else rss


def peak_rss(cmd):
    """Peak RSS of cmd alone, in KiB, via /usr/bin/time."""
    out = subprocess.run(["/usr/bin/time", "-f", "%e %M"] + cmd, check=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True).stderr.strip().splitlines()[-1]
    secs, kib = out.split()
    return float(secs), int(kib)


def machine():
    model = "unknown CPU"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    clang = sh(["clang", "--version"]).splitlines()[0]
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "clang": clang,
        "date": time.strftime("%Y-%m-%d"),
    }


def packet_part(build):
    out = sh([os.path.join(build, "bench")])
    return out.strip().splitlines()


def bench_policy_rows(build, tag, flags, quick, quick_flags):
    """The fields of bench_policy's output lines that start with tag."""
    args = [os.path.join(build, "bench_policy")] + flags
    if quick:
        args += quick_flags
    rows = []
    for line in sh(args).splitlines():
        f = line.split()
        if f[0] == tag:
            rows.append(f)
    return rows


QUICK = ["-n", "20000", "-r", "1"]


def policy_part(build, quick):
    return [{"family": f[1], "n": int(f[2]), "total": float(f[3]),
             "floor": float(f[4]), "cost": float(f[5]), "bytes": int(f[6])}
            for f in bench_policy_rows(build, "policy", [], quick,
                                       QUICK + ["-m", "10000"])]


def yardstick_part(build, quick):
    """Dependent loads over arrays of growing size, the decision-cost method."""
    return [{"bytes": int(f[1]), "depth": int(f[2]), "cost": float(f[5])}
            for f in bench_policy_rows(build, "probe", ["-y"], quick, QUICK)]


def blocked_part(build, quick):
    for f in bench_policy_rows(build, "blocked", ["-b"], quick, QUICK):
        return {"n": int(f[2]), "total": float(f[3]), "floor": float(f[4]),
                "cost": float(f[5])}
    return None


OP25B_10K = "op25b XDP, 10,000 prefixes"
OP25B_1M = "op25b XDP, 1,048,576 prefixes"
OP25B_TC = "op25b tc ingress, 10,000 prefixes"
SWAP = "op25b XDP, 1,048,576 prefixes replaced by another 1,048,576"
NFT = "nftables netdev ingress, interval set"
DECISION_ONLY = "op25b XDP, 10,000 prefixes, stopped after the decision (bench build)"
NO_WALK = "op25b XDP, 10,000 prefixes, no walk: every source a deny (bench build)"
# the flood against the table's size: N denied /24s, sources over all
# their addresses (10,000 is OP25B_10K's row)
SWEEP = (100, 100000, 1000000)


def sweep_who(n):
    return OP25B_10K if n == 10000 else "op25b XDP, {:,} /24s".format(n)


def yard_who(size, depth):
    return "yardstick: %d dependent load%s over %s" % (
        depth, "s" if depth > 1 else "",
        "%d KB" % (size >> 10) if size < 1 << 20 else "%d MB" % (size >> 20))


# the yardstick rows of the flood: (bytes, loads)
YARDS = ((64 << 10, 1), (256 << 10, 1), (1 << 20, 1), (64 << 20, 1),
         (64 << 20, 3))


def flood_part(build, quick):
    """Live frames into a veth: the drop-all floor against op25b XDP and tc
    with 10,000 denied /24s and XDP with 1,000,000 denied /32s, nftables,
    iptables-nft and xdp-filter; one source and sources spread over all
    prefixes, on one CPU and on two (a queue each); non-SMTP traffic
    against a pass-all floor; and the yardstick of what memory alone
    costs a lookup here."""
    ns = "op25b-flood-%d" % os.getpid()
    pin = "/sys/fs/bpf/op25b-flood-%d" % os.getpid()
    secs = "1" if quick else "3"
    rounds = 1 if quick else 3
    flood = os.path.join(build, "flood")
    ctl = os.path.join(build, "op25bctl")
    spread = 2560000            # every address of the 10,000 /24s
    rows = []

    def ctl_run(*args, binary=ctl, pin_dir=pin):
        subprocess.run([binary, "-q", "-n", ns, "--pin-dir", pin_dir] +
                       list(args), check=True)

    def run(sources, cpus, counter, dport=25):
        out = sh([flood, ns, "fa", "fb", str(sources), str(cpus), secs, counter,
                  str(dport)])
        f = out.split()
        return float(f[3]), float(f[4])

    def rx_packets():
        import json
        out = sh(["ip", "-n", ns, "-s", "-j", "link", "show", "fb"])
        return json.loads(out)[0]["stats64"]["rx"]["packets"]

    def add(who, sources, cpus, mpps, traffic="blocked"):
        rows.append({"who": who, "sources": sources, "cpus": cpus,
                     "mpps": mpps, "traffic": traffic})

    def by_counter(who, count, mode="none"):
        """Blocked Mpps as another filter counts its drops (count()), for
        one and spread sources on one and two CPUs."""
        for sources in (1, spread):
            for cpus in (1, 2):
                c0 = count()
                _, t = run(sources, cpus, mode)
                add(who, sources, cpus, (count() - c0) / t / 1e6)

    def swap_under_flood(big):
        """The 1,048,576-prefix policy replaced by another of as many while
        the flood runs on one CPU, and back: the longest interval in which
        the datapath decided nothing, watched from the other CPU, and how
        long each apply took to publish."""
        # both block every source of the flood, with no prefix in common:
        # 1M /31s over 2M addresses from 10.0.0.0, and the 1M /32s the
        # flood comes from (the policy it replaces), so that the datapath's
        # work stays the same and only the structure it walks changes
        confs = []
        for plen in (31, 32):
            k = 33 - plen
            confs.append(conf(["deny subscriber 10.%d.%d.%d/%d" %
                               ((k * i) >> 16, ((k * i) >> 8) & 255,
                                (k * i) & 255, plen)
                               for i in range(big)] +
                              ["attach fb --hook xdp --xdp-mode native"],
                              "swap%d" % plen))

        def stall(swaps, hog=False):
            """The flood watched for 12 s, the confs applied meanwhile on
            the other CPU (the watcher's, not the generator's); hog: a
            process writing 400 MB over and over on that CPU instead."""
            steal0 = cpu0_steal_ms()
            p = subprocess.Popen([flood, ns, "fa", "fb", str(big), "1", "12",
                                  "stall:" + os.path.join(pin, "stats")],
                                 stdout=subprocess.PIPE, text=True)
            time.sleep(2)
            publish = []
            if hog:
                subprocess.run(["taskset", "-c", "1", sys.executable, "-c",
                                "import time\nb = bytearray(400 << 20)\n"
                                "t = time.time()\n"
                                "while time.time() - t < 8:\n"
                                "    b[:] = bytes(len(b))"], check=True)
            for c in swaps:
                t0 = time.monotonic()
                subprocess.run(["taskset", "-c", "1", ctl, "-q", "-n", ns,
                                "--pin-dir", pin, "apply", c], check=True)
                publish.append(time.monotonic() - t0)
                time.sleep(1)
            out = p.communicate()[0].split("\n")
            st = [ln.split() for ln in out if ln.startswith("stall ")][0]
            return publish, int(st[1]), [float(x) for x in st[2:6]] + \
                [cpu0_steal_ms() - steal0]

        # the machine's own: the same watch with nothing changing, then
        # with nothing of op25b's changing but the other CPU busy with
        # memory, as an apply of a million prefixes keeps it
        _, _, base = stall([])
        _, _, hogged = stall([], hog=True)
        publish, samples, sw = stall(confs)
        for c in confs:
            os.unlink(c)
        return {"who": SWAP, "sources": big, "cpus": 1, "mpps": 0,
                "traffic": "judged", "publish": publish, "samples": samples,
                "lo_us": sw[0], "hi_us": sw[1], "fed_lo_us": sw[2],
                "fed_hi_us": sw[3], "base_lo_us": base[0],
                "base_hi_us": base[1], "base_fed_lo_us": base[2],
                "base_fed_hi_us": base[3], "hog_fed_lo_us": hogged[2],
                "hog_fed_hi_us": hogged[3], "steal_ms": sw[4],
                "base_steal_ms": base[4]}

    def conf(lines, name="policy"):
        path = os.path.join(tempfile.gettempdir(),
                            "op25b-flood-%d-%s.conf" % (os.getpid(), name))
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    libxdp_dir = os.path.isdir("/sys/fs/bpf/xdp")
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for cmd in (["link", "set", "lo", "up"],
                    ["link", "add", "fa", "numtxqueues", "2", "numrxqueues", "2",
                     "type", "veth", "peer", "name", "fb", "numtxqueues", "2",
                     "numrxqueues", "2"],
                    ["link", "set", "fa", "up"], ["link", "set", "fb", "up"],
                    # an idle device that keeps the generator in the
                    # kernel's XDP dispatcher (flood.c, "gpark")
                    ["link", "add", "gpark", "type", "veth", "peer", "name",
                     "gpark1"]):
            subprocess.run(["ip", "-n", ns] + cmd, check=True)
        pools = ["deny subscriber 10.%d.%d.0/24" % (i >> 8, i & 255)
                 for i in range(10000)]

        # Rounds, each a floor and op25b side by side, alternated: the
        # table gives each row's median, so that a slow moment of the
        # machine (another guest on the host, a timer) falls on one round
        # of one row, not on a whole ratio.
        xdp_here = ("attach", "fb", "--hook", "xdp", "--xdp-mode", "native", "--force")
        c = conf(pools)
        ctl_run("apply", c)
        for rnd in range(rounds):
            for sources in (1, spread):
                for cpus in (1, 2):
                    add("floor (XDP drop-all)", sources, cpus,
                        run(sources, cpus, "sink")[0])
            # what memory alone costs: dependent loads over arrays of a
            # size, at a hash of the source
            for size, depth in YARDS:
                add(yard_who(size, depth), spread, 1,
                    run(spread, 1, "probe:%d:%d" % (size, depth))[0])
            ctl_run(*xdp_here)
            for sources in (1, spread):
                for cpus in (1, 2):
                    add(OP25B_10K, sources, cpus,
                        run(sources, cpus, os.path.join(pin, "stats"))[0])
            # the same program stopped after its decision (make bench's
            # second build): the difference is what a blocked packet does
            # after it
            ctl_run(*xdp_here, binary=os.path.join(build, "decision-only", "op25bctl"))
            for cpus in (1, 2):
                add(DECISION_ONLY, spread, cpus,
                    run(spread, cpus, os.path.join(pin, "stats"))[0])
            # and the whole program with no walk made (make bench's third
            # build): what a lookup that cost nothing would leave
            ctl_run(*xdp_here, binary=os.path.join(build, "no-walk", "op25bctl"))
            add(NO_WALK, spread, 1, run(spread, 1, os.path.join(pin, "stats"))[0])
            ctl_run(*xdp_here)
            # non-SMTP through op25b, against a program that passes everything
            r0 = rx_packets()
            _, t = run(spread, 1, "xdp", 443)
            add(OP25B_10K, spread, 1, (rx_packets() - r0) / t / 1e6,
                "port 443")
            # the same flood under action limit: one bot quarantined at
            # once; spread sources, each new, fill the limiter and are
            # blocked
            ctl_run("action", "limit", "20/min", "--burst", "10", "--quarantine", "1h")
            for sources in (1, spread):
                add("op25b XDP, 10,000 prefixes, action limit 20/min", sources, 1,
                    run(sources, 1, os.path.join(pin, "stats"))[0])
            ctl_run("action", "drop")
            ctl_run("quarantine", "release", "--all")
            ctl_run("detach", "--all")
            r0 = rx_packets()
            _, t = run(spread, 1, "none", 443)
            add("floor (XDP pass-all)", spread, 1, (rx_packets() - r0) / t / 1e6,
                "port 443")

            # the tc floor: a tc program that counts and drops, behind the
            # XDP pass program the veth needs to take XDP_TX
            for sources in (1, spread):
                add("floor (tc drop-all)", sources, 1, run(sources, 1, "tcsink")[0])
            ctl_run("attach", "fb", "--hook", "tc")
            for sources in (1, spread):
                add(OP25B_TC, sources, 1,
                    run(sources, 1, "pass:" + os.path.join(pin, "stats"))[0])
            ctl_run("detach", "--all")
        os.unlink(c)
        shutil.rmtree(pin, ignore_errors=True)

        # the table's size: each policy in a pin dir of its own, made
        # once, attached in turn in each round beside a floor
        sweep = () if quick else SWEEP
        for n in sweep:
            c = conf(["deny subscriber %d.%d.%d.0/24" %
                      (10 + (i >> 16), (i >> 8) & 255, i & 255)
                      for i in range(n)], "sweep%d" % n)
            cap = ["--capacity", str(n)] if n > 16384 else []
            ctl_run(*cap, "apply", c, pin_dir="%s-%d" % (pin, n))
            os.unlink(c)
        for rnd in range(rounds if sweep else 0):
            add("floor (XDP drop-all)", spread, 1, run(spread, 1, "sink")[0])
            for n in sweep:
                ctl_run(*xdp_here, pin_dir="%s-%d" % (pin, n))
                add(sweep_who(n), 256 * n, 1,
                    run(256 * n, 1, os.path.join("%s-%d" % (pin, n), "stats"))[0])
                ctl_run("detach", "--all", pin_dir="%s-%d" % (pin, n))
        for n in sweep:
            shutil.rmtree("%s-%d" % (pin, n), ignore_errors=True)

        if not quick:
            big = 1 << 20
            c = conf(["deny subscriber 10.%d.%d.%d/32" % (i >> 16, (i >> 8) & 255,
                                                          i & 255)
                      for i in range(big)] +
                     ["attach fb --hook xdp --xdp-mode native"])
            ctl_run("--capacity", str(big), "apply", c)
            for rnd in range(rounds):
                for cpus in (1, 2):
                    add(OP25B_1M, big, cpus,
                        run(big, cpus, os.path.join(pin, "stats"))[0])
            rows.append(swap_under_flood(big))
            ctl_run("detach", "--all")
            shutil.rmtree(pin, ignore_errors=True)
            os.unlink(c)

        # nftables netdev ingress, the same /24s in an interval set
        nft = os.path.join(tempfile.gettempdir(), "op25b-flood-%d.nft" % os.getpid())
        with open(nft, "w") as f:
            f.write("table netdev op25b {\n set pools { type ipv4_addr; flags interval;\n"
                    "  elements = {\n")
            f.write(",\n".join("10.%d.%d.0/24" % (i >> 8, i & 255) for i in range(10000)))
            f.write("\n  }\n }\n chain ingress { type filter hook ingress device fb"
                    " priority 0; ip saddr @pools tcp dport 25 counter drop; }\n}\n")
        subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", nft], check=True)
        os.unlink(nft)

        def nft_count():
            out = sh(["ip", "netns", "exec", ns, "nft", "-j", "list", "chain",
                      "netdev", "op25b", "ingress"])
            import json
            for item in json.loads(out)["nftables"]:
                rule = item.get("rule")
                if rule:
                    for e in rule["expr"]:
                        if "counter" in e:
                            return e["counter"]["packets"]
            return 0

        by_counter(NFT, nft_count)
        subprocess.run(["ip", "netns", "exec", ns, "nft", "delete", "table",
                        "netdev", "op25b"], check=True)
        # iptables-nft: one rule a prefix in raw PREROUTING, as operators write it
        if shutil.which("iptables-restore"):
            rules = ["*raw"] + ["-A PREROUTING -s 10.%d.%d.0/24 -p tcp --dport 25 -j DROP"
                                % (i >> 8, i & 255) for i in range(10000)] + ["COMMIT", ""]
            subprocess.run(["ip", "netns", "exec", ns, "iptables-restore"],
                           input="\n".join(rules), text=True, check=True)

            def ipt_count():
                out = sh(["ip", "netns", "exec", ns, "iptables", "-t", "raw", "-L",
                          "PREROUTING", "-v", "-x", "-n"])
                n = 0
                for line in out.splitlines()[2:]:
                    f = line.split()
                    if f and f[0].isdigit():
                        n += int(f[0])
                return n

            by_counter("iptables-nft, a rule per prefix", ipt_count)
            subprocess.run(["ip", "netns", "exec", ns, "iptables", "-t", "raw",
                            "-F", "PREROUTING"], check=True)
        # xdp-filter: a port filter, no address ranges at all
        if shutil.which("xdp-filter"):
            xf = ["nsenter", "--net=/run/netns/" + ns, "xdp-filter"]

            def xf_drops():
                # status exits 254 on some runs though it prints: read it anyway
                out = subprocess.run(xf + ["status"], capture_output=True,
                                     text=True).stdout
                for line in out.splitlines():
                    f = line.split()
                    if f and f[0] == "XDP_DROP":
                        return int(f[1])
                return 0

            subprocess.run(xf + ["load", "fb", "--mode", "native", "-f", "tcp"],
                           check=True, capture_output=True)
            subprocess.run(xf + ["port", "25", "--mode", "dst", "--proto", "tcp"],
                           check=True, capture_output=True)
            by_counter("xdp-filter, port 25 (no ranges: every source)",
                       xf_drops, "xdp")
            subprocess.run(xf + ["unload", "fb"], capture_output=True)
    finally:
        for d in [pin] + ["%s-%d" % (pin, n) for n in SWEEP]:
            shutil.rmtree(d, ignore_errors=True)
        subprocess.run(["ip", "netns", "del", ns])
        # libxdp leaves its (empty) lock directory behind: ours, if it was not there
        if not libxdp_dir:
            try:
                os.rmdir("/sys/fs/bpf/xdp")
            except OSError:
                pass
    return medians(rows)


def medians(rows):
    """One row per receiver, traffic, sources and CPUs: the median of its
    rounds' rates, the rounds kept beside it."""
    out, seen = [], {}
    for r in rows:
        if r["who"] == SWAP:
            out.append(r)
            continue
        k = (r["who"], r["sources"], r["cpus"], r["traffic"])
        if k in seen:
            seen[k]["runs"].append(r["mpps"])
            continue
        seen[k] = dict(r, runs=[r["mpps"]])
        out.append(seen[k])
    for r in seen.values():
        r["mpps"] = statistics.median(r["runs"])
    return out


def prefixes(n, seed):
    rnd = random.Random(seed)
    seen = set()
    while len(seen) < n:
        seen.add(rnd.getrandbits(32))
    return ["%d.%d.%d.%d" % (a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255)
            for a in seen]


def map_bytes(pin):
    total = 0
    for name in ("policy", "roots", "nodes", "leaves", "rules", "hits",
                 "engine", "index"):
        out = sh(["bpftool", "-j", "map", "show", "pinned",
                  os.path.join(pin, name)])
        import json
        total += json.loads(out).get("bytes_memlock", 0)
    return total


def load_part(build, quick, tmp):
    ctl = os.path.join(build, "op25bctl")
    sizes = [10000, 100000] if quick else [10000, 100000, 1000000]
    rows = []
    ns = "op25b-bench-%d" % os.getpid()
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for n in sizes:
            pfx = prefixes(n, n)
            plist = os.path.join(tmp, "p%d.txt" % n)
            with open(plist, "w") as f:
                f.write("\n".join(pfx) + "\n")
            nftf = os.path.join(tmp, "p%d.nft" % n)
            with open(nftf, "w") as f:
                f.write("flush ruleset\ntable netdev op25b {\n"
                        " set pool { type ipv4_addr; flags interval;\n"
                        "  elements = {\n")
                f.write(",\n".join(pfx))
                f.write("\n  }\n }\n}\n")
            pin = "/sys/fs/bpf/op25b-bench-%d" % os.getpid()
            shutil.rmtree(pin, ignore_errors=True)
            cap = 1
            while cap < n:
                cap *= 2
            op_t, op_kib = peak_rss([ctl, "-q", "--pin-dir", pin,
                                     "--capacity", str(cap), "deny",
                                     "subscriber", "-f", plist])
            mb = map_bytes(pin)
            lat_deny, lat_test = [], []
            for i in range(7):
                t0 = time.monotonic()
                subprocess.run([ctl, "-q", "--pin-dir", pin, "deny",
                                "subscriber", "198.51.100.%d" % i], check=True)
                lat_deny.append(time.monotonic() - t0)
                t0 = time.monotonic()
                subprocess.run([ctl, "-q", "--pin-dir", pin, "test",
                                pfx[i], "203.0.113.1"], stdout=subprocess.DEVNULL)
                lat_test.append(time.monotonic() - t0)
            t0 = time.monotonic()
            subprocess.run([ctl, "-q", "--pin-dir", pin, "--version"],
                           stdout=subprocess.DEVNULL, check=True)
            start = time.monotonic() - t0
            shutil.rmtree(pin, ignore_errors=True)
            nft_t, nft_kib = peak_rss(["ip", "netns", "exec", ns, "nft", "-f", nftf])
            subprocess.run(["ip", "netns", "exec", ns, "nft", "flush", "ruleset"],
                           check=True)
            rows.append({"n": n, "op_s": op_t, "op_kib": op_kib,
                         "map_bytes": mb, "nft_s": nft_t, "nft_kib": nft_kib,
                         "deny_ms": statistics.median(lat_deny) * 1e3,
                         "test_ms": statistics.median(lat_test) * 1e3,
                         "start_ms": start * 1e3})
            os.unlink(plist)
            os.unlink(nftf)
    finally:
        subprocess.run(["ip", "netns", "del", ns])
    return rows


def sweep_ratios(fl):
    """The live flood against the table's size: (prefixes, its row, x
    floor), one CPU, sources over all the denied /24s' addresses."""
    floor = [r["mpps"] for r in fl if r["who"] == "floor (XDP drop-all)"
             and r["sources"] > 1 and r["cpus"] == 1]
    pts = []
    for n in sorted(SWEEP + (10000,)):
        for r in fl:
            if floor and r["who"] == sweep_who(n) and r["cpus"] == 1 and \
                    r["sources"] == 256 * n and r["traffic"] == "blocked":
                pts.append((n, r, r["mpps"] / floor[0]))
    return pts


def plot(rows, fl, png):
    """Two panels: the live flood's rate against the table's size, beside
    the cold-cache decision cost, which alone would make op25b look
    slower than it runs."""
    if not shutil.which("gnuplot"):
        return False
    with tempfile.TemporaryDirectory() as d:
        for fam in ("ipv4", "ipv6"):
            with open(os.path.join(d, fam), "w") as f:
                for r in rows:
                    if r["family"] == fam:
                        f.write("%d %.1f\n" % (r["n"], r["cost"]))
        with open(os.path.join(d, "flood"), "w") as f:
            for n, _, x in sweep_ratios(fl or []):
                f.write("%d %.3f\n" % (n, x))
        script = """
set terminal pngcairo size 1100,480 noenhanced
set output '%s'
set multiplot layout 1,2
set logscale x
set grid
set xlabel 'prefixes in each table'
set xrange [0.8:2e6]
set title 'A live flood of SYNs to 25, one CPU'
set ylabel 'rate, x the drop-all floor'
set yrange [0:1.1]
set key left bottom
plot '%s/flood' with linespoints title 'op25b XDP, N denied /24s', 1 with lines dashtype 2 title 'floor'
set title 'Decision cost, 200,000 distinct packets, cold cache'
set ylabel 'ns per packet over the floor'
set yrange [0:*]
set key left top
plot '%s/ipv4' with linespoints title 'IPv4', '%s/ipv6' with linespoints title 'IPv6'
unset multiplot
""" % (png, d, d, d)
        try:
            subprocess.run(["gnuplot"], input=script, text=True, check=True,
                           capture_output=True)
        except subprocess.CalledProcessError:
            script = script.replace("pngcairo", "png")
            subprocess.run(["gnuplot"], input=script, text=True, check=True,
                           capture_output=True)
    return True


def ns_or_noise(ns):
    """A difference of two medians in ns; below zero, the rounds' noise."""
    return "%.1f ns" % ns if ns >= 0 else \
        "nothing measurable (%.1f ns: the rows' rounds overlap)" % ns


def report(m, pkt, pol, yard, blk, fl, load, png_ok, quick):
    out = []
    w = out.append
    w("# op25b benchmarks")
    w("")
    w("Written by `make bench` (tests/bench/run.py); every figure below comes")
    w("from one run, measured side by side. Nothing here is asserted by a test.")
    w("")
    w("- machine: %s, %d CPUs" % (m["cpu"], m["cpus"]))
    w("- kernel: %s" % m["kernel"])
    w("- compiler: %s" % m["clang"])
    w("- date: %s%s" % (m["date"], " (quick run)" if quick else ""))
    w("")
    w("## Per packet, one packet repeated (hot caches)")
    w("")
    w("```")
    w("\n".join(pkt))
    w("```")
    w("")
    w("## Decision cost against table size")
    w("")
    w("N deny prefixes in `subscriber` and N allow prefixes in `relay`; 200,000")
    w("distinct SYNs to port 25, each from inside a random subscriber prefix to")
    w("inside a random relay prefix, so both trees are walked to the prefixes'")
    w("depth. One BPF_PROG_TEST_RUN per packet (XDP); the pass-only program")
    w("runs on the same packets; decision cost = op25b minus floor, median of")
    w("the rounds. IPv4 prefixes are host routes spread over the whole space;")
    w("IPv6 prefixes are /56 delegations under four /32s. Map memory is what")
    w("the kernel charges for the policy maps at a capacity of N.")
    w("")
    w("| family | prefixes | op25b ns | floor ns | decision ns | x cost at 100 | map memory |")
    w("|---|---:|---:|---:|---:|---:|---:|")
    base = {r["family"]: r["cost"] for r in pol if r["n"] == 100}
    for r in pol:
        ratio = r["cost"] / base[r["family"]] if r["family"] in base else float("nan")
        w("| %s | %d | %.1f | %.1f | %.1f | %.2f | %.1f MB |" %
          (r["family"], r["n"], r["total"], r["floor"], r["cost"], ratio,
           r["bytes"] / 1e6))
    w("")
    big = [r for r in pol if r["n"] == 1000000]
    # the target: within 1.3x of the best possible, one load over
    # the structure's size (the yardstick's one-load row of the smallest
    # array at least that large; its largest where none is) plus the cost
    # at 100 prefixes
    one_load = sorted((y["bytes"], y["cost"]) for y in yard
                      if y["depth"] == 1) if yard else []
    for r in big:
        if not one_load or r["family"] not in base:
            continue
        fits = [(b, c) for b, c in one_load if b >= r["bytes"]]
        b, c = fits[0] if fits else one_load[-1]
        best = base[r["family"]] + c
        ratio = r["cost"] / best
        w("Target (decision cost at 1,000,000 within 1.3x of the best possible: "
          "one load over %d MB, the yardstick's row%s, %.0f ns, plus the cost "
          "at 100, %.0f ns), %s: %.0f ns against %.0f, %.2fx, %s." %
          (b >> 20, "" if fits else " of its largest array (the structure is "
           "larger: the bound is low)", c, base[r["family"]], r["family"],
           r["cost"], best, ratio, "met" if ratio <= 1.3 else "**missed**"))
    if big:
        w("")
        w("Where it is missed, why: the walk's instruction count does not grow")
        w("with the table, but its memory does. At 100 prefixes every node a")
        w("packet reads is in L1; at a million, with 200,000 distinct sources,")
        w("each level is a cache miss and, on 4 KiB pages, a TLB miss (a")
        w("two-dimensional page walk in a VM; BPF array maps cannot be backed by")
        w("huge pages). The yardstick below bounds what any structure can do on")
        w("this machine with this method.")
        w("")
    if yard:
        w("### The yardstick: what memory alone costs, whatever the structure")
        w("")
        w("A program that does D dependent loads from an array of a given size,")
        w("the first at a hash of the packet's source, each next at the index the")
        w("last one found, and nothing else: a lookup of depth D over that much")
        w("memory. Same method as above (200,000 packets from distinct random")
        w("sources, one run each, minus the floor).")
        w("")
        w("| array | loads | ns over the floor |")
        w("|---:|---:|---:|")
        for r in yard:
            size = r["bytes"]
            txt = "%d KB" % (size // 1024) if size < 1 << 20 else "%d MB" % (size >> 20)
            w("| %s | %d | %.1f |" % (txt, r["depth"], r["cost"]))
        w("")
        one = [r for r in yard if r["depth"] == 1 and r["bytes"] >= 1 << 20]
        small = [r for r in pol if r["n"] == 100 and r["family"] == "ipv4"]
        if one and small:
            least = min(r["cost"] for r in one)
            w("Any exact table of a million IPv4 host routes holds at least 1.7 MB:")
            w("the information in choosing 2^20 addresses out of 2^32, log2 C(2^32, 2^20)")
            w("bits. A lookup in it makes at least one load over more than 1 MB, and")
            w("that costs here at least %.0f ns (the 1 MB row). op25b's whole IPv4 decision at 100" % least)
            w("prefixes costs %.0f ns, so the best any structure can do at a million" %
              small[0]["cost"])
            w("is about %.1fx that, one miss and nothing else. In a live flood" %
              ((small[0]["cost"] + least) / small[0]["cost"]))
            w("(below) misses cost less than here, but they do not vanish: the")
            w("flood's own yardstick rows show it.")
            w("")
    if png_ok and not sweep_ratios(fl or []):
        w("![decision cost against table size](benchmarks-policy.png)")
        w("")
    elif png_ok:
        w("Plotted beside the live flood's rate against the table's size, below.")
        w("")
    if blk:
        w("## The blocked path, sources spread")
        w("")
        w("%d denied IPv4 prefixes, no relay; the same 200,000-packet method, every" % blk["n"])
        w("packet from a source inside a random one of them, so every packet is")
        w("blocked and recorded (counters, rule hit, this CPU's offenders slot, the")
        w("event budget): %.1f ns a packet against the floor's %.1f, %.1f ns of" %
          (blk["total"], blk["floor"], blk["cost"]))
        w("decision and recording. One CPU: what sharing between CPUs costs shows")
        w("in the flood below, on two.")
        w("")
    if fl:
        w("## A flood of SYNs to 25, live frames into a veth")
        w("")
        w("A generator program sends SYNs with BPF_F_TEST_XDP_LIVE_FRAMES out of one")
        w("end of a veth (two queues) with XDP_TX; the other end runs the program")
        w("under test; its own counter gives the rate. Sources: one, or spread")
        w("over every address of the denied prefixes (2,560,000 over the 10,000")
        w("/24s; 1,048,576 over the million /32s), in a scattered order: each")
        w("source a fixed step on from the last, near 0.618 of their count and")
        w("coprime with it, so that consecutive frames come from distant")
        w("prefixes, as a flood from many hosts does (a sweep through the")
        w("addresses in order would bring 256 frames in a row from one /24 and")
        w("keep its path in cache). op25b on tc, nftables in")
        w("netdev ingress and iptables-nft (a rule a prefix in raw PREROUTING)")
        w("run behind an XDP program that passes every frame: the veth takes")
        w("XDP_TX only with one. xdp-filter (Debian's xdp-tools) filters port 25")
        w("from every source: it cannot express address ranges, so it is not doing")
        w("op25b's job, only the cheapest part of it. Port 443 rows: frames that")
        w("pass into the stack, counted by the device, against a pass-all")
        w("program. Under action limit 20/min --burst 10 --quarantine 1h: one")
        w("source is quarantined after its burst; spread sources are each new, fill")
        w("the limiter (16,384 entries at this capacity) and are blocked as")
        w("limit_full. The yardstick rows are a program that makes only D")
        w("dependent loads over an array of a size, the first at a hash of the")
        w("source, then drops: what memory alone costs any lookup structure")
        w("here, whatever its design.")
        w("The 10,000-prefix rows and their floors are measured in rounds, one")
        w("after the other in each round; a row's rate is the median of its")
        w("rounds (listed beside it), and its ratio that median over its floor's.")
        w("")
        w("| receiver | traffic | sources | CPUs | Mpps | x floor | rounds |")
        w("|---|---|---:|---:|---:|---:|---|")

        def floor_of(r):
            kind = "pass" if r["traffic"] != "blocked" else "drop"
            hook = "(tc" if "tc " in r["who"] else "(XDP"
            for f in fl:
                if f["who"].startswith("floor") and kind in f["who"] and \
                        hook in f["who"] and \
                        f["cpus"] == r["cpus"] and \
                        (f["sources"] > 1) == (r["sources"] > 1):
                    return f["mpps"]
            return float("nan")
        for r in fl:
            if r["who"] == SWAP:
                continue
            w("| %s | %s | %d | %d | %.2f | %.2f | %s |" %
              (r["who"], r["traffic"], r["sources"], r["cpus"], r["mpps"],
               r["mpps"] / floor_of(r),
               " ".join("%.2f" % m for m in r.get("runs", []))))
        w("")

        def pick(who, sources_gt1, cpus, traffic="blocked"):
            for r in fl:
                if r["who"] == who and (r["sources"] > 1) == sources_gt1 \
                        and r["cpus"] == cpus and r["traffic"] == traffic:
                    return r
            return None
        w("Targets (issue: line rate under a flood), from this run:")
        w("")
        for cpus in (1, 2):
            o = pick(OP25B_10K, True, cpus)
            n = pick(NFT, True, cpus)
            if o:
                x = o["mpps"] / floor_of(o)
                w("- 10,000 prefixes, spread, %d CPU%s: %.2fx the floor (0.90x wanted: %s), "
                  "%.1fx nftables (5x wanted: %s)." %
                  (cpus, "s" if cpus > 1 else "", x, "met" if x >= 0.9 else "**missed**",
                   o["mpps"] / n["mpps"] if n else 0,
                   "met" if n and o["mpps"] >= 5 * n["mpps"] else "**missed**"))
            o = pick(OP25B_1M, True, cpus)
            if o:
                x = o["mpps"] / floor_of(o)
                w("- 1,048,576 prefixes, spread, %d CPU%s: %.2fx the floor (0.80x wanted: %s)." %
                  (cpus, "s" if cpus > 1 else "", x, "met" if x >= 0.8 else "**missed**"))
        o = [r for r in fl if r["who"] == sweep_who(1000000) and r["cpus"] == 1]
        if o:
            x = o[0]["mpps"] / floor_of(o[0])
            w("- 1,000,000 /24s, sources over all 256,000,000 of their addresses, 1 CPU: "
              "%.2fx the floor (0.80x wanted: %s)." % (x, "met" if x >= 0.8 else "**missed**"))
        o = pick(SWAP, True, 1, "judged")
        if o:
            w("- a 1,048,576-prefix policy replaced by another, and back, under the "
              "flood: the longest interval in which the generator went on "
              "sending (over %d frames, more than the veth's ring holds) and "
              "the datapath decided none was %.0f-%.0f us (%d samples, every "
              "20 us from the other CPU; no interval over 1 ms wanted: %s), "
              "against %.0f-%.0f us in the same watch with nothing changing, "
              "and %.0f-%.0f us with nothing of op25b's changing but a "
              "process on the other CPU writing 400 MB over and over. "
              "The longest with no decision at all, the generator's own "
              "pauses included, was %.0f-%.0f us (%.0f-%.0f us with nothing "
              "changing); the hypervisor took %d ms from the flood's CPU "
              "during the watch (%d ms with nothing changing: /proc/stat's "
              "steal), and while it does, nothing runs there, generator or "
              "datapath. Each apply published in %s s, the old trees freed "
              "by op25bctl afterwards, never on the packet path." %
              (512, o["fed_lo_us"], o["fed_hi_us"], o["samples"],
               "met" if o["fed_lo_us"] <= 1000 else "**missed**",
               o["base_fed_lo_us"], o["base_fed_hi_us"],
               o["hog_fed_lo_us"], o["hog_fed_hi_us"],
               o["lo_us"], o["hi_us"], o["base_lo_us"], o["base_hi_us"],
               o.get("steal_ms", 0), o.get("base_steal_ms", 0),
               " and ".join("%.2f" % t for t in o["publish"])))
        o = pick(OP25B_TC, True, 1)
        if o:
            x = o["mpps"] / floor_of(o)
            w("- tc ingress, 10,000 prefixes, spread: %.2fx the tc floor, a tc "
              "program that drops everything (0.85x wanted: %s)." %
              (x, "met" if x >= 0.85 else "**missed**"))
        o = pick(OP25B_10K, True, 1, "port 443")
        if o:
            x = o["mpps"] / floor_of(o)
            w("- non-SMTP: %.2fx the pass-all floor (0.98x wanted: %s)." %
              (x, "met" if x >= 0.98 else "**missed**"))
        w("")
        full, cut = pick(OP25B_10K, True, 1), pick(DECISION_ONLY, True, 1)
        bare = pick(NO_WALK, True, 1)
        if full and cut and bare:
            frame = 1000 / floor_of(full)
            decision = 1000 / cut["mpps"] - frame
            after = 1000 / full["mpps"] - 1000 / cut["mpps"]
            walk = 1000 / full["mpps"] - 1000 / bare["mpps"]
            w("Where the time goes, 10,000 prefixes, spread sources, one CPU: the")
            w("floor's frame takes %.1f ns, op25b's %.1f. The same program stopped" %
              (frame, 1000 / full["mpps"]))
            w("after its decision (parse, the snapshot, the subscriber and relay")
            w("walks) adds %.1f ns to the floor's; what a blocked packet does after" % decision)
            w("its decision (per-CPU counters, its rule's hit, the window and its")
            w("sampling, the event budget: this CPU's memory only) adds %s." %
              ns_or_noise(after))
            w("The whole program with no walk at all (every source taken for a")
            w("deny: what a lookup that cost nothing would leave) runs at %.2fx" %
              (bare["mpps"] / floor_of(bare)))
            w("the floor: the walks cost %s a frame, and the parse, the" % ns_or_noise(walk))
            w("snapshot, the call that decides and the recording the rest. A target")
            w("of 0.90x leaves %.1f ns a frame for all of it, walk included." % (frame / 9))
            full2, cut2 = pick(OP25B_10K, True, 2), pick(DECISION_ONLY, True, 2)
            if full2 and cut2:
                after2 = 2000 / full2["mpps"] - 2000 / cut2["mpps"]
                w("On two CPUs, each CPU's frame takes %s after the decision:" %
                  ns_or_noise(after2))
                w("what the blocked path writes is each CPU's own (a cache line two")
                w("CPUs wrote would show here as tens of nanoseconds more).")
            ys = {(r["who"]): r for r in fl if r["who"].startswith("yardstick")}
            y = [ys.get(yard_who(*k)) for k in YARDS]
            if all(y):
                w("")
                w("Memory, as the yardstick rows show it: each frame of a flood comes")
                w("from another source, and a load at a random place in a table")
                w("misses the caches and, on 4 KiB pages, the TLB (a two-dimensional")
                w("page walk in a VM; BPF array maps cannot be backed by huge pages),")
                w("beside the frames' own memory. One load over 64 KB leaves the flood")
                w("at %.2fx the floor; over 256 KB, %.2fx; over 1 MB, %.2fx; over" %
                  tuple(r["mpps"] / floor_of(r) for r in y[:3]))
                w("64 MB, %.2fx, and three dependent ones there, %.2fx. A blocked" %
                  tuple(r["mpps"] / floor_of(r) for r in y[3:]))
                w("packet makes such loads: a node and its leaf element a level of")
                w("the walk, and its rule's hit counter. From 10,000 /24s, under")
                w("upper levels every packet shares, that is a node of 24 bytes and")
                w("a leaf element of 64 among 1,250 of each and a counter of 8 bytes")
                w("among 10,000: about 190 KB at random, the 256 KB row's kind. From")
                w("a million, a root entry, a node and a leaf element in tens of MB:")
                w("three dependent misses, the last row's. A lookup of fewer levels")
                w("saves its levels' misses, but no structure that names a million")
                w("prefixes' rules (20 bits each, at the least) fits in 1 MB, and one")
                w("random load over 1 MB already costs more than the 0.80x target")
                w("allows.")
            w("")
        pts = sweep_ratios(fl)
        if pts:
            w("### Against the table's size")
            w("")
            w("N denied /24s, one CPU, sources over all N x 256 of their addresses")
            w("in the scattered order, each size in rounds beside a floor (a")
            w("capacity of N above the default 16,384). Beside each, the decision")
            w("cost by the cold-cache method above at the same N (IPv4 host routes):")
            w("the flood's rate is what a router sees, the cold cost what one")
            w("packet alone pays.")
            w("")
            w("| prefixes | sources | Mpps | x floor | rounds | cold decision cost, ns |")
            w("|---:|---:|---:|---:|---|---:|")
            for n, r, x in pts:
                c = [p["cost"] for p in pol if p["n"] == n and p["family"] == "ipv4"]
                w("| {:,} | {:,} | {:.2f} | {:.2f} | {} | {} |".format(
                    n, 256 * n, r["mpps"], x,
                    " ".join("%.2f" % m for m in r.get("runs", [])),
                    "%.0f" % c[0] if c else "-"))
            w("")
            if png_ok:
                w("![the flood and the decision cost against table size](benchmarks-policy.png)")
                w("")
    w("## Loading a prefix list")
    w("")
    w("The same N random IPv4 addresses: `op25bctl --capacity C deny subscriber")
    w("-f FILE` on fresh maps, next to `nft -f` of a netdev table with one")
    w("interval set holding them (in a network namespace of its own). Peak")
    w("memory is the process's RSS; map memory is what the kernel charges for")
    w("op25b's policy maps. deny and test are single commands at that size,")
    w("whole process, median of 7; starting op25bctl alone takes the last column.")
    w("")
    w("| prefixes | op25bctl s | nft -f s | nft / op25b | op25bctl RSS | nft RSS | op25b maps | deny ms | test ms | start ms |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in load:
        w("| %d | %.2f | %.2f | %.1fx | %.0f MB | %.0f MB | %.0f MB | %.1f | %.1f | %.1f |" %
          (r["n"], r["op_s"], r["nft_s"], r["nft_s"] / r["op_s"],
           r["op_kib"] / 1024, r["nft_kib"] / 1024, r["map_bytes"] / 1e6,
           r["deny_ms"], r["test_ms"], r["start_ms"]))
    w("")
    return "\n".join(out)


def main():
    build = sys.argv[1]
    quick = "--quick" in sys.argv
    m = machine()
    print("bench: packet costs ...", file=sys.stderr)
    pkt = packet_part(build)
    print("bench: decision cost against table size ...", file=sys.stderr)
    pol = policy_part(build, quick)
    yard = yardstick_part(build, quick)
    blk = blocked_part(build, quick)
    print("bench: flood ...", file=sys.stderr)
    fl = flood_part(build, quick)
    print("bench: load times against nft ...", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        load = load_part(build, quick, tmp)
    png = os.path.join(TOP, "doc", "benchmarks-policy.png")
    png_ok = plot(pol, fl, png)
    text = report(m, pkt, pol, yard, blk, fl, load, png_ok, quick)
    with open(os.path.join(TOP, "doc", "BENCHMARKS.md"), "w") as f:
        f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
