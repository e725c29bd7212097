"""What sampled values look like: e-mail addresses, card numbers, IBANs, IP addresses, phones.

Pure checks on one value at a time, for the `pii` processor's sampling. A value is only ever
tested, never kept: no check lets a value escape in an error.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from typing import Any

_EMAIL = re.compile(r"[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+\.[a-z]{2,}", re.IGNORECASE)
_CARD = re.compile(r"\d(?:[ -]?\d){12,18}")
_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}")
# International (+49 …, 0049 …), with an area code in parentheses, national with a leading 0,
# or North American 555-123-4567; a bare run of digits is an id, not a phone number.
_PHONE = re.compile(
    r"(?:\+|00)\d[\d ()./-]{5,18}\d"
    r"|\(\d{1,5}\)[ ]?\d[\d ./-]{3,14}\d"
    r"|0\d{1,5}[ ./-]\d[\d ./-]{3,14}\d"
    r"|\d{3}[ .-]\d{3}[ .-]\d{4}"
)


def is_email(value: str) -> bool:
    return _EMAIL.fullmatch(value) is not None


def is_card_number(value: str) -> bool:
    """13 to 19 digits (spaces or dashes between them allowed) that pass the Luhn check."""
    if _CARD.fullmatch(value) is None:
        return False
    digits = [int(c) for c in value if c.isdigit()]
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def is_ip_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_iban(value: str) -> bool:
    """A country code, two check digits and the account, valid by ISO 13616's mod-97 check."""
    compact = value.replace(" ", "").upper()
    if _IBAN.fullmatch(compact) is None:
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def is_phone(value: str) -> bool:
    digits = sum(c.isdigit() for c in value)
    return 7 <= digits <= 15 and _PHONE.fullmatch(value) is not None


VALUE_CHECKS: dict[str, Callable[[str], bool]] = {
    "email": is_email,
    "card_number": is_card_number,
    "ip_address": is_ip_address,
    "iban": is_iban,
    "phone": is_phone,
}


def _as_text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int):
        return str(value)
    return None


def passes(check: Callable[[str], bool], values: Sequence[Any], min_share: float) -> bool:
    """Whether at least `min_share` of the non-null values pass `check`."""
    present = [v for v in values if v is not None]
    if not present:
        return False
    passed = 0
    for value in present:
        text = _as_text(value)
        try:
            passed += bool(text and check(text))
        except Exception:  # a check never lets a value escape in an error
            continue
    return passed / len(present) >= min_share
