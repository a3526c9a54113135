"""The test kit of qstash-dev: `start_dev_server()` starts the `qstash dev` binary this
distribution carries on a free port, waits for its banner, and hands back the default user's
credentials and the `/dev` controls (reset, wait until idle, the clock). The server stops on
`stop()`, at the end of a `with` block, or at the latest when the interpreter exits. The pytest
plugin (`qstash_dev.pytest_plugin`) builds its session fixture on it."""

from __future__ import annotations

import atexit
import datetime as _dt
import json
import os
import re
import subprocess
import sys
import sysconfig
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import Dict, List, Optional, Sequence, Union

__all__ = ["DevServer", "binary_path", "start_dev_server"]

_READY = re.compile(r"is running at (\S+)")
_VARS = ("QSTASH_URL", "QSTASH_TOKEN", "QSTASH_CURRENT_SIGNING_KEY", "QSTASH_NEXT_SIGNING_KEY")
_START_TIMEOUT_S = 10.0
_running: "set[subprocess.Popen[str]]" = set()


@atexit.register
def _kill_running() -> None:
    for proc in list(_running):
        proc.kill()


def binary_path() -> str:
    """The `qstash` binary installed with this distribution, or `QSTASH_DEV_BINARY`."""
    override = os.environ.get("QSTASH_DEV_BINARY")
    if override:
        return override
    name = "qstash.exe" if os.name == "nt" else "qstash"
    dirs = [sysconfig.get_path("scripts"), os.path.dirname(sys.executable)]
    user_scheme = "nt_user" if os.name == "nt" else "posix_user"
    try:
        dirs.append(sysconfig.get_path("scripts", user_scheme))
    except KeyError:
        pass
    for d in dirs:
        candidate = os.path.join(d, name)
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(
        f"the qstash binary of qstash-dev was not found in {', '.join(dirs)}; reinstall qstash-dev, "
        "or set QSTASH_DEV_BINARY to a qstash binary"
    )


Duration = Union[str, int]


def _duration(by: Duration) -> str:
    """A QStash duration (`90s`, `1d`) as it is; an int as milliseconds."""
    return f"{by}ms" if isinstance(by, int) else str(by)


def _instant(to: Union[int, str, _dt.datetime]) -> str:
    """Unix ms or RFC 3339 as `/dev/clock/set` takes it; a naive datetime is taken as UTC."""
    if isinstance(to, _dt.datetime):
        if to.tzinfo is None:
            to = to.replace(tzinfo=_dt.timezone.utc)
        return to.isoformat()
    return str(to)


class _Clock:
    """The server's clock (`/dev/clock`)."""

    def __init__(self, server: "DevServer") -> None:
        self._server = server

    def now(self) -> dict:
        return self._server._call("GET", "/dev/clock")

    def advance(self, by: Duration) -> dict:
        """Moves the clock forward; what falls due in between happens, in order, first."""
        return self._server._call("POST", "/dev/clock/advance?by=" + urllib.parse.quote(_duration(by)))

    def set(self, to: Union[int, str, _dt.datetime]) -> dict:
        return self._server._call("POST", "/dev/clock/set?to=" + urllib.parse.quote(_instant(to)))

    def freeze(self) -> dict:
        return self._server._call("POST", "/dev/clock/freeze")

    def resume(self) -> dict:
        return self._server._call("POST", "/dev/clock/resume")


class DevServer:
    """A running `qstash dev`: its URL, the default user's credentials and the `/dev` controls."""

    def __init__(self, process: "subprocess.Popen[str]", env: Dict[str, str]) -> None:
        self.process = process
        self.env = dict(env)
        self.url = env["QSTASH_URL"]
        self.token = env["QSTASH_TOKEN"]
        self.current_signing_key = env["QSTASH_CURRENT_SIGNING_KEY"]
        self.next_signing_key = env["QSTASH_NEXT_SIGNING_KEY"]
        self.clock = _Clock(self)

    def _call(self, method: str, path: str) -> dict:
        req = urllib.request.Request(self.url + path, method=method, headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(req, timeout=120) as res:
                text = res.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            detail = e.read().decode("utf-8", "replace")
            raise RuntimeError(f"qstash dev: {method} {path} answered {e.code}: {detail}") from None
        return json.loads(text) if text else {}

    def reset(self) -> None:
        """Forgets the default user's state (`POST /dev/reset`)."""
        self._call("POST", "/dev/reset")

    def wait_idle(self, timeout: Optional[Duration] = None) -> dict:
        """Returns once nothing is due or in flight (`POST /dev/wait-idle`, 30 s at most by default)."""
        query = "" if timeout is None else "?timeout=" + urllib.parse.quote(_duration(timeout))
        return self._call("POST", "/dev/wait-idle" + query)

    def stop(self) -> None:
        """Stops the server (SIGTERM, then SIGKILL after 3 s) and waits for it."""
        _running.discard(self.process)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "DevServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _command_line(port: int, quota: Optional[str], persist: Optional[str], seed: Optional[str], args: Sequence[str]) -> List[str]:
    argv = ["dev", f"-port={port}"]
    if quota:
        argv.append(f"-quota={quota}")
    if persist:
        argv.append(f"-persist={persist}")
    if seed:
        argv.append(f"-seed={seed}")
    return argv + list(args)


def start_dev_server(
    port: int = 0,
    quota: Optional[str] = None,
    persist: Optional[str] = None,
    seed: Optional[str] = None,
    args: Sequence[str] = (),
    binary: Optional[str] = None,
) -> DevServer:
    """Starts `qstash dev` (on a free port unless `port` is given) and returns once it is ready."""
    proc = subprocess.Popen(
        [binary or binary_path(), *_command_line(port, quota, persist, seed, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    _running.add(proc)
    found: Dict[str, str] = {}
    seen: List[str] = []
    ready = threading.Event()

    def read_stdout() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:  # read to the end, so the server never blocks on a full pipe
            line = line.rstrip("\n")
            if not ready.is_set():
                seen.append(line)
                m = _READY.search(line)
                if m and "QSTASH_URL" not in found:
                    found["QSTASH_URL"] = m.group(1)
                kv = re.match(r"^(QSTASH_[A-Z_]+)=(.*)$", line)
                if kv and "QSTASH_URL" in found and kv.group(1) not in found:
                    found[kv.group(1)] = kv.group(2)
                if all(k in found for k in _VARS):
                    ready.set()
        ready.set()

    stderr: List[str] = []
    threading.Thread(target=read_stdout, daemon=True).start()
    threading.Thread(target=lambda: stderr.extend(proc.stderr or []), daemon=True).start()
    if not ready.wait(_START_TIMEOUT_S) or not all(k in found for k in _VARS):
        proc.kill()
        proc.wait()
        _running.discard(proc)
        raise RuntimeError(
            f"qstash dev did not start (exit code {proc.returncode})\nstdout:\n" + "\n".join(seen) + "\nstderr:\n" + "".join(stderr)
        )
    return DevServer(proc, {k: found[k] for k in _VARS})
