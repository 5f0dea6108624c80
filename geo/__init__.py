"""Online-to-offline geo-targeting: stores, customers, catchments, target lists and funnels.

The package never imports Streamlit: pages and the command line call the same
functions. Data flows one way: load and validate (``io``), compute (``network``,
``routing``, ``catchments``, ``reach``, ``funnel``), then render (``mapdeck``)
or export.
"""

__version__ = "0.1.0"
