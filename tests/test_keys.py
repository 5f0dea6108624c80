"""One identity for an e-mail and one for a coupon code, used by every module."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo.keys import code_key, code_keys, email_key, email_keys

ROOT = Path(__file__).resolve().parents[1]
KEYS = ROOT / "geo" / "keys.py"


def test_email_key_trims_and_lower_cases_only():
    assert email_key("  Ann.Smith+Promo@Example.COM\t") == "ann.smith+promo@example.com"
    assert email_key("a b@x.com") == "a b@x.com"  # inner characters are the address's own
    assert email_key("   ") is None and email_key(None) is None and email_key(float("nan")) is None


def test_code_key_drops_blanks_and_dashes_and_upper_cases():
    assert code_key(" mu7d-qtwx v") == "MU7DQTWXV"
    assert code_key("MU7D\u2013QTWXV") == "MU7DQTWXV"  # an en dash typed by a phone keyboard
    assert code_key(" - ") is None and code_key(None) is None


@given(st.lists(st.one_of(st.none(), st.text(max_size=12)), max_size=20))
def test_vectorised_keys_equal_the_scalar_ones(values):
    s = pd.Series(values, dtype="object")
    for scalar, vector in ((email_key, email_keys), (code_key, code_keys)):
        got = vector(s)
        assert len(got) == len(s) and got.index.equals(s.index)
        assert [None if pd.isna(v) else v for v in got] == [scalar(v) for v in values]


IDENTITY = re.compile(r"(?<![a-z])(e-?mails?|coupon|codes?)(?![a-z])", re.IGNORECASE)
"""Receivers that hold an e-mail address or a coupon code."""


def _sources() -> list[Path]:
    files = [ROOT / "app.py", *sorted((ROOT / "geo").rglob("*.py")),
             *sorted((ROOT / "ui").rglob("*.py")), *sorted((ROOT / "tests" / "fakes").glob("*.py"))]
    for pages in ("pages", "app_pages"):
        files += sorted((ROOT / pages).rglob("*.py"))
    return [f for f in files if f != KEYS]


def case_folds(source: str) -> list[str]:
    """``receiver.lower()`` / ``.upper()`` / ``.casefold()`` calls whose receiver names an
    address or a code, as ``line: receiver.method()``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("lower", "upper", "casefold")):
            receiver = ast.get_source_segment(source, node.func.value) or ""
            if IDENTITY.search(receiver):
                found.append(f"{node.lineno}: {receiver}.{node.func.attr}()")
    return found


def test_no_module_defines_e_mail_or_code_identity_on_its_own():
    offenders = {str(p.relative_to(ROOT)): case_folds(p.read_text(encoding="utf-8"))
                 for p in _sources()}
    assert {p: f for p, f in offenders.items() if f} == {}, \
        "use geo.keys.email_key(s) / code_key(s)"


@pytest.mark.parametrize("line, caught", [
    ('x = df["email"].str.strip().str.lower()', True),
    ("h = hashlib.md5(email.strip().lower().encode())", True),
    ('c = codes.astype("string").str.upper()', True),
    ("c = row['coupon_code'].upper()", True),
    ("tag = name.upper()", False),
    ("names = {n.upper() for n in attributes}", False),
    ('labels = encoded.dictionary.str.casefold()', False),
])
def test_the_identity_scan_catches_a_module_of_its_own(line, caught):
    assert bool(case_folds(line)) is caught
