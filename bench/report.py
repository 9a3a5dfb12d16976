"""Turns bench/out/*.json into bench/results.md and bench/chart.svg."""
import datetime, json, os, platform, sys

out, quick, levels = sys.argv[1], sys.argv[2] == "true", sys.argv[3].split()
load = lambda name: json.load(open(os.path.join(out, name + ".json")))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
cores = os.cpu_count()

pr, pp = load("pow_rust"), load("pow_python")
lt, lb, lp = load("latency_tokio"), load("latency_blocking"), load("latency_python")
tr, tp = load("throughput_rust"), load("throughput_python")
rr, rp, size = load("rss_rust"), load("rss_python"), load("binary_size")

def m(x):
    return f"{x / 1e6:.2f} M/s"

# The search path the solver chose on this machine (first-use timing).
kernel = pr["kernel"]
rows = [
    ("PoW hash rate, raw SHA-256 block (1 stream)", m(pr["raw_block_rate"]), "—", "—"),
    ("PoW hash rate, lime-pow portable path, 1 thread", m(pr["portable_1t"]), m(pp["solver_1t"]), f"{pr['portable_1t'] / pp['solver_1t']:.0f}×"),
    (f"PoW hash rate, lime-pow solver (`{kernel}` kernel), 1 thread", m(pr["solver_1t"]), m(pp["solver_1t"]), f"{pr['solver_1t'] / pp['solver_1t']:.0f}×"),
    (f"PoW hash rate, lime-pow solver, {pr['threads']} threads", m(pr["solver_all"]), m(pp["solver_1t"]), f"{pr['solver_all'] / pp['solver_1t']:.0f}×"),
]
for name, r in [("lime-tokio", lt), ("lime-blocking", lb)]:
    for p in ["p50", "p90", "p99"]:
        rows.append((f"login latency d=15, {name}, {p}", f"{r[p]:.2f} ms", f"{lp[p]:.2f} ms", f"{lp[p] / r[p]:.1f}× faster"))
rows.append(("throughput, 64 in flight", f"{tr['per_second']:.0f} logins/s ({tr['ok']}/{tr['logins']})",
             f"{tp['per_second']:.0f} logins/s ({tp['ok']}/{tp['logins']})", f"{tr['per_second'] / tp['per_second']:.1f}×"))
for d in levels:
    sr, sp = load(f"success_rust_{d}"), load(f"success_python_{d}")
    rows.append((f"success within 10 s PoW budget, d={d}", f"{sr['ok']}/{sr['count']} (mean {sr['mean_ms'] / 1000:.2f} s)",
                 f"{sp['ok']}/{sp['count']} (mean {sp['mean_ms'] / 1000:.2f} s)", ""))
rows.append(("peak RSS, one login in a fresh process", f"{rr['max_rss_kib'] / 1024:.1f} MiB", f"{rp['max_rss_kib'] / 1024:.1f} MiB",
             f"{rr['max_rss_kib'] / rp['max_rss_kib']:.2f} of Python's"))
rows.append(("release binary size (`lime`)", f"{size['bytes'] / 1e6:.1f} MB", "—", ""))
# Client CPU per login at difficulty 0 (lime-bench cpu-core / cpu-adapter,
# python_bench.py cpu): the client process's CPU, not the emulator's.
cc, cba, cbl, cto, cpy = (load(f"cpu_{n}") for n in ("core", "bare", "blocking", "tokio", "python"))
rows.append(("client CPU per login, lime-core on canned answers", f"{cc['cpu_us_per_login']:.1f} µs ({cc['allocations_per_login']} allocations)", "—", ""))
split = lambda c: f"{c['cpu_us_per_login']:.0f} µs (user {c['user_us_per_login']:.0f} + kernel {c['kernel_us_per_login']:.0f})"
pinned = [load(f"cpu_{n}_cpu0") for n in ("bare", "blocking", "tokio", "python")]
for where, (ba, bl, to, py_) in (("", (cba, cbl, cto, cpy)), (", both on CPU 0", pinned)):
    rows.append((f"client CPU per login, the floor: lime-core over a bare TCP stream (d=0){where}", split(ba), "—", ""))
    for name, c in (("lime-blocking", bl), ("lime-tokio", to)):
        rows.append((f"client CPU per login, {name} against the emulator (d=0){where}", split(c),
                     split(py_), f"{py_['cpu_us_per_login'] / c['cpu_us_per_login']:.1f}× less"))

demo = load("demo")
rows.append(("`lime demo` wall time (release), median of 5 with the key kept",
             f"{demo['warm_median_s'] * 1000:.0f} ms (first run, making the key: {demo['first_s'] * 1000:.0f} ms)", "—", ""))

# MCP tool calls: lime against the official SDK 3.0.2 (a separate table: another Python SDK).
mr, mp = load("mcp_rust"), load("mcp_python")
mt = mr["multi_thread"]
mcp_rows = [
    (f"MCP `echo` latency, sequential, {q}", f"{mr['latency'][q]:.2f} ms", f"{mp['latency'][q]:.2f} ms", f"{mp['latency'][q] / mr['latency'][q]:.1f}× faster")
    for q in ["p50", "p99"]
]
mcp_rows += [
    (f"{who} CPU per sequential `echo` call", f"{mr['cpu_us_per_call'][side]:.0f} µs", f"{mp['cpu_us_per_call'][side]:.0f} µs",
     f"{mp['cpu_us_per_call'][side] / mr['cpu_us_per_call'][side]:.1f}× less" if side == "client" else "the same server")
    for who, side in (("client", "client"), ("MCP server (the emulator)", "server"))
]
mcp_rows.append(("the same, lime on a multi-thread runtime's worker: p50, client CPU",
                 f"{mt['latency']['p50']:.2f} ms, {mt['cpu_us_per_call']['client']:.0f} µs", "—",
                 f"{mp['latency']['p50'] / mt['latency']['p50']:.1f}× faster, {mp['cpu_us_per_call']['client'] / mt['cpu_us_per_call']['client']:.1f}× less"))
