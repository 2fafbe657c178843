-- SQLite only: the audit writer's throughput (loadtest/RESULTS.md, "Writer throughput into SQLite").
--
-- The indexes keyed by principal, source address and path took inserts all over their b-trees:
-- every 50 ms commit rewrote about one index leaf page per record, which cost half the store
-- thread's time. Their entries now live in three key tables, filled from audit_record in key order
-- (one sorted INSERT ... SELECT per table) once the unindexed tail holds enough records
-- (SqliteAuditStore.INDEX_TAIL), so each dirtied page is written once per fill, not once per
-- commit. Every record is still stored in audit_record in its append transaction, so verify,
-- retention, the chain head and journal replays read one table as before.
--
-- audit_key_mark.indexed_to: the key tables hold the entries of exactly the records with
-- id <= indexed_to. A query filtering by one of these keys reads that key table for those records
-- and scans the tail (id > indexed_to, a rowid range) for the rest. New records take ids above
-- indexed_to even after retention emptied the table (SqliteAuditStore assigns them).
CREATE TABLE audit_key_principal (
  k   TEXT    NOT NULL,
  t   INTEGER NOT NULL, -- time_us
  rid INTEGER NOT NULL, -- audit_record.id
  PRIMARY KEY (k, t, rid)
) WITHOUT ROWID;
CREATE TABLE audit_key_source_ip (
  k   TEXT    NOT NULL,
  t   INTEGER NOT NULL,
  rid INTEGER NOT NULL,
  PRIMARY KEY (k, t, rid)
) WITHOUT ROWID;
CREATE TABLE audit_key_path (
  k   TEXT    NOT NULL,
  t   INTEGER NOT NULL,
  rid INTEGER NOT NULL,
  PRIMARY KEY (k, t, rid)
) WITHOUT ROWID;

CREATE TABLE audit_key_mark (
  one        INTEGER PRIMARY KEY CHECK (one = 1),
  indexed_to INTEGER NOT NULL
);

-- An existing log moves its entries over once, in key order.
INSERT INTO audit_key_principal (k, t, rid)
  SELECT principal, time_us, id FROM audit_record ORDER BY principal, time_us, id;
INSERT INTO audit_key_source_ip (k, t, rid)
  SELECT source_ip, time_us, id FROM audit_record ORDER BY source_ip, time_us, id;
INSERT INTO audit_key_path (k, t, rid)
  SELECT path, time_us, id FROM audit_record ORDER BY path, time_us, id;
INSERT INTO audit_key_mark (one, indexed_to) SELECT 1, coalesce(max(id), 0) FROM audit_record;

DROP INDEX audit_record_principal;
DROP INDEX audit_record_source_ip;
DROP INDEX audit_record_path;
