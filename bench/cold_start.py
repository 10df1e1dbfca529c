"""Cold starts of the sandbox's Python Lambda workers: forked (the default) against spawned.

    python -m bench.cold_start [--functions 14] [--rounds 3]

Each function holds the installer's own Lambda code (`lambdas/`) with the DeployStage handler,
so a cold start imports what an install's first wave imports (boto3, Powertools, pydantic, the
installer's modules); the event is empty, so the handler fails at once on its input and the
figure is the cold start. Every round creates new functions, so every invocation starts a
worker. Figures, per mode (`fork`: from the runtime's fork server; `spawn`: a fresh interpreter,
`DATAALL_SANDBOX_LAMBDA_FORK=0`):

  serial_ms   one cold invocation at a time: the median of every function's
  cpu_ms      the CPU time (user + system) each worker used for its start and its invocation, the
              median: what the start costs whatever else this machine runs (a forked worker's
              count starts at its fork)
  burst_s     all functions invoked at once (the first wave of an install: 14 workers starting
              together on this machine's cores): the wall time until the last answer
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3

from sandbox import processes
from sandbox.server import Sandbox

ROOT = Path(__file__).resolve().parents[1]
HANDLER = "lambdas.handlers.deploy_stage.handler"


def installer_code() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted((ROOT / "lambdas").rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(ROOT).as_posix())
    return buffer.getvalue()


def measure(fork: bool, functions: int, rounds: int) -> dict[str, float]:
    code = installer_code()
    limits = processes.WarmLimits(total=4 * functions, per_function=2, fork=fork)
    with Sandbox(warm_workers=limits) as sandbox:
        client = boto3.client(
            "lambda", endpoint_url=sandbox.endpoint, region_name=sandbox.region,
            aws_access_key_id="sandbox", aws_secret_access_key="sandbox",
        )  # fmt: skip
        iam = boto3.client(
            "iam", endpoint_url=sandbox.endpoint, region_name=sandbox.region,
            aws_access_key_id="sandbox", aws_secret_access_key="sandbox",
        )  # fmt: skip
        role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument="{}")["Role"]["Arn"]

        def create(name: str) -> str:
            client.create_function(
                FunctionName=name, Runtime="python3.12", Role=role, Handler=HANDLER, Timeout=30,
                Code={"ZipFile": code}, Environment={"Variables": {"POWERTOOLS_SERVICE_NAME": "bench"}},
            )  # fmt: skip
            return name

        def cpu_ms(pids: set[int]) -> list[float]:
            ticks = os.sysconf("SC_CLK_TCK")
            used = []
            for pid in pids:
                fields = (Path("/proc") / str(pid) / "stat").read_text().rpartition(")")[2].split()
                used.append((int(fields[11]) + int(fields[12])) * 1000 / ticks)
            return used

        def invoke(name: str) -> float:
            started = time.perf_counter()
            answer: dict[str, Any] = client.invoke(FunctionName=name, Payload=b"{}")
            payload = json.loads(answer["Payload"].read())
            assert payload.get("errorType") == "ValidationError", payload  # the handler ran: not a broken start
            return time.perf_counter() - started

        invoke(create("warm-up"))  # the sandbox's own first call (and the fork server's start)
        serial: list[float] = []
        bursts: list[float] = []
        cpu: list[float] = []
        for round_ in range(rounds):
            for n in range(functions):
                before = set(sandbox.runtime.worker_pids())
                serial.append(invoke(create(f"serial-{round_}-{n}")))
                cpu += cpu_ms(set(sandbox.runtime.worker_pids()) - before)
            names = [create(f"burst-{round_}-{n}") for n in range(functions)]
            started = time.perf_counter()
            with ThreadPoolExecutor(functions) as pool:
                list(pool.map(invoke, names))
            bursts.append(time.perf_counter() - started)
    return {
        "serial_ms": round(statistics.median(serial) * 1000),
        "cpu_ms": round(statistics.median(cpu)),
        "burst_s": round(statistics.median(bursts), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--functions", type=int, default=14)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for mode, fork in (("spawn", False), ("fork", True)):
        figures = measure(fork, args.functions, args.rounds)
        print(json.dumps({"mode": mode, **figures}), flush=True)


if __name__ == "__main__":
    main()
