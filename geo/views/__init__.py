"""Views: map specs, charts and headline counts built from every stage's results.

Nothing in ``geo`` imports from here; pages do.

Modules:

``maps``
    pydeck map specs and the static layers they load by URL.
``charts``
    Altair charts of the funnel.
``reach_charts``
    The reach page's waterfall and histogram tables.
``summary``
    Headline counts above the maps.
"""
