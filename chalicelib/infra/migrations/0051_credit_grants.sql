-- What the current period's plan allowance granted so far: an upgrade mid-period adds the
-- difference to what is left (a downgrade takes nothing back).
ALTER TABLE credit_accounts ADD COLUMN granted_micros BIGINT NOT NULL DEFAULT 0;
UPDATE credit_accounts SET granted_micros = allowance_micros;
