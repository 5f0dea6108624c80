"""Data in: read the marketer's files, check them, and keep them in the workspace.

Modules, in the order data flows through them:

``schema``
    The tables' layouts (stores, customers, targets, events, redemptions).
``readers``
    Read any supported file (CSV in any encoding and delimiter, XLSX, GeoJSON,
    GeoPackage, Parquet, a ZIP of CSVs) in chunks; refuse what is not a table.
``layouts``
    Recognise known exports (Shopify, Mailchimp, Klaviyo, Square, Shopify
    orders), their mapping and derived columns (consent, split addresses).
``columns``
    Map a file's headers onto the canonical columns (synonyms, recalled mappings).
``derive``, ``identity``
    Fill what a file implies: stable ``customer_id`` from the e-mail identity,
    location quality of given coordinates, ids without Excel's apostrophe.
``tills``
    Till exports: the till Location → store_id table, money, local times.
``validate``
    Parse cells into typed columns; report every bad row with its reason.
``geocode``, ``postcodes``, ``locate``
    Locate rows that have an address or postcode but no coordinates: the
    geocoding server (Nominatim or Photon), GeoNames postcode tables offline
    (pgeocode), or both.
``ingest``
    Check a file and store its good rows (preview, import, undo).
``merge``
    Add and update, or replace, a stored table with an import.
``tables``
    Load and write the product's tables strictly (the command line's inputs).
``activity``
    Read providers' activity exports (Mailchimp, Klaviyo, generic) as events.
``consent``
    The consent rule, judged per address.
``inventory``
    What each workspace holds on disk.
"""
