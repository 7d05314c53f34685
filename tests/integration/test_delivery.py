"""Delivery against real HTTP servers on 127.0.0.1 (the local chat sink), with no mocking of the HTTP client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from autopilot.local.chat_sink import Behaviour, ChatSink
from autopilot.notify.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER, DeliveryError, signature
from autopilot.notify.webhook import HttpPoster


@pytest.fixture
def sink() -> Iterator[ChatSink]:
    running = ChatSink().start()
    yield running
    running.stop()


@pytest.fixture
def poster() -> HttpPoster:
    waits: list[float] = []
    poster = HttpPoster(httpx.Client(timeout=0.5), max_attempts=4, max_wait_seconds=2.0, sleep=waits.append)
    poster.waits = waits  # type: ignore[attr-defined]
    return poster


def test_200_is_delivered_once(sink: ChatSink, poster: HttpPoster) -> None:
    poster.post_json("chat", sink.url("/slack"), {"text": "hello"})
    assert [item.json for item in sink.delivered("/slack")] == [{"text": "hello"}]


def test_429_waits_for_retry_after_then_delivers(sink: ChatSink, poster: HttpPoster) -> None:
    sink.script("/slack", Behaviour(status=429, retry_after="1.5"))
    poster.post_json("chat", sink.url("/slack"), {"text": "hello"})
    assert poster.waits == [1.5]  # type: ignore[attr-defined]
    assert len(sink.delivered("/slack")) == 1


def test_500_then_429_still_delivers_exactly_once(sink: ChatSink, poster: HttpPoster) -> None:
    sink.script("/teams", Behaviour(status=500), Behaviour(status=429, retry_after="0"))
    poster.post_json("chat", sink.url("/teams"), {"n": 1})
    assert len(sink.delivered("/teams")) == 1


def test_a_timeout_is_retried(sink: ChatSink, poster: HttpPoster) -> None:
    sink.script("/discord", Behaviour(delay=1.0))
    poster.post_json("chat", sink.url("/discord"), {"n": 1})
    assert len(sink.delivered("/discord")) == 1  # the retry, answered at once
    assert poster.waits == [0.5]  # type: ignore[attr-defined]
    # HTTP cannot tell a lost request from a slow one: the server still finishes the first and the channel
    # shows the message twice. That is the price of never dropping one; the README says so.
    deadline = time.monotonic() + 10
    while len(sink.delivered("/discord")) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(sink.delivered("/discord")) == 2


def test_400_is_permanent_and_not_retried(sink: ChatSink, poster: HttpPoster) -> None:
    sink.script("/gchat", Behaviour(status=400))
    with pytest.raises(DeliveryError) as failure:
        poster.post_json("chat", sink.url("/gchat"), {"n": 1})
    assert failure.value.permanent
    assert str(failure.value) == "route chat: HTTP 400, not retried"
    assert poster.waits == []  # type: ignore[attr-defined]


def test_persistent_500_gives_up_as_retryable_without_naming_the_url(sink: ChatSink, poster: HttpPoster) -> None:
    sink.script("/webhook", *[Behaviour(status=503)] * 4)
    with pytest.raises(DeliveryError) as failure:
        poster.post_json("ops", sink.url("/webhook"), {"n": 1})
    assert not failure.value.permanent
    assert "127.0.0.1" not in str(failure.value)
    assert poster.waits == [0.5, 1.0, 2.0]  # type: ignore[attr-defined]


def test_signed_webhook_carries_a_verifiable_hmac(sink: ChatSink, poster: HttpPoster) -> None:
    poster.post_signed("ops", sink.url("/webhook"), {"kind": "deploy.failed"}, "s3cret-signing-key")
    received = sink.delivered("/webhook")[0]
    headers = {key.lower(): value for key, value in received.headers.items()}
    assert headers[SIGNATURE_HEADER.lower()] == signature(
        "s3cret-signing-key", headers[TIMESTAMP_HEADER.lower()], received.body
    )
    assert json.loads(received.body) == {"kind": "deploy.failed"}
