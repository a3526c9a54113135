"""Conformance of `qstash dev` with the official Python SDK (qstash, pinned in requirements.txt)."""

import json
import time

import pytest
from qstash import QStash, Receiver
from qstash.errors import QStashError, SignatureError
from qstash.log import LogState

from conftest import (
    CURRENT_SIGNING_KEY,
    DEFAULT_TOKEN,
    NEXT_SIGNING_KEY,
    RecordingReceiver,
    wait_for,
)


def states(logs) -> list:
    return [entry.state.value for entry in logs]


def assert_status(excinfo, status: int) -> None:
    assert f"status: {status}" in str(excinfo.value), str(excinfo.value)


def test_publish_json_delivers_exact_body_signed(client: QStash, receiver: RecordingReceiver):
    url = receiver.endpoint("py-publish-json")
    payload = {"hello": "world", "n": 42, "nested": {"list": [1, 2, 3], "unicode": "é✓"}}
    res = client.message.publish_json(url=url, body=payload, headers={"Test-Header": "test-value"})
    assert res.message_id.startswith("msg_")

    [d] = wait_for("the delivery", lambda: receiver.to(url))
    assert d.verified, d.verify_error
    assert d.method == "POST"
    assert d.body == json.dumps(payload)
    assert json.loads(d.body) == payload
    assert d.headers["upstash-message-id"] == res.message_id
    assert d.headers["upstash-retried"] == "0"
    assert d.headers["test-header"] == "test-value"
    assert "upstash-forward-test-header" not in d.headers
    assert d.headers["content-type"].startswith("application/json")
    time.sleep(0.15)
    assert len(receiver.to(url)) == 1


def test_message_get_on_delayed_message(client: QStash, receiver: RecordingReceiver):
    url = receiver.endpoint("py-delayed")
    before = int(time.time() * 1000)
    res = client.message.publish_json(
        url=url, body={"later": True}, delay="60s", retries=2, retry_delay="10", headers={"Test-Header": "v"}
    )
    after = int(time.time() * 1000)

    msg = client.message.get(res.message_id)
    assert msg.message_id == res.message_id
    assert msg.url == url
    assert msg.method == "POST"
    assert msg.body == json.dumps({"later": True})
    assert msg.max_retries == 2
    assert msg.retry_delay_expression == "10"
    assert msg.headers is not None and msg.headers.get("Test-Header") == ["v"]
    assert msg.not_before >= int(time.time() * 1000), "notBefore is in the future, in ms"
    assert before + 59_000 <= msg.not_before <= after + 61_000
    assert before - 1_000 <= msg.created_at <= after + 1_000

    time.sleep(0.1)
    assert receiver.to(url) == []
    client.message.cancel(res.message_id)


def test_message_cancel_then_get_fails(client: QStash, receiver: RecordingReceiver):
    url = receiver.endpoint("py-cancel")
    res = client.message.publish_json(url=url, body={"cancel": "me"}, delay=60)
    client.message.cancel(res.message_id)
    with pytest.raises(QStashError) as excinfo:
        client.message.get(res.message_id)
    assert_status(excinfo, 404)


def test_cancelled_message_logs_parse_with_the_sdk_enum(client: QStash, receiver: RecordingReceiver):
    url = receiver.endpoint("py-cancel-logs")
    res = client.message.publish_json(url=url, body={"c": 1}, delay=60)
    client.message.cancel(res.message_id)

    def cancel_logged():
        # LogState(...) raises on an unknown state, e.g. "CANCELLED" instead of "CANCELED".
        logs = client.log.list(filter={"message_id": res.message_id}).logs
        seen = states(logs)
        return seen if ("CANCEL_REQUESTED" in seen or "CANCELED" in seen) else None

    seen = wait_for("a CANCEL_REQUESTED or CANCELED log entry", cancel_logged)
    assert "CREATED" in seen and "DELIVERED" not in seen, seen


def test_message_cancel_many_with_json_body(client: QStash, receiver: RecordingReceiver):
    url = receiver.endpoint("py-cancel-many")
    ids = [client.message.publish_json(url=url, body={"i": i}, delay=60).message_id for i in range(2)]
    assert client.message.cancel_many(ids) == 2
    for message_id in ids:
        with pytest.raises(QStashError) as excinfo:
            client.message.get(message_id)
        assert_status(excinfo, 404)


def test_message_cancel_all_without_body(client: QStash, receiver: RecordingReceiver):
    url = receiver.endpoint("py-cancel-all")
    ids = [client.message.publish_json(url=url, body={"i": i}, delay=60).message_id for i in range(3)]
    assert client.message.cancel_all() >= 3
    for message_id in ids:
        with pytest.raises(QStashError) as excinfo:
            client.message.get(message_id)
        assert_status(excinfo, 404)
    assert client.message.cancel_all() == 0


def test_content_based_deduplication_header_from_python(client: QStash, receiver: RecordingReceiver):
    # Python sends `Upstash-Content-Based-Deduplication: True` (capitalised).
    url = receiver.endpoint("py-content-dedup")
    body = {"same": time.time()}
    first = client.message.publish_json(url=url, body=body, content_based_deduplication=True)
    second = client.message.publish_json(url=url, body=body, content_based_deduplication=True)
    assert first.deduplicated is False
    assert second.deduplicated is True
    assert second.message_id == first.message_id
    wait_for("the delivery", lambda: receiver.to(url))
    time.sleep(0.15)
    assert len(receiver.to(url)) == 1


