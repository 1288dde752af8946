-- A rejected upload's machine-readable reason (e.g. image_too_large), beside the sentence.
ALTER TABLE uploads ADD COLUMN reason_code VARCHAR(40) NULL AFTER reason;
