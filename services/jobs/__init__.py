"""Jobs: the state machine (the only writer of ``job.status``), progress, leases and queries."""
