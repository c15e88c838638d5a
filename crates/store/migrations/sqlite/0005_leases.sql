-- Which worker holds a running job, and until when: a live worker renews its lease, and a job whose lease ran out
-- (its worker died) is taken by another. Only the holder's outcome is recorded.
ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE jobs ADD COLUMN lease_expires_at INTEGER;
