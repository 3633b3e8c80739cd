"""The tamper-evident audit log: hash-chained records, signed checkpoints, stores, verify and export."""
