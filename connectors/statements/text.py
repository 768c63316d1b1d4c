"""Bytes of an exported file → text: byte-order marks, UTF-16 without one, and the
ISO-8859-1 (Latin-1) that MetaTrader 4 writes.

Pure.
"""

from __future__ import annotations

import codecs


def looks_utf16le(data: bytes) -> bool:
    """UTF-16LE without a BOM: ASCII text with a zero after every other byte."""
    sample = data[:512]
    if len(sample) < 8:
        return False
    return sample[1::2].count(0) > len(sample) // 2 * 0.8


def decode(data: bytes) -> str:
    """The file's text: a BOM decides (UTF-8, UTF-16LE/BE), then UTF-16LE by its zero
    bytes, then UTF-8, and ISO-8859-1 when it is not valid UTF-8 (never fails)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    if data.startswith(codecs.BOM_UTF16_LE):
        return data[2:].decode("utf-16-le", errors="replace")
    if data.startswith(codecs.BOM_UTF16_BE):
        return data[2:].decode("utf-16-be", errors="replace")
    if looks_utf16le(data):
        return data.decode("utf-16-le", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("iso-8859-1")


def head_text(head: bytes, limit: int = 8192) -> str:
    """The first ``limit`` characters of a file head, decoded as :func:`decode` would
    (a multi-byte character cut at the end of the head is dropped)."""
    if looks_utf16le(head) or head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        head = head[: len(head) // 2 * 2]
    return decode(head)[:limit]
