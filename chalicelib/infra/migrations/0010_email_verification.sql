-- Email verification and password reset (issue 10).
-- users.email_verified_at: memberships attach by email only to a verified address.
-- users.session_epoch: bumped by a password reset; access tokens carry the epoch they were
-- issued in, so every token from before the reset stops working at once.
ALTER TABLE users
  ADD COLUMN email_verified_at   DATETIME(6)  NULL,
  ADD COLUMN session_epoch       INT UNSIGNED NOT NULL DEFAULT 0,
  ADD COLUMN password_changed_at DATETIME(6)  NULL;

-- Single-use links sent by email. Only a SHA-256 of the token is stored (the token is 256
-- random bits, so a fast hash suffices, as for API keys).
CREATE TABLE IF NOT EXISTS account_tokens (
  token_hash  CHAR(64)     NOT NULL PRIMARY KEY,
  user_id     VARCHAR(40)  NOT NULL,
  purpose     ENUM('verify_email','password_reset') NOT NULL,
  email       VARCHAR(320) NOT NULL,                -- the address the link was sent to
  created_at  DATETIME(6)  NOT NULL,
  expires_at  DATETIME(6)  NOT NULL,
  used_at     DATETIME(6)  NULL,
  KEY ix_account_tokens_user (user_id, purpose),
  KEY ix_account_tokens_expires (expires_at),
  CONSTRAINT fk_account_tokens_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
