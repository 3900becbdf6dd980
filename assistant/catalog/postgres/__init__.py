"""The PostgreSQL catalog store: many app servers and the CLI sharing one catalog through one database.

``connection.py`` opens connections and turns database failures into ``CatalogError``; ``migrations.py``
applies the versioned schema in ``migrations/``. Nothing imports this package unless a catalog URL is used,
so a folder catalog never needs psycopg.
"""
