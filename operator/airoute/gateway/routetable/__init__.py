"""The live route table and how it is built: route sources (a folder, Kubernetes) report
snapshots, each becomes a new table swapped in whole, or is refused and the last good one stays."""
