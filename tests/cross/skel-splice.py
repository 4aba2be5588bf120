#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""skel-splice.py SKEL OBJ: SKEL with OBJ's bytes as the embedded object.

Debian 12's bpftool (libbpf 1.1) refuses to open an object of the other
byte order ("Endian mismatch"), so a big-endian guest's skeleton is
generated from the same source built little-endian and then given the
big-endian object's bytes. The rest of a skeleton (names, the layout of
.data/.bss/.rodata from BTF) does not depend on the byte order."""
import re
import sys

skel, obj = sys.argv[1], sys.argv[2]
text = open(skel).read()
data = open(obj, "rb").read()

body = "".join("\\x%02x" % b for b in data)
lines = "\\\n".join(body[i:i + 76] for i in range(0, len(body), 76))
pat = re.compile(r'(__elf_bytes\(size_t \*sz\)\n\{\n\t\*sz = )\d+;\n'
                 r'\treturn \(const void \*\)"\\\n.*?";\n\}', re.S)
new, n = pat.subn(lambda m: '%s%d;\n\treturn (const void *)"\\\n%s";\n}'
                  % (m.group(1), len(data), lines), text, count=1)
if n != 1:
    sys.exit("skel-splice: no embedded object found in " + skel)
sys.stdout.write(new)