def test_failing_destination_lands_in_dlq_and_can_be_deleted(client: QStash, receiver: RecordingReceiver):
    url = receiver.endpoint("py-always-fails", fail_times=1_000, status=500, body="upstream broke")
    res = client.message.publish_json(url=url, body={"doomed": True}, retries=1, retry_delay="10")

    attempts = wait_for("two attempts", lambda: receiver.to(url) if len(receiver.to(url)) >= 2 else None)
    assert [d.headers["upstash-retried"] for d in attempts] == ["0", "1"]
    assert all(d.verified for d in attempts), [d.verify_error for d in attempts]

    def find_entry():
        listed = client.dlq.list(filter={"message_id": res.message_id})
        return next((m for m in listed.messages if m.message_id == res.message_id), None)

    entry = wait_for("the DLQ entry", find_entry)
    assert len(receiver.to(url)) == 2
    assert entry.dlq_id
    assert entry.response_status == 500
    assert entry.response_body == "upstream broke"
    assert entry.url == url
    assert entry.max_retries == 1
    assert entry.body == json.dumps({"doomed": True})

    got = client.dlq.get(entry.dlq_id)
    assert got.dlq_id == entry.dlq_id
    assert got.message_id == res.message_id

    client.dlq.delete(entry.dlq_id)
    assert client.dlq.list(filter={"message_id": res.message_id}).messages == []
    with pytest.raises(QStashError) as excinfo:
        client.dlq.delete(entry.dlq_id)
    assert_status(excinfo, 404)


def test_dlq_delete_many_with_json_body(client: QStash, receiver: RecordingReceiver):
    url = receiver.endpoint("py-dlq-many", fail_times=1_000, status=503)
    ids = [client.message.publish_json(url=url, body={"i": i}, retries=0).message_id for i in range(2)]

    def entries():
        listed = client.dlq.list(filter={"url": url})
        found = [m for m in listed.messages if m.message_id in ids]
        return found if len(found) == 2 else None

    found = wait_for("two DLQ entries", entries)
    assert {m.response_status for m in found} == {503}
    assert client.dlq.delete_many([m.dlq_id for m in found]) == 2
    assert client.dlq.list(filter={"url": url}).messages == []


def test_logs_show_delivered_exactly_once(client: QStash, receiver: RecordingReceiver):
    url = receiver.endpoint("py-logged")
    res = client.message.publish_json(url=url, body={"log": "me"})
    wait_for("the delivery", lambda: receiver.to(url))

    def delivered_logs():
        logs = client.log.list(filter={"message_id": res.message_id}).logs
        return logs if "DELIVERED" in states(logs) else None

    logs = wait_for("a DELIVERED log entry", delivered_logs)
    seen = states(logs)
    for s in ("CREATED", "ACTIVE", "DELIVERED"):
        assert s in seen, seen
    assert seen.count("DELIVERED") == 1, seen
    assert all(entry.message_id == res.message_id for entry in logs)
    assert all(entry.url == url for entry in logs)

    only = client.log.list(filter={"message_id": res.message_id, "state": LogState.DELIVERED}).logs
    assert len(only) == 1
    assert only[0].state == LogState.DELIVERED


def test_signing_keys_are_the_default_users(client: QStash):
    keys = client.signing_key.get()
    assert keys.current == CURRENT_SIGNING_KEY
    assert keys.next == NEXT_SIGNING_KEY


def test_bad_token_is_rejected_with_401(dev_server, receiver: RecordingReceiver):
    bad = QStash("not-a-valid-token", base_url=dev_server.url, retry=False)
    with pytest.raises(QStashError) as excinfo:
        bad.message.publish_json(url=receiver.endpoint("py-unauthorized"), body={"x": 1})
    assert_status(excinfo, 401)


def test_receiver_verify_accepts_real_deliveries_and_rejects_tampering(client: QStash, receiver: RecordingReceiver):
    url = receiver.endpoint("py-verify")
    client.message.publish(url=url, body="raw body", headers={"Content-Type": "text/plain"})
    [d] = wait_for("the delivery", lambda: receiver.to(url))
    assert d.body == "raw body"
    signature = d.headers["upstash-signature"]
    r = Receiver(current_signing_key=CURRENT_SIGNING_KEY, next_signing_key=NEXT_SIGNING_KEY)
    r.verify(signature=signature, body=d.body, url=url)
    with pytest.raises(SignatureError):
        r.verify(signature=signature, body="tampered", url=url)
    with pytest.raises(SignatureError):
        r.verify(signature=signature, body=d.body, url=url + "/elsewhere")


def test_every_delivery_was_verified(client: QStash, receiver: RecordingReceiver):
    assert receiver.deliveries
    bad = [(d.path, d.verify_error) for d in receiver.deliveries if not d.verified]
    assert bad == []


def test_default_token_constant_matches_banner(dev_server):
    tokens = [line.split("=", 1)[1].strip() for line in dev_server.stdout if line.startswith("QSTASH_TOKEN=")]
    assert tokens and tokens[0] == DEFAULT_TOKEN
