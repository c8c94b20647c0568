"""The batch runner never acknowledges a batch whose handler raised or whose outputs were not acknowledged."""

from __future__ import annotations

import asyncio

from streams.agents import BatchRunner, Output, Record, RetryPolicy
from streams.schemas import DeadLetter
from streams.topics import DEADLETTER, SIGHTINGS

FAST = RetryPolicy(first_s=0.001, max_s=0.002)


def _recs(n: int) -> list[Record]:
    return [Record(b"k", f"v{i}".encode(), "t", 0, i) for i in range(n)]


def _sink(fail_first: int = 0):
    sent: list[Output] = []
    calls = {"n": 0}

    async def send(out: Output):
        calls["n"] += 1
        fut = asyncio.get_running_loop().create_future()
        if calls["n"] <= fail_first:
            fut.set_exception(RuntimeError("broker away"))
        else:
            sent.append(out)
            fut.set_result(None)
        return fut

    return send, sent


def test_a_failing_handler_is_retried_until_it_passes_and_nothing_is_dropped():
    attempts = {"n": 0}

    def handler(records):
        attempts["n"] += 1
        if attempts["n"] < 3:
            raise ConnectionError("store down")
        return [Output(SIGHTINGS, r.key, r.value) for r in records]

    send, sent = _sink()
    asyncio.run(BatchRunner("track", handler, send, FAST).run(_recs(2)))
    assert attempts["n"] == 3 and [o.value for o in sent] == [b"v0", b"v1"]


def test_a_bad_record_is_isolated_by_splitting_and_dead_lettered_alone():
    def handler(records):
        if any(r.value == b"v2" for r in records):
            raise ValueError("row refused")
        return [Output(SIGHTINGS, r.key, r.value) for r in records]

    send, sent = _sink()
    policy = RetryPolicy(decide=lambda exc: "deadletter" if isinstance(exc, ValueError) else "retry",
                         first_s=0.001, max_s=0.002, split_after=2)
    asyncio.run(BatchRunner("track", handler, send, policy).run(_recs(5)))
    assert sorted(o.value for o in sent if o.topic is SIGHTINGS) == [b"v0", b"v1", b"v3", b"v4"]
    letters = [DeadLetter.from_bytes(o.value) for o in sent if o.topic is DEADLETTER]
    assert len(letters) == 1 and letters[0].offset == 2 and "row refused" in letters[0].reason


def test_unacknowledged_outputs_are_resent_without_running_the_handler_again():
    runs = {"n": 0}

    def handler(records):
        runs["n"] += 1
        return [Output(SIGHTINGS, r.key, r.value) for r in records]

    send, sent = _sink(fail_first=3)
    asyncio.run(BatchRunner("index", handler, send, FAST).run(_recs(3)))
    assert runs["n"] == 1 and [o.value for o in sent] == [b"v0", b"v1", b"v2"]


def test_a_store_outage_keeps_the_batch_whole_and_stopping_abandons_it_unacknowledged():
    import pytest

    from streams.agents import BatchAbandoned

    seen: list[int] = []
    stop = {"now": False}

    def handler(records):
        seen.append(len(records))
        if len(seen) >= 5:
            stop["now"] = True
        raise ConnectionError("store down")

    send, sent = _sink()
    policy = RetryPolicy(decide=lambda exc: "retry", first_s=0.001, max_s=0.002, split_after=2)
    runner = BatchRunner("track", handler, send, policy, stopping=lambda: stop["now"])
    with pytest.raises(BatchAbandoned):
        asyncio.run(runner.run(_recs(4)))
    assert set(seen) == {4} and sent == []  # never split, never sent, never dead-lettered
