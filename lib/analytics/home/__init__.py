"""The home page: each report's headline as a tile, stored by the scheduler and read without a query.

* :mod:`.headlines`: the figures the tile reports declare, computed from the report's own period.
* :mod:`.store`: the stored tiles, one owner-only JSON file per job under ``reports/tiles/``.
* :mod:`.freshness`: when a tile is late (grey, "no new data since …").
* :mod:`.tiles`: what the home page shows a person, grouped by who uses it.
"""
