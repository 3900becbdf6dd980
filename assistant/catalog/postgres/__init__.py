"""The PostgreSQL catalog: many app servers and the CLI sharing one catalog through one database.

``catalog.py`` (``PostgresCatalog``: the ``Catalog`` facade over this package's stores, shared files mirrored per
server), ``store.py`` (the ``ProductStore`` contract on PostgreSQL), ``photos.py`` (photos by SHA-256 in the
database, cached per server), ``listener.py`` (LISTEN/NOTIFY), ``connection.py`` (connections; failures become
``CatalogError``), ``migrations.py`` with the versioned schema in ``migrations/``. Nothing imports this package
unless a catalog URL is used, so a folder catalog never needs psycopg.
"""
