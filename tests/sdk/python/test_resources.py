"""Conformance of `qstash dev` with the official Python SDK (qstash) for URL groups, queues, batch and schedules."""

import json
import random
import string
import time

import pytest
from qstash import QStash
from qstash.errors import QStashError
from qstash.message import BatchResponse, BatchUrlGroupResponse, EnqueueResponse, PublishUrlGroupResponse
from qstash.schedule import Schedule

from conftest import RecordingReceiver, wait_for


def unique(prefix: str) -> str:
    return f"{prefix}-" + "".join(random.choices(string.ascii_lowercase + string.digits, k=8))


def assert_status(excinfo, status: int) -> None:
    assert f"status: {status}" in str(excinfo.value), str(excinfo.value)


def assert_recent_ms(value: int, what: str) -> None:
    now = int(time.time() * 1000)
    assert isinstance(value, int), f"{what} must be an int, got {value!r}"
    assert now - 60_000 < value <= now + 1_000, f"{what} must be a recent unix time in ms, got {value}"


def deliveries(receiver: RecordingReceiver, url: str, n: int):
    return wait_for(f"{n} deliveries to {url}", lambda: receiver.to(url) if len(receiver.to(url)) >= n else None)


def assert_verified(ds) -> None:
    for d in ds:
        assert d.verified, f"signature did not verify for {d.url}: {d.verify_error}"


# --- URL groups -------------------------------------------------------------------------------


def test_url_group_upsert_get_list(client: QStash, receiver: RecordingReceiver):
    name = unique("py-ug")
    a = receiver.endpoint("py-ug-a")
    b = receiver.endpoint("py-ug-b")
    client.url_group.upsert_endpoints(url_group=name, endpoints=[{"name": "a", "url": a}, {"url": b}])

    g = client.url_group.get(name)
    assert g.name == name
    assert_recent_ms(g.created_at, "created_at")
    assert_recent_ms(g.updated_at, "updated_at")
    assert [(e.name, e.url) for e in g.endpoints] == [("a", a), (None, b)]

    listed = [x for x in client.url_group.list() if x.name == name]
    assert len(listed) == 1
    assert [(e.name, e.url) for e in listed[0].endpoints] == [("a", a), (None, b)]

    c = receiver.endpoint("py-ug-c")
    client.url_group.upsert_endpoints(url_group=name, endpoints=[{"name": "c", "url": c}])
    assert sorted(e.url for e in client.url_group.get(name).endpoints) == sorted([a, b, c])
    client.url_group.delete(name)


def test_url_group_remove_endpoints_and_delete(client: QStash, receiver: RecordingReceiver):
    name = unique("py-ug-rm")
    a = receiver.endpoint("py-ug-rm-a")
    b = receiver.endpoint("py-ug-rm-b")
    c = receiver.endpoint("py-ug-rm-c")
    client.url_group.upsert_endpoints(
        url_group=name, endpoints=[{"name": "a", "url": a}, {"name": "b", "url": b}, {"url": c}]
    )
    client.url_group.remove_endpoints(url_group=name, endpoints=[{"name": "a"}])
    assert [e.url for e in client.url_group.get(name).endpoints] == [b, c]
    client.url_group.remove_endpoints(url_group=name, endpoints=[{"url": c}])
    assert [(e.name, e.url) for e in client.url_group.get(name).endpoints] == [("b", b)]

    client.url_group.delete(name)
    with pytest.raises(QStashError) as excinfo:
        client.url_group.get(name)
    assert_status(excinfo, 404)
    assert all(x.name != name for x in client.url_group.list())
    # Deleting a group that does not exist succeeds (the SDK's own tests rely on it).
    client.url_group.delete(unique("py-ug-never"))


def test_publish_json_to_url_group_returns_a_list(client: QStash, receiver: RecordingReceiver):
    name = unique("py-ug-pub")
    a = receiver.endpoint("py-ug-pub-a")
    b = receiver.endpoint("py-ug-pub-b")
    client.url_group.upsert_endpoints(url_group=name, endpoints=[{"url": a}, {"url": b}])

    payload = {"to": "group"}
    res = client.message.publish_json(url_group=name, body=payload, headers={"Test-Header": "grp"})
    assert isinstance(res, list), res
    assert all(isinstance(r, PublishUrlGroupResponse) for r in res)
    assert sorted(r.url for r in res) == sorted([a, b])
    by_url = {r.url: r for r in res}
    for url in (a, b):
        assert by_url[url].message_id.startswith("msg_")
        assert by_url[url].deduplicated is False
        [d] = deliveries(receiver, url, 1)
        assert_verified([d])
        assert d.body == json.dumps(payload)
        assert d.headers["upstash-message-id"] == by_url[url].message_id
        assert d.headers["test-header"] == "grp"
    client.url_group.delete(name)


