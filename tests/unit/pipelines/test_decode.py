"""Decoding a bus message: a valid event, or a dead letter that says why (never a crash)."""

from __future__ import annotations

from infra.bus import BusMessage, DeadLetter
from pipelines.armor import decode
from schemas import AccountEvent

from .streams import START, account, balance


def message(value: bytes | None, key: bytes | None = b"A1", offset: int = 7) -> BusMessage:
    return BusMessage(
        topic="aetheris.events",
        partition=2,
        offset=offset,
        key=key,
        value=value,
        received_ns=123,
    )


def test_a_valid_event_keyed_by_its_account_is_decoded() -> None:
    decoded = decode(message(account("A1").encode()))
    assert isinstance(decoded, AccountEvent)
    assert decoded.account_id == "A1"
    assert decoded.ruleset == "ftmo-2step"


def test_invalid_json_is_a_dead_letter_naming_the_message() -> None:
    letter = decode(message(b'{"type": "balance", '))
    assert isinstance(letter, DeadLetter)
    assert letter.reason.startswith("aetheris.events[2]@7: not valid JSON")
    assert letter.raw == '{"type": "balance", '
    assert (letter.partition, letter.offset, letter.key) == (2, 7, "A1")


def test_an_unknown_field_is_a_dead_letter_naming_the_field() -> None:
    raw = balance("A1", START, 99_000.0).replace('"equity"', '"equitty"')
    letter = decode(message(raw.encode()))
    assert isinstance(letter, DeadLetter)
    assert "equitty" in letter.reason
    assert "unknown field" in letter.reason


def test_a_message_keyed_by_another_account_is_rejected() -> None:
    letter = decode(message(account("A2").encode(), key=b"A1"))
    assert isinstance(letter, DeadLetter)
    assert "message key 'A1' is not the event's account_id 'A2'" in letter.reason


def test_a_message_without_key_or_value_is_rejected() -> None:
    no_key = decode(message(account("A1").encode(), key=None))
    assert isinstance(no_key, DeadLetter)
    assert "message key None" in no_key.reason
    empty = decode(message(None))
    assert isinstance(empty, DeadLetter)
    assert empty.raw == ""


def test_undecodable_bytes_are_kept_readably() -> None:
    letter = decode(message(b"\xff\xfe{"))
    assert isinstance(letter, DeadLetter)
    assert letter.raw.endswith("{")
    assert letter.key == "A1"
