"""Conformance of `qstash dev` with the official Python SDK (qstash) for flow control (`client.flow_control`,
`flow_control=` on publish) and for the throughput limits as the SDK classifies its 429s: the daily message
quota (`DailyMessageLimitExceededError`, `RateLimit-*`) and the burst limit on management endpoints
(`RateLimitExceededError`, `Burst-RateLimit-*`). The limits run on a second server started with
`-messages-per-day=2`."""

import json
from concurrent.futures import ThreadPoolExecutor
import random
import string
import time

import pytest
from qstash import QStash
from qstash.errors import DailyMessageLimitExceededError, QStashError, RateLimitExceededError
from qstash.flow_control_api import FlowControlInfo
from qstash.message import FlowControl

from conftest import DEFAULT_TOKEN, DevServer, RecordingReceiver, start_dev_server, wait_for

TEST_USER_1_TOKEN = "eyJVc2VySUQiOiJ0ZXN0VXNlcjEiLCJQYXNzd29yZCI6InRlc3RQYXNzd29yZCJ9"

INFO_FIELDS = [
    "flowControlKey",
    "waitListSize",
    "parallelismMax",
    "parallelismCount",
    "rateMax",
    "rateCount",
    "ratePeriod",
    "ratePeriodStart",
    "isPaused",
    "isPinnedParallelism",
    "isPinnedRate",
]


def unique(prefix: str) -> str:
    return f"{prefix}-" + "".join(random.choices(string.ascii_lowercase + string.digits, k=8))


def deliveries(receiver: RecordingReceiver, url: str, n: int):
    return wait_for(f"{n} deliveries to {url}", lambda: receiver.to(url) if len(receiver.to(url)) >= n else None)


def assert_verified(ds) -> None:
    for d in ds:
        assert d.verified, f"signature did not verify for {d.url}: {d.verify_error}"


# --- flow control -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def flow_server():
    server, stop = start_dev_server("py-flow-server")
    yield server
    stop()


@pytest.fixture(scope="module")
def client(flow_server: DevServer) -> QStash:
    """Overrides conftest's `client`: this module has a server of its own (as each TS file does), so its
    management calls do not add to the shared server's per-second burst count."""
    return QStash(DEFAULT_TOKEN, base_url=flow_server.url, retry=False)


def test_publish_with_flow_control_shows_on_the_message(client: QStash, receiver: RecordingReceiver):
    url = receiver.endpoint("py-fc-msg")
    key = unique("py-fc-msg")
    full = client.message.publish_json(
        url=url, body={"n": 1}, delay=60, flow_control=FlowControl(key=key, parallelism=3, rate=10, period=5)
    )
    m = client.message.get(full.message_id)
    assert m.flow_control is not None
    assert m.flow_control.key == key
    assert m.flow_control.parallelism == 3
    assert m.flow_control.rate == 10
    assert m.flow_control.period == 5, "an int period is sent as `5s` and echoed in seconds"

    key2 = unique("py-fc-msg2")
    dur = client.message.publish_json(
        url=url, body={"n": 2}, delay=60, flow_control=FlowControl(key=key2, rate=4, period="2m")
    )
    m2 = client.message.get(dur.message_id)
    assert m2.flow_control is not None
    assert m2.flow_control.key == key2
    assert m2.flow_control.parallelism is None
    assert m2.flow_control.rate == 4
    assert m2.flow_control.period == 120

    key3 = unique("py-fc-msg3")
    par = client.message.publish_json(url=url, body={"n": 3}, delay=60, flow_control=FlowControl(key=key3, parallelism=2))
    m3 = client.message.get(par.message_id)
    assert m3.flow_control is not None
    assert m3.flow_control.parallelism == 2
    assert m3.flow_control.rate is None
    assert m3.flow_control.period == 1, "the period defaults to one second"

    plain = client.message.publish_json(url=url, body={"n": 4}, delay=60)
    assert client.message.get(plain.message_id).flow_control is None

    info = client.flow_control.get(key)
    assert info.key == key
    assert info.parallelism_max == 3
    assert info.rate_max == 10
    assert info.rate_period == 5
    assert info.wait_list_size == 0, "a delayed message is not waiting on the limits yet"

    assert client.message.cancel_many([full.message_id, dur.message_id, par.message_id, plain.message_id]) == 4
    time.sleep(0.1)
    assert receiver.to(url) == []


