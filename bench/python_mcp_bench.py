"""The Python side of bench/run's MCP part: the official SDK 3.0.2's
list_tools/call_tool against the emulator's MCP server, measured exactly as
lime-bench mcp measures lime. The SDK refuses loopback names, so the MCP host
name is mapped to the server's address inside this process."""

import asyncio
import glob
import json
import resource
import socket
import sys
import time

from lime_agents import LimeAgent


def arg(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def percentiles(ms):
    ms = sorted(ms)
    at = lambda p: ms[round((len(ms) - 1) * p)]
    return {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "samples": ms}


def own_cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def pid_cpu(pid):
    """CPU seconds every live thread of `pid` has run (the MCP server's),
    from the scheduler, as lime-bench reads it."""
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        with open(path) as f:
            total += int(f.read().split()[0])
    return total / 1e9


def resolve(host, ip):
    real = socket.getaddrinfo

    def patched(name, *args, **kwargs):
        # anyio passes the name IDNA-encoded, as bytes.
        text = name.decode() if isinstance(name, bytes) else name
        return real(ip if text == host else name, *args, **kwargs)

    socket.getaddrinfo = patched


async def main():
    url, addr = arg("--url", ""), arg("--addr", "")
    count, concurrency = int(arg("--count", "200")), int(arg("--concurrency", "64"))
    host = url.split("://")[1].split(":")[0].split("/")[0]
    resolve(host, addr.rsplit(":", 1)[0])
    agent = LimeAgent()  # its defaults, as lime's
    await agent.list_tools(url)  # warm-up: the token and the session
    ms = []
    server_pid = int(arg("--server-pid", "0"))
    client, server = own_cpu(), pid_cpu(server_pid)
    for i in range(count):
        t = time.perf_counter()
        await agent.call_tool(url, "echo", {"text": f"call {i}"})
        ms.append((time.perf_counter() - t) * 1000)
    per_call = lambda seconds: seconds * 1e6 / count
    cpu = {"client": per_call(own_cpu() - client), "server": per_call(pid_cpu(server_pid) - server)}
    limit = asyncio.Semaphore(concurrency)

    async def one(i):
        async with limit:
            try:
                await agent.call_tool(url, "echo", {"text": f"call {i}"})
                return True
            except Exception:
                return False

    started = time.perf_counter()
    ok = sum(await asyncio.gather(*(one(i) for i in range(count))))
    secs = time.perf_counter() - started
    print(json.dumps({
        "latency": percentiles(ms),
        "cpu_us_per_call": cpu,
        "throughput": {"calls": count, "ok": ok, "seconds": secs, "per_second": ok / secs},
    }), flush=True)
    # The SDK's MCP sessions are anyio task groups opened in other tasks:
    # closing them here can raise; the figures are already out.
    try:
        await agent.aclose()
    except BaseException:
        pass


asyncio.run(main())
