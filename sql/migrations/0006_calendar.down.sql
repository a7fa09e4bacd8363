-- External blocks stay (their dates stay blocked); only their link to an import goes.
DROP TABLE calendar_conflicts;
ALTER TABLE blocks DROP CONSTRAINT blocks_source_import;
DROP VIEW calendar_imports_due;
DROP TABLE calendar_imports;
DROP VIEW ical_feed_tokens;
DROP TABLE ical_feeds;
