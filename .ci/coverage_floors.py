"""Prints line coverage per crate from `cargo llvm-cov --json` and fails
below the floors: lime-pow and lime-core 95%, the workspace crates 85%."""
import json, sys
from collections import defaultdict

FLOORS = {"lime-pow": 95.0, "lime-core": 95.0}
WORKSPACE_FLOOR = 85.0

data = json.load(open(sys.argv[1]))
lines, covered = defaultdict(int), defaultdict(int)
for f in data["data"][0]["files"]:
    parts = f["filename"].split("/")
    if "crates" not in parts:
        continue
    crate = parts[parts.index("crates") + 1]
    lines[crate] += f["summary"]["lines"]["count"]
    covered[crate] += f["summary"]["lines"]["covered"]

failed = False
print(f"{'crate':<16} {'lines':>6} {'covered':>8} {'cover':>7}  floor")
for crate in sorted(lines):
    pct = 100.0 * covered[crate] / lines[crate]
    floor = FLOORS.get(crate)
    mark = "" if floor is None else (f"{floor:.0f}% ok" if pct >= floor else f"{floor:.0f}% BELOW")
    failed |= floor is not None and pct < floor
    print(f"{crate:<16} {lines[crate]:>6} {covered[crate]:>8} {pct:>6.2f}%  {mark}")
total = 100.0 * sum(covered.values()) / sum(lines.values())
ok = total >= WORKSPACE_FLOOR
failed |= not ok
print(f"{'workspace':<16} {sum(lines.values()):>6} {sum(covered.values()):>8} {total:>6.2f}%  {WORKSPACE_FLOOR:.0f}% {'ok' if ok else 'BELOW'}")
sys.exit(1 if failed else 0)
