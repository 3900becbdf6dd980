-- 0002: the trash (soft-deleted products, restorable with their id, photo and vector) and the audit trail.
-- The same tables a folder catalog keeps in catalog.db (assistant/catalog/sqlite_store.py); each audit row is
-- written in the transaction it records. Staff accounts stay in the folder (staff.db), see the README.

CREATE TABLE trash (
    id bigint PRIMARY KEY,              -- the product's own id, given back on restore
    sku text NOT NULL,
    product jsonb NOT NULL,             -- the row's columns (a later column does not break a restore)
    vector bytea NOT NULL,
    image_sha256 text,                  -- keeps its photo in photos until purged
    deleted_at text NOT NULL,
    deleted_by text NOT NULL
);
CREATE INDEX trash_sku ON trash (sku);
CREATE INDEX trash_image_sha256 ON trash (image_sha256);

CREATE TABLE audit (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at text NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    target text NOT NULL,
    details jsonb NOT NULL
);
CREATE INDEX audit_at ON audit (at);
