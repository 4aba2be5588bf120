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
  flood     live frames into a veth: the floor against op25b XDP

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


def policy_part(build, quick):
    args = [os.path.join(build, "bench_policy")]
    if quick:
        args += ["-n", "20000", "-r", "1", "-m", "10000"]
    rows = []
    for line in sh(args).splitlines():
        f = line.split()
        if f[0] != "policy":
            continue
        rows.append({"family": f[1], "n": int(f[2]), "total": float(f[3]),
                     "floor": float(f[4]), "cost": float(f[5]),
                     "bytes": int(f[6])})
    return rows


def blocked_part(build, quick):
    args = [os.path.join(build, "bench_policy"), "-b"]
    if quick:
        args += ["-n", "20000", "-r", "1"]
    for line in sh(args).splitlines():
        f = line.split()
        if f[0] == "blocked":
            return {"n": int(f[2]), "total": float(f[3]), "floor": float(f[4]),
                    "cost": float(f[5])}
    return None


def flood_part(build, quick):
    """Live frames into a veth: the drop-all floor against op25b XDP with
    10,000 denied /24s, one source and sources spread over all of them,
    on one CPU and on two (a queue each)."""
    ns = "op25b-flood-%d" % os.getpid()
    pin = "/sys/fs/bpf/op25b-flood-%d" % os.getpid()
    secs = "1" if quick else "3"
    flood = os.path.join(build, "flood")
    ctl = os.path.join(build, "op25bctl")
    rows = []
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for cmd in (["link", "set", "lo", "up"],
                    ["link", "add", "fa", "numtxqueues", "2", "numrxqueues", "2",
                     "type", "veth", "peer", "name", "fb", "numtxqueues", "2",
                     "numrxqueues", "2"],
                    ["link", "set", "fa", "up"], ["link", "set", "fb", "up"]):
            subprocess.run(["ip", "-n", ns] + cmd, check=True)
        conf = os.path.join(tempfile.gettempdir(), "op25b-flood-%d.conf" % os.getpid())
        with open(conf, "w") as f:
            for i in range(10000):
                f.write("deny subscriber 10.%d.%d.0/24\n" % (i >> 8, i & 255))
            f.write("attach fb --hook xdp --xdp-mode native\n")

        def run(sources, cpus, counter):
            out = sh([flood, ns, "fa", "fb", str(sources), str(cpus), secs, counter])
            return float(out.split()[3])

        for sources in (1, 2560000):
            for cpus in (1, 2):
                rows.append({"who": "floor (XDP drop-all)", "sources": sources,
                             "cpus": cpus, "mpps": run(sources, cpus, "sink")})
        subprocess.run([ctl, "-q", "-n", ns, "--pin-dir", pin, "apply", conf],
                       check=True)
        for sources in (1, 2560000):
            for cpus in (1, 2):
                rows.append({"who": "op25b XDP, 10,000 prefixes", "sources": sources,
                             "cpus": cpus,
                             "mpps": run(sources, cpus, os.path.join(pin, "stats"))})
        subprocess.run([ctl, "-q", "-n", ns, "--pin-dir", pin, "detach", "--all"])
        os.unlink(conf)
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

        for sources in (1, 2560000):
            for cpus in (1, 2):
                c0 = nft_count()
                out = sh([flood, ns, "fa", "fb", str(sources), str(cpus), secs, "none"])
                rows.append({"who": "nftables netdev ingress, interval set",
                             "sources": sources, "cpus": cpus,
                             "mpps": (nft_count() - c0) / float(out.split()[4]) / 1e6})
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

            for sources in (1, 2560000):
                for cpus in (1, 2):
                    c0 = ipt_count()
                    out = sh([flood, ns, "fa", "fb", str(sources), str(cpus), secs,
                              "none"])
                    rows.append({"who": "iptables-nft, a rule per prefix",
                                 "sources": sources, "cpus": cpus,
                                 "mpps": (ipt_count() - c0) / float(out.split()[4]) / 1e6})
    finally:
        shutil.rmtree(pin, ignore_errors=True)
        subprocess.run(["ip", "netns", "del", ns])
    return rows


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


def plot(rows, png):
    if not shutil.which("gnuplot"):
        return False
    with tempfile.TemporaryDirectory() as d:
        for fam in ("ipv4", "ipv6"):
            with open(os.path.join(d, fam), "w") as f:
                for r in rows:
                    if r["family"] == fam:
                        f.write("%d %.1f\n" % (r["n"], r["cost"]))
        script = """
set terminal pngcairo size 800,480 noenhanced
set output '%s'
set logscale x
set xlabel 'prefixes in each table'
set ylabel 'decision cost, ns per packet'
set title 'op25b: decision cost against table size (200,000 distinct packets)'
set grid
set key left top
plot '%s/ipv4' with linespoints title 'IPv4', '%s/ipv6' with linespoints title 'IPv6'
""" % (png, d, d)
        try:
            subprocess.run(["gnuplot"], input=script, text=True, check=True,
                           capture_output=True)
        except subprocess.CalledProcessError:
            script = script.replace("pngcairo", "png")
            subprocess.run(["gnuplot"], input=script, text=True, check=True,
                           capture_output=True)
    return True