def test_get_parses_every_field_and_reset_rate_zeroes_the_count(client: QStash, receiver: RecordingReceiver):
    url = receiver.endpoint("py-fc-info")
    key = unique("py-fc-info")
    before = int(time.time())
    client.message.publish_json(
        url=url, body={"n": 1}, flow_control=FlowControl(key=key, parallelism=2, rate=5, period=30)
    )
    assert_verified(deliveries(receiver, url, 1))

    def settled():
        i = client.flow_control.get(key)
        return i if i.parallelism_count == 0 else None

    info = wait_for("parallelismCount back to 0", settled)
    assert isinstance(info, FlowControlInfo)
    assert info.key == key
    assert info.wait_list_size == 0
    assert info.parallelism_max == 2
    assert info.parallelism_count == 0
    assert info.rate_max == 5
    assert info.rate_count == 1, "one delivery in the current 30 s period"
    assert info.rate_period == 30
    assert before - 1 <= info.rate_period_start <= int(time.time()) + 1, "ratePeriodStart is in unix seconds"
    assert info.is_paused is False
    assert info.is_pinned_parallelism is False
    assert info.is_pinned_rate is False

    # The SDK defaults missing fields, so check the wire too: every field is present, counters included.
    raw = client.http.request(path=f"/v2/flowControl/{key}", method="GET")
    assert set(INFO_FIELDS) <= set(raw), raw

    time.sleep(1.1)
    client.flow_control.reset_rate(key)
    reset = client.flow_control.get(key)
    assert reset.rate_count == 0
    assert reset.rate_period_start > info.rate_period_start, "a new period starts now"
    assert reset.rate_max == 5
    raw = client.http.request(path=f"/v2/flowControl/{key}", method="GET")
    assert raw["rateCount"] == 0, "rateCount is sent as 0, not omitted"


def test_get_unknown_key_is_404(client: QStash):
    with pytest.raises(QStashError) as excinfo:
        client.flow_control.get(unique("py-fc-none"))
    assert "status: 404" in str(excinfo.value)


def test_global_parallelism(client: QStash):
    g = client.flow_control.get_global_parallelism()
    assert g.parallelism_max == 100, "the payg preset's global parallelism"
    assert isinstance(g.parallelism_count, int) and 0 <= g.parallelism_count <= 100
    raw = client.http.request(path="/v2/globalParallelism", method="GET")
    assert raw["parallelismMax"] == 100


def test_pin_then_unpin_parallelism_only_keeps_rate_pinned(client: QStash, receiver: RecordingReceiver):
    url = receiver.endpoint("py-fc-pin")
    key = unique("py-fc-pin")
    client.message.publish_json(url=url, body={"n": 1}, flow_control=FlowControl(key=key, parallelism=1, rate=100))
    deliveries(receiver, url, 1)

    client.flow_control.pin(key, {"parallelism": 4, "rate": 7, "period": 30})
    pinned = client.flow_control.get(key)
    assert pinned.is_pinned_parallelism is True
    assert pinned.is_pinned_rate is True
    assert pinned.parallelism_max == 4
    assert pinned.rate_max == 7
    assert pinned.rate_period == 30
    assert pinned.rate_count == 0, "pinning resets the rate count"

    # While pinned, a message's own config is ignored.
    client.message.publish_json(url=url, body={"n": 2}, flow_control=FlowControl(key=key, parallelism=9, rate=9))
    deliveries(receiver, url, 2)
    still = client.flow_control.get(key)
    assert (still.parallelism_max, still.rate_max) == (4, 7)

    client.flow_control.unpin(key, {"parallelism": True})
    half = client.flow_control.get(key)
    assert half.is_pinned_parallelism is False
    assert half.is_pinned_rate is True, "unpinning parallelism leaves the rate pinned"
    assert half.rate_max == 7

    # Python sends `rate=true&parallelism=false`.
    client.flow_control.unpin(key, {"parallelism": False, "rate": True})
    none = client.flow_control.get(key)
    assert none.is_pinned_parallelism is False
    assert none.is_pinned_rate is False


