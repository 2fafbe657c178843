-- SQLite only: the key tables in generations, the client's entries in one more key table, and no
-- decision id index (loadtest/RESULTS.md, "Writer throughput into SQLite").
--
-- V3's key tables were one b-tree each over the whole log, so every fill inserted its entries
-- among all earlier ones and rewrote more of each table as the log grew: after a minute at 50,000
-- records/s the fills cost the writer as much as everything else it does. Each fill now writes a
-- generation of its own: g, the id of the fill's newest record, leads the primary key, so the
-- fill's sorted entries are appended at the end of the b-tree. A query by key seeks (g, k) in each
-- generation of its time range, newest first, and stops as soon as older generations cannot make
-- the page (io.portcullis.audit.SqliteAuditStore).
--
-- The client index went the same way: with hundreds of clients, each 50 ms commit dirtied one of its
-- leaf pages per client, about as many pages as the commit's rows filled.
--
-- The decision id index served one lookup: a journal replay checking whether a record is stored
-- already, which the time index answers as well (the records of one microsecond). Its 36-character
-- keys cost every append an index insert.
--
-- audit_key_gen: one row per generation holding key entries; the generation holds the entries of
-- the records with lo < id <= g, whose times lie in [min_t, max_t].
CREATE TABLE audit_key_gen (
  g     INTEGER PRIMARY KEY,
  lo    INTEGER NOT NULL,
  min_t INTEGER NOT NULL,
  max_t INTEGER NOT NULL
);

CREATE TABLE audit_key_principal_g (
  g   INTEGER NOT NULL, -- audit_key_gen.g
  k   TEXT    NOT NULL,
  t   INTEGER NOT NULL, -- time_us
  rid INTEGER NOT NULL, -- audit_record.id
  PRIMARY KEY (g, k, t, rid)
) WITHOUT ROWID;
CREATE TABLE audit_key_source_ip_g (
  g   INTEGER NOT NULL,
  k   TEXT    NOT NULL,
  t   INTEGER NOT NULL,
  rid INTEGER NOT NULL,
  PRIMARY KEY (g, k, t, rid)
) WITHOUT ROWID;
CREATE TABLE audit_key_client (
  g   INTEGER NOT NULL,
  k   TEXT    NOT NULL,
  t   INTEGER NOT NULL,
  rid INTEGER NOT NULL,
  PRIMARY KEY (g, k, t, rid)
) WITHOUT ROWID;
CREATE TABLE audit_key_path_g (
  g   INTEGER NOT NULL,
  k   TEXT    NOT NULL,
  t   INTEGER NOT NULL,
  rid INTEGER NOT NULL,
  PRIMARY KEY (g, k, t, rid)
) WITHOUT ROWID;

-- An existing log's entries become one generation: the records up to the mark.
INSERT INTO audit_key_gen (g, lo, min_t, max_t)
  SELECT indexed_to, 0, (SELECT min(t) FROM audit_key_principal),
         (SELECT max(t) FROM audit_key_principal)
  FROM audit_key_mark WHERE EXISTS (SELECT 1 FROM audit_key_principal);
INSERT INTO audit_key_principal_g (g, k, t, rid)
  SELECT (SELECT g FROM audit_key_gen), k, t, rid FROM audit_key_principal ORDER BY k, t, rid;
INSERT INTO audit_key_source_ip_g (g, k, t, rid)
  SELECT (SELECT g FROM audit_key_gen), k, t, rid FROM audit_key_source_ip ORDER BY k, t, rid;
INSERT INTO audit_key_path_g (g, k, t, rid)
  SELECT (SELECT g FROM audit_key_gen), k, t, rid FROM audit_key_path ORDER BY k, t, rid;
INSERT INTO audit_key_client (g, k, t, rid)
  SELECT (SELECT g FROM audit_key_gen), client, time_us, id FROM audit_record
  WHERE EXISTS (SELECT 1 FROM audit_key_gen) AND id <= (SELECT g FROM audit_key_gen)
  ORDER BY client, time_us, id;
DROP INDEX audit_record_client;

DROP TABLE audit_key_principal;
DROP TABLE audit_key_source_ip;
DROP TABLE audit_key_path;
ALTER TABLE audit_key_principal_g RENAME TO audit_key_principal;
ALTER TABLE audit_key_source_ip_g RENAME TO audit_key_source_ip;
ALTER TABLE audit_key_path_g RENAME TO audit_key_path;

DROP INDEX audit_record_decision_id;
