"""Runs a command under GNU time and prints its peak RSS in KiB.

(Measuring from Python with wait4 would count the pages of the Python
process the child was forked from: every child would look 11 MiB big.)"""
import json, subprocess, sys

proc = subprocess.run(["/usr/bin/time", "-f", "%M"] + sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
max_rss = int(proc.stderr.strip().splitlines()[-1])
print(json.dumps({"max_rss_kib": max_rss, "status": proc.returncode}))
