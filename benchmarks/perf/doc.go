// Package perf holds Stratoswarm's performance benchmarks. Each one runs
// our hot path beside what a user would pick instead, in the same run, and
// reports latency percentiles and the ratio between them. Run them with
// `make bench`; the figures are recorded in docs/benchmarks.md.
package perf
