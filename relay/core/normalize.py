"""Normalizers: vendor values in, the exact shapes outboundIQ's Dials API documents out.

Each function is pure and raises ``ValueError`` with a short human reason when a value
cannot be normalized; the caller attaches the field name.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from email.utils import parsedate_to_datetime

import phonenumbers

from relay.config.zones import zone

__all__ = [
    "DEFAULT_DIRECTIONS",
    "DIRECTIONS",
    "MAX_ATTEMPTS",
    "MAX_DIAL_ID_LENGTH",
    "direction_key",
    "known_direction",
    "lookup",
    "normalize_attempts",
    "normalize_date",
    "normalize_datetime",
    "normalize_dial_id",
    "normalize_direction",
    "normalize_phone",
    "normalize_zip",
    "parse_timestamp",
    "rename",
    "zone",
]

_PHONE_JUNK = re.compile(r"[\s().\-/]")
#: The same junk for ASCII text, as a str.translate table (several times cheaper than the regex).
_ASCII_PHONE_JUNK = str.maketrans("", "", " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f().-/")
_DIGITS = re.compile(r"\d+")
_DECIMAL = re.compile(r"\d{1,13}\.\d+")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ZIP_CHARS = re.compile(r"[\d\s\-]+")


def normalize_phone(value: object) -> str:
    """A phone number as outboundIQ wants it: NANP → 10 digits, others → E.164 digits.

    Accepts free formats (``+1 (512) 555-0187``), 11-digit NANP (``15125550187``), ``tel:``
    URIs and ``sip:number@host`` URIs. Raises ``ValueError`` when no number can be read.
    """
    text = str(value).strip()
    lowered = text.lower()
    if lowered.startswith("tel:"):
        text = text[4:]
    elif lowered.startswith(("sip:", "sips:")):
        text = text.split(":", 1)[1].split("@", 1)[0]
    text = text.split(";", 1)[0]  # URI parameters (;ext=, ;user=phone)
    compact = text.translate(_ASCII_PHONE_JUNK) if text.isascii() else _PHONE_JUNK.sub("", text)
    if not compact:
        raise ValueError("empty phone number")
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    plus = compact.startswith("+")
    digits = compact[1:] if plus else compact
    if not digits.isdigit() or not digits.isascii():
        raise ValueError("not a phone number")
    nanp = _nanp_fast_path(digits, plus)
    if nanp is not None:
        return nanp
    number = _via_phonenumbers(digits, plus)
    if number is not None:
        return number
    raise ValueError("not a valid phone number")


def _via_phonenumbers(digits: str, plus: bool) -> str | None:
    """The full parse: a possible number as NANP 10 digits or E.164 digits, else None."""
    candidates = [f"+{digits}"] if plus else [digits, f"+{digits}"]
    for candidate in candidates:
        try:
            parsed = phonenumbers.parse(candidate, None if candidate.startswith("+") else "US")
        except phonenumbers.NumberParseException:
            continue
        if not phonenumbers.is_possible_number(parsed):
            continue
        national = str(parsed.national_number)
        if parsed.country_code == 1:
            if len(national) == 10 and national[0] in "23456789":
                return national
            continue
        return f"{parsed.country_code}{national}"
    return None


def _nanp_fast_path(digits: str, plus: bool) -> str | None:
    """The common NANP shapes without phonenumbers' full parse (same answer, ~50x cheaper)."""
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    elif plus or len(digits) != 10:
        return None
    return digits if digits[0] in "23456789" else None


_NAIVE_FORMATS = (
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%a, %d %b %Y %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
)
_DATE_FORMATS = ("%m/%d/%Y", "%Y/%m/%d", "%Y%m%d")
_EPOCH_MS_THRESHOLD = 100_000_000_000  # larger than this is milliseconds (year 5138 in seconds)
_MIN_EPOCH, _MAX_EPOCH = 0, 253_402_300_799  # 1970 .. 9999-12-31


def _from_epoch(seconds: float) -> datetime:
    if not math.isfinite(seconds) or not _MIN_EPOCH <= seconds <= _MAX_EPOCH:
        raise ValueError("epoch time out of range")
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)


def _from_number(number: float) -> datetime:
    if abs(number) >= _EPOCH_MS_THRESHOLD:
        return _from_epoch(number / 1000)
    return _from_epoch(number)


def _localize(naive: datetime, tz: tzinfo) -> datetime:
    return naive.replace(tzinfo=tz)


