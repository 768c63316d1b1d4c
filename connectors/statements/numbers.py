"""Numbers as brokers print them: ``1 536.11``, ``1,536.11``, ``1.536,11``, ``1'536.11``,
``-41.25``, ``$(41.25)``, ``(41.25)``, ``41.25 USD``, ``5 Lots``.

Pure. Rules (docs/imports.md, "Numbers"):

- Spaces (also no-break and thin spaces) and apostrophes (``'`` and ``’``) are always
  thousands separators.
- When both ``.`` and ``,`` appear, the one that comes last is the decimal mark.
- Only commas: several commas, or one comma followed by exactly three digits
  (``1,536``), are thousands separators; one comma followed by one, two or four and
  more digits (``41,25``) is a decimal comma. Pass ``decimal=","`` when the file is
  known to use decimal commas (then ``1,536`` is 1.536).
- Only dots: one dot is a decimal point (``1.536`` is 1.536, as a forex price is);
  several dots (``1.536.110``) are thousands separators. Pass ``decimal=","`` for a
  file known to use dots as thousands separators.
- A minus sign in front or behind, or parentheses, make it negative; a currency sign or
  ISO code and a unit word (``Lots``, ``USD``) around the number are dropped.
- Thousands groups must have three digits (``1,53,6`` is an error, not 1536).

Every failure is a :class:`ValueError` whose message quotes the text.
"""

from __future__ import annotations

import math
import re

_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009\u2007'’")
_LEADING_WORD = re.compile(r"^[A-Za-z]{1,12}\.?\s*")
_TRAILING_WORD = re.compile(r"\s*[A-Za-z%]{1,12}\.?$")
_CURRENCY_SIGNS = str.maketrans("", "", "$€£¥₹₽")
_BODY = re.compile(r"[\d.,\s'’\u00a0\u202f\u2009\u2007]+")
_GROUPED = re.compile(r"^\d{1,3}(?:,\d{3})+$")
_PLAIN = re.compile(r"-?\d+(?:\.\d+)?")


def _fail(text: str, why: str) -> ValueError:
    return ValueError(f"{text!r} is not a number: {why}")


def parse_amount(text: str, *, decimal: str | None = None) -> float:
    """The number in ``text`` (see the module rules); ``ValueError`` quoting the text."""
    if decimal not in (None, ".", ","):
        raise ValueError(f"decimal mark must be '.' or ',', not {decimal!r}")
    if decimal is None and _PLAIN.fullmatch(text):  # the common case: 1.08000, -7.00
        return float(text)
    body = text.strip().replace("−", "-")
    if not body:
        raise _fail(text, "it is empty")
    body = _TRAILING_WORD.sub("", _LEADING_WORD.sub("", body)).translate(_CURRENCY_SIGNS)
    body = body.strip()
    negative = False
    if body.startswith("-"):
        negative, body = True, body[1:].strip()
    elif body.startswith("+"):
        body = body[1:].strip()
    elif body.endswith("-"):
        negative, body = True, body[:-1].strip()
    if body.startswith("(") and body.endswith(")"):
        negative, body = not negative, body[1:-1].strip().translate(_CURRENCY_SIGNS)
    if "(" in body or ")" in body:
        raise _fail(text, "unbalanced parentheses")
    if not _BODY.fullmatch(body) or not re.search(r"\d", body):
        raise _fail(text, "no number in it")
    if re.search(r"\d\s+\d", body) and not re.fullmatch(r"\d{1,3}(?:\s\d{3})+(?:[.,]\d+)?", body):
        raise _fail(text, "digits split by a space that is not a thousands separator")
    value = float(_normalise(body.translate(_SPACES), text, decimal))
    if not math.isfinite(value):
        raise _fail(text, "not finite")
    return -value if negative else value


def _normalise(body: str, text: str, decimal: str | None) -> str:
    has_dot, has_comma = "." in body, "," in body
    if has_dot and has_comma:
        mark = "." if body.rfind(".") > body.rfind(",") else ","
        thousands = "," if mark == "." else "."
        whole, _, fraction = body.rpartition(mark)
        if mark in whole or thousands in fraction:
            raise _fail(text, "decimal mark used twice")
        return _join(whole, thousands, fraction, text)
    if has_comma:
        if decimal == ",":
            return _single(body, ",", text)
        if body.count(",") > 1 or _GROUPED.match(body):
            return _join(body, ",", "", text)
        return _single(body, ",", text)
    if has_dot:
        if body.count(".") > 1:
            return _join(body, ".", "", text)
        if decimal == "," and re.fullmatch(r"\d{1,3}\.\d{3}", body):
            return body.replace(".", "")
        return body
    return body


def _single(body: str, mark: str, text: str) -> str:
    whole, _, fraction = body.partition(mark)
    if mark in fraction:
        raise _fail(text, "decimal mark used twice")
    return f"{whole or '0'}.{fraction or '0'}"


def _join(whole: str, thousands: str, fraction: str, text: str) -> str:
    if thousands in whole and not re.fullmatch(
        rf"\d{{1,3}}(?:{re.escape(thousands)}\d{{3}})+", whole
    ):
        raise _fail(text, "thousands groups must have three digits")
    digits = whole.replace(thousands, "") or "0"
    return f"{digits}.{fraction}" if fraction else digits


def parse_quantity(text: str, *, decimal: str | None = None) -> float:
    """A positive size such as ``5 Lots``, ``0.10``, ``100 000``; the unit is dropped."""
    value = parse_amount(text, decimal=decimal)
    if value <= 0:
        raise _fail(text, "a quantity must be positive")
    return value


def parse_optional_amount(text: str, *, decimal: str | None = None) -> float:
    """Like :func:`parse_amount`, but an empty cell (or ``-``) is zero."""
    stripped = text.strip()
    if stripped in ("", "-", "—", "–"):
        return 0.0
    return parse_amount(stripped, decimal=decimal)
