#!/usr/bin/env python3
"""Code lines of the SDK (lime-pow, lime-core, lime-tls, lime-tokio,
lime-blocking: src/ only) and of the whole tree's Rust, at a git revision:
no blank lines, no comment lines, no `#[cfg(test)]` modules.

    bench/code_lines.py [REV...]      (default: HEAD)
"""
import subprocess
import sys

SDK = ("crates/lime-pow/src/", "crates/lime-core/src/", "crates/lime-tls/src/",
       "crates/lime-tokio/src/", "crates/lime-blocking/src/")


def code_lines(text):
    count, depth, skipping, pending = 0, 0, False, False
    for raw in text.splitlines():
        line = raw.strip()
        if skipping:
            depth += line.count("{") - line.count("}")
            if depth <= 0:
                skipping = False
            continue
        if line == "#[cfg(test)]":
            pending = True
            continue
        if pending and line.startswith("mod ") and line.endswith("{"):
            skipping, depth, pending = True, 1, False
            continue
        pending = False
        if not line or line.startswith("//"):
            continue
        count += 1
    return count


def at(rev):
    files = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev],
                           capture_output=True, text=True, check=True).stdout.split()
    sdk = tree = 0
    for path in files:
        if not path.endswith(".rs") or path.startswith("fuzz/target"):
            continue
        text = subprocess.run(["git", "show", f"{rev}:{path}"],
                              capture_output=True, text=True).stdout
        n = code_lines(text)
        tree += n
        if path.startswith(SDK):
            sdk += n
    return sdk, tree


for rev in sys.argv[1:] or ["HEAD"]:
    sdk, tree = at(rev)
    print(f"{rev}: SDK {sdk} code lines, whole tree {tree}")
