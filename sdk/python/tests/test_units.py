"""The parts that need no server: event ids, event limits, messages, errors, back-off."""

from __future__ import annotations

import time
import uuid

import pytest

from planexec_agent import GiveUp, InvalidMessage, Release, RetryLater, new_event_id, uuid7
from planexec_agent.backoff import Backoff
from planexec_agent.errors import InvalidRequest, NotFound, ServerError, Unauthorised, UnknownAgent, error_for_status
from planexec_agent.handler import failure_body
from planexec_agent.options import nats_servers
from planexec_agent.uuid7 import _uuid7_here
from planexec_agent.wire import TEXT_LIMIT, TaskKey, message_from_json, new_event, parse_message


def test_event_ids_are_rfc_9562_version_7_with_the_time_in_their_first_48_bits() -> None:
    before = time.time_ns() // 1_000_000
    made = _uuid7_here()
    after = time.time_ns() // 1_000_000
    assert made.version == 7 and made.variant == uuid.RFC_4122
    assert before <= made.int >> 80 <= after
    assert uuid.UUID(new_event_id()).version == 7 and isinstance(uuid7(), uuid.UUID)


def test_event_ids_made_in_one_burst_are_distinct_and_strictly_increasing() -> None:
    ids = [_uuid7_here() for _ in range(20_000)]
    assert len({i.int for i in ids}) == len(ids)
    assert all(a.int < b.int for a, b in zip(ids, ids[1:], strict=False))


def test_out_of_range_progress_and_overlong_texts_become_valid_events() -> None:
    key = TaskKey("e", "t", 1)
    progress = new_event(key, {"event_type": "task_progress", "progress": 140, "message": "x" * (TEXT_LIMIT + 5)})
    assert progress.body["progress"] == 100.0 and len(progress.body["message"]) == TEXT_LIMIT
    assert new_event(key, {"event_type": "task_progress", "progress": float("nan")}).body["progress"] == 0.0
    failed = new_event(key, {"event_type": "task_failed", "error": " ", "retry_after_seconds": 1e12})
    assert failed.body["error"].strip() and failed.body["retry_after_seconds"] == 7 * 24 * 3600.0
    assert new_event(key, {"event_type": "log", "level": "info", "message": ""}).body["message"]
    assert len(new_event(key, {"event_type": "task_started"}, status="s" * 100).status or "") == 64


def test_what_a_handler_raises_decides_the_last_event() -> None:
    assert failure_body(RetryLater("busy", retry_after=1.5)) == {
        "event_type": "task_failed", "error": "busy", "retryable": True, "retry_after_seconds": 1.5
    }
    assert failure_body(GiveUp("no such address"))["retryable"] is False
    assert failure_body(Release("leaving")) == {"event_type": "task_released", "reason": "leaving"}
    other = failure_body(ValueError("bad row"))
    assert other["retryable"] is True and "ValueError: bad row" in other["error"]


def test_http_events_omit_the_execution_the_url_names_and_nats_events_carry_it() -> None:
    event = new_event(TaskKey("e1", "t1", 2), {"event_type": "task_complete", "output": {"a": 1}})
    assert "execution_id" not in event.to_http() and event.to_nats()["execution_id"] == "e1"
    assert event.to_http()["event_id"] == event.event_id and event.to_http()["attempt"] == 2


def test_a_task_and_a_cancel_parse_and_anything_else_is_an_invalid_message() -> None:
    cancel = message_from_json({"type": "cancel", "execution_id": "e", "task_id": "t", "attempt": 3, "reason": "r"})
    assert cancel.key == TaskKey("e", "t", 3)
    with pytest.raises(InvalidMessage):
        parse_message(b"not json")
    with pytest.raises(InvalidMessage):
        message_from_json({"type": "task", "execution_id": "e"})
    with pytest.raises(InvalidMessage):
        message_from_json({"type": "gossip"})


def test_each_http_status_is_its_own_typed_error() -> None:
    body = b'{"type":"https://planexec.dev/problems/validation","title":"invalid","status":422,"detail":"d",' \
           b'"errors":[{"field":"progress","message":"0..100"}]}'
    invalid = error_for_status(422, body)
    assert isinstance(invalid, InvalidRequest) and invalid.errors[0].field == "progress"
    assert isinstance(error_for_status(401, b""), Unauthorised)
    assert isinstance(error_for_status(404, b"{}"), NotFound)
    assert isinstance(error_for_status(404, b"{}", agent_id="a"), UnknownAgent)
    server = error_for_status(503, b"<html>")
    assert isinstance(server, ServerError) and server.transient and "html" in str(server)


def test_back_off_grows_but_never_passes_its_cap() -> None:
    schedule = Backoff(0.1, 2.0).schedule()
    delays = [schedule.next_delay() for _ in range(30)]
    assert all(0.1 <= d <= 2.0 for d in delays) and max(delays[10:]) > 0.5


def test_a_server_list_may_be_comma_separated() -> None:
    assert nats_servers(" nats://a:4222, nats://b:4222 ,") == ["nats://a:4222", "nats://b:4222"]
