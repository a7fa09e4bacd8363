DROP INDEX rate_rules_item_end;
