-- interactive-services sync store, schema version 1 (SQLite).
-- Times are BIGINT milliseconds since the Unix epoch (UTC); JSON is stored as TEXT.

CREATE TABLE isp_sync_cursors (
    config     TEXT   NOT NULL PRIMARY KEY,
    cursor     TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE isp_sync_applied (
    config     TEXT   NOT NULL,
    event_id   TEXT   NOT NULL,
    applied_at BIGINT NOT NULL,
    PRIMARY KEY (config, event_id)
) WITHOUT ROWID;

CREATE TABLE isp_sync_claims (
    config     TEXT   NOT NULL,
    event_id   TEXT   NOT NULL,
    claimant   TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (config, event_id)
) WITHOUT ROWID;

CREATE TABLE isp_sync_parked (
    config    TEXT   NOT NULL,
    event_id  TEXT   NOT NULL,
    event     TEXT   NOT NULL,
    reason    TEXT   NOT NULL,
    parked_at BIGINT NOT NULL,
    refusals  BIGINT NOT NULL,
    PRIMARY KEY (config, event_id)
);

CREATE INDEX isp_sync_parked_oldest ON isp_sync_parked (config, parked_at, event_id);

CREATE TABLE isp_sync_snapshots (
    config   TEXT NOT NULL,
    account  TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    PRIMARY KEY (config, account)
);

CREATE TABLE isp_sync_leases (
    config     TEXT   NOT NULL PRIMARY KEY,
    holder     TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE isp_sync_status (
    config  TEXT   NOT NULL PRIMARY KEY,
    fields  TEXT   NOT NULL,
    applied BIGINT NOT NULL DEFAULT 0
);
