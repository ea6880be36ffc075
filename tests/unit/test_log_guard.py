"""The suite's log guard (tests/log_guard.py) finds the test phone numbers in every format a
vendor writes them, and not the digits of a number that merely has 555 in it."""

from __future__ import annotations

import pytest

from tests.log_guard import unmasked_test_phones


@pytest.mark.parametrize(
    "text",
    [
        '{"phone":"+1 (512) 555-0100"}',
        '{"phone":"512-555-0100"}',
        '{"phone":"512.555.0100"}',
        '{"phone":"5125550100"}',
        '{"phone":"+15125550100"}',
        "prospect 512 555 0100 called",
    ],
)
def test_a_test_number_is_found_in_any_format(text: str) -> None:
    assert unmasked_test_phones(text) != []


@pytest.mark.parametrize(
    "text",
    [
        '{"retry_in":0.09857925554207575}',  # seconds, jittered: a false alarm on 2026-12-08
        '{"at":1796622255.51735}',  # a Unix time with its fraction
        '{"dial_id":"2d8e9c3a-7f4b-4a2c-9d0e-355501004e7f"}',  # a UUID
        '{"phone":"***-***-0100"}',  # masked, as the relay logs a number
    ],
)
def test_numbers_that_are_not_phones_are_not_found(text: str) -> None:
    assert unmasked_test_phones(text) == []
