"""``--format auto``: each of our sample files is recognised as its own format only."""

from __future__ import annotations

import pytest

from connectors.statements.registry import FORMATS, detect
from tests.unit.connectors.helpers import DATA

OURS = ("ibkr-activity-csv", "ibkr-flex-xml", "tradovate-csv", "ninjatrader-csv", "topstepx-csv")
SAMPLES = sorted(
    (folder.name, path.name)
    for folder in DATA.iterdir()
    if folder.name in OURS
    for path in folder.iterdir()
)


def test_every_format_is_registered_under_its_fixed_name() -> None:
    for name in OURS:
        assert FORMATS[name].name == name


@pytest.mark.parametrize(("format_name", "filename"), SAMPLES)
def test_sample_is_detected_as_its_format(format_name: str, filename: str) -> None:
    head = (DATA / format_name / filename).read_bytes()
    assert detect(head, filename) == format_name


def test_every_format_has_samples() -> None:
    assert {name for name, _ in SAMPLES} == set(OURS)


def test_our_formats_do_not_claim_the_other_formats_samples() -> None:
    others = [
        path
        for folder in DATA.iterdir()
        if folder.is_dir() and folder.name not in OURS
        for path in folder.iterdir()
    ]
    assert others, "the other formats' samples are missing"
    for path in others:
        head = path.read_bytes()[:65536]
        claimed = [name for name in OURS if FORMATS[name].sniff(head, path.name)]
        assert claimed == [], f"{path.name} claimed by {claimed}"