# --- Queues -----------------------------------------------------------------------------------


def test_queue_upsert_get_list_pause_resume_delete(client: QStash):
    name = unique("py-q")
    client.queue.upsert(name, parallelism=2)
    q = client.queue.get(name)
    assert q.name == name
    assert q.parallelism == 2
    assert q.paused is False
    assert q.lag == 0
    assert_recent_ms(q.created_at, "created_at")
    assert_recent_ms(q.updated_at, "updated_at")
    assert [x.name for x in client.queue.list()].count(name) == 1

    client.queue.upsert(name, parallelism=1, paused=True)
    q = client.queue.get(name)
    assert (q.parallelism, q.paused) == (1, True)

    client.queue.resume(name)
    assert client.queue.get(name).paused is False
    client.queue.pause(name)
    assert client.queue.get(name).paused is True
    client.queue.resume(name)
    assert client.queue.get(name).paused is False

    client.queue.delete(name)
    with pytest.raises(QStashError) as excinfo:
        client.queue.get(name)
    assert_status(excinfo, 404)
    assert all(x.name != name for x in client.queue.list())


def test_enqueue_json_delivers_in_fifo_order(client: QStash, receiver: RecordingReceiver):
    name = unique("py-q-fifo")
    client.queue.upsert(name, parallelism=1, paused=True)
    url = receiver.endpoint("py-q-fifo")
    ids = []
    for i in range(4):
        res = client.message.enqueue_json(queue=name, url=url, body={"i": i})
        assert isinstance(res, EnqueueResponse)
        assert res.message_id.startswith("msg_")
        ids.append(res.message_id)
    time.sleep(0.15)
    assert receiver.to(url) == [], "a paused queue delivers nothing"
    assert client.queue.get(name).lag == 4

    client.queue.resume(name)
    ds = deliveries(receiver, url, 4)
    assert_verified(ds)
    assert [json.loads(d.body)["i"] for d in ds] == [0, 1, 2, 3]
    assert [d.headers["upstash-message-id"] for d in ds] == ids
    wait_for("lag 0", lambda: client.queue.get(name).lag == 0)
    client.queue.delete(name)


def test_enqueue_to_a_new_queue_creates_it(client: QStash, receiver: RecordingReceiver):
    name = unique("py-q-auto")
    url = receiver.endpoint("py-q-auto")
    res = client.message.enqueue(queue=name, url=url, body="raw", content_type="text/plain")
    assert res.message_id.startswith("msg_")
    [d] = deliveries(receiver, url, 1)
    assert_verified([d])
    assert d.body == "raw"
    q = client.queue.get(name)
    assert (q.name, q.parallelism, q.paused) == (name, 1, False)
    client.queue.delete(name)


# --- Batch ------------------------------------------------------------------------------------


def test_batch_json_with_url_queue_and_url_group_items(client: QStash, receiver: RecordingReceiver):
    group = unique("py-batch-ug")
    g1 = receiver.endpoint("py-batch-g1")
    g2 = receiver.endpoint("py-batch-g2")
    client.url_group.upsert_endpoints(url_group=group, endpoints=[{"url": g1}, {"url": g2}])
    queue = unique("py-batch-q")
    direct = receiver.endpoint("py-batch-url")
    queued = receiver.endpoint("py-batch-queued")

    res = client.message.batch_json(
        [
            {"url": direct, "body": {"item": 0}, "headers": {"Test-Header": "zero"}},
            {"queue": queue, "url": queued, "body": {"item": 1}},
            {"url_group": group, "body": {"item": 2}},
        ]
    )
    assert len(res) == 3, res
    first, second, third = res
    assert isinstance(first, BatchResponse) and first.message_id.startswith("msg_")
    assert isinstance(second, BatchResponse) and second.message_id.startswith("msg_")
    assert isinstance(third, list), f"the url-group item answers with a nested list: {third!r}"
    assert all(isinstance(r, BatchUrlGroupResponse) for r in third)
    assert sorted(r.url for r in third) == sorted([g1, g2])

    [d0] = deliveries(receiver, direct, 1)
    assert_verified([d0])
    assert d0.body == json.dumps({"item": 0})
    assert d0.headers["upstash-message-id"] == first.message_id
    assert d0.headers["test-header"] == "zero"
    assert d0.headers["content-type"].startswith("application/json")

    [d1] = deliveries(receiver, queued, 1)
    assert_verified([d1])
    assert d1.body == json.dumps({"item": 1})
    assert d1.headers["upstash-message-id"] == second.message_id
    assert client.queue.get(queue).name == queue

    for r in third:
        [d] = deliveries(receiver, r.url, 1)
        assert_verified([d])
        assert d.body == json.dumps({"item": 2})
        assert d.headers["upstash-message-id"] == r.message_id

    client.url_group.delete(group)
    client.queue.delete(queue)


