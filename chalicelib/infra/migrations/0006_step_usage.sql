-- Which provider made each step's artifact and what it spent (StepUsage records, shown on the
-- job), and the same records one per row for the monthly per-user sums. provider_usage keeps no
-- foreign key to jobs: what was spent stays counted when a job's rows go.
ALTER TABLE job_steps
  ADD COLUMN provider   VARCHAR(64) NULL,
  ADD COLUMN step_usage JSON        NULL;

CREATE TABLE IF NOT EXISTS provider_usage (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id     VARCHAR(40)  NOT NULL,
  job_id      VARCHAR(40)  NOT NULL,
  step        VARCHAR(16)  NOT NULL,
  purpose     VARCHAR(16)  NOT NULL,
  provider    VARCHAR(64)  NOT NULL,
  model       VARCHAR(128) NULL,
  tokens_in   INT UNSIGNED NOT NULL DEFAULT 0,
  tokens_out  INT UNSIGNED NOT NULL DEFAULT 0,
  characters  INT UNSIGNED NOT NULL DEFAULT 0,
  images      INT UNSIGNED NOT NULL DEFAULT 0,
  audio_ms    INT UNSIGNED NOT NULL DEFAULT 0,
  bytes       BIGINT UNSIGNED NOT NULL DEFAULT 0,
  wall_ms     INT UNSIGNED NOT NULL DEFAULT 0,
  created_at  DATETIME(6)  NOT NULL,
  KEY ix_provider_usage_user (user_id, created_at),
  KEY ix_provider_usage_job (job_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
