"""The live feed's intake events: one per hook answer, its kind the answer's outcome."""

from __future__ import annotations

from pydantic import SecretStr

from relay.core.mapping import DeferredJob
from relay.core.pipeline import Mapped, map_request, parse_request
from relay.core.sources import parse_sources
from relay.intake import answers
from relay.intake.events import NO_SOURCE, webhook_event
from relay.obs.events import INTAKE_KINDS


def test_every_outcome_the_hook_answers_is_a_feed_kind() -> None:
    """The feed's intake kinds are the hook's outcome labels (405 is the router's alone)."""
    outcomes = {kind.outcome for kind in answers.TABLE if kind.outcome is not None}
    assert outcomes - set(INTAKE_KINDS) == {"method_not_allowed"}
    assert set(INTAKE_KINDS) <= outcomes


def test_an_event_says_what_the_answer_said() -> None:
    rejected = webhook_event(
        "crm",
        answers.REJECTED(
            rejected_id="7",
            errors=[
                {"field": "ani", "problem": "not a phone number (got 'x')"},
                {"field": "datetime", "problem": "required, but missing or empty"},
            ],
        ),
        None,
        None,
    )
    assert (rejected.kind, rejected.status, rejected.queue_id) == ("rejected", 422, "7")
    assert rejected.reason == (
        "ani: not a phone number (got 'x'); datetime: required, but missing or empty"
    )
    ignored = webhook_event("g", answers.IGNORED(reason="VOICE only"), None, None)
    assert (ignored.kind, ignored.status, ignored.reason) == ("ignored", 200, "VOICE only")
    unknown = webhook_event(NO_SOURCE, answers.UNKNOWN_SOURCE(name="nope"), None, None)
    assert (unknown.source, unknown.kind, unknown.reason) == (
        "_unknown",
        "unknown_source",
        "unknown source 'nope'",
    )
    queued = webhook_event("crm", answers.QUEUED(dial_id="d1"), "d1", None)
    assert (queued.kind, queued.dial_id, queued.reason, queued.payload) == (
        "queued",
        "d1",
        None,
        None,
    )


def test_a_mapped_webhook_carries_its_dial_and_a_job_says_so() -> None:
    sources = parse_sources(
        "sources:\n  crm: {auth: {type: none}}\n", env={}, default_api_key=SecretStr("k-0001")
    )
    crm = sources["crm"]
    request = parse_request(
        "POST",
        "application/json",
        {},
        b'{"ani": "5125550100", "prospect_phone": "5125550187", "datetime": '
        b'"2026-04-10T14:32:15Z", "disposition_name": "Sale", "dial_id": "d1"}',
    )
    mapped = map_request(crm, request)
    event = webhook_event("crm", answers.QUEUED(dial_id="d1"), "d1", mapped)
    assert event.as_dict()["payload"]["ani"] == "******0100"
    job = Mapped(dial=None, job=DeferredJob("genesys", "conv-1", b"{}"))
    deferred = webhook_event("g", answers.QUEUED(dial_id="conv-1"), "conv-1", job)
    assert deferred.payload is None
    assert deferred.detail == "a genesys job, resolved in the forwarder"
