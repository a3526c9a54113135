"""Time under the developer's control through the official Python SDK: a message delayed by ten days
is delivered by `POST /dev/clock/advance?by=10d`, and its signature still verifies with
`Receiver.verify`, because the JWT carries real time. The test moves the clock of a server of its
own, so the other modules keep real time."""

import time

import httpx
import jwt
import pytest
from qstash import QStash, Receiver

from conftest import CURRENT_SIGNING_KEY, DEFAULT_TOKEN, NEXT_SIGNING_KEY, RecordingReceiver, start_dev_server, wait_for


@pytest.fixture(scope="module")
def moved_server():
    server, stop = start_dev_server("py-clock-server")
    yield server
    stop()


def advance(server, by: str) -> dict:
    r = httpx.post(f"{server.url}/dev/clock/advance", params={"by": by}, headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"})
    assert r.status_code == 200, r.text
    return r.json()


def test_a_delivery_after_a_ten_day_advance_verifies(moved_server, receiver: RecordingReceiver):
    client = QStash(DEFAULT_TOKEN, base_url=moved_server.url, retry=False)
    url = receiver.endpoint("py-ten-days")
    res = client.message.publish_json(url=url, body={"hello": "later"}, delay="10d")
    assert advance(moved_server, "9d")["deliveries"] == 0
    assert receiver.to(url) == []
    assert advance(moved_server, "1d")["deliveries"] == 1
    d = wait_for("the delivery", lambda: receiver.to(url))[0]
    signature = d.headers["upstash-signature"]
    verifier = Receiver(current_signing_key=CURRENT_SIGNING_KEY, next_signing_key=NEXT_SIGNING_KEY)
    verifier.verify(signature=signature, body=d.body, url=d.url)
    assert d.verified, d.verify_error
    claims = jwt.decode(signature, options={"verify_signature": False})
    assert abs(claims["iat"] - time.time()) < 60, "the JWT is signed at real time"
    logs = client.log.list(filter={"message_id": res.message_id}).logs
    delivered = [entry for entry in logs if entry.state.value == "DELIVERED"]
    assert delivered and delivered[0].time >= (time.time() + 10 * 86400 - 60) * 1000
