"""Two workers run KERNEL on np.ones(N) operands; print each worker's ns per call (first started first).

Usage: python per_worker.py N CALLS KERNEL SPACERS  (SPACERS idle threads start between the workers)
"""

import sys
import threading
import time

import numpy as np

n, calls, kernel, spacers = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
src = (f"def run(out, tag, go):\n"
       f"    a = np.ones({n}); b = np.ones({n}); c = np.empty({n}); f = np.add\n"
       f"    for _ in range(1000): {kernel}\n"
       f"    go.wait()\n"
       f"    t0 = perf()\n"
       f"    for _ in range({calls}):\n"
       f"        {kernel}\n"
       f"    out.append((tag, round((perf() - t0) / {calls} * 1e9)))\n")
ns = {"np": np, "perf": time.perf_counter}
exec(src, ns)
go, out, idle = threading.Barrier(2), [], threading.Event()
first = threading.Thread(target=ns["run"], args=(out, 0, go))
first.start()
spacer_threads = [threading.Thread(target=idle.wait) for _ in range(spacers)]
for t in spacer_threads:
    t.start()
second = threading.Thread(target=ns["run"], args=(out, 1, go))
second.start()
first.join()
second.join()
idle.set()
for t in spacer_threads:
    t.join()
print(" ".join(str(ns_per_call) for _, ns_per_call in sorted(out)))
