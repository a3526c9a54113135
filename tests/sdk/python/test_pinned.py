"""Pinned credentials with the official Python SDK: a server started with the user's own token and
signing keys (`-token`, `-current-signing-key`, `-next-signing-key`) takes the token from `QStash`
and signs with the keys, so `Receiver.verify` with them accepts the delivery."""

import pytest
from qstash import QStash, Receiver

from conftest import CURRENT_SIGNING_KEY, NEXT_SIGNING_KEY, RecordingReceiver, start_dev_server, wait_for

TOKEN = "my-apps-own-python-token"
CURRENT = "sig_myPythonAppsCurrentKey"
NEXT = "sig_myPythonAppsNextKey"


def test_pinned_token_and_keys_are_the_default_users(receiver: RecordingReceiver):
    server, stop = start_dev_server(
        "py-pinned-server",
        [f"-token={TOKEN}", f"-current-signing-key={CURRENT}", f"-next-signing-key={NEXT}"],
    )
    try:
        # The readiness line comes first; the users' variables follow it.
        wait_for("the banner's pinned token", lambda: f"QSTASH_TOKEN={TOKEN}" in server.stdout)
        client = QStash(TOKEN, base_url=server.url)
        url = receiver.endpoint("py-pinned")
        client.message.publish_json(url=url, body={"pinned": True})
        [d] = wait_for("the delivery", lambda: receiver.to(url) or None)
        signature = d.headers["upstash-signature"]
        Receiver(current_signing_key=CURRENT, next_signing_key=NEXT).verify(signature=signature, body=d.body, url=d.url)
        with pytest.raises(Exception):
            Receiver(current_signing_key=CURRENT_SIGNING_KEY, next_signing_key=NEXT_SIGNING_KEY).verify(
                signature=signature, body=d.body, url=d.url
            )
    finally:
        stop()