def parse_timestamp(value: object, tz: tzinfo = UTC) -> datetime:
    """Read a timestamp in any supported form; an aware ``datetime`` comes out.

    Naive inputs are taken to be in ``tz``. Supported: ISO 8601 (``Z`` or offset),
    ``YYYY-MM-DD HH:MM:SS``, epoch seconds or milliseconds (number or string), Five9's
    17-digit ``yyyyMMddHHmmssSSS`` and 14-digit ``yyyyMMddHHmmss``, ``MM/DD/YYYY HH:MM[:SS]``
    (24 h or AM/PM), RFC 2822 (``Fri, 21 Aug 2026 09:00:06 [+0000]``), and bare dates.
    """
    if isinstance(value, bool):
        raise ValueError("not a timestamp")
    if isinstance(value, datetime):
        return value if value.tzinfo else _localize(value, tz)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=tz)
    if isinstance(value, (int, float)):  # a tuple: no union object built per call
        return _from_number(float(value))
    text = str(value).strip()
    if not text:
        raise ValueError("empty timestamp")
    if text.isdigit() and text.isascii():
        if len(text) == 17:
            return _localize(datetime.strptime(text, "%Y%m%d%H%M%S%f"), tz)
        if len(text) == 14:
            return _localize(datetime.strptime(text, "%Y%m%d%H%M%S"), tz)
        if len(text) == 8:
            return _localize(datetime.strptime(text, "%Y%m%d"), tz)
        if len(text) <= 13:
            return _from_number(int(text))
        raise ValueError("unrecognized numeric timestamp")
    if _DECIMAL.fullmatch(text):
        return _from_number(float(text))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        pass
    else:
        return parsed if parsed.tzinfo else _localize(parsed, tz)
    for fmt in _NAIVE_FORMATS + _DATE_FORMATS:
        try:
            return _localize(datetime.strptime(text, fmt), tz)
        except ValueError:
            continue
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        raise ValueError("unrecognized timestamp format") from None
    return parsed if parsed.tzinfo else _localize(parsed, tz)


def _converted(moment: datetime, tz: tzinfo) -> datetime:
    """``moment`` in ``tz``; ``ValueError`` when that leaves years 1-9999 (9999-12-31 23:59
    at -14:00 is past the calendar in UTC)."""
    try:
        return moment.astimezone(tz)
    except OverflowError:
        raise ValueError("time outside the years 1-9999 once converted") from None


def _is_utc_iso(text: str) -> bool:
    """Whether ``text`` has the shape ``YYYY-MM-DDTHH:MM:SSZ`` (or a space for the ``T``):
    a time already in UTC, to the second, in the wire's own digits."""
    return (
        len(text) == 20
        and text[19] == "Z"
        and text[10] in "T "
        and text[4] == "-"
        and text[7] == "-"
        and text[13] == ":"
        and text[16] == ":"
    )


def normalize_datetime(value: object, tz: tzinfo = UTC) -> str:
    """A call time as UTC ``YYYY-MM-DD HH:MM:SS``; naive inputs are in ``tz`` (DST-correct)."""
    if type(value) is str and _is_utc_iso(value):
        # The most common call time (ISO 8601 in UTC, to the second): its digits are the
        # answer once ``fromisoformat`` has checked them (a real date and time, ASCII digits).
        # Anything it refuses takes the general path below, for the same error.
        try:
            datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return f"{value[:10]} {value[11:19]}"
    moment = _converted(parse_timestamp(value, tz), UTC)
    # isoformat pads the year to 4 digits (strftime's %Y does not everywhere), and is cheaper
    return moment.isoformat(" ", "seconds")[:19]


def normalize_date(value: object, tz: tzinfo = UTC) -> str:
    """A calendar date ``YYYY-MM-DD`` (lead created) in the source's time zone."""
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        return date.fromisoformat(value.strip()).isoformat()
    return _converted(parse_timestamp(value, tz), tz).date().isoformat()


def normalize_zip(value: object) -> str:
    """A US ZIP code: ZIP+4 → 5 digits, 4 digits → zero-padded, anything else → ``""``."""
    text = str(value).strip()
    digits = "".join(_DIGITS.findall(text)) if _ZIP_CHARS.fullmatch(text) else ""
    if not digits.isascii():
        return ""
    if len(digits) in (5, 9):
        return digits[:5]
    if len(digits) == 4 and text.strip().isdigit():
        return digits.zfill(5)
    return ""


#: outboundIQ's call directions (its documented spelling: ``Treview`` is its preview).
DIRECTIONS: tuple[str, ...] = ("Inbound", "Outbound", "SMS", "Treview", "Transfer", "Manual")

