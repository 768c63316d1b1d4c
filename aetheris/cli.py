"""The ``aetheris`` command: one sub-command module per area, registered here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import import_module

from infra.settings import SettingsError

# Each module exposes ``register(subparsers) -> None`` and sets ``func`` on its parsers.
# Modules are imported lazily so that `aetheris replay` never pays for Kafka or
# great-expectations imports.
COMMAND_MODULES: dict[str, str] = {
    "replay": "aetheris.commands.replay",
    "kpis": "aetheris.commands.kpis",
    "db": "aetheris.commands.db",
    "demo": "aetheris.commands.demo",
    "pipeline": "aetheris.commands.pipeline",
    "topics": "aetheris.commands.topics",
    "feed": "aetheris.commands.feed",
    "publish": "aetheris.commands.publish",
    "api": "aetheris.commands.api",
    "secrets": "aetheris.commands.secrets",
    "import": "aetheris.commands.import_",
    "connect": "aetheris.commands.connect",
    "worker": "aetheris.commands.worker",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aetheris",
        description="AETHERIS: real-time risk copilot for traders and prop-firm desks.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES.values():
        module = import_module(module_name)
        register: Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]
        register = module.register
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except BrokenPipeError:  # `aetheris replay big.jsonl | head` is fine
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130
    except SettingsError as exc:
        print(f"aetheris: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
