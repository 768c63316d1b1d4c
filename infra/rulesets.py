"""Resolving an account's ``ruleset``: a built-in template name or a ruleset JSON file."""

from __future__ import annotations

import json
from pathlib import Path

from schemas.rulesets import Ruleset, RulesetError, builtin_rulesets, parse_ruleset


class RulesetCatalog:
    """Built-in templates by name, and ruleset files by path (relative to ``search_dirs``).

    Files are read once and cached; the catalog is the ``resolve`` function handed to
    the risk engine, which never reads files itself.
    """

    def __init__(self, search_dirs: tuple[Path, ...] | None = None) -> None:
        self._search_dirs = search_dirs if search_dirs is not None else (Path.cwd(),)
        self._cache: dict[str, Ruleset] = dict(builtin_rulesets())

    def __call__(self, name: str) -> Ruleset:
        return self.resolve(name)

    def resolve(self, name: str) -> Ruleset:
        found = self._cache.get(name)
        if found is not None:
            return found
        ruleset = self._load_file(name)
        self._cache[name] = ruleset
        return ruleset

    def _load_file(self, name: str) -> Ruleset:
        candidate = Path(name)
        paths = (
            [candidate] if candidate.is_absolute() else [d / candidate for d in self._search_dirs]
        )
        for path in paths:
            if path.is_file():
                try:
                    document = json.loads(path.read_text("utf-8"))
                except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                    raise RulesetError(f"ruleset file {path}: cannot read it ({exc})") from None
                return parse_ruleset(document, f"file {path}")
        known = ", ".join(sorted(builtin_rulesets()))
        raise RulesetError(
            f"unknown ruleset {name!r}: not a built-in template ({known}) nor a ruleset file"
        )
