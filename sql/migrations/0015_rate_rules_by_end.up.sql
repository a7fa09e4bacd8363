-- Rate rules are read by item and date: a search reads, per item, the rules that
-- overlap the stay in one index range, those that end after check_in (a date
-- compared with a parameter, which row level security lets into the index
-- condition), so the rules of seasons that have ended, which pile up over the
-- years, are not read; a stay's pricing and the calendar read the same way. The
-- index by id that it replaces served only the newest-first order, which the
-- lookups now sort for themselves among the few rules they read; listing an
-- item's rules (at most 500) sorts them too.
DROP INDEX rate_rules_item;
CREATE INDEX rate_rules_item_end ON rate_rules (organisation_id, item_id, end_date)
    INCLUDE (start_date, days, id, nightly_price, min_nights, max_nights, closed_to_arrival, closed_to_departure, closed);
