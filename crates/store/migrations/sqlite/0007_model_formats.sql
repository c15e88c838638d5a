-- A succeeded job's model is stored in its primary format and may be in others too (names of formats, comma
-- separated; NULL for jobs from before), with or without a preview picture (1 or 0; NULL reads as 0).
ALTER TABLE jobs ADD COLUMN model_other_formats TEXT;
ALTER TABLE jobs ADD COLUMN model_preview INTEGER;
