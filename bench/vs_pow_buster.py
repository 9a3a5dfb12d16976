#!/usr/bin/env python3
"""`lime pow solve` against pow-buster, the fastest published solver, in turns.

    cargo install pow-buster --features cli --root DIR   # about 15-25 min
    cargo build --release -p lime-cli
    python3 bench/vs_pow_buster.py --pow-buster DIR/bin/pow-buster [--seconds 10] [--rounds 3]

Each round runs every case once, lime and pow-buster in turn, so a noisy
machine slows both alike; the table gives each case's median.

- lime: `lime pow solve` with an unreachable difficulty and `--timeout`;
  the rate is the hashes its timeout error reports over the window.
- pow-buster: `profile-mt --speed -n THREADS -p PREFIX`; it prints solves
  per second at mCaptcha difficulty 10^7, so the rate is that times 10^7
  (its expected hashes per solve), the last line of the window.

pow-buster's profile-mt hashes `prefix_bytes[..PREFIX % 64]`: `-p 64` is an
empty prefix, and with it every solve is the same message, whose attempt
count is fixed (not 10^7 on average), so its rate is not a hash rate. The
table shows `-p 0` beside it (the same figure) and `-p 63` (a real 63-byte
prefix, 64 - 1) to compare against.
"""

import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def lime_rate(lime, scheme, prefix, threads, seconds):
    """Hashes per second of `lime pow solve` over the window."""
    out = subprocess.run(
        [lime, "pow", "solve", "--json", "--scheme", scheme, "--challenge", "c" * prefix,
         "--difficulty", "96", "--threads", str(threads), "--timeout", str(seconds)],
        capture_output=True, text=True, check=False,
    ).stdout
    tried = re.search(r"\((\d+) hashes tried\)", out)
    if not tried:
        sys.exit(f"lime pow solve did not time out as expected: {out!r}")
    return int(tried.group(1)) / seconds


def pow_buster_rate(pow_buster, prefix, threads, seconds):
    """What profile-mt --speed reports after the window, in hashes per second."""
    try:
        run = subprocess.run(
            [pow_buster, "profile-mt", "--speed", "-n", str(threads), "-p", str(prefix)],
            capture_output=True, text=True, timeout=seconds + 0.5,
        )
        err = run.stderr
    except subprocess.TimeoutExpired as stopped:
        err = (stopped.stderr or b"").decode()
    lines = re.findall(r"^([0-9.]+) rps", err, re.M)
    if not lines:
        sys.exit(f"pow-buster printed no rate: {err[-300:]!r}")
    return float(lines[-1]) * 1e7


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pow-buster", required=True, help="the pow-buster binary")
    parser.add_argument("--lime", default=str(ROOT / "target/release/lime"))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--case", choices=["all", "2x64", "1x32"], default="all",
                        help="2 threads with a 64-byte challenge, 1 thread with a 32-byte one, or both")
    args = parser.parse_args()
    for binary, how in [(args.pow_buster, "cargo install pow-buster --features cli --root DIR"),
                        (args.lime, "cargo build --release -p lime-cli")]:
        if not Path(binary).is_file():
            sys.exit(f"{binary} not found: build it with `{how}`")

    cases = [  # (label, threads, prefix)
        ("2 threads, 64-byte challenge", 2, 64),
        ("1 thread, 32-byte challenge", 1, 32),
    ]
    cases = [c for c in cases if args.case in ("all", f"{c[1]}x{c[2]}")]
    rates = {}
    for _ in range(args.rounds):
        for label, threads, prefix in cases:
            for scheme in ["legacy", "v1"]:
                key = (label, f"lime pow solve --scheme {scheme}")
                rates.setdefault(key, []).append(
                    lime_rate(args.lime, scheme, prefix, threads, args.seconds))
            for p in sorted({prefix, 63 if prefix == 64 else prefix, 0 if prefix == 64 else prefix}):
                key = (label, f"pow-buster profile-mt -n {threads} -p {p}")
                rates.setdefault(key, []).append(
                    pow_buster_rate(args.pow_buster, p, threads, args.seconds))

    print(f"Median of {args.rounds} rounds, {args.seconds:g} s each, in turns.\n")
    print("| case | solver | M hashes/s | rounds |")
    print("|---|---|---|---|")
    for (label, solver), values in rates.items():
        each = ", ".join(f"{v / 1e6:.1f}" for v in values)
        print(f"| {label} | {solver} | {statistics.median(values) / 1e6:.1f} | {each} |")


if __name__ == "__main__":
    main()
