"""``aetheris demo``: run the bundled sample week through Armor and show what it caught."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infra.rulesets import RulesetCatalog
from risk_engine import Armor, snapshot
from schemas import parse_event

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-week.jsonl"
LEVEL_NAMES = {1: "WARNING", 2: "DANGER ", 3: "BREACH "}


def run(args: argparse.Namespace) -> int:
    path = Path(args.file)
    armor = Armor(RulesetCatalog((path.parent, Path.cwd())))
    print(f"AETHERIS demo: replaying {path} through the Armor risk engine\n")
    with path.open(encoding="utf-8") as events:
        for number, line in enumerate(events, start=1):
            event = parse_event(line, f"{path.name} line {number}")
            for breach in armor.process(event):
                print(
                    f"{breach.ts:%a %d %b %H:%M}Z  {LEVEL_NAMES[breach.level]}  "
                    f"{breach.account_id:<13} {breach.rule:<19} {breach.message}"
                )
    print("\nAccount standings at the end of the replay:")
    header = (
        f"{'account':<13} {'ruleset':<18} {'balance':>11} {'equity':>11}  rules (used % / level)"
    )
    print(header)
    print("-" * len(header))
    for state in armor.accounts.values():
        view = snapshot(state)
        standings = ", ".join(
            f"{rule.rule} {rule.used_percent:.0f}%/L{rule.level}" for rule in view.rules
        )
        print(
            f"{view.account_id:<13} {view.ruleset:<18} {view.balance:>11,.2f} "
            f"{view.equity:>11,.2f}  {standings or '-'}"
        )
        if view.objectives is not None and view.objectives.profit_target is not None:
            print(
                f"{'':<13} target {view.objectives.profit_target:,.0f}: "
                f"{view.objectives.profit_progress_percent:.1f}% done, "
                f"{view.objectives.trading_days} trading days"
            )
    sys.stdout.flush()
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo", help="replay a bundled sample week of five accounts and show the breaches"
    )
    parser.add_argument("--file", default=str(SAMPLE), help="events to replay (JSONL)")
    parser.set_defaults(func=run)
