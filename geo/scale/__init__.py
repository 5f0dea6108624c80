"""Customers beyond memory: Parquet parts, a Dask cluster, per-node answers broadcast to its workers.

`parts` lists and checks a folder of Parquet (or GeoParquet) parts,
`cluster` opens and always closes a Dask client (a `LocalCluster` or a
scheduler address), `assign` runs the assignment part by part, in process or
on the cluster, and writes one output part per input part.
"""
