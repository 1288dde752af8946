-- Every run of every step, kept: a job's full history stays inspectable after it failed (the
-- dead letters), and "no step succeeded twice" is checkable.
CREATE TABLE IF NOT EXISTS job_step_runs (
  id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  job_id        VARCHAR(40)  NOT NULL,
  step          VARCHAR(16)  NOT NULL,
  owner         VARCHAR(64)  NOT NULL,
  status        ENUM('running','succeeded','failed','canceled','abandoned') NOT NULL,
  error_code    VARCHAR(64)  NULL,
  error_message VARCHAR(1000) NULL,
  started_at    DATETIME(6)  NOT NULL,
  finished_at   DATETIME(6)  NULL,
  KEY ix_job_step_runs_job (job_id, id),
  CONSTRAINT fk_job_step_runs_job FOREIGN KEY (job_id) REFERENCES jobs (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
