"""Which rows of a several-account statement belong to the account being imported.

Pure. IBKR consolidated statements and NinjaTrader's grids list every account's fills
in one file (two prop-firm accounts traded on the same day, say). An import loads one
AETHERIS account (``--account``):

- a file that names one broker account (or none) belongs wholly to ``--account``;
- a file that names several: the rows of the broker account whose number equals
  ``--account`` are loaded and the others are skipped (counted, not errors: import the
  file again with the other ``--account`` to load them);
- several accounts and none of them equals ``--account``: nothing can be chosen, and
  the file-level error lists the accounts it holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AccountChoice:
    """``wanted``: the broker account whose rows load (``None``: every row);
    ``error``: why none can, or ``None``."""

    wanted: str | None
    accounts: tuple[str, ...]
    error: str | None = None

    def takes(self, broker_account: str) -> bool:
        """Whether a row of ``broker_account`` loads."""
        return self.error is None and (self.wanted is None or broker_account == self.wanted)


def choose_account(seen: Iterable[str], account_id: str) -> AccountChoice:
    """The choice for a file whose rows name the broker accounts ``seen`` (module doc)."""
    accounts = tuple(sorted({name.strip() for name in seen if name.strip()}))
    if len(accounts) <= 1:
        return AccountChoice(None, accounts)
    if account_id in accounts:
        return AccountChoice(account_id, accounts)
    return AccountChoice(
        None,
        accounts,
        f"the file holds several accounts ({', '.join(accounts)}); import it with "
        f"--account set to one of them (not {account_id!r})",
    )