#: The one table of vendor words for a call's direction, keyed as ``direction_key`` makes them
#: (case, ``-``/``_`` and spacing do not matter). Sources: Five9 ``Call.type_name`` and its
#: call-type codes (AGENT, AUTODIAL, OUTBOUND_PREVIEW, ...), Convoso ``call_type`` (Inbound,
#: Outbound, Manual, 3WAY), Genesys ``direction`` (inbound/outbound), Twilio ``Direction``
#: (inbound, outbound-api, outbound-dial), VICIdial (direction=Inbound in the in-group's URL).
DEFAULT_DIRECTIONS: Mapping[str, str] = {
    **{word.casefold(): word for word in DIRECTIONS},
    "outbound api": "Outbound",
    "outbound dial": "Outbound",
    "outgoing": "Outbound",
    "autodial": "Outbound",
    "auto dial": "Outbound",
    "auto": "Outbound",
    "predictive": "Outbound",
    "progressive": "Outbound",
    "power": "Outbound",
    "dialer": "Outbound",
    "preview": "Treview",
    "outbound preview": "Treview",
    "agent": "Manual",
    "manual dial": "Manual",
    "incoming": "Inbound",
    "text": "SMS",
    "text message": "SMS",
    "3rd party transfer": "Transfer",
    "third party transfer": "Transfer",
    "3way": "Transfer",
    "3 way": "Transfer",
    "three way": "Transfer",
    "conference": "Transfer",
    "xfer": "Transfer",
    "warm transfer": "Transfer",
    "cold transfer": "Transfer",
    "blind transfer": "Transfer",
}

_DIRECTION_SEPARATORS = str.maketrans("-_", "  ")


def direction_key(value: object) -> str:
    """A direction word as the table keys it: ``Outbound-API`` → ``outbound api``."""
    return " ".join(str(value).translate(_DIRECTION_SEPARATORS).split()).casefold()


def lookup(table: Mapping[str, str], value: str) -> str | None:
    """``table``'s entry for ``value``, keys compared without regard to case; else None.

    The one case-insensitive rename table lookup (call_directions, dispositions, ...).
    """
    if value in table:
        return table[value]
    folded = value.casefold()
    for name, target in table.items():
        if name.casefold() == folded:
            return target
    return None


def rename(value: str, table: Mapping[str, str] | None) -> str:
    """``value`` renamed by ``table`` (case-insensitive), or unchanged when not in it."""
    if not table or not value:
        return value
    renamed = lookup(table, value)
    return value if renamed is None else renamed


def known_direction(value: object, overrides: Mapping[str, str] | None = None) -> str | None:
    """The outboundIQ direction of a vendor word, or None when neither the source's
    ``overrides`` (which win) nor the table know it."""
    text = " ".join(str(value).split())
    if overrides:
        found = lookup(overrides, text)
        if found is not None:
            return found
    return _table_direction(text)


@functools.lru_cache(maxsize=4096)
def _table_direction(text: str) -> str | None:
    """The table's direction for a word (remembered: a source's few words repeat per call)."""
    return DEFAULT_DIRECTIONS.get(direction_key(text))


def normalize_direction(value: object, overrides: Mapping[str, str] | None = None) -> str:
    """A call direction in outboundIQ's vocabulary; a word the table does not know is passed
    on as sent (the vocabulary is open-ended; the relay flags it: ``relay.core.screening``)."""
    text = " ".join(str(value).split())
    if not text:
        return ""
    known = known_direction(text, overrides)
    return text if known is None else known


#: The most dial attempts a record may claim: outboundIQ's .NET side reads a 32-bit integer,
#: and anything past 64 bits cannot even be written as JSON.
MAX_ATTEMPTS = 2**31 - 1


def normalize_attempts(value: object) -> int:
    """Dial attempts as an integer in 0..``MAX_ATTEMPTS`` (``"3"``, ``3``, ``"3.0"`` → 3)."""
    if isinstance(value, bool):
        raise ValueError("not a number of attempts")
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        try:
            as_float = float(text)
        except ValueError:
            raise ValueError("not a number of attempts") from None
        if not math.isfinite(as_float) or not as_float.is_integer():
            raise ValueError("not a whole number of attempts")
        number = int(as_float)
    if number < 0:
        raise ValueError("negative number of attempts")
    if number > MAX_ATTEMPTS:
        raise ValueError(f"more than {MAX_ATTEMPTS} attempts")
    return number


#: The longest dial id accepted (a UUID is 36; a vendor's call id a few dozen).
MAX_DIAL_ID_LENGTH = 255


def normalize_dial_id(value: object) -> str:
    """A vendor's dial id: a text or a number, trimmed, 1..``MAX_DIAL_ID_LENGTH`` characters."""
    if type(value) is str:  # the usual id: no number checks (and no union built per call)
        text = value.strip()
        if not text:
            raise ValueError("empty")
        if len(text) > MAX_DIAL_ID_LENGTH:
            raise ValueError(f"longer than {MAX_DIAL_ID_LENGTH} characters")
        return text
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("expected a text or a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("not a finite number")
    if isinstance(value, int) and value.bit_length() > 4 * MAX_DIAL_ID_LENGTH:
        raise ValueError(f"longer than {MAX_DIAL_ID_LENGTH} characters")  # before str() balks
    text = str(value).strip()
    if not text:
        raise ValueError("empty")
    if len(text) > MAX_DIAL_ID_LENGTH:
        raise ValueError(f"longer than {MAX_DIAL_ID_LENGTH} characters")
    return text
