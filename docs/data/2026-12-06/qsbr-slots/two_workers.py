"""Two workers on np.add(a, b, out=c); they wait SECONDS before timing (time to move a QSBR slot).

Usage: python two_workers.py N CALLS SECONDS
"""

import sys
import threading
import time

import numpy as np

n, calls, wait = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
src = (f"def run(out, tag, go):\n"
       f"    a = np.ones({n}); b = np.ones({n}); c = np.empty({n}); f = np.add\n"
       f"    for _ in range(1000): f(a, b, out=c)\n"
       f"    go.wait()\n"
       f"    t0 = perf()\n"
       f"    for _ in range({calls}):\n"
       f"        f(a, b, out=c)\n"
       f"    out.append((tag, round((perf() - t0) / {calls} * 1e9)))\n")
ns = {"np": np, "perf": time.perf_counter}
exec(src, ns)
go, out = threading.Event(), []
workers = [threading.Thread(target=ns["run"], args=(out, i, go)) for i in range(2)]
for t in workers:
    t.start()
time.sleep(wait)
go.set()
for t in workers:
    t.join()
print("first, second worker ns", [ns_per_call for _, ns_per_call in sorted(out)])
