"""Wall time of `lime demo` (release build): the first run makes the
emulator's signing key (an empty XDG_CACHE_HOME, set by bench/run), the
next N reuse it, as a user's second demo does.

    time_demo.py LIME_BINARY N
"""
import json
import statistics
import subprocess
import sys
import time

lime, n = sys.argv[1], int(sys.argv[2])


def run():
    started = time.perf_counter()
    subprocess.run([lime, "demo"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


first = run()
warm = [run() for _ in range(n)]
print(json.dumps({"first_s": first, "warm_s": warm, "warm_median_s": statistics.median(warm)}))
