"""PDF documents the sync attaches: the statement of account (`statement`)."""
