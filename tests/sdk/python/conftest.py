"""Fixtures for the Python SDK conformance tests: the `qstash dev` binary and a verifying receiver."""

import os
import uuid
import random
import re
import signal
import string
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, TypeVar

import pytest
from qstash import QStash, Receiver

SDK_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = SDK_DIR.parent.parent

DEFAULT_TOKEN = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0="
CURRENT_SIGNING_KEY = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r"
NEXT_SIGNING_KEY = "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs"

READY_RE = re.compile(r"runn+ing( at|\.)", re.IGNORECASE)

T = TypeVar("T")


def wait_for(what: str, fn: Callable[[], Optional[T]], timeout: float = 8.0, interval: float = 0.025) -> T:
    """Polls `fn` until it returns a truthy value (returned) or the deadline passes."""
    deadline = time.monotonic() + timeout
    last_error: Optional[BaseException] = None
    while True:
        try:
            value = fn()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - kept for the timeout message
            last_error = e
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last error: {last_error!r}")
        time.sleep(interval)


def binary_path() -> Path:
    env = os.environ.get("QSTASH_BIN")
    if env:
        return Path(env).resolve()
    return REPO_ROOT / "target" / "debug" / "qstash"


@dataclass
class DevServer:
    url: str
    proc: subprocess.Popen
    stdout: List[str]


def persist_args(log_name: str) -> List[str]:
    """With `SDK_PERSIST_DIR` set (scripts/test-sdk.sh's second pass), every server keeps its state in a
    database file of its own there, so the suite runs against `-persist` too."""
    directory = os.environ.get("SDK_PERSIST_DIR")
    if not directory:
        return []
    return [f"-persist={Path(directory) / f'{log_name}-{uuid.uuid4().hex}.db'}"]


def start_dev_server(log_name: str, extra_args: Optional[List[str]] = None) -> Tuple[DevServer, Callable[[], None]]:
    """Spawns `qstash dev -port=0` (plus `extra_args`) and waits for its readiness line; returns it and a stop function."""
    binary = binary_path()
    if not binary.exists():
        pytest.fail(f"qstash binary not found at {binary} (set QSTASH_BIN)")
    artifacts = SDK_DIR / ".artifacts"
    artifacts.mkdir(exist_ok=True)
    log = open(artifacts / f"{log_name}.log", "w", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "QSTASH_DEV"}
    proc = subprocess.Popen(
        [str(binary), "dev", "-port=0", *persist_args(log_name), *(extra_args or [])],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=env,
    )
    lines: List[str] = []
    found: Dict[str, str] = {}
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        seen_ready_line: Optional[str] = None
        for raw in proc.stdout:
            line = raw.rstrip("\r\n")
            log.write(raw)
            log.flush()
            lines.append(line)
            if seen_ready_line is None and READY_RE.search(line):
                seen_ready_line = line
            if seen_ready_line is not None and not ready.is_set():
                m = re.search(r"https?://\S+", seen_ready_line) or re.match(r"QSTASH_URL=(\S+)", line)
                if m:
                    found["url"] = (m.group(1) if m.re.groups else m.group(0)).rstrip(".,/")
                    ready.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 10
    while not ready.wait(0.05):
        if proc.poll() is not None:
            pytest.fail(f"qstash dev exited early (code {proc.returncode}); stdout:\n" + "\n".join(lines))
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("qstash dev printed no readiness line within 10 s; stdout:\n" + "\n".join(lines))

    def stop() -> None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()

    return DevServer(url=found["url"], proc=proc, stdout=lines), stop


@pytest.fixture(scope="session")
def dev_server():
    server, stop = start_dev_server("py-server")
    yield server
    stop()


@dataclass
class Delivery:
    path: str
    url: str
    method: str
    headers: Dict[str, str]
    body: str
    verified: bool
    verify_error: Optional[str]
    status: int


@dataclass
class Plan:
    fail_times: int
    status: int
    body: str


@dataclass
class RecordingReceiver:
    """Local destination on 127.0.0.1:0; every request is verified with the official `qstash.Receiver`."""

    verifier: Receiver
    base: str = ""
    deliveries: List[Delivery] = field(default_factory=list)
    plans: Dict[str, Plan] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def endpoint(self, name: str, fail_times: int = 0, status: int = 500, body: str = "failing on purpose") -> str:
        suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=8))
        path = f"/{name}-{suffix}"
        if fail_times:
            self.plans[path] = Plan(fail_times, status, body)
        return f"{self.base}{path}"

    def to(self, url: str) -> List[Delivery]:
        path = url[len(self.base):].split("?")[0]
        with self.lock:
            return [d for d in self.deliveries if d.path == path]


@pytest.fixture(scope="session")
def receiver():
    rec = RecordingReceiver(Receiver(current_signing_key=CURRENT_SIGNING_KEY, next_signing_key=NEXT_SIGNING_KEY))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8") if length else ""
            url = f"{rec.base}{self.path}"
            signature = self.headers.get("Upstash-Signature")
            verified, error = False, None
            if signature is None:
                error = "missing Upstash-Signature header"
            else:
                try:
                    rec.verifier.verify(signature=signature, body=body, url=url)
                    verified = True
                except Exception as e:  # noqa: BLE001 - recorded, asserted by the tests
                    error = repr(e)
            path = self.path.split("?")[0]
            status, answer = 200, "ok"
            with rec.lock:
                plan = rec.plans.get(path)
                if plan and plan.fail_times > 0:
                    plan.fail_times -= 1
                    status, answer = plan.status, plan.body
                rec.deliveries.append(
                    Delivery(
                        path=path,
                        url=url,
                        method=self.command,
                        headers={k.lower(): v for k, v in self.headers.items()},
                        body=body,
                        verified=verified,
                        verify_error=error,
                        status=status,
                    )
                )
            data = answer.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    rec.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield rec
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def client(dev_server: DevServer) -> QStash:
    return QStash(DEFAULT_TOKEN, base_url=dev_server.url, retry=False)


TEST_TIMEOUT_SECONDS = 15


@pytest.fixture(autouse=True)
def _per_test_timeout():
    """Fails a test that runs over TEST_TIMEOUT_SECONDS (the SDK's own HTTP timeout is 600 s)."""

    def on_alarm(signum, frame):
        raise TimeoutError(f"test exceeded {TEST_TIMEOUT_SECONDS} s (is the server hanging on a request?)")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TEST_TIMEOUT_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
