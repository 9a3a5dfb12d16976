#!/usr/bin/env python3
"""lime-pow against pow-buster (0.2.0, the fastest published solver) on the
four shapes LIME solves, in turns:

    bench/vs_pow_buster.py [--rounds 5] [--seconds 3] [--difficulty 20]

| shape | hashed before the nonce | threads |
|---|---|---|
| legacy, 64 B | the 64-byte challenge (one whole block; the nonce starts the next) | all cores |
| v1, 64 B | `"lime:pow:v1" 0x00 challenge 0x00`: 77 bytes, the nonce at offset 13 of its block | all cores |
| legacy, 32 B | the 32-byte challenge | one |
| v1, 32 B | 45 bytes of framing and challenge | one |

Both solvers run in `bench/pow-compare` (a crate outside the workspace):
a fresh random challenge of the exact length for every solve, the rate
being solves x 2^d over the time, and every nonce checked with lime's own
`verify`. On all cores, pow-buster solves one challenge per thread (its
only way to use cores); lime runs both ways: one challenge per thread
(`lime-each`: what concurrent logins do, each holding a core, and the
like-for-like figure) and one challenge over all threads (`lime`: a single
login's way, which pays a start and a join of its threads per solve that
pow-buster never does). pow-buster runs twice:
as built by default (it picks AVX-512 or SHA-NI at run time) and with
`-C target-cpu=native`, its README's recommendation. Each round runs every
shape and solver once, in turn, so a noisy machine slows all alike; the
table gives medians. Prints a markdown table; never fails on a number.
"""

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT / "bench" / "pow-compare"
SHAPES = [("legacy", 64, "all"), ("v1", 64, "all"), ("legacy", 32, 1), ("v1", 32, 1)]


def build(target_dir, native):
    env = dict(os.environ)
    if native:
        env["RUSTFLAGS"] = (env.get("RUSTFLAGS", "") + " -C target-cpu=native").strip()
    subprocess.run(
        ["cargo", "build", "--release", "-q", "--manifest-path", str(HARNESS / "Cargo.toml"),
         "--target-dir", str(target_dir)],
        check=True, env=env,
    )
    return target_dir / "release" / "pow-compare"


def rate(binary, solver, scheme, size, threads, seconds, difficulty):
    out = subprocess.run(
        [str(binary), solver, scheme, str(size), str(threads), str(seconds), str(difficulty)],
        capture_output=True, text=True,
    )
    if out.returncode != 0:
        sys.exit(f"pow-compare {solver} {scheme} {size} failed: {out.stderr.strip()}")
    return float(out.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--difficulty", type=int, default=20)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    target = ROOT / "target"
    default_bin = build(target / "pow-compare", native=False)
    native_bin = build(target / "pow-compare-native", native=True)
    runs = [("lime", default_bin, "lime-each"), ("pow-buster", default_bin, "pow-buster"),
            ("pow-buster native", native_bin, "pow-buster"), ("lime, one solve", default_bin, "lime")]
    rates = {(shape, name): [] for shape in SHAPES for name, _, _ in runs}
    for _ in range(args.rounds):
        for shape in SHAPES:
            scheme, size, threads = shape
            n = cores if threads == "all" else threads
            for name, binary, solver in runs:
                if threads != "all" and name == "lime, one solve":
                    continue  # one thread: the same run as `lime`
                rates[(shape, name)].append(
                    rate(binary, solver, scheme, size, n, args.seconds, args.difficulty))
    print(f"Medians of {args.rounds} rounds in turns, {args.seconds:g} s per run, difficulty "
          f"{args.difficulty}, {cores} cores; M/s = million hashes per second (solves x 2^d).\n")
    print("| shape | lime | pow-buster | lime / pow-buster | pow-buster native | lime / native "
          "| lime, one solve over all threads | its ratios |")
    print("|---|---|---|---|---|---|---|---|")
    for shape in SHAPES:
        scheme, size, threads = shape
        lime, pb, nat = (statistics.median(rates[(shape, name)]) for name, _, _ in runs[:3])
        label = f"{scheme}, {size} B, {'all cores' if threads == 'all' else 'one thread'}"
        one = rates[(shape, "lime, one solve")]
        one = (f"{statistics.median(one) / 1e6:.1f} M/s | {statistics.median(one) / pb:.2f}x, "
               f"{statistics.median(one) / nat:.2f}x" if one else "— | —")
        print(f"| {label} | {lime / 1e6:.1f} M/s | {pb / 1e6:.1f} M/s | {lime / pb:.2f}x "
              f"| {nat / 1e6:.1f} M/s | {lime / nat:.2f}x | {one} |")


main()
