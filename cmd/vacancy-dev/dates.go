package main

import "time"

// The curl lines search a two-night stay a month from now.
func demoCheckIn() string  { return time.Now().AddDate(0, 1, 0).Format("2006-01-02") }
func demoCheckOut() string { return time.Now().AddDate(0, 1, 2).Format("2006-01-02") }
