"""The O2O funnel after a campaign: sent, opened, clicked, redeemed in store, revenue, lift.

Modules:

``attribution``
    Match till redemptions to recipients by code or loyalty card; flag anomalies.
``journeys``
    One row per recipient: e-mail events, redemptions, revenue and travel band.
``funnel``
    Stages, breakdowns, distance decay and the whole analysis.
``lift``
    Treatment against holdout, with confidence intervals.
``campaign``
    A saved campaign's funnel, settings and uploads.
"""
