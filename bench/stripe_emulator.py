"""Request rate of the Stripe emulator: concurrent customer creates, then retrieves.

    uv run python bench/stripe_emulator.py                      # spawns an emulator
    uv run python bench/stripe_emulator.py --url http://127.0.0.1:12111 --requests 20000

Each create carries an Idempotency-Key and a Stripe-Account header, like the services' SDK calls.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode, urlsplit

import httpx

HEADERS = {"Authorization": "Bearer sk_test_bench"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Connection:
    """A minimal HTTP/1.1 keep-alive client: httpx's async pool, not the emulator, limits
    throughput beyond a few connections, so the load generator speaks HTTP itself."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: str = ""
    ) -> tuple[int, bytes]:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        raw = body.encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in {**HEADERS, **headers}.items()]
        if method == "POST":
            lines += ["Content-Type: application/x-www-form-urlencoded"]
            lines += [f"Content-Length: {len(raw)}"]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _phase(
    name: str,
    total: int,
    connections: list[Connection],
    call: Callable[[Connection, int], Awaitable[None]],
) -> None:
    latencies: list[float] = []
    next_index = 0

    async def worker(connection: Connection) -> None:
        nonlocal next_index
        while next_index < total:
            index = next_index
            next_index += 1
            started = time.perf_counter()
            await call(connection, index)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    elapsed = time.perf_counter() - started
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000
    print(
        f"{name:<10} {total:>7} requests  {total / elapsed:>8.0f} req/s  "
        f"p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
    )


def _check(status: int, body: bytes) -> dict[str, object]:
    if status != 200:
        raise SystemExit(f"emulator answered {status}: {body[:300]!r}")
    parsed: dict[str, object] = json.loads(body)
    return parsed


async def run(url: str, total: int, concurrency: int) -> None:
    parsed = urlsplit(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    connections = [Connection(host, port) for _ in range(concurrency)]
    setup = connections[0]
    account = _check(*await setup.request("POST", "/v1/accounts", {}, "type=express"))["id"]
    scoped = {"Stripe-Account": str(account)}
    ids: list[str] = [""] * total

    async def create(connection: Connection, index: int) -> None:
        body = urlencode({"email": f"bench{index}@example.com", "metadata[i]": str(index)})
        headers = {**scoped, "Idempotency-Key": str(uuid.uuid4())}
        reply = _check(*await connection.request("POST", "/v1/customers", headers, body))
        ids[index] = str(reply["id"])

    async def retrieve(connection: Connection, index: int) -> None:
        _check(*await connection.request("GET", f"/v1/customers/{ids[index]}", scoped))

    async def list_page(connection: Connection, index: int) -> None:
        del index
        _check(*await connection.request("GET", "/v1/customers?limit=10", scoped))

    print(f"emulator {url}, {concurrency} connections")
    try:
        await _phase("create", total, connections, create)
        await _phase("retrieve", total, connections, retrieve)
        await _phase("list", max(1, total // 5), connections, list_page)
    finally:
        for connection in connections:
            connection.close()


def _spawn() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "STRIPE_EMULATOR_PORT": str(port)}
    process = subprocess.Popen([sys.executable, "-m", "stripe_emulator"], env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("emulator did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running emulator; default: spawn one")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    process = None
    url = args.url
    if url is None:
        process, url = _spawn()
    try:
        asyncio.run(run(url, args.requests, args.concurrency))
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
