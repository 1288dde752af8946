-- Issue 28: the operator's console.
-- users.role: 'customer' or 'operator' (granted by `python -m chalicelib.runtime.ops
-- grant-operator EMAIL` or by another operator); access tokens carry it as the `role` claim,
-- and every /v1/admin route checks the claim against this column, so a revoke acts at once.
-- users.suspended_at: set by an operator; a suspended account's tokens and keys stop working.
ALTER TABLE users
  ADD COLUMN role         VARCHAR(16) NOT NULL DEFAULT 'customer',
  ADD COLUMN suspended_at DATETIME(6) NULL;
ALTER TABLE users ADD KEY ix_users_role (role);

-- What the operator's pages ask (bench/admin.py measures them with 100 000 jobs):
-- jobs per day and status (covering), the wait of jobs started in the last hour, the dead letter
-- and failures by code and step (newest first), provider spend per day (covering the top customers).
ALTER TABLE jobs ADD KEY ix_jobs_created_status (created_at, status);
ALTER TABLE jobs ADD KEY ix_jobs_started (started_at, created_at);
ALTER TABLE jobs ADD KEY ix_jobs_status_finished (status, finished_at, error_code, error_step);
ALTER TABLE provider_usage ADD KEY ix_provider_usage_created (created_at, user_id, wall_ms);
