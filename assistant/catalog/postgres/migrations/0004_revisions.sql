-- 0004: what each audited change did to each product, so that another staff member can undo it exactly.
-- The same table a folder catalog keeps in catalog.db (assistant/catalog/sqlite_store.py): the row before the
-- change (NULL: there was none) with its vector and photo, and its columns after (NULL: the change removed it).
-- A photo named by before_image stays in photos until the revision is dropped (the trash time, or a purge).

CREATE TABLE revisions (
    change text NOT NULL,               -- the id the change's audit entry names (details.change)
    sku text NOT NULL,
    product_id bigint,
    before jsonb,
    before_vector bytea,
    before_image text,
    before_image_name text,
    after jsonb,
    at text NOT NULL,
    PRIMARY KEY (change, sku)
);
CREATE INDEX revisions_at ON revisions (at);
CREATE INDEX revisions_image ON revisions (before_image);
CREATE INDEX revisions_product ON revisions (product_id);
