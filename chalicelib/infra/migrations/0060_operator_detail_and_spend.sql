-- Issue 28, the operator's console.
-- A failed step run keeps the failure's internal detail (StepError.detail: a provider's answer,
-- a command's stderr tail, an unexpected exception), which until now only reached the logs:
-- the job inspector shows it to operators; the job's owner never sees it.
ALTER TABLE job_step_runs ADD COLUMN error_detail VARCHAR(2000) NULL;
-- Spend: each provider call records the plan its job ran on (a fact of
-- the call, like its cost), so spend per plan and day reads one table, and survives the job's
-- removal by cleanup. NULL: a call of a job already removed when this ran.
ALTER TABLE provider_usage ADD COLUMN plan VARCHAR(32) NULL AFTER user_id;
UPDATE provider_usage u JOIN jobs j ON j.id = u.job_id SET u.plan = j.plan WHERE u.plan IS NULL;
-- Spend's top customers sum cost by account per user: covered by this index (0040's
-- (created_at, user_id, wall_ms) predates cost and account). Last, one statement: all or nothing.
ALTER TABLE provider_usage
  DROP KEY ix_provider_usage_created,
  ADD KEY ix_provider_usage_spend (created_at, user_id, account, cost_micros, wall_ms);
