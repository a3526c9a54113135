"""The pytest plugin of qstash-dev (registered through the `pytest11` entry point): the session
fixture `qstash_dev` starts one server for the whole session and sets `QSTASH_URL`,
`QSTASH_TOKEN`, `QSTASH_CURRENT_SIGNING_KEY` and `QSTASH_NEXT_SIGNING_KEY` while it runs. Extra
flags of `qstash dev` go in the ini option `qstash_dev_args` (e.g. `-backoff-scale=0.001`)."""

import os
from typing import Iterator

import pytest

from qstash_dev import DevServer, start_dev_server


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("qstash_dev_args", "extra flags for the qstash dev of the qstash_dev fixture", type="args", default=[])


@pytest.fixture(scope="session")
def qstash_dev(pytestconfig: pytest.Config) -> Iterator[DevServer]:
    """One `qstash dev` for the session, its four variables set in `os.environ`."""
    server = start_dev_server(args=pytestconfig.getini("qstash_dev_args"))
    saved = {k: os.environ.get(k) for k in server.env}
    os.environ.update(server.env)
    try:
        yield server
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()
