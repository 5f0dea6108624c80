"""Targeting: who may be e-mailed in a catchment, the holdout, codes and the target list.

Modules:

``audience``
    The consent rule and the audience filters, computed once per set of filters.
``suppression``
    Suppression lists and recent contacts.
``reach``
    The waterfall, per-store counts and the holdout for a catchment.
``bands``
    Band limits, labels and the band of each travel value.
``holdout``
    The holdout drawn within strata (store and band).
``live``
    Building blocks of the live preview (candidates, overlaps, cells, bands).
``preview``
    Every slider step's counts and map at once, for the browser.
``forecast``
    Expected redemptions, revenue and ROI from past campaigns.
``daily``
    Expected redemptions per store per day of the offer window, and its backtest.
``prospects``
    The ring just beyond the band: counts, response by distance, marginal return.
``untapped``
    H3 cells with many homes, few customers and a store within reach.
``codes``
    Unique coupon codes with a check character.
``targets``
    The target list with merge fields, and saved campaigns.
``plan``
    A campaign's parameters, assembled once (`CampaignPlan`).
"""
