-- A job is run by one worker at a time: the lease says which, and until when. Workers renew it
-- while they run; another worker (or the reaper) may take the job over only once it expired.
ALTER TABLE jobs
  ADD COLUMN lease_owner VARCHAR(64) NULL,
  ADD COLUMN lease_until DATETIME(6) NULL;
