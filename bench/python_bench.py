"""The Python side of bench/run: the official SDK (lime-agents-sdk 0.2.0)
measured exactly as the Rust side is. Prints one JSON object per command."""

import asyncio
import json
import os
import sys
import time

import httpx
from lime_agents import LimeAgent
from lime_agents._pow import _is_valid_pow

BASE = os.environ.get("LIME_API_BASE", "")
SITE_TOKEN = os.environ.get("LIME_SITE_TOKEN", "")


def arg(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def create_request(client):
    r = client.post(f"{BASE}/modules/agent-login/requests", headers={"X-Site-Token": SITE_TOKEN}, json={})
    return r.json()["data"]["login_request_id"]


def percentiles(ms):
    ms = sorted(ms)
    at = lambda p: ms[round((len(ms) - 1) * p)]
    return {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "samples": ms}


def pow_rate(seconds):
    # The SDK's own solver loop (lime_agents._pow.solve), counted.
    challenge, n, deadline = "a34a723e239648bc750a4d559313c5a1", 0, time.monotonic() + seconds
    start = time.monotonic()
    while time.monotonic() < deadline:
        _is_valid_pow(challenge, str(n), 256)
        n += 1
    return {"solver_1t": n / (time.monotonic() - start)}


async def latency(count):
    with httpx.Client() as c:
        ids = [create_request(c) for _ in range(count)]
    ms = []
    async with LimeAgent() as agent:
        for i in ids:
            t = time.perf_counter()
            await agent.login(i)
            ms.append((time.perf_counter() - t) * 1000)
    return percentiles(ms)


async def throughput(count, concurrency):
    with httpx.Client() as c:
        ids = [create_request(c) for _ in range(count)]
    limit = asyncio.Semaphore(concurrency)
    async with LimeAgent() as agent:
        async def one(i):
            async with limit:
                try:
                    await agent.login(i)
                    return True
                except Exception:
                    return False
        start = time.perf_counter()
        results = await asyncio.gather(*(one(i) for i in ids))
        secs = time.perf_counter() - start
    ok = sum(results)
    return {"logins": count, "ok": ok, "seconds": secs, "per_second": ok / secs}


async def success(count):
    ok, ms = 0, []
    async with LimeAgent() as agent:
        for _ in range(count):
            with httpx.Client() as c:
                i = create_request(c)
            t = time.perf_counter()
            try:
                await agent.login(i)
                ok += 1
            except Exception:
                pass
            ms.append((time.perf_counter() - t) * 1000)
    return {"count": count, "ok": ok, "mean_ms": sum(ms) / len(ms)}


async def cpu(count):
    # Client CPU per login against the emulator at difficulty 0, measured
    # as lime-bench cpu-adapter measures lime: the process's CPU (user +
    # system, every thread) around the timed logins, connections reused.
    import resource
    with httpx.Client() as c:
        ids = [create_request(c) for _ in range(count + 50)]
    async with LimeAgent() as agent:
        for i in ids[:50]:
            await agent.login(i)
        before = resource.getrusage(resource.RUSAGE_SELF)
        wall = time.perf_counter()
        for i in ids[50:]:
            await agent.login(i)
        after = resource.getrusage(resource.RUSAGE_SELF)
        wall = time.perf_counter() - wall
    user, kernel = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    per_login = lambda seconds: seconds * 1e6 / count
    return {"logins": count, "cpu_us_per_login": per_login(user + kernel),
            "user_us_per_login": per_login(user), "kernel_us_per_login": per_login(kernel),
            "wall_us_per_login": wall * 1e6 / count}


async def once(request_id):
    async with LimeAgent() as agent:
        await agent.login(request_id)
    return {"ok": True}


def main():
    cmd = sys.argv[1]
    if cmd == "pow":
        out = pow_rate(float(arg("--seconds", "2")))
    elif cmd == "latency":
        out = asyncio.run(latency(int(arg("--count", "200"))))
    elif cmd == "throughput":
        out = asyncio.run(throughput(int(arg("--count", "640")), int(arg("--concurrency", "64"))))
    elif cmd == "success":
        out = asyncio.run(success(int(arg("--count", "20"))))
    elif cmd == "cpu":
        out = asyncio.run(cpu(int(arg("--count", "1000"))))
    elif cmd == "once":
        out = asyncio.run(once(sys.argv[2]))
    else:
        raise SystemExit(f"unknown command {cmd}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
