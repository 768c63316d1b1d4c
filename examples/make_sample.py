"""Regenerates examples/sample-week.jsonl: five accounts, one simulated week (seeded)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

ACCOUNTS = {
    # id: (ruleset, initial balance, symbol, daily drift per trade by day)
    "FTMO-2S-001": ("ftmo-2step", 100_000.0, "EURUSD", [-0.002, -0.004, -0.001, -0.003, -0.004]),
    "FTMO-1S-002": ("ftmo-1step", 100_000.0, "US30", [0.002, 0.003, -0.001, 0.001, -0.002]),
    "TOPSTEP-003": ("topstep-50k", 50_000.0, "ES", [0.003, 0.004, -0.002, -0.006, -0.004]),
    "APEX-004": ("apex-50k-intraday", 50_000.0, "NQ", [0.004, 0.005, -0.006, -0.005, 0.0]),
    "PERSONAL-005": ("personal", 25_000.0, "GBPUSD", [-0.001, 0.0, -0.002, 0.001, -0.001]),
}


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def main() -> None:
    rng = random.Random(42)
    events: list[dict[str, object]] = []
    for account_id, (ruleset, initial, _, _) in ACCOUNTS.items():
        events.append(
            {
                "type": "account",
                "account_id": account_id,
                "ruleset": ruleset,
                "initial_balance": initial,
                "currency": "USD",
            }
        )
    balances = {account_id: spec[1] for account_id, spec in ACCOUNTS.items()}
    start = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    trade_number = 0
    for day in range(5):
        for minute in range(0, 10 * 60, 10):
            now = start + timedelta(days=day, minutes=minute)
            for account_id, (_, initial, symbol, drifts) in ACCOUNTS.items():
                if rng.random() < 0.12:
                    trade_number += 1
                    quantity = rng.choice([1.0, 1.0, 2.0])
                    pnl = round(initial * (drifts[day] + rng.gauss(0, 0.003)), 2)
                    events.append(
                        {
                            "type": "trade",
                            "account_id": account_id,
                            "broker_trade_id": f"{account_id}-{trade_number}",
                            "status": "closed",
                            "symbol": symbol,
                            "side": rng.choice(["long", "short"]),
                            "quantity": quantity,
                            "entry_price": 1.25,
                            "exit_price": 1.2501,
                            "entry_time": iso(now - timedelta(minutes=rng.randint(2, 9))),
                            "exit_time": iso(now),
                            "pnl": pnl,
                            "commission": -3.5 * quantity,
                            "swap": 0.0,
                        }
                    )
                    balances[account_id] = round(balances[account_id] + pnl, 2)
                floating = initial * rng.gauss(drifts[day] / 2, 0.003)
                events.append(
                    {
                        "type": "balance",
                        "account_id": account_id,
                        "ts": iso(now),
                        "balance": balances[account_id],
                        "equity": round(balances[account_id] + floating, 2),
                    }
                )
    target = Path(__file__).with_name("sample-week.jsonl")
    target.write_text("".join(json.dumps(event) + "\n" for event in events), "utf-8")


if __name__ == "__main__":
    main()
