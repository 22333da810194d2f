-- interactive-services sync store, schema version 2 (PostgreSQL): callback traffic, for callback health.
-- One row per configuration, minute (bucket_start, milliseconds since the Unix epoch), outcome
-- ('accepted', 'duplicate', 'rejected') and rejection reason ('' unless rejected). Every
-- replica adds to the same rows (INSERT ... ON CONFLICT DO UPDATE SET deliveries = deliveries + 1).
CREATE TABLE isp_sync_callback_buckets (
    config       TEXT   NOT NULL,
    bucket_start BIGINT NOT NULL,
    outcome      TEXT   NOT NULL,
    reason       TEXT   NOT NULL,
    deliveries   BIGINT NOT NULL,
    PRIMARY KEY (config, bucket_start, outcome, reason)
);

-- The latest times ever recorded per configuration; an upsert keeps the greater time.
CREATE TABLE isp_sync_callback_latest (
    config                TEXT   NOT NULL PRIMARY KEY,
    last_attempt_at       BIGINT NOT NULL,
    last_delivery_at      BIGINT,
    last_rejection_at     BIGINT,
    last_rejection_reason TEXT,
    last_rejection_detail TEXT
);
