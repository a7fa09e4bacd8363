DROP INDEX rate_rules_item_end;
CREATE INDEX rate_rules_item ON rate_rules (organisation_id, item_id, id)
    INCLUDE (start_date, end_date, days, nightly_price, min_nights, max_nights, closed_to_arrival, closed_to_departure, closed);
