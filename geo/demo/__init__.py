"""The embedded demo: real OpenStreetMap geography, synthetic customers and a past campaign.

Modules:

``build``
    Generate the demo's stores and customers and install the demo workspace.
``campaign``
    The demo's finished past campaign (targets, events, redemptions).
"""
