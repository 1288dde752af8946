-- Issue 23: account pre-hijack and email identity.
-- users.credential_epoch moves at the address's first verification and at every password reset;
-- each API key, webhook endpoint and provider key records the epoch it was made in. Those older
-- credentials are deleted at that moment, and every read that uses one requires its epoch to be
-- the owner's current one, so a credential a delete missed still fails.
ALTER TABLE users ADD COLUMN credential_epoch INT UNSIGNED NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN credential_epoch INT UNSIGNED NOT NULL DEFAULT 0;
-- 'full': what the owner may do; 'jobs': jobs, uploads and reads, but never a credential write.
ALTER TABLE api_keys ADD COLUMN scope VARCHAR(16) NOT NULL DEFAULT 'full';
ALTER TABLE webhook_endpoints ADD COLUMN credential_epoch INT UNSIGNED NOT NULL DEFAULT 0;
ALTER TABLE provider_keys ADD COLUMN credential_epoch INT UNSIGNED NOT NULL DEFAULT 0;

-- Addresses are stored in their canonical form (NFC, lower case; chalicelib.accounts.users) and
-- compared byte for byte: utf8mb4_unicode_ci made alice@exämple.com equal alice@example.com.
ALTER TABLE users MODIFY email VARCHAR(320) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;
ALTER TABLE memberships MODIFY email VARCHAR(320) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL;
