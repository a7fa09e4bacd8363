-- A search reads, per item, the rules that overlap the stay in one index range:
-- those that end after check_in (a date comparison with a parameter, which row
-- level security lets into the index condition). The rules that ended before it,
-- which pile up as seasons pass, are never read. The id-ordered index stays for
-- listing an item's rules.
CREATE INDEX rate_rules_item_end ON rate_rules (organisation_id, item_id, end_date)
    INCLUDE (start_date, days, id, nightly_price, min_nights, max_nights, closed_to_arrival, closed_to_departure, closed);