mcp_rows.append(("MCP `echo` throughput, 64 in flight", f"{mr['throughput']['per_second']:.0f} calls/s ({mr['throughput']['ok']}/{mr['throughput']['calls']})",
                 f"{mp['throughput']['per_second']:.0f} calls/s ({mp['throughput']['ok']}/{mp['throughput']['calls']})",
                 f"{mr['throughput']['per_second'] / mp['throughput']['per_second']:.1f}×"))

mode = "quick mode (harness check; figures not meaningful)" if quick else "full run"
lines = [
    "# lime vs lime-agents-sdk 0.2.0 (Python)", "",
    f"Measured {datetime.date.today()} on {cores} cores ({cpu}), {mode}, by `bench/run`.",
    "Both SDKs against the same `lime serve --scheme legacy` emulator on loopback.", "",
    "| measure | Rust (lime) | Python (0.2.0) | Rust/Python |", "|---|---|---|---|",
]
lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
lines += [
    "", "Client CPU per login against the emulator is two request/response round trips over",
    "loopback TCP. With the emulator and the client free to run on either CPU, most of its",
    "kernel share is waking an idle virtual CPU (on this VM a halted vCPU's wake-up is charged",
    "to the process that sleeps); the rows `both on CPU 0` run the emulator and each client",
    "under `taskset -c 0`, where a wake-up is a context switch: what the SDK itself costs.",
    "The floor rows (`lime-bench cpu-adapter --adapter bare`) are the least any client pays for",
    "the same two exchanges: lime-core's `Login` writing each request with one `write` on a",
    "kept TCP stream and reading its answer, no HTTP library; an adapter's cost is what it adds to it.",
]
lines += [
    "", "## MCP tool calls: lime-tokio (`mcp`) vs lime-agents-sdk 3.0.2", "",
    "Both SDKs with their defaults (the official SDK serializes calls per MCP URL; lime shares the session),",
    "against the same `lime serve --mcp-domain` MCP server over plain HTTP on loopback, the token",
    "minted and the session opened before timing. The Python SDK refuses loopback names, so the",
    "harness maps the MCP host name to 127.0.0.1 inside the Python process; lime uses `resolve`.",
    "Sequential calls run on one thread on both sides, as the Python SDK's asyncio loop runs them",
    "(lime: a current-thread runtime); lime's figures on a multi-thread runtime's worker, as a",
    "service's handler makes calls, follow. CPU per call is over the sequential calls, from the",
    "scheduler's per-thread clocks (getrusage for the Python process): the server's share is paid",
    "on both sides of the latency ratio.", "",
    "| measure | Rust (lime) | Python (3.0.2) | Rust/Python |", "|---|---|---|---|",
]
lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in mcp_rows]
# What is measured by hand (pow-buster takes 15-25 minutes to build; the
# emulator comparison builds an older tree), carried into every report.
by_hand = "bench/by_hand.md"
if os.path.exists(by_hand):
    lines += ["", open(by_hand).read().rstrip()]
open("bench/results.md", "w").write("\n".join(lines) + "\n")

# A small SVG: hash rates (log scale) and latency percentiles.
bars = [("Python solver", pp["solver_1t"]), ("lime portable 1T", pr["portable_1t"]), (f"lime {kernel} 1T", pr["solver_1t"]), (f"lime {kernel} {pr['threads']}T", pr["solver_all"]), ("raw block", pr["raw_block_rate"])]
import math
top = math.log10(max(v for _, v in bars) * 2)
svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="720" height="420" font-family="sans-serif" font-size="12">',
       '<text x="10" y="20" font-size="14">PoW hash rate (log scale, hashes/s)</text>']
for i, (name, v) in enumerate(bars):
    w = 430 * max(math.log10(max(v, 1)) - 4, 0) / (top - 4)
    y = 35 + i * 28
    svg += [f'<text x="10" y="{y + 15}">{name}</text>', f'<rect x="200" y="{y}" width="{w:.0f}" height="20" fill="{"#c44" if "Python" in name else "#4a4"}"/>',
            f'<text x="{205 + w:.0f}" y="{y + 15}">{v / 1e6:.2f} M</text>']
svg.append('<text x="10" y="190" font-size="14">Login latency at difficulty 15 (ms, p50 / p90 / p99)</text>')
series = [("Python", lp, "#c44"), ("lime-tokio", lt, "#4a4"), ("lime-blocking", lb, "#48c")]
scale = 480 / max(s["p99"] for _, s, _ in series)
for i, (name, s, colour) in enumerate(series):
    y = 205 + i * 65
    svg.append(f'<text x="10" y="{y + 30}">{name}</text>')
    for j, p in enumerate(["p50", "p90", "p99"]):
        w = s[p] * scale
        svg += [f'<rect x="150" y="{y + j * 20}" width="{max(w, 1):.0f}" height="16" fill="{colour}" opacity="{1 - j * 0.25}"/>',
                f'<text x="{155 + w:.0f}" y="{y + j * 20 + 12}">{p} {s[p]:.1f}</text>']
svg.append("</svg>")
open("bench/chart.svg", "w").write("\n".join(svg) + "\n")
print("\n".join(lines))
