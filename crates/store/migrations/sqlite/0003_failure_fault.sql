-- Whether a failure was the server's fault (the client should retry later) or the input's (the client should
-- change the request), stored with the failure instead of being inferred from its code.
ALTER TABLE jobs ADD COLUMN error_server_fault INTEGER;
ALTER TABLE job_failures ADD COLUMN server_fault INTEGER NOT NULL DEFAULT 0;

-- Rows written before this column existed: the codes that were server faults then.
UPDATE jobs SET error_server_fault =
    (error_code IN ('generation_failed', 'mesh_check_failed', 'encode_failed', 'input_missing'))
    WHERE error_code IS NOT NULL;
UPDATE job_failures SET server_fault =
    (code IN ('generation_failed', 'mesh_check_failed', 'encode_failed', 'input_missing'));
