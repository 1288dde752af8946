-- Users, API keys, jobs and their steps, audit log.
-- Ids are time-ordered opaque strings (see chalicelib.core.ids), so `ORDER BY id DESC` is newest first.

CREATE TABLE IF NOT EXISTS users (
  id            VARCHAR(40)  NOT NULL PRIMARY KEY,
  email         VARCHAR(320) NOT NULL,
  password_hash VARCHAR(255) NOT NULL,
  created_at    DATETIME(6)  NOT NULL,
  UNIQUE KEY uq_users_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS api_keys (
  id           VARCHAR(40)  NOT NULL PRIMARY KEY,
  user_id      VARCHAR(40)  NOT NULL,
  name         VARCHAR(100) NOT NULL,
  prefix       VARCHAR(16)  NOT NULL,
  key_hash     CHAR(64)     NOT NULL,
  created_at   DATETIME(6)  NOT NULL,
  last_used_at DATETIME(6)  NULL,
  UNIQUE KEY uq_api_keys_hash (key_hash),
  KEY ix_api_keys_user (user_id, id),
  CONSTRAINT fk_api_keys_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS jobs (
  id              VARCHAR(40)  NOT NULL PRIMARY KEY,
  user_id         VARCHAR(40)  NOT NULL,
  status          ENUM('queued','running','succeeded','failed','canceled') NOT NULL,
  progress        TINYINT UNSIGNED NOT NULL DEFAULT 0,
  current_step    VARCHAR(16)  NULL,
  attempt         INT UNSIGNED NOT NULL DEFAULT 1,
  request         JSON         NOT NULL,
  request_hash    CHAR(64)     NOT NULL,
  idempotency_key VARCHAR(255) NULL,
  error_code      VARCHAR(64)  NULL,
  error_message   VARCHAR(1000) NULL,
  error_step      VARCHAR(16)  NULL,
  outputs         JSON         NULL,
  notes           JSON         NULL,
  created_at      DATETIME(6)  NOT NULL,
  started_at      DATETIME(6)  NULL,
  finished_at     DATETIME(6)  NULL,
  updated_at      DATETIME(6)  NOT NULL,
  UNIQUE KEY uq_jobs_idempotency (user_id, idempotency_key),
  KEY ix_jobs_user (user_id, id),
  KEY ix_jobs_user_status (user_id, status, id),
  KEY ix_jobs_status (status, updated_at),
  CONSTRAINT fk_jobs_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS job_steps (
  job_id        VARCHAR(40)  NOT NULL,
  name          VARCHAR(16)  NOT NULL,
  position      TINYINT UNSIGNED NOT NULL,
  status        ENUM('pending','running','succeeded','failed','canceled','skipped') NOT NULL,
  progress      TINYINT UNSIGNED NOT NULL DEFAULT 0,
  attempt       INT UNSIGNED NOT NULL DEFAULT 0,
  artifacts     JSON         NULL,
  error_code    VARCHAR(64)  NULL,
  error_message VARCHAR(1000) NULL,
  started_at    DATETIME(6)  NULL,
  finished_at   DATETIME(6)  NULL,
  PRIMARY KEY (job_id, name),
  CONSTRAINT fk_job_steps_job FOREIGN KEY (job_id) REFERENCES jobs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS audit_log (
  id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id    VARCHAR(40)  NULL,
  action     VARCHAR(64)  NOT NULL,
  target     VARCHAR(100) NULL,
  ip         VARCHAR(45)  NULL,
  details    JSON         NULL,
  created_at DATETIME(6)  NOT NULL,
  KEY ix_audit_user (user_id, id),
  KEY ix_audit_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