def report(m, pkt, pol, blk, fl, load, png_ok, quick):
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
    for r in big:
        ratio = r["cost"] / base[r["family"]]
        w("Target (decision cost at 1,000,000 at most 1.5x its cost at 100), %s: "
          "%.2fx, %s." % (r["family"], ratio, "met" if ratio <= 1.5 else "**missed**"))
    if big:
        w("")
        w("Where it is missed, why: the walk's instruction count does not grow")
        w("with the table, but its memory does. At 100 prefixes every node a")
        w("packet reads is in L1; at a million, with 200,000 distinct sources,")
        w("each level (root entry, up to three IPv4 nodes, their leaves, in both")
        w("tables, and the rule's hit counter) is a cache miss and, on 4 KiB")
        w("pages, a TLB miss (a two-dimensional page walk in a VM). BPF array")
        w("maps cannot be backed by huge pages. What would close most of it:")
        w("laying each /16's subtree (nodes and leaves) out contiguously so a")
        w("walk touches two pages instead of six, and walking the subscriber and")
        w("relay trees in step so their misses overlap.")
        w("")
    if png_ok:
        w("![decision cost against table size](benchmarks-policy.png)")
        w("")
    if blk:
        w("## The blocked path, sources spread")
        w("")
        w("%d denied IPv4 prefixes, no relay; the same 200,000-packet method, every" % blk["n"])
        w("packet from a source inside a random one of them, so every packet is")
        w("blocked and recorded (counters, rule hit, this CPU's offenders slot, the")
        w("event budget): %.1f ns a packet against the floor's %.1f, %.1f ns of" %
          (blk["total"], blk["floor"], blk["cost"]))
        w("decision and recording. One CPU: what sharing between CPUs costs does")
        w("not show here (the live-frames benchmark against the peers is to come).")
        w("")
    if fl:
        w("## A flood of SYNs to 25, live frames into a veth")
        w("")
        w("A generator program sends SYNs with BPF_F_TEST_XDP_LIVE_FRAMES out of one")
        w("end of a veth (two queues) with XDP_TX; the other end runs the program")
        w("under test; its own counter gives the rate. Sources: one, or 2,560,000")
        w("spread over all 10,000 denied /24s. nftables runs in netdev ingress")
        w("behind an XDP program that passes every frame (the veth needs one to")
        w("take XDP_TX); iptables-nft has one rule a prefix in raw PREROUTING,")
        w("behind the same. Not here: xdp-filter (Debian's 1.3.1; it cannot")
        w("express ranges in any case, only ports and single addresses).")
        w("")
        w("| receiver | sources | CPUs | Mpps | x floor |")
        w("|---|---:|---:|---:|---:|")
        floor = {(r["sources"], r["cpus"]): r["mpps"] for r in fl
                 if r["who"].startswith("floor")}
        for r in fl:
            w("| %s | %d | %d | %.2f | %.2f |" %
              (r["who"], r["sources"], r["cpus"], r["mpps"],
               r["mpps"] / floor[(r["sources"], r["cpus"])]))
        w("")
        nf = {(r["sources"], r["cpus"]): r["mpps"] for r in fl
              if r["who"].startswith("nftables")}
        for r in fl:
            if r["who"].startswith("op25b") and r["sources"] > 1:
                key = (r["sources"], r["cpus"])
                w("Targets, spread sources, %d CPU%s: %.2fx the floor (0.90x wanted), "
                  "%.1fx nftables (5x wanted)." %
                  (r["cpus"], "s" if r["cpus"] > 1 else "",
                   r["mpps"] / floor[key], r["mpps"] / nf[key] if nf.get(key) else 0))
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
    blk = blocked_part(build, quick)
    print("bench: flood ...", file=sys.stderr)
    fl = flood_part(build, quick)
    print("bench: load times against nft ...", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        load = load_part(build, quick, tmp)
    png = os.path.join(TOP, "doc", "benchmarks-policy.png")
    png_ok = plot(pol, png)
    text = report(m, pkt, pol, blk, fl, load, png_ok, quick)
    with open(os.path.join(TOP, "doc", "BENCHMARKS.md"), "w") as f:
        f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
