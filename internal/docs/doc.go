// Package docs holds no code: its tests keep README.md and docs/*.md honest.
// Every relative link and #anchor must point at a file and heading that exist,
// every docs page must be linked from the README, the README's configuration
// table must list exactly the environment the program reads, and the metrics
// table in docs/operations.md every series the program exports. It must not
// gain production code; it reads the repository's files from its root.
package docs
