"""Runs a command and prints its peak RSS in KiB (its own, via wait4)."""
import json, os, subprocess, sys

proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
print(json.dumps({"max_rss_kib": usage.ru_maxrss, "status": os.waitstatus_to_exitcode(status)}))
