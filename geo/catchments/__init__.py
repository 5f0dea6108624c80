"""Catchments: which store each customer belongs to, and the areas each store reaches.

Modules:

``assign``
    Nearest store per customer by travel time or straight line, runner-up, overlaps.
``polygons``
    Travel-time band polygons and radius rings per store; the what-if store.
``huff``
    Store choice by the Huff model: probabilities, expected visitors, calibration, what-if.
``trade_area``
    Customers per store and band, who is unreachable and why, even bands.
``_raster``
    The raster pass behind the band polygons (private).
"""
