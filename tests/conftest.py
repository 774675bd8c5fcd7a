"""Fixtures shared by several test files."""

from tests.ledger_backends import ledger_backend  # noqa: F401
from tests.mail_servers import dovecot_server, mailbox, postfix_server  # noqa: F401
from tests.pg_server import pg_server  # noqa: F401
