"""Name the ways a catchment is measured: travel modes on a road network, or a straight radius.

`Mode` is the one definition of a mode's unit (minutes or kilometres), of the
road network it routes on, and of its label. It is a ``str`` enum, so
``Mode.RADIUS == "radius"`` and modes stored as text in settings, campaign
files and command lines read back unchanged.
"""

from __future__ import annotations

from enum import Enum

from geo.errors import NetworkError


class Mode(str, Enum):
    """A catchment mode: ``walk``, ``bike`` and ``drive`` by travel time, ``radius`` by distance."""

    WALK = "walk"
    BIKE = "bike"
    DRIVE = "drive"
    RADIUS = "radius"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: object) -> Mode:
        """The mode named ``value`` (case and blanks ignored); `ValueError` naming the choices."""
        text = str(getattr(value, "value", value)).strip().lower()
        try:
            return cls(text)
        except ValueError:
            raise ValueError(f"unknown mode {value!r}: use one of "
                             f"{', '.join(m.value for m in cls)}") from None

    @property
    def is_travel(self) -> bool:
        """True for modes measured in travel minutes on a road network."""
        return self is not Mode.RADIUS

    @property
    def unit(self) -> str:
        """``"min"`` for travel modes, ``"km"`` for the radius."""
        return "min" if self.is_travel else "km"

    @property
    def unit_words(self) -> str:
        """The unit in words: ``"minutes"`` or ``"km"``."""
        return "minutes" if self.is_travel else "km"

    @property
    def network(self) -> str:
        """The road network the mode uses: its own for travel modes; walking for the radius.

        The radius needs no network to count customers; the walk network only
        draws roads for context on its maps.
        """
        return self.value if self.is_travel else Mode.WALK.value

    @property
    def label(self) -> str:
        """A label for pages: ``Walk``, ``Bike``, ``Drive``, ``Radius (crow flies)``."""
        return "Radius (crow flies)" if self is Mode.RADIUS else self.value.capitalize()

    @property
    def metric_column(self) -> str:
        """The assignment column a band limit applies to: ``travel_min`` or ``crow_km``."""
        return "travel_min" if self.is_travel else "crow_km"


MODES: tuple[Mode, ...] = tuple(Mode)
"""Every mode, in the order pages offer them."""
TRAVEL_MODES: tuple[Mode, ...] = (Mode.WALK, Mode.BIKE, Mode.DRIVE)
"""The modes that route on a road network."""


def check_mode(mode: str) -> str:
    """Return ``mode`` if it is a travel mode (drive, walk, bike), else raise `NetworkError`."""
    if mode not in {m.value for m in TRAVEL_MODES}:
        raise NetworkError(f"unknown travel mode {mode!r}: use one of "
                           f"{', '.join(m.value for m in TRAVEL_MODES)}")
    return str(mode)
