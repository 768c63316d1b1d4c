"""Header localisation: canonical column names → the header texts each language uses.

Pure. Every CSV/HTML format finds its columns with :func:`find_columns`, so a platform
set to another language needs only a new entry in :data:`HEADERS` (no code). Matching
ignores case, surrounding spaces, repeated spaces, a trailing ``:`` and a parenthesised
suffix, which is returned separately (cTrader writes ``Closing Time (UTC+3)``); a
currency code at the end (``Net USD``) is split off the same way.

English is complete for the formats we read; German and Russian show the mechanism and
cover the MetaTrader/cTrader columns (contributions welcome, docs/imports.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# canonical name → accepted texts, per language (lower case; matched after normalising)
HEADERS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "ticket": ("ticket", "order", "order id", "id", "trade id", "deal id", "#"),
        "position": ("position", "position id", "position #", "pos id"),
        "deal": ("deal", "deal #", "deal id", "deal ticket"),
        "order": ("order", "order #", "order id"),
        "open_time": (
            "open time",
            "opening time",
            "entry time",
            "time opened",
            "open date",
            "opened",
        ),
        "close_time": (
            "close time",
            "closing time",
            "exit time",
            "time closed",
            "close date",
            "closed",
        ),
        "time": ("time", "date", "date/time", "datetime", "timestamp"),
        "type": ("type", "action", "operation"),
        "direction": ("direction", "side", "buy/sell", "opening direction"),
        "entry": ("entry", "in/out", "direction in/out"),
        "size": ("size", "lots", "volume", "quantity", "qty", "closing quantity", "amount lots"),
        "symbol": ("symbol", "item", "instrument", "contract", "market"),
        "open_price": ("open price", "entry price", "opening price", "price open"),
        "close_price": ("close price", "exit price", "closing price", "price close"),
        "price": ("price",),
        "stop_loss": ("s / l", "s/l", "sl", "stop loss", "stop-loss"),
        "take_profit": ("t / p", "t/p", "tp", "take profit", "take-profit"),
        "commission": ("commission", "commissions", "comm"),
        "fee": ("fee", "fees"),
        "swap": ("swap", "swaps", "rollover", "financing"),
        "profit": ("profit", "gross profit", "gross", "p/l", "pnl", "p&l", "realized p/l"),
        "net": ("net", "net profit", "net p/l", "net pnl"),
        "balance": ("balance", "balance after"),
        "comment": ("comment", "comments", "note", "notes", "label"),
        "transaction_id": ("id", "transaction id", "transaction"),
        "transaction_type": ("type", "transaction type"),
        "amount": ("amount", "sum", "value"),
    },
    "de": {
        "ticket": ("ticket", "auftrag"),
        "position": ("position",),
        "deal": ("deal", "geschäft"),
        "open_time": ("eröffnungszeit", "öffnungszeit"),
        "close_time": ("schließungszeit", "schlusszeit"),
        "time": ("zeit", "datum"),
        "type": ("typ", "art"),
        "direction": ("richtung",),
        "size": ("volumen", "menge", "größe", "lots"),
        "symbol": ("symbol", "instrument"),
        "price": ("preis", "kurs"),
        "commission": ("kommission", "provision"),
        "fee": ("gebühr", "gebühren"),
        "swap": ("swap",),
        "profit": ("gewinn", "profit"),
        "net": ("netto",),
        "balance": ("kontostand", "saldo"),
        "comment": ("kommentar",),
    },
    "ru": {
        "ticket": ("тикет", "ордер"),
        "position": ("позиция",),
        "deal": ("сделка",),
        "time": ("время",),
        "type": ("тип",),
        "direction": ("направление",),
        "size": ("объем", "объём"),
        "symbol": ("символ",),
        "price": ("цена",),
        "commission": ("комиссия",),
        "fee": ("сбор",),
        "swap": ("своп",),
        "profit": ("прибыль",),
        "balance": ("баланс",),
        "comment": ("комментарий",),
    },
}

_PAREN = re.compile(r"^(?P<base>.*?)\s*\((?P<note>[^()]*)\)\s*$")
_CURRENCY_SUFFIX = re.compile(r"^(?P<base>.*\S)\s+(?P<code>[A-Z]{3})$")


class HeaderError(ValueError):
    """A header row that lacks columns a format needs."""


@dataclass(frozen=True, slots=True)
class Header:
    """One header cell: its matching key, and what it carried in brackets or as a
    trailing currency code (``Closing Time (UTC+3)`` → key ``closing time``, note
    ``UTC+3``; ``Net USD`` → key ``net``, currency ``USD``)."""

    text: str
    key: str
    note: str | None = None
    currency: str | None = None


def read_header(text: str) -> Header:
    """Normalise one header cell (module doc)."""
    cleaned = " ".join(text.replace("\u00a0", " ").split()).rstrip(":").strip()
    note: str | None = None
    currency: str | None = None
    paren = _PAREN.match(cleaned)
    if paren:
        cleaned, note = paren["base"], paren["note"].strip()
    suffix = _CURRENCY_SUFFIX.match(cleaned)
    if suffix and suffix["code"] not in ("ID",):
        cleaned, currency = suffix["base"], suffix["code"]
    return Header(text, cleaned.lower(), note, currency)


def accepted(canonical: str, languages: Iterable[str] | None = None) -> set[str]:
    """Every header text that means ``canonical`` in the given (default: all) languages."""
    names: set[str] = set()
    for language in languages or HEADERS:
        names.update(HEADERS.get(language, {}).get(canonical, ()))
    return names


@dataclass(frozen=True, slots=True)
class Columns:
    """Where each canonical column sits in a header row."""

    index: Mapping[str, int]
    headers: Sequence[Header]

    def __contains__(self, canonical: object) -> bool:
        return canonical in self.index

    def get(self, cells: Sequence[str], canonical: str, default: str = "") -> str:
        position = self.index.get(canonical)
        if position is None or position >= len(cells):
            return default
        return cells[position].strip()

    def header(self, canonical: str) -> Header | None:
        position = self.index.get(canonical)
        return None if position is None else self.headers[position]


def find_columns(
    cells: Sequence[str],
    wanted: Sequence[str],
    *,
    required: Sequence[str] = (),
    aliases: Mapping[str, Sequence[str]] | None = None,
    languages: Iterable[str] | None = None,
) -> Columns:
    """Map the canonical names in ``wanted`` to positions in a header row.

    Each canonical name takes the first header cell whose text it accepts and that no
    earlier name took (so order ``wanted`` from the most specific name). ``aliases``
    adds format-specific texts. :class:`HeaderError` names the missing ``required``
    columns and the headers found.
    """
    headers = [read_header(cell) for cell in cells]
    taken: set[int] = set()
    index: dict[str, int] = {}
    language_list = list(languages) if languages is not None else None
    for canonical in wanted:
        names = accepted(canonical, language_list)
        names.update(text.lower() for text in (aliases or {}).get(canonical, ()))
        for position, header in enumerate(headers):
            if position not in taken and header.key in names:
                index[canonical] = position
                taken.add(position)
                break
    missing = [name for name in required if name not in index]
    if missing:
        found = ", ".join(repr(h.text) for h in headers) or "none"
        raise HeaderError(f"missing column(s) {', '.join(missing)} (headers found: {found})")
    return Columns(index, headers)


# Section and block titles of report-style files (MetaTrader's HTML tables, cTrader's CSV
# blocks): canonical section → titles per language, matched in lower case without a
# trailing ":". The German and Russian titles are our own translations, not checked
# against a localised terminal; correct them here when a real export differs.
SECTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "closed_transactions": ("closed transactions",),
        "open_trades": ("open trades",),
        "working_orders": ("working orders",),
        "summary": ("summary", "details", "results"),
        "positions": ("positions",),
        "orders": ("orders",),
        "deals": ("deals", "history"),
        "open_positions": ("open positions",),
        "transactions": ("transactions",),
    },
    "de": {
        "closed_transactions": ("geschlossene transaktionen",),
        "open_trades": ("offene trades", "offene positionen"),
        "working_orders": ("pending orders", "schwebende orders"),
        "summary": ("zusammenfassung", "ergebnisse"),
        "positions": ("positionen",),
        "orders": ("aufträge",),
        "deals": ("geschäfte",),
        "open_positions": ("offene positionen",),
        "transactions": ("transaktionen",),
    },
    "ru": {
        "closed_transactions": ("закрытые сделки",),
        "open_trades": ("открытые сделки",),
        "working_orders": ("отложенные ордера",),
        "summary": ("итоги", "результаты"),
        "positions": ("позиции",),
        "orders": ("ордера",),
        "deals": ("сделки",),
        "open_positions": ("открытые позиции",),
        "transactions": ("транзакции",),
    },
}


def section_lookup(wanted: Mapping[str, str]) -> dict[str, str]:
    """Title text (any language) → the caller's name, for the canonical sections in
    ``wanted`` (canonical → the caller's name for it). A title claimed by two sections
    goes to the first one listed."""
    lookup: dict[str, str] = {}
    for canonical, name in wanted.items():
        for titles in SECTIONS.values():
            for title in titles.get(canonical, ()):
                lookup.setdefault(title, name)
    return lookup
