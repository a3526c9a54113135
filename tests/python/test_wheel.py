"""The qstash-dev wheel as a user gets it (scripts/test-python.sh installs it into a fresh venv
with no index): the `qstash` and `qstash-dev` commands answer, the `qstash_dev` pytest fixture
sets the four variables and a publish through the official SDK arrives verified by its
`Receiver`, and `start_dev_server()` drives the clock."""

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from qstash import QStash, Receiver

import qstash_dev


def scripts_dir() -> str:
    return os.path.dirname(qstash_dev.binary_path())


@pytest.fixture()
def receiver():
    got = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            got.append((self.path, body, self.headers.get("Upstash-Signature")))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", got
    httpd.shutdown()


def wait_for(what, fn, timeout=8.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.025)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_commands_of_the_wheel_answer():
    for name in ("qstash", "qstash-dev"):
        out = subprocess.run([os.path.join(scripts_dir(), name), "--version"], capture_output=True, text=True, check=True)
        assert out.stdout.startswith("qstash "), out
    out = subprocess.run([sys.executable, "-m", "qstash_dev", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("qstash ")
    proc = subprocess.Popen(
        [os.path.join(scripts_dir(), "qstash"), "dev", "-port=0"], stdout=subprocess.PIPE, text=True, env={**os.environ, "NO_COLOR": "1"}
    )
    try:
        url = token = None
        for line in proc.stdout:
            m = re.search(r"is running at (\S+)", line)
            url = url or (m and m.group(1))
            if line.startswith("QSTASH_TOKEN="):
                token = line.strip().split("=", 1)[1]
                break
        assert url and token, "a readiness line and the default user's token"
        req = urllib.request.Request(f"{url}/v2/keys", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req) as res:
            assert json.loads(res.read())["current"].startswith("sig_")
    finally:
        proc.terminate()
        proc.wait(5)


def test_the_fixture_sets_the_variables_and_a_delivery_verifies(qstash_dev, receiver):
    url, got = receiver
    assert os.environ["QSTASH_URL"] == qstash_dev.url
    assert os.environ["QSTASH_TOKEN"] == qstash_dev.token
    client = QStash(os.environ["QSTASH_TOKEN"], base_url=os.environ["QSTASH_URL"])
    client.message.publish_json(url=f"{url}/hook", body={"from": "pytest"})
    [(path, body, signature)] = wait_for("the delivery", lambda: list(got))
    assert path == "/hook" and json.loads(body) == {"from": "pytest"}
    verifier = Receiver(
        current_signing_key=os.environ["QSTASH_CURRENT_SIGNING_KEY"],
        next_signing_key=os.environ["QSTASH_NEXT_SIGNING_KEY"],
    )
    verifier.verify(signature=signature, body=body, url=f"{url}/hook")


def test_start_dev_server_moves_the_clock_and_stops(receiver):
    url, got = receiver
    with qstash_dev.start_dev_server(args=["-start-time=2026-01-01T00:00:00Z"]) as server:
        client = QStash(server.token, base_url=server.url)
        client.message.publish(url=f"{url}/later", body="a day later", delay="1d")
        assert not got
        server.clock.advance("1d")
        assert [b for _, b, _ in got] == ["a day later"], "delivered by the advance"
        assert server.clock.now()["now"] >= 1767312000000
        server.wait_idle(timeout="5s")
        server.reset()
    assert server.process.poll() is not None, "stopped at the end of the block"
    with pytest.raises(RuntimeError, match="did not start"):
        qstash_dev.start_dev_server(args=["-quota=nope"])
