"""Requests to the ChatOps Function URL as Slack signs them: forged, stale, replayed and valid ones, with the
replay cache in the ledger (moto)."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import boto3
import pytest
from slack_sdk.signature import SignatureVerifier

from autopilot.chatops.slack_request import SlackRequest, verify
from autopilot.ledger import Ledger
from autopilot.settings import get_settings

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # the example signing secret of Slack's documentation


def signed(body: bytes, *, at: int, secret: str = SECRET) -> SlackRequest:
    """What Slack sends: X-Slack-Request-Timestamp and X-Slack-Signature over `v0:<timestamp>:<body>`."""
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(at), body=body)
    assert signature is not None
    return SlackRequest({"x-slack-request-timestamp": str(at), "x-slack-signature": signature}, body)


@pytest.fixture
def ledger(aws) -> Ledger:
    return Ledger(boto3.client("dynamodb"), get_settings().ledger_table)


BODY = urlencode({"command": "/autopilot", "text": "status prod/web", "user_id": "U1", "channel_id": "C1"}).encode()


def test_a_valid_request_is_taken_once_and_its_replay_refused(ledger: Ledger) -> None:
    now = int(time.time())
    request = signed(BODY, at=now)
    assert verify(request, SECRET, now=now, seen=ledger.requests) is None
    replayed = verify(request, SECRET, now=now + 30, seen=ledger.requests)
    assert replayed is not None and replayed.status == 409


def test_a_forged_signature_is_refused_and_leaves_nothing(ledger: Ledger) -> None:
    now = int(time.time())
    forged = signed(BODY, at=now, secret="not-the-signing-secret")
    refusal = verify(forged, SECRET, now=now, seen=ledger.requests)
    assert refusal is not None and refusal.status == 401
    genuine = signed(BODY, at=now)
    assert verify(genuine, SECRET, now=now, seen=ledger.requests) is None


@pytest.mark.parametrize("age", [301, -301, 3600])
def test_a_request_outside_the_five_minute_window_is_refused(ledger: Ledger, age: int) -> None:
    now = int(time.time())
    refusal = verify(signed(BODY, at=now - age), SECRET, now=now, seen=ledger.requests)
    assert refusal is not None and refusal.status == 401 and "5-minute" in refusal.reason


def test_a_body_changed_after_signing_is_refused(ledger: Ledger) -> None:
    now = int(time.time())
    request = signed(BODY, at=now)
    tampered = SlackRequest(request.headers, BODY.replace(b"status", b"rollback"))
    refusal = verify(tampered, SECRET, now=now, seen=ledger.requests)
    assert refusal is not None and refusal.status == 401


@pytest.mark.parametrize(
    "headers", [{}, {"x-slack-signature": "v0=00"}, {"x-slack-request-timestamp": "soon", "x-slack-signature": "v0=0"}]
)
def test_an_unsigned_request_is_refused(ledger: Ledger, headers: dict[str, str]) -> None:
    refusal = verify(SlackRequest(headers, BODY), SECRET, now=int(time.time()), seen=ledger.requests)
    assert refusal is not None and refusal.status == 401


def test_a_function_url_event_is_read_as_slack_sent_it() -> None:
    import base64

    event = {
        "headers": {"X-Slack-Signature": "v0=ab", "x-slack-request-timestamp": "1"},
        "body": base64.b64encode(BODY).decode(),
        "isBase64Encoded": True,
    }
    request = SlackRequest.from_function_url(event)
    assert request.headers["x-slack-signature"] == "v0=ab"
    assert request.form()["text"] == "status prod/web"
    assert request.interaction() is None
