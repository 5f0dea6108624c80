"""Generate and validate unique, unguessable coupon codes with a check character.

A code is ``length`` random characters followed by one check character, all
drawn from `ALPHABET`: the 26 letters and 10 digits without the look-alikes
``0``, ``O``, ``1``, ``I`` and ``L`` (31 characters, so 8 random characters give
31**8 ≈ 8.5e11 codes). The random characters come from `secrets` (the
operating system's cryptographic generator), mapped to the alphabet by
rejection sampling so that every character is equally likely.

The check character makes the position-weighted sum of the code divisible by
N = 31 (a prime): with alphabet indices ``x1 .. xk`` of the body and ``c`` of the
check character, ``1*x1 + 2*x2 + ... + k*xk + (k+1)*c ≡ 0 (mod 31)`` (the ISBN-10
scheme over this alphabet). Because 31 is prime and every weight is between 1
and 30, it catches every single mistyped character and every swap of two
different characters, adjacent or not, which is what a cashier typing a code
from a phone screen gets wrong. (Luhn mod N, the other common choice, needs an
even alphabet size and misses some swaps; 31 characters make the prime scheme
the stronger one.) Codes are therefore at most 30 characters long.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

import numpy as np
import pandas as pd

from geo.keys import code_key, code_keys
from geo.workspace import Workspace

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
N = len(ALPHABET)
DEFAULT_LENGTH = 8
_INDEX = np.full(256, -1, dtype=np.int16)
_INDEX[np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)] = np.arange(N)
_CHARS = np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)


def _weighted_sum(indices: np.ndarray) -> np.ndarray:
    """Position-weighted sum (weights 1, 2, ... from the left) modulo N per row."""
    weights = np.arange(1, indices.shape[1] + 1, dtype=np.int64)
    sums: np.ndarray = (indices.astype(np.int64) * weights).sum(axis=1) % N
    return sums


def check_characters(bodies: np.ndarray) -> np.ndarray:
    """Check-character indices for an (n, k) array of body alphabet indices (k <= 29)."""
    k = bodies.shape[1]
    if not 1 <= k < N - 1:
        raise ValueError(f"a code body needs 1 to {N - 2} characters, got {k}")
    checks: np.ndarray = (-_weighted_sum(bodies) * pow(k + 1, -1, N)) % N
    return checks


def check_character(body: str) -> str:
    """Return the check character for a code body (the code without its last character).

    Raises
    ------
    ValueError
        If ``body`` is empty or holds a character outside `ALPHABET`.
    """
    idx = _indices(code_key(body) or "")
    if idx is None or len(idx) == 0:
        raise ValueError(f"code body {body!r} must be non-empty and use only {ALPHABET}")
    return ALPHABET[int(check_characters(idx[None, :])[0])]


def _indices(code: str) -> np.ndarray | None:
    try:
        raw = np.frombuffer(code.encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError:
        return None
    idx = _INDEX[raw]
    return None if (idx < 0).any() else idx.astype(np.int64)


def validate(code: str, *, length: int | None = DEFAULT_LENGTH) -> bool:
    """True when ``code`` (after `geo.keys.code_key`) is well formed and its check character matches.

    Parameters
    ----------
    code
        The code to check.
    length
        Expected number of random characters (the code is one longer); None
        accepts any length of at least one.
    """
    code = code_key(code) or ""
    if len(code) < 2 or (length is not None and len(code) != length + 1):
        return False
    idx = _indices(code)
    if idx is None:
        return False
    return bool(len(code) < N and _weighted_sum(idx[None, :])[0] == 0)


def validate_codes(codes: pd.Series, *, length: int | None = DEFAULT_LENGTH) -> pd.Series:
    """Vectorised `validate`: a boolean Series, False for missing or malformed codes."""
    norm = code_keys(codes)
    out = pd.Series(False, index=codes.index, dtype=bool)
    lens = norm.str.len()
    for k in pd.unique(lens.dropna()):
        k = int(k)
        if k < 2 or k >= N or (length is not None and k != length + 1):
            continue
        rows = (lens == k).fillna(False).to_numpy()
        text = "".join(norm[rows].tolist())
        try:
            raw = np.frombuffer(text.encode("ascii"), dtype=np.uint8).reshape(-1, k)
        except UnicodeEncodeError:
            # a non-ASCII character somewhere: check these rows one by one
            out[rows] = [validate(c, length=length) for c in norm[rows]]
            continue
        idx = _INDEX[raw].astype(np.int64)
        ok = (idx >= 0).all(axis=1)
        ok &= _weighted_sum(np.where(idx < 0, 0, idx)) == 0
        out[rows] = ok
    return out


def _random_indices(count: int) -> np.ndarray:
    """``count`` uniform alphabet indices from `secrets` (rejection sampling, no modulo bias)."""
    limit = 256 - 256 % N  # 248: accept bytes below it, then take the value mod N
    out = np.empty(0, dtype=np.int64)
    while len(out) < count:
        need = count - len(out)
        raw = np.frombuffer(secrets.token_bytes(int(need * 1.1) + 16), dtype=np.uint8)
        out = np.concatenate([out, (raw[raw < limit] % N).astype(np.int64)])
    return out[:count]


def generate_codes(n: int, *, existing: Iterable[str] = (), length: int = DEFAULT_LENGTH) -> list[str]:
    """Draw ``n`` new codes, unique among themselves and not in ``existing``.

    Parameters
    ----------
    n
        Number of codes wanted.
    existing
        Codes already in use (for example every code of every campaign in the
        workspace, see `existing_codes`); compared after `geo.keys.code_key`.
    length
        Random characters per code (the check character comes on top). With
        the default 8 there are about 8.5e11 codes, so guessing a valid one
        by chance has odds below one in a million even with 100,000 issued.

    Returns
    -------
    list of str
        ``n`` codes of ``length + 1`` characters.
    """
    if n < 0:
        raise ValueError(f"number of codes must be >= 0, got {n}")
    if not 4 <= length <= N - 2:
        raise ValueError(f"codes need 4 to {N - 2} random characters, got {length}")
    taken = {k for k in map(code_key, existing) if k is not None}
    if n + len(taken) > N ** length // 2:
        raise ValueError(f"{n} codes of length {length} would fill more than half the code space")
    taken_arr = np.array(sorted(taken), dtype=f"S{length + 1}") if taken else None
    codes = np.empty(0, dtype=f"S{length + 1}")
    while len(codes) < n:
        need = n - len(codes)
        body = _random_indices(need * length).reshape(need, length)
        full = np.concatenate([body, check_characters(body)[:, None]], axis=1)
        fresh = np.ascontiguousarray(_CHARS[full]).view(f"S{length + 1}").ravel()
        if taken_arr is not None:
            fresh = fresh[~np.isin(fresh, taken_arr)]
        merged = np.concatenate([codes, fresh])
        _, first = np.unique(merged, return_index=True)
        codes = merged[np.sort(first)]
    drawn: list[str] = np.char.decode(codes[:n], "ascii").tolist()
    return drawn


def existing_codes(workspace: Workspace) -> set[str]:
    """Every coupon code issued by any campaign saved in ``workspace`` (as `geo.keys.code_key`).

    Parameters
    ----------
    workspace
        A `geo.workspace.Workspace`.
    """
    found: set[str] = set()
    for campaign in workspace.list_campaigns():
        targets = workspace.load_campaign_file(campaign, "targets")
        if targets is None or "coupon_code" not in targets.columns:
            continue
        found.update(code_keys(targets["coupon_code"]).dropna().tolist())
    return found
