"""What comes back by IMAP: bounces of our messages and customers' replies (pure)."""
