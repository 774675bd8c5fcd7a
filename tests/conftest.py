"""Fixtures shared by several test files."""

from tests.mail_servers import dovecot_server, mailbox, postfix_server  # noqa: F401
