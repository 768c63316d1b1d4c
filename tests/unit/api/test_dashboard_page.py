"""The dashboard page's static parts that must follow the server: the rule sets offered
when adding an account are exactly the built-in templates."""

from __future__ import annotations

import re
from pathlib import Path

from schemas.rulesets import builtin_rulesets

PAGE = Path(__file__).resolve().parents[3] / "api" / "static" / "index.html"


def test_the_add_account_form_offers_every_built_in_template_once() -> None:
    html = PAGE.read_text()
    select = re.search(r'<select name="ruleset">(.*?)</select>', html, re.S)
    assert select is not None
    offered = re.findall(r'<option value="([^"]+)">', select[1])
    assert len(offered) == len(set(offered))
    assert set(offered) == set(builtin_rulesets())
