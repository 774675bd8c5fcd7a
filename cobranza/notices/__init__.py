"""Customer notices and digests: stages, contact rules, calendar, planning, messages."""