def test_pause_holds_deliveries_until_resume(client: QStash, receiver: RecordingReceiver):
    url = receiver.endpoint("py-fc-pause")
    key = unique("py-fc-pause")
    client.message.publish_json(url=url, body={"n": 0}, flow_control=FlowControl(key=key, parallelism=5))
    deliveries(receiver, url, 1)

    client.flow_control.pause(key)
    assert client.flow_control.get(key).is_paused is True
    for n in (1, 2, 3):
        client.message.publish_json(url=url, body={"n": n}, flow_control=FlowControl(key=key, parallelism=5))

    def waiting():
        i = client.flow_control.get(key)
        return i if i.wait_list_size == 3 else None

    assert wait_for("3 messages in the waitlist", waiting).is_paused is True
    time.sleep(0.3)
    assert len(receiver.to(url)) == 1, "nothing is delivered while the key is paused"

    client.flow_control.resume(key)
    ds = deliveries(receiver, url, 4)
    assert_verified(ds)
    assert sorted(json.loads(d.body)["n"] for d in ds) == [0, 1, 2, 3]

    def drained():
        i = client.flow_control.get(key)
        return i if i.wait_list_size == 0 else None

    assert wait_for("an empty waitlist", drained).is_paused is False


# --- throughput limits (a second server with -messages-per-day=2) ---------------------------------


@pytest.fixture(scope="module")
def limited_server():
    server, stop = start_dev_server("py-limits-server", ["-messages-per-day=2", "-throughput-limits=true"])
    yield server
    stop()


def test_third_publish_raises_daily_message_limit_error(limited_server: DevServer, receiver: RecordingReceiver):
    client = QStash(DEFAULT_TOKEN, base_url=limited_server.url, retry=False)
    url = receiver.endpoint("py-daily")
    client.message.publish_json(url=url, body={"n": 1})
    client.message.publish_json(url=url, body={"n": 2})
    with pytest.raises(DailyMessageLimitExceededError) as excinfo:
        client.message.publish_json(url=url, body={"n": 3})
    e = excinfo.value
    assert e.limit == "2"
    assert e.remaining == "0"
    now = int(time.time())
    assert e.reset is not None and now < int(e.reset) <= now + 86_400, f"reset is the next day's start, got {e.reset}"

    # Batch items count as messages too; management calls do not.
    with pytest.raises(DailyMessageLimitExceededError):
        client.message.batch_json([{"url": url, "body": {"n": 4}}])
    assert isinstance(client.queue.list(), list)

    ds = deliveries(receiver, url, 2)
    time.sleep(0.15)
    assert len(receiver.to(url)) == 2, "over-quota messages are not delivered"
    assert_verified(ds)


def test_burst_of_management_calls_raises_rate_limit_exceeded_error(limited_server: DevServer, receiver: RecordingReceiver):
    # testUser1 has limits of its own, untouched by the daily test above.
    user1 = QStash(TEST_USER_1_TOKEN, base_url=limited_server.url, retry=False)

    def call(_: int) -> RateLimitExceededError | None:
        try:
            user1.queue.list()
        except RateLimitExceededError as e:
            return e
        return None

    def exhaust() -> RateLimitExceededError:
        # Eight at a time: one by one, a busy machine may not reach 100 calls in a second.
        with ThreadPoolExecutor(max_workers=8) as pool:
            for _ in range(5):
                refused = [e for e in pool.map(call, range(200)) if e is not None]
                if refused:
                    return refused[0]
        raise AssertionError("1000 quick management calls never hit the 100/s burst limit")

    exempt = False
    # At most two tries: testUser1's daily quota is two messages too.
    for attempt in range(2):
        e = exhaust()
        assert not isinstance(e, DailyMessageLimitExceededError)
        assert e.limit == "100"
        assert e.remaining == "0"
        now = int(time.time())
        assert e.reset is not None and now - 1 <= int(e.reset) <= now + 2, f"reset ends the one-second window, got {e.reset}"

        # Publishing is exempt from the burst limit: it goes through while management calls in the same
        # window are still refused (if the window rolled over in between, try again).
        url = receiver.endpoint("py-burst-exempt")
        assert user1.message.publish_json(url=url, body={"attempt": attempt}).message_id
        try:
            user1.queue.list()
        except RateLimitExceededError:
            exempt = True
            break
        time.sleep(1.05)
    assert exempt, "a publish went through inside an exhausted burst window"

    time.sleep(1.05)
    # The limits are per tenant, and a new window allows calls again.
    assert isinstance(QStash(DEFAULT_TOKEN, base_url=limited_server.url, retry=False).queue.list(), list)
    assert isinstance(user1.queue.list(), list)
