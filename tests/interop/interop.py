#!/usr/bin/env python3
"""lime and the official Python SDKs on one login, both ways, against
`lime serve` on loopback:

1. lime's site (`lime site create`) creates a request, the official agent
   SDK logs in, lime's site verifies the passport (`lime site wait`).
2. The official site SDK (lime-sites-sdk) creates a request and follows its
   stream, lime's agent (`lime login`) logs in, the official SDK verifies
   the passport, and lime's site verifies the same passport (replayed):
   both must accept it and read the same claims.

    interop.py LIME_BIN AGENT_PYTHON SCHEME

AGENT_PYTHON is the interpreter of a venv with the agent SDK to test
(0.2.0 solves `legacy`, 3.0.2 `v1`); this script itself runs where
lime-sites-sdk 2.0.6 is installed. Exits non-zero, saying why, on any
disagreement.
"""
import asyncio
import json
import os
import subprocess
import sys

LIME, AGENT_PY, SCHEME = sys.argv[1], sys.argv[2], sys.argv[3]


def lime(*args, env):
    run = subprocess.run([LIME, *args, "--json"], env=env, capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        sys.exit(f"lime {' '.join(args)} failed ({run.returncode}): {run.stdout} {run.stderr}")
    return json.loads(run.stdout)


def python_agent_login(request_id, env):
    code = (
        "import asyncio, sys\n"
        "from lime_agents import LimeAgent\n"
        "async def main():\n"
        "    async with LimeAgent() as agent:\n"
        "        await agent.login(sys.argv[1])\n"
        "asyncio.run(main())\n"
    )
    run = subprocess.run([AGENT_PY, "-c", code, request_id], env=env, capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        sys.exit(f"the official agent SDK failed to log in: {run.stderr}")


async def official_site_then_lime_agent(env):
    from lime_sites import LimeSite

    received = asyncio.get_running_loop().create_future()
    site = LimeSite(site_token=env["LIME_SITE_TOKEN"], base_url=env["LIME_API_BASE"])

    @site.on_login
    async def on_login(request_id, passport):
        if not received.done():
            received.set_result((request_id, passport))

    async with site:
        request = await site.create_login_request()
        await asyncio.sleep(0.2)  # its stream connects
        lime("login", request.request_id, env=env)
        request_id, passport = await asyncio.wait_for(received, 20)
        if request_id != request.request_id or passport is None:
            sys.exit(f"the official site SDK got {request_id} / {passport is not None}")
        verified = await site.verify_passport(passport, expected_request_id=request_id)
        return request_id, verified.claims


def main():
    serve = subprocess.Popen(
        [LIME, "serve", "--format", "json", "--difficulty", "8", "--scheme", SCHEME],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        info = json.loads(serve.stdout.readline())
        env = dict(os.environ, LIME_API_BASE=info["base_url"],
                   LIME_AGENT_TOKEN=info["agent_token"], LIME_SITE_TOKEN=info["site_token"])
        env.pop("LIME_CA_CERT", None)

        created = lime("site", "create", env=env)
        python_agent_login(created["request_id"], env)
        waited = lime("site", "wait", created["request_id"], "--timeout", "10", env=env)
        if waited.get("event") != "approved" or waited["passport"]["request_id"] != created["request_id"]:
            sys.exit(f"lime's site did not verify the official agent's login: {waited}")
        print(f"{SCHEME}: official agent -> lime site: passport of {waited['passport']['agent_id']} verified")

        request_id, claims = asyncio.run(official_site_then_lime_agent(env))
        ours = lime("site", "wait", request_id, "--timeout", "10", env=env)
        passport = ours.get("passport") or {}
        theirs = (claims.get("sub") or claims.get("agent_id"), claims.get("request_id"))
        if (passport.get("agent_id"), passport.get("request_id")) != theirs:
            sys.exit(f"the SDKs disagree on the passport: lime {passport}, official {claims}")
        print(f"{SCHEME}: lime agent -> official site: both SDKs verified {theirs[0]} for {theirs[1]}")
    finally:
        serve.terminate()
        serve.wait(timeout=10)


main()
