"""Write counts in the marketer's words: ``1 address``, ``2 addresses``."""

from __future__ import annotations


def plural(n: int, one: str, many: str | None = None) -> str:
    """``n`` with its noun in the right number, thousands separated: ``"1,204 addresses"``.

    Parameters
    ----------
    n
        The count.
    one
        The noun for one (``"address"``).
    many
        The noun for any other count (default: ``one + "s"``).
    """
    return f"{n:,} {one if n == 1 else (many or one + 's')}"
