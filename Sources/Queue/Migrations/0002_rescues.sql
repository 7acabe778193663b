-- Rescues in a row: how many times the worker running a job died (its lease expired) since
-- the job last finished an attempt normally. A job whose workers keep dying is a poison pill:
-- the rescuer discards it after a few, instead of handing it to the next worker to kill.
ALTER TABLE jobs ADD COLUMN rescues smallint NOT NULL DEFAULT 0;