# --- Schedules --------------------------------------------------------------------------------


def find_schedule(client: QStash, schedule_id: str) -> list:
    return [s for s in client.schedule.list() if s.schedule_id == schedule_id]


def test_schedule_create_get_list(client: QStash, receiver: RecordingReceiver):
    destination = receiver.endpoint("py-sched")
    before = int(time.time() * 1000)
    schedule_id = client.schedule.create(
        destination=destination,
        cron="*/5 * * * *",
        body="hello",
        content_type="text/plain",
        headers={"Test-Header": "v"},
        retries=2,
        delay="10s",
        timeout=30,
        retry_delay="500",
        method="PUT",
    )
    assert isinstance(schedule_id, str) and schedule_id.startswith("scd_")

    s = client.schedule.get(schedule_id)
    assert isinstance(s, Schedule)
    assert s.schedule_id == schedule_id
    assert s.destination == destination
    assert s.cron == "*/5 * * * *"
    assert s.body == "hello"
    assert s.method == "PUT"
    assert s.retries == 2
    assert s.delay == 10
    assert s.timeout == 30
    assert s.retry_delay_expression == "500"
    assert s.paused is False
    assert s.headers == {"Content-Type": ["text/plain"], "Test-Header": ["v"]}
    assert before - 1_000 <= s.created_at <= int(time.time() * 1000) + 1_000
    assert s.last_schedule_states is None or isinstance(s.last_schedule_states, dict)
    assert s.caller_ip

    listed = find_schedule(client, schedule_id)
    assert len(listed) == 1
    assert listed[0] == s
    client.schedule.delete(schedule_id)


def test_schedule_create_json_with_id_queue_and_overwrite(client: QStash, receiver: RecordingReceiver):
    schedule_id = unique("py-sched-id")
    queue = unique("py-sched-q")
    first = receiver.endpoint("py-sched-first")
    created = client.schedule.create_json(
        destination=first,
        cron="0 0 * * *",
        body={"json": True},
        schedule_id=schedule_id,
        queue=queue,
        label="py-label",
    )
    assert created == schedule_id
    s = client.schedule.get(schedule_id)
    assert s.body == json.dumps({"json": True})
    assert s.headers == {"Content-Type": ["application/json"]}
    assert s.queue == queue
    assert s.label == "py-label"

    second = receiver.endpoint("py-sched-second")
    assert client.schedule.create(destination=second, cron="0 1 * * *", schedule_id=schedule_id) == schedule_id
    s = client.schedule.get(schedule_id)
    assert s.destination == second
    assert s.cron == "0 1 * * *"
    assert s.body is None, "an overwrite without a body drops the body"
    assert s.queue is None
    assert len(find_schedule(client, schedule_id)) == 1
    client.schedule.delete(schedule_id)


def test_schedule_pause_resume_delete(client: QStash, receiver: RecordingReceiver):
    schedule_id = client.schedule.create(destination=receiver.endpoint("py-sched-pause"), cron="0 0 1 * *")
    assert client.schedule.get(schedule_id).paused is False
    client.schedule.pause(schedule_id)
    assert client.schedule.get(schedule_id).paused is True
    assert find_schedule(client, schedule_id)[0].paused is True
    client.schedule.resume(schedule_id)
    assert client.schedule.get(schedule_id).paused is False

    client.schedule.delete(schedule_id)
    with pytest.raises(QStashError) as excinfo:
        client.schedule.get(schedule_id)
    assert_status(excinfo, 404)
    assert find_schedule(client, schedule_id) == []
