"""Coupon codes of `geo.targeting.codes`: alphabet, check character, uniqueness, normalising."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.keys import code_key
from geo.targeting import codes
from geo.targeting.codes import (
    ALPHABET,
    check_character,
    existing_codes,
    generate_codes,
    validate,
)
from geo.workspace import create_workspace


def test_alphabet_has_no_lookalikes():
    assert len(ALPHABET) == 31 and len(set(ALPHABET)) == 31
    assert not set("0O1IL") & set(ALPHABET)


def test_generated_codes_are_unique_well_formed_and_valid():
    got = generate_codes(20000)
    assert len(got) == len(set(got)) == 20000
    assert all(len(c) == 9 and set(c) <= set(ALPHABET) for c in got)
    assert all(validate(c) for c in got)
    assert codes.validate_codes(pd.Series(got)).all()
    # uniform characters: every alphabet character shows up in the bodies
    assert set("".join(c[:-1] for c in got)) == set(ALPHABET)


def test_existing_codes_are_never_reissued():
    first = generate_codes(5, length=4)
    # a tiny code space (31**4) with most codes taken still yields fresh ones
    taken = set(generate_codes(20000, length=4)) | set(first)
    fresh = generate_codes(300, existing=[c.lower() for c in taken], length=4)
    assert not set(fresh) & taken and len(set(fresh)) == 300


def test_check_character_known_value():
    # body "22": indices 0, 0 -> weighted sum 0 -> check index 0 -> "2"
    assert check_character("22") == "2"
    # body "23": 1*0 + 2*1 = 2; the check c needs 2 + 3c = 0 (mod 31): c = 20 ("P"),
    # as 2 + 3 * 20 = 62 = 2 * 31
    assert check_character("23") == ALPHABET[20] == "P"
    assert validate("23P", length=None) and not validate("23N", length=None)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=ALPHABET, min_size=8, max_size=8), st.integers(0, 8),
       st.sampled_from(ALPHABET))
def test_every_single_character_error_is_caught(body, pos, replacement):
    code = body + check_character(body)
    assert validate(code)
    wrong = code[:pos] + replacement + code[pos + 1:]
    assert validate(wrong) == (wrong == code)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=ALPHABET, min_size=8, max_size=8), st.integers(0, 7))
def test_swaps_are_caught(body, pos):
    code = body + check_character(body)
    other = 8 - pos  # swap with another position, adjacent or not
    a, b = sorted((pos, other if other != pos else pos + 1))
    swapped = code[:a] + code[b] + code[a + 1:b] + code[a] + code[b + 1:]
    assert validate(swapped) == (swapped == code)


def test_normalise_and_validate_typed_input():
    code = generate_codes(1)[0]
    typed = f"  {code[:4].lower()}-{code[4:].lower()} "
    assert code_key(typed) == code and validate(typed)
    assert not validate("") and not validate("ÄÖÜ") and not validate(code + "2")
    assert not validate(code.replace(code[0], "0"))  # 0 is not in the alphabet
    s = codes.validate_codes(pd.Series([typed, None, "short", "ÄBCDEFGHJ"]))
    assert s.tolist() == [True, False, False, False]


def test_bad_arguments():
    with pytest.raises(ValueError):
        generate_codes(-1)
    with pytest.raises(ValueError):
        generate_codes(1, length=3)
    with pytest.raises(ValueError):
        check_character("10")
    with pytest.raises(ValueError):
        generate_codes(1, length=30)


def test_existing_codes_reads_every_campaign(tmp_path):
    ws = create_workspace("w", tmp_path)
    a, b = generate_codes(2)
    ws.save_campaign_file("one", "targets", pd.DataFrame({"coupon_code": [a, None]}))
    ws.save_campaign_meta("one", {})
    ws.save_campaign_file("two", "targets", pd.DataFrame({"coupon_code": [f" {b.lower()}"]}))
    ws.save_campaign_meta("two", {})
    assert existing_codes(ws) == {a, b}
