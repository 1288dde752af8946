-- Issue 25, top-ups: a credit pack paid for by a buyer Whop names only by an address no account
-- has proved yet is recorded with that email and no user, and credited when an account verifies
-- the address (chalicelib.billing.packs), as memberships are. Still one row per payment.
ALTER TABLE credit_topups
  MODIFY user_id VARCHAR(40) NULL,
  ADD COLUMN email VARCHAR(320) NULL AFTER user_id,
  ADD KEY ix_credit_topups_unclaimed (email, user_id);
