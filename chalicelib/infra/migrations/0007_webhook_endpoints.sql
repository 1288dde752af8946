-- Users' outgoing webhook endpoints. The signing secret is sealed like provider keys
-- (chalicelib.infra.crypto): shown once at creation, opened only to sign a delivery.
CREATE TABLE IF NOT EXISTS webhook_endpoints (
  id                VARCHAR(40)   NOT NULL PRIMARY KEY,
  user_id           VARCHAR(40)   NOT NULL,
  url               VARCHAR(2000) NOT NULL,
  events            JSON          NULL,            -- NULL: the default set
  encrypted_secret  VARBINARY(1024) NOT NULL,
  wrapped_dek       VARBINARY(1024) NOT NULL,
  created_at        DATETIME(6)   NOT NULL,
  last_delivery_at  DATETIME(6)   NULL,
  last_status       INT           NULL,            -- HTTP status of the last attempt (0: no answer)
  KEY ix_webhook_endpoints_user (user_id, id),
  CONSTRAINT fk_webhook_endpoints_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
