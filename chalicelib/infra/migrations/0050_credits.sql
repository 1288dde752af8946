-- Issue 25: platform AI, paid in credits. All money is integer micro-dollars (1 USD = 1 000 000).
-- credit_accounts: one row per user. `allowance_micros` is what is left of the current period's
-- plan allowance (reset when a new period starts), `topup_micros` what is left of credit packs
-- bought (never expires), `reserved_micros` what running and queued jobs hold. Available =
-- allowance + topup - reserved; a reservation is a conditional UPDATE on this row, so parallel
-- submissions can never hold more than there is. Spend is taken from the allowance first.
CREATE TABLE IF NOT EXISTS credit_accounts (
  user_id          VARCHAR(40) NOT NULL PRIMARY KEY,
  period_start     DATETIME(6) NOT NULL,
  allowance_micros BIGINT      NOT NULL DEFAULT 0,
  topup_micros     BIGINT      NOT NULL DEFAULT 0,
  reserved_micros  BIGINT      NOT NULL DEFAULT 0,
  CONSTRAINT ck_credit_accounts_nonnegative
    CHECK (allowance_micros >= 0 AND topup_micros >= 0 AND reserved_micros >= 0),
  CONSTRAINT fk_credit_accounts_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A credit pack bought through Whop: one row per payment, so a redelivered webhook adds nothing.
CREATE TABLE IF NOT EXISTS credit_topups (
  payment_id    VARCHAR(64) NOT NULL PRIMARY KEY,
  user_id       VARCHAR(40) NOT NULL,
  pack          VARCHAR(64) NOT NULL,
  amount_micros BIGINT      NOT NULL,
  created_at    DATETIME(6) NOT NULL,
  KEY ix_credit_topups_user (user_id, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Per job: the estimate made at submission (an upper bound), the credits it holds now, and what
-- it has been charged (settled when it ends; a retry charges only what was not charged yet).
ALTER TABLE jobs
  ADD COLUMN estimate_micros     BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN credits_held_micros BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN cost_micros         BIGINT NOT NULL DEFAULT 0;

-- Every provider call's cost beside its usage, and whose account paid: platform (the operator's,
-- charged in credits), own (the user's key: no credits) or none (offline).
ALTER TABLE provider_usage
  ADD COLUMN cost_micros BIGINT      NOT NULL DEFAULT 0,
  ADD COLUMN account     VARCHAR(16) NOT NULL DEFAULT 'none';
