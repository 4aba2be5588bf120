#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The identity rules of the socket hooks against a model, with real
processes (doc/DESIGN.md, "Who may connect"; test_cgroup.sh runs it).

    cgmodel.py CTL PIN CG CGD MX4 MX6 RELAY4 [ROUNDS [CONNECTS]]

Each round applies a random policy file (exempt uids, gids and cgroups
drawn from small sets, the relay allowed or not, action drop or monitor,
one cgroup attached), then forks processes that each move into a random
cgroup of a small tree below the attached one, take a random uid and gid,
and connect to a random destination (IPv4, IPv6, IPv4-mapped, the relay)
on 25 or 587. The model, written from the design alone: a connect is
refused exactly when its port is blocked, its destination is not an
allowed relay, and neither its uid, nor its gid, nor its cgroup or any
cgroup above it is exempt, under an action other than monitor. Prints
"model: N connects, D disagree" and each disagreement.
"""
import errno
import os
import random
import socket
import subprocess
import sys

UIDS = [42601, 42602, 42603]
GIDS = [42611, 42612, 42613]
TREE = ["model", "model/a", "model/a/x", "model/a/x/y", "model/b"]


def connect_as(cgdir, uid, gid, dst, port):
    """'connected', 'EPERM' or another outcome, of a child made so."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        out = "?"
        try:
            with open(os.path.join(cgdir, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.settimeout(2)
            try:
                s.connect((dst, port))
                out = "connected"
            except OSError as e:
                out = errno.errorcode.get(e.errno, str(e.errno))
        except Exception as e:  # noqa: BLE001 - said, never hidden
            out = "error:" + str(e)
        os.write(w, out.encode())
        os._exit(0)
    os.close(w)
    out = os.read(r, 200).decode()
    os.close(r)
    os.waitpid(pid, 0)
    return out


def main():
    ctl, pin, cg, cgd, mx4, mx6, relay4 = sys.argv[1:8]
    rounds = int(sys.argv[8]) if len(sys.argv) > 8 else 8
    per = int(sys.argv[9]) if len(sys.argv) > 9 else 40
    rng = random.Random(int(os.environ.get("MODEL_SEED", "2025")))
    for t in TREE:
        os.makedirs(os.path.join(cgd, t), exist_ok=True)
    total = bad = 0
    conf = os.path.join(os.environ.get("TMPDIR", "/tmp"),
                        "cgmodel-%d.conf" % os.getpid())
    try:
        for rnd in range(rounds):
            ex_uid = set(u for u in UIDS if rng.random() < 0.4)
            ex_gid = set(g for g in GIDS if rng.random() < 0.3)
            ex_cg = set(c for c in TREE[1:] if rng.random() < 0.3)
            relay = rng.random() < 0.5
            action = rng.choice(["drop", "drop", "monitor"])
            lines = ["action " + action, "attach --cgroup %s/model" % cg]
            lines += ["allow uid %d" % u for u in sorted(ex_uid)]
            lines += ["allow gid %d" % g for g in sorted(ex_gid)]
            lines += ["allow cgroup %s/%s" % (cg, c) for c in sorted(ex_cg)]
            if relay:
                lines.append("allow relay " + relay4)
            with open(conf, "w") as f:
                f.write("\n".join(lines) + "\n")
            p = subprocess.run([ctl, "--pin-dir", pin, "apply", conf],
                               capture_output=True, text=True)
            if p.returncode:
                print("apply failed: " + p.stderr.strip())
                return 1
            for _ in range(per):
                where = rng.choice(TREE)
                uid, gid = rng.choice(UIDS), rng.choice(GIDS)
                dst = rng.choice([mx4, mx6, "::ffff:" + mx4, relay4,
                                  "::ffff:" + relay4])
                port = rng.choice([25, 25, 25, 587])
                chain = set(TREE[i] for i in range(len(TREE))
                            if where == TREE[i] or where.startswith(TREE[i] + "/"))
                refused = (port == 25 and action != "monitor" and
                           not (relay and dst.endswith(relay4)) and
                           uid not in ex_uid and gid not in ex_gid and
                           not (chain & ex_cg))
                want = "EPERM" if refused else "connected"
                got = connect_as(os.path.join(cgd, where), uid, gid, dst,
                                 port)
                total += 1
                if got != want:
                    bad += 1
                    print("round %d: %s uid %d gid %d -> %s:%d: want %s, got %s"
                          " (exempt uids %s gids %s cgroups %s, relay %s, %s)" %
                          (rnd, where, uid, gid, dst, port, want, got,
                           sorted(ex_uid), sorted(ex_gid), sorted(ex_cg),
                           relay, action))
    finally:
        if os.path.exists(conf):
            os.unlink(conf)
    print("model: %d connects, %d disagree" % (total, bad))
    return 0


if __name__ == "__main__":
    sys.exit(main())
