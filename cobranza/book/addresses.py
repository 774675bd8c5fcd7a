"""What a valid email address is: the one rule used by validation, planning and sending.

An address is ``local@domain`` (RFC 5321/5322 dot-atom, RFC 6531 for non-ASCII):

* local part: one or more atoms of letters, digits and ``!#$%&'*+/=?^_`{|}~-`` (any
  printable non-ASCII letter too) joined by single dots, at most 64 bytes in UTF-8;
* domain: two or more labels that encode to IDNA (punycode) as letters, digits and
  inner hyphens, 1-63 characters each, the last one a name of two or more characters
  (not digits), at most 253 in all.

Quoted local parts, IP-literal domains (``user@[10.0.0.1]``) and display names are not
accepted in a cell: a collections team types plain addresses. An internationalized
domain (``pagos@compañía.mx``) is valid and goes out in its ASCII (IDNA) form; a
non-ASCII local part (``josé.pérez@cliente.mx``) is valid but can only be sent through
a server that offers SMTPUTF8.
"""

from __future__ import annotations

import re
from functools import lru_cache

_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
_DOT_ATOMS = re.compile(rf"{_ATEXT.pattern}(?:\.{_ATEXT.pattern})*")  # ASCII local part
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_SEPARATORS = re.compile(r"[;,]")
MAX_LOCAL = 64  # bytes
MAX_DOMAIN = 253
MAX_ADDRESS = 254


@lru_cache(maxsize=4096)  # a book has few domains; IDNA encoding is the slow step
def ascii_domain(domain: str) -> str | None:
    """The domain in IDNA (punycode) form, lowercase; None when it is not a host name."""
    if not domain or domain != domain.strip() or domain.endswith("."):
        return None
    try:
        encoded = domain.lower().encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = encoded.split(".")
    if len(labels) < 2 or len(encoded) > MAX_DOMAIN:
        return None
    top = labels[-1]
    if not all(_LABEL.fullmatch(label) for label in labels) or len(top) < 2 or top.isdigit():
        return None
    return encoded


def _local_ok(local: str) -> bool:
    if not local or len(local.encode("utf-8")) > MAX_LOCAL:
        return False
    if _DOT_ATOMS.fullmatch(local):  # the usual case in one match: every atom ASCII atext
        return True
    return all(_atom_ok(atom) for atom in local.split("."))


def _atom_ok(atom: str) -> bool:
    """One dot-separated piece: ASCII atext, or printable non-ASCII characters."""
    if not atom:
        return False
    if atom.isascii():  # the usual case, in one regex match
        return _ATEXT.fullmatch(atom) is not None
    ascii_part = "".join(ch for ch in atom if ch.isascii())
    foreign = [ch for ch in atom if not ch.isascii()]
    if ascii_part and not _ATEXT.fullmatch(ascii_part):
        return False
    return all(ch.isprintable() and not ch.isspace() for ch in foreign)


def is_valid(address: str) -> bool:
    """True when `address` (a bare ``local@domain``) can receive our notices."""
    local, at, domain = address.rpartition("@")
    if not at or "@" in local or len(address) > MAX_ADDRESS:
        return False
    return _local_ok(local) and ascii_domain(domain) is not None


def normalized(address: str) -> str:
    """How the workbook keeps a valid address: trimmed and lowercase."""
    return address.strip().lower()


def split_addresses(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A cell of addresses separated by ``;`` or ``,`` -> (valid ones, normalized and
    without duplicates, in order; invalid ones as typed)."""
    good: dict[str, None] = {}  # ordered, without duplicates
    bad = []
    for part in map(str.strip, _SEPARATORS.split(text)):
        if part:
            address = normalized(part)
            if is_valid(address):
                good[address] = None
            else:
                bad.append(part)
    return tuple(good), tuple(bad)


def mailbox_key(address: str) -> str:
    """An address as two texts naming the same mailbox compare: trimmed, lowercase, the
    domain in IDNA form (`pagos@compañía.mx` = `pagos@xn--compaa-7va5a.mx`). Any text is
    accepted (a bounce or a From header may carry an address we would not send to)."""
    local, at, domain = address.strip().lower().rpartition("@")
    if not at:
        return address.strip().lower()
    return f"{local}@{ascii_domain(domain) or domain}"


def needs_smtputf8(address: str) -> bool:
    """A non-ASCII local part can only travel with the SMTPUTF8 extension (RFC 6531)."""
    return not address.rpartition("@")[0].isascii()


def wire_form(address: str) -> str:
    """The address as it travels: the domain in IDNA form, the local part unchanged.

    `address` must be valid (`is_valid`)."""
    local, _, domain = address.rpartition("@")
    encoded = ascii_domain(domain)
    if encoded is None:
        raise ValueError(f"not a valid address: {address!r}")
    return f"{local}@{encoded}"
