"""Delete the Qt libraries no kept PyQt6 module or Qt plugin needs (pack.sh; argument: the PyQt6 folder)."""

import os
import re
import subprocess
import sys

root = sys.argv[1]
libdir = os.path.join(root, "Qt6", "lib")
todo = [os.path.join(d, f) for d, _, fs in os.walk(root) if not d.startswith(libdir)
        for f in fs if ".so" in f]
need: set[str] = set()
seen: set[str] = set()
while todo:
    path = todo.pop()
    if path in seen:
        continue
    seen.add(path)
    dynamic = subprocess.run(["readelf", "-d", path], capture_output=True, text=True).stdout
    for name in re.findall(r"Shared library: \[(.*?)\]", dynamic):
        if os.path.exists(os.path.join(libdir, name)):
            need.add(name)
            todo.append(os.path.join(libdir, name))
for name in os.listdir(libdir):
    if name not in need:
        os.remove(os.path.join(libdir, name))
print("Qt libraries kept:", " ".join(sorted(need)))
