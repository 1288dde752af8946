-- Uploads of user assets (presigned S3 POST, confirmed by the API), job expiry after the plan's
-- retention, and the bookkeeping the cleanup function needs to make progress run after run.

CREATE TABLE IF NOT EXISTS uploads (
  id            VARCHAR(40)  NOT NULL PRIMARY KEY,
  user_id       VARCHAR(40)  NOT NULL,
  status        ENUM('pending','uploaded','rejected','expired') NOT NULL,
  filename      VARCHAR(255) NOT NULL,  -- the client's name: metadata only, never part of a key
  content_type  VARCHAR(100) NOT NULL,
  size_bytes    BIGINT UNSIGNED NOT NULL,
  reason        VARCHAR(255) NULL,      -- why it was rejected
  created_at    DATETIME(6)  NOT NULL,
  updated_at    DATETIME(6)  NOT NULL,
  KEY ix_uploads_user (user_id, id),
  KEY ix_uploads_status (status, created_at),
  CONSTRAINT fk_uploads_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

ALTER TABLE jobs
  MODIFY status ENUM('queued','running','succeeded','failed','canceled','expired') NOT NULL;

-- When cleanup last dropped the job's progress stream; behind finished_at means "not yet".
ALTER TABLE jobs
  ADD COLUMN events_cleared_at DATETIME(6) NULL,
  ADD INDEX ix_jobs_finished (finished_at);
