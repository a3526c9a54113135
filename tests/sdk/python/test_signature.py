"""Conformance of `qstash dev` with the official Python SDK's Receiver for URLs that go on the wire
percent-encoded: the JWT `sub` is the URL exactly as the endpoint received it, so
`Receiver.verify(url=...)` with the URL rebuilt from the request passes."""

import random
import string
from urllib.parse import unquote

import jwt
from qstash import QStash, Receiver

from conftest import CURRENT_SIGNING_KEY, NEXT_SIGNING_KEY, RecordingReceiver, wait_for


def test_a_url_with_a_quote_a_space_and_non_ascii_verifies_as_received(client: QStash, receiver: RecordingReceiver):
    base = receiver.endpoint("py-encoded")
    prefix = base[len(receiver.base):]
    # JSON bodies (batch, URL-group endpoints) and headers (callbacks) carry the raw characters.
    client.message.batch_json([{"url": f'{base}/batch/say "hi"/ä?q="a b"&w=ä', "body": {"n": 1}}])
    group = "py-sig-" + "".join(random.choices(string.ascii_lowercase + string.digits, k=8))
    client.url_group.upsert_endpoints(url_group=group, endpoints=[{"url": f'{base}/group/ä "x"?k=ä v'}])
    client.message.publish_json(url_group=group, body={"n": 2})
    client.message.publish_json(url=f"{base}/main", body={"n": 3}, callback=f'{base}/cb/a "b"?c=d e')

    def arrived():
        with receiver.lock:
            got = [d for d in receiver.deliveries if d.path.startswith(prefix)]
        return got if len(got) >= 4 else None

    got = wait_for("four deliveries", arrived)
    paths = sorted(unquote(d.url[len(base):].split("?")[0]) for d in got)
    assert paths == ['/batch/say "hi"/ä', '/cb/a "b"', '/group/ä "x"', "/main"]
    verifier = Receiver(current_signing_key=CURRENT_SIGNING_KEY, next_signing_key=NEXT_SIGNING_KEY)
    for d in got:
        assert not any(c == " " or c == '"' or ord(c) > 127 for c in d.url), "the URL arrives percent-encoded"
        signature = d.headers["upstash-signature"]
        assert jwt.decode(signature, options={"verify_signature": False})["sub"] == d.url
        assert d.verified, f"signature did not verify for {d.url}: {d.verify_error}"
        verifier.verify(signature=signature, body=d.body, url=d.url)
    batch = next(d for d in got if "/batch/" in d.url)
    assert batch.url == f"{base}/batch/say%20%22hi%22/%C3%A4?q=%22a%20b%22&w=%C3%A4"
    client.url_group.delete(group)
