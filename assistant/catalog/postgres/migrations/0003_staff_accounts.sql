-- 0003: staff accounts live with the catalog, so an account made on one server (or by the CLI) signs in on every
-- server, and failed sign-ins are counted once for all of them. The same two tables a folder catalog keeps in
-- staff.db (assistant/staff/storage.py); passwords only as argon2id hashes. Accounts that servers kept in their
-- cache folders' staff.db before this version are not read any more: add them again (python -m assistant staff add).

CREATE TABLE accounts (
    name text PRIMARY KEY,
    password_hash text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    created_at text NOT NULL,
    password_changed double precision NOT NULL,  -- seconds since the epoch; a later change ends older sign-ins
    last_sign_in text
);

CREATE TABLE sign_in_failures (
    name text PRIMARY KEY,                       -- also names that have no account: they are throttled alike
    failures integer NOT NULL CHECK (failures >= 0),
    last_failure double precision NOT NULL
);
