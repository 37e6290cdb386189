"""Memory and temp-disk growth of a server receiving oversized request bodies.

    python bench/body_limits.py [--mb 500] [--parallel 4]

Starts a real server (uvicorn, the embedded defaults, no connector) and sends it, over
loopback, `--parallel` POSTs of `--mb` MB at once to `/v1/webhooks/<connector>` — with a
declared Content-Length, then chunked without one — and one multipart upload of `--mb` MB
against a 100 kB attachment limit. Each sender stops when the server refuses (413) and closes.
Prints one JSON object: the server's resident memory before and at its peak (VmHWM), the
growth per scenario, the largest temp-file footprint seen during the upload, and the target
(< 50 MB growth for the parallel POSTs).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CHUNK = b"x" * (256 * 1024)
TARGET_MB = 50
SERVER = """
import sys, uvicorn
from pathlib import Path
from deskpilot.core.app import create_app
from deskpilot.core.config import ChatSettings, Settings
from deskpilot.core.services import Services
settings = Settings(data_dir=Path(sys.argv[1]), connectors={},
                    chat=ChatSettings(max_attachment_bytes=100_000,
                                      allowed_attachment_types=["text/plain"]))
services = Services(settings)
services.migrate()
uvicorn.run(create_app(services=services), host="127.0.0.1", port=int(sys.argv[2]),
            log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def memory_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def post(port: int, path: str, size: int, chunked: bool, content_type: str = "application/json",
         prefix: bytes = b"") -> str:
    """Send a POST of `size` bytes until done or the server closes; its status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        head = f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: {content_type}\r\n"
        head += ("Transfer-Encoding: chunked\r\n\r\n" if chunked
                 else f"Content-Length: {size}\r\n\r\n")
        try:
            sock.sendall(head.encode())
            sent = 0
            pieces = [prefix] if prefix else []
            while sent < size:
                piece = pieces.pop() if pieces else CHUNK[: size - sent]
                sent += len(piece)
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # refused mid-body: the server closed the connection
        try:
            return sock.recv(4096).split(b"\r\n", 1)[0].decode() or "(closed)"
        except OSError:
            return "(reset)"


def folder_bytes(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        with contextlib.suppress(OSError):  # a temp file removed meanwhile
            total += path.stat().st_size
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=500)
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    size = args.mb * 1_000_000
    with tempfile.TemporaryDirectory() as folder:
        data_dir, spool = Path(folder) / "data", Path(folder) / "tmp"
        spool.mkdir()
        port = free_port()
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(data_dir), str(port)],
                                  env={**os.environ, "TMPDIR": str(spool)})
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("server did not start") from None
                    time.sleep(0.2)
            report: dict[str, object] = {"rss_start_mb": round(memory_mb(server.pid, "VmRSS"), 1)}
            for name, chunked in (("declared_length", False), ("chunked", True)):
                before = memory_mb(server.pid, "VmHWM")
                statuses: list[str] = []
                threads = [threading.Thread(target=lambda c=chunked, out=statuses: out.append(
                    post(port, "/v1/webhooks/zendesk", size, c))) for _ in range(args.parallel)]
                started = time.perf_counter()
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                report[name] = {
                    "posts": args.parallel, "mb_each": args.mb, "statuses": sorted(statuses),
                    "seconds": round(time.perf_counter() - started, 2),
                    "peak_rss_growth_mb": round(memory_mb(server.pid, "VmHWM") - before, 1)}
            prefix = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
                      b"Content-Type: text/plain\r\n\r\n")
            peak_spool = 0
            done = threading.Event()

            def watch() -> None:
                nonlocal peak_spool
                while not done.is_set():
                    peak_spool = max(peak_spool, folder_bytes(spool))
                    time.sleep(0.05)

            watcher = threading.Thread(target=watch)
            watcher.start()
            status = post(port, "/chatkit/attachments/atc_bench/upload", size, True,
                          "multipart/form-data; boundary=b", prefix)
            done.set()
            watcher.join()
            report["multipart_upload"] = {"mb": args.mb, "attachment_limit_bytes": 100_000,
                                          "status": status,
                                          "peak_temp_files_mb": round(peak_spool / 1e6, 2)}
            report["rss_peak_mb"] = round(memory_mb(server.pid, "VmHWM"), 1)
            report["target_growth_mb"] = TARGET_MB
        finally:
            server.terminate()
            server.wait(20)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
