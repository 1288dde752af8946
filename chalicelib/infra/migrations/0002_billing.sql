-- Billing: Whop memberships and payments, processed webhook deliveries, quota reservations,
-- BYOK provider keys (envelope-encrypted).

CREATE TABLE IF NOT EXISTS memberships (
  id                   VARCHAR(64)  NOT NULL PRIMARY KEY,  -- Whop membership id
  user_id              VARCHAR(40)  NULL,                  -- NULL until that user signs up
  email                VARCHAR(320) NULL,
  whop_user_id         VARCHAR(64)  NULL,
  whop_plan_id         VARCHAR(64)  NULL,
  plan                 VARCHAR(32)  NOT NULL,              -- our plan, by WHOP_PLAN_MAP
  status               VARCHAR(32)  NOT NULL,
  active               TINYINT(1)   NOT NULL,
  cancel_at_period_end TINYINT(1)   NOT NULL DEFAULT 0,
  renewal_period_start DATETIME(6)  NULL,
  renewal_period_end   DATETIME(6)  NULL,
  source_updated_at    DATETIME(6)  NOT NULL,              -- Whop's updated_at: newer wins
  created_at           DATETIME(6)  NOT NULL,
  updated_at           DATETIME(6)  NOT NULL,
  KEY ix_memberships_user (user_id, active),
  KEY ix_memberships_email (email, user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS payments (
  id            VARCHAR(64)  NOT NULL PRIMARY KEY,  -- Whop payment id
  membership_id VARCHAR(64)  NULL,
  user_id       VARCHAR(40)  NULL,
  status        VARCHAR(32)  NOT NULL,
  amount        DECIMAL(12, 2) NULL,
  currency      VARCHAR(8)   NULL,
  source_updated_at DATETIME(6) NOT NULL,
  created_at    DATETIME(6)  NOT NULL,
  KEY ix_payments_user (user_id, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS webhook_deliveries (
  webhook_id  VARCHAR(255) NOT NULL PRIMARY KEY,  -- the `webhook-id` header: one processing each
  source      VARCHAR(16)  NOT NULL,
  type        VARCHAR(100) NOT NULL,
  handled     TINYINT(1)   NOT NULL,               -- 0: acknowledged and recorded only
  payload     JSON         NOT NULL,
  received_at DATETIME(6)  NOT NULL,
  KEY ix_webhook_deliveries_received (received_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS quota_usage (
  user_id      VARCHAR(40) NOT NULL,
  period_start DATETIME(6) NOT NULL,
  used         INT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, period_start),
  CONSTRAINT fk_quota_usage_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

ALTER TABLE jobs
  ADD COLUMN quota_period_start DATETIME(6) NULL,
  ADD COLUMN quota_reserved TINYINT(1) NOT NULL DEFAULT 0,
  ADD COLUMN plan VARCHAR(32) NOT NULL DEFAULT 'free';

CREATE TABLE IF NOT EXISTS provider_keys (
  user_id        VARCHAR(40)  NOT NULL,
  provider       VARCHAR(32)  NOT NULL,
  encrypted_key  VARBINARY(2048) NOT NULL,  -- AES-256-GCM(nonce || ciphertext), AAD user:provider
  wrapped_dek    VARBINARY(1024) NOT NULL,  -- the data key, encrypted by KMS
  kms_key_id     VARCHAR(255) NOT NULL,
  last4          CHAR(4)      NOT NULL,
  base_url       VARCHAR(500) NULL,
  created_at     DATETIME(6)  NOT NULL,
  updated_at     DATETIME(6)  NOT NULL,
  PRIMARY KEY (user_id, provider),
  CONSTRAINT fk_provider_keys_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
