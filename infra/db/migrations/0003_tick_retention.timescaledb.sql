-- Raw tick retention on TimescaleDB is the retention policy of 0002 (chunks older than
-- 400 days are dropped; the continuous aggregates keep their rows). Nothing to add: this
-- file keeps the two backends' versions in step. `aetheris db prune` refuses on this
-- backend and names the policy to change instead.
SELECT 1;
