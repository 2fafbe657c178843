-- API keys (shared/spec/interfaces.md "Admin API", docs/api-keys.md). A key's secret is never
-- stored: secret_hash is the SHA-256 of the whole key (io.portcullis.keys.KeyHash). Times are epoch
-- microseconds.
CREATE TABLE api_key (
  id                      TEXT    PRIMARY KEY,
  secret_hash             BYTEA   NOT NULL,
  -- the secret the last rotation replaced, valid until previous_valid_until_us (exclusive)
  previous_hash           BYTEA,
  previous_valid_until_us BIGINT,
  generation              INTEGER NOT NULL,   -- 1 at issue, +1 per rotation
  client                  TEXT    NOT NULL,
  client_type             TEXT    NOT NULL,   -- '' = none
  roles                   TEXT    NOT NULL,   -- space-separated, in issue order
  scopes                  TEXT    NOT NULL,   -- space-separated, in issue order
  segment_hint            TEXT    NOT NULL,   -- '' = none
  created_at_us           BIGINT  NOT NULL,
  expires_at_us           BIGINT,
  revoked_at_us           BIGINT,
  last_used_at_us         BIGINT,
  CONSTRAINT api_key_previous CHECK ((previous_hash IS NULL) = (previous_valid_until_us IS NULL))
);

-- GET /admin/keys?client= and keys list --client, oldest first.
CREATE INDEX api_key_client ON api_key (client, created_at_us, id);

-- The change feed: one row per issue, rotation or revocation. Every instance polls it (seq > its
-- watermark) and drops what it cached of the changed keys, so a revocation reaches all instances
-- within a poll interval. Rows older than a week are pruned by later writes.
CREATE TABLE api_key_change (
  seq           BIGINT PRIMARY KEY,
  key_id        TEXT   NOT NULL,
  changed_at_us BIGINT NOT NULL
);

-- The change sequence: one row, incremented under its row lock by each writing transaction, so
-- change numbers become visible in commit order (a SEQUENCE would let a later number commit first
-- and a poller skip the earlier one for good).
CREATE TABLE api_key_sequence (
  one INTEGER PRIMARY KEY CHECK (one = 1),
  seq BIGINT  NOT NULL
);
INSERT INTO api_key_sequence (one, seq) VALUES (1, 0);
