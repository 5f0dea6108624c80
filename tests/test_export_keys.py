"""The export layer and the provider fakes compare addresses and codes only through `geo.keys`."""

from __future__ import annotations

import ast
import hashlib
import re
from pathlib import Path

import pytest

from geo.export.mailchimp import subscriber_hash
from geo.keys import email_key
from tests.fakes.mailchimp import md5

ROOT = Path(__file__).resolve().parents[1]
#: receivers that hold an e-mail address or a coupon code
IDENTITY = re.compile(r"e-?mail|coupon|code", re.IGNORECASE)


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


def test_the_scanner_finds_hand_written_identity_rules():
    assert case_folds("h = md5(email.strip().lower().encode())") == [
        "1: email.strip().lower()"]
    assert case_folds('out = _text(df, "email").str.lower()') == [
        '1: _text(df, "email").str.lower()']
    assert case_folds("c = row['coupon_code'].upper()") == ["1: row['coupon_code'].upper()"]
    assert case_folds("names = {n.upper() for n in attributes}") == []


@pytest.mark.parametrize("folder", ["geo/export", "tests/fakes"])
def test_no_module_lower_cases_emails_or_upper_cases_codes_itself(folder):
    offences = {str(p.relative_to(ROOT)): case_folds(p.read_text(encoding="utf-8"))
                for p in sorted((ROOT / folder).glob("*.py"))}
    assert {p: f for p, f in offences.items() if f} == {}, "use geo.keys.email_key(s)/code_key(s)"


def test_mailchimp_member_id_is_md5_of_the_identity_key():
    # Mailchimp documents the subscriber hash as MD5 of the lower-cased address
    expected = hashlib.md5(b"ann@example.com").hexdigest()
    assert subscriber_hash(" Ann@Example.COM ") == expected == md5("ANN@example.com")
    assert email_key(" Ann@Example.COM ") == "ann@example.com"
