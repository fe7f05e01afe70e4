"""Pseudonymization and personal-data (PII) checks.

Customer data protection (seed 004, section 9) is handled in crmlab by *pseudonymizing before
analysis*: identifiers are replaced by a keyed hash and direct identifiers (name, e-mail, phone,
national id, address ...) are dropped, so that no personal value ever reaches a chart, a table or
an export.

Pseudonym
    ``prefix + HMAC-SHA256(key, normalized id)[:length]`` in lower-case hex, by default 12 hex
    characters, e.g. ``"P-3f9a2c1b7d04"``. The same key maps the same id to the same pseudonym in every table, so joins
    still work; another key gives unrelated pseudonyms. Without the key the mapping cannot be
    recomputed or reversed by brute force over a known id range (unlike a plain hash).

The key
    Every call takes the key as an argument. Demos and tests use :func:`demo_key` (derived from the
    random seed, hence *public*). **A real project must set its own secret key** (e.g. in the
    environment variable ``CRMLAB_PSEUDONYM_KEY``, see :func:`key_from_env`), keep it out of the
    repository and store it like a password: whoever holds it can re-identify customers given a
    list of candidate ids.

Already pseudonymized
    A config run's input folder holds ids the import already replaced by pseudonyms under the
    client's key (:mod:`crmlab.ingest`). Its stages pass :data:`ALREADY_PSEUDONYMIZED` as the key:
    ids are kept as they are (so the action list's ids are ``HMAC(client key, raw id)``, which
    the client can recompute from its own customer numbers), personal columns are still dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from crmlab.errors import DataError, ParameterError

__all__ = [
    "ALREADY_PSEUDONYMIZED",
    "KnownValues",
    "PiiLeakError",
    "assert_no_pii",
    "demo_key",
    "detect_pii_columns",
    "key_from_env",
    "pseudonym",
    "pseudonymize",
]

DEFAULT_PREFIX = "P-"
DEFAULT_LENGTH = 12
KEY_ENV_VAR = "CRMLAB_PSEUDONYM_KEY"


class PiiLeakError(DataError):
    """A known personal value (name, e-mail, phone ...) was found in an output."""


# --------------------------------------------------------------------------------------------
# keys and pseudonyms
# --------------------------------------------------------------------------------------------
class _AlreadyPseudonymized:
    """The type of :data:`ALREADY_PSEUDONYMIZED`."""

    def __repr__(self) -> str:
        return "ALREADY_PSEUDONYMIZED"


ALREADY_PSEUDONYMIZED = _AlreadyPseudonymized()
"""Key for ids that are pseudonyms already (a config run's input folder, pseudonymized on import
with the client's key): :func:`pseudonym` and :func:`pseudonymize` keep such ids as they are
(normalized as any id: text, surrounding spaces removed, blank -> missing) and still drop the
personal columns. Pseudonymizing them again would give ids the client cannot look up."""


def demo_key(seed: int) -> bytes:
    """Return a *public* demo key derived from a random seed.

    Only for synthetic data and tests: anyone who knows the seed knows the key. A real project
    must use its own secret key (see :func:`key_from_env`).
    """
    return hashlib.sha256(f"crmlab-demo-pseudonym-key/{int(seed)}".encode()).digest()


def key_from_env(var: str = KEY_ENV_VAR, fallback_seed: int | None = None) -> bytes:
    """Read the pseudonymization key from environment variable ``var``.

    Parameters
    ----------
    var
        Name of the environment variable holding the secret (any non-empty string, at least 16
        characters).
    fallback_seed
        If given and the variable is unset, return :func:`demo_key` of this seed (demo mode).
        If ``None`` and the variable is unset, raise :class:`~crmlab.errors.ParameterError`.
    """
    value = os.environ.get(var, "")
    if value:
        if len(value) < 16:
            raise ParameterError(
                f"The pseudonymization key in ${var} is only {len(value)} characters long; "
                "use a random secret of at least 16 characters."
            )
        return value.encode()
    if fallback_seed is not None:
        return demo_key(fallback_seed)
    raise ParameterError(
        f"No pseudonymization key: set the environment variable ${var} to a project secret "
        "(at least 16 random characters), or pass fallback_seed for a demo run."
    )


def _key_bytes(key: bytes | str) -> bytes:
    if isinstance(key, str):
        key = key.encode()
    if not isinstance(key, bytes | bytearray) or len(key) == 0:
        raise ParameterError("The pseudonymization key must be a non-empty str or bytes.")
    return bytes(key)


def _normalize_id(value: object) -> str:
    """Text form of an id so that 1001, 1001.0, '1001' and ' 1001 ' give the same pseudonym."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    return str(value).strip()


def _normalize_ids(s: pd.Series) -> pd.Series:
    """Vectorized :func:`_normalize_id` for a column (missing stays missing; dtype str)."""
    if pd.api.types.is_float_dtype(s):
        out = s.astype("str")
        whole = s.notna() & (s % 1 == 0) & (s.abs() < 2**53)
        out[whole] = s[whole].astype("int64").astype("str")
        return out
    if pd.api.types.is_integer_dtype(s) or pd.api.types.is_bool_dtype(s):
        return s.astype("str")
    if pd.api.types.is_string_dtype(s) and not pd.api.types.is_object_dtype(s):
        return s.str.strip()
    return s.map(_normalize_id, na_action="ignore").astype("str")


def pseudonym(
    value: object, key: bytes | str, prefix: str = DEFAULT_PREFIX, length: int = DEFAULT_LENGTH
) -> str:
    """Return the pseudonym of one identifier: ``prefix + HMAC-SHA256(key, id)[:length]`` (hex).

    With ``key=ALREADY_PSEUDONYMIZED`` the id is a pseudonym already and comes back as it is."""
    if key is ALREADY_PSEUDONYMIZED:
        return _normalize_id(value)
    if not 6 <= length <= 64:
        raise ParameterError(f"length must be between 6 and 64 hex characters, got {length}.")
    digest = hmac.new(_key_bytes(key), _normalize_id(value).encode(), hashlib.sha256).hexdigest()
    return prefix + digest[:length]


def _kept_ids(s: pd.Series) -> pd.Series:
    """Ids that are pseudonyms already, as :func:`_pseudonymize_series` returns pseudonyms:
    normalized text (dtype str), missing or blank ids missing."""
    ids = _normalize_ids(s)
    present = ids.notna() & (ids != "")
    result = pd.Series(pd.NA, index=s.index, dtype="str", name=s.name)
    result[present] = ids[present]
    return result


def _pseudonymize_series(s: pd.Series, key: bytes, prefix: str, length: int) -> pd.Series:
    """Pseudonyms of a column (hashing each distinct id once); missing/blank ids stay missing."""
    ids = _normalize_ids(s)
    present = ids.notna() & (ids != "")
    codes, uniques = pd.factorize(ids[present])
    pseudonym("", key, prefix, length)  # checks the key and length once
    k = _key_bytes(key)
    # pseudonym() of each distinct id (already normalized), without its per-call checks
    hashed = np.array(
        [prefix + hmac.digest(k, u.encode(), "sha256").hex()[:length] for u in uniques.tolist()],
        dtype=object,
    )
    result = pd.Series(pd.NA, index=s.index, dtype="str", name=s.name)
    result[present] = hashed[codes] if len(codes) else []
    return result


def pseudonymize(
    df: pd.DataFrame,
    id_cols: Sequence[str] | str,
    pii_cols: Sequence[str] | None = None,
    key: bytes | str = b"",
    *,
    prefix: str = DEFAULT_PREFIX,
    length: int = DEFAULT_LENGTH,
) -> pd.DataFrame:
    """Replace identifiers by keyed pseudonyms and drop personal columns.

    Parameters
    ----------
    df
        Input table (not modified).
    id_cols
        Columns holding identifiers to keep as join keys (e.g. ``"customer_id"``). Each value is
        replaced by :func:`pseudonym`; missing or blank ids stay missing.
    pii_cols
        Columns to drop (name, e-mail, phone, national id ...). ``None`` (default) drops every
        column :func:`detect_pii_columns` flags, except ``id_cols``. Pass ``[]`` to drop nothing.
    key
        The secret key (str or bytes, non-empty). Same key -> same pseudonyms in every table.
        :data:`ALREADY_PSEUDONYMIZED`: the ids are pseudonyms already and are kept (as text,
        blank -> missing); personal columns are dropped all the same.
    prefix, length
        Pseudonym format: ``prefix`` + ``length`` hex characters. With 12 hex (48 bits) the
        chance that any two of n ids collide is about n**2 / 2**49: 0.2% for a million ids.
        A collision is detected and raises :class:`DataError` (then increase ``length``).

    Returns
    -------
    DataFrame
        Copy of ``df`` without the PII columns, with the id columns pseudonymized (dtype str).
    """
    already = key is ALREADY_PSEUDONYMIZED
    key_b = b"" if already else _key_bytes(key)
    id_cols = [id_cols] if isinstance(id_cols, str) else list(id_cols)
    missing = [c for c in id_cols if c not in df.columns]
    if pii_cols is None:
        pii_cols = [c for c in detect_pii_columns(df) if c not in id_cols]
    else:
        pii_cols = list(pii_cols)
        missing += [c for c in pii_cols if c not in df.columns]
    if missing:
        raise DataError(
            f"pseudonymize: column(s) {missing} not found; the table has {list(df.columns)}."
        )
    overlap = set(id_cols) & set(pii_cols)
    if overlap:
        raise ParameterError(
            f"pseudonymize: {sorted(overlap)} are listed both as id columns and as PII to drop."
        )
    out = df.drop(columns=pii_cols)
    for col in id_cols:
        if already:
            out[col] = _kept_ids(df[col])
            continue
        new = _pseudonymize_series(df[col], key_b, prefix, length)
        if new.nunique() != _normalize_ids(df[col])[new.notna()].nunique():
            raise DataError(
                f"pseudonymize: two different ids in column '{col}' got the same pseudonym; "
                f"increase length (now {length})."
            )
        out[col] = new
    return out


# --------------------------------------------------------------------------------------------
# detection
# --------------------------------------------------------------------------------------------
_NAME_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "person name",
        re.compile(
            r"^(customer_|client_|contact_|full_|first_|last_|given_|family_|middle_|user_|sur)?"
            r"names?$|^(surname|forename|nickname|username)$"
        ),
    ),
    ("e-mail", re.compile(r"(^|_)e?_?mail(_?address)?$|^email")),
    ("phone", re.compile(r"(^|_)(phone|mobile|tel|telephone|cellphone|fax)(_?(no|number|num))?$")),
    (
        "national id",
        re.compile(r"(^|_)(ssn|national_?id|id_?card|id_?number|passport(_?no)?|nric|tax_?id)$"),
    ),
    ("address", re.compile(r"(^|_)(address|street|street_address|postcode|zip_?code)$")),
    ("birth date", re.compile(r"^(birth_?date|date_of_birth|dob|birthday)$")),
    ("bank account", re.compile(r"(^|_)(iban|bank_?account|card_?number|credit_?card)$")),
    ("IP address", re.compile(r"(^|_)ip(_?address)?$")),
    (
        "staff name",  # the employee who serves the customer: a person's name too
        re.compile(
            r"^(account|relationship|sales|customer|client)_?(manager|rep|representative|advisor"
            r"|adviser|officer)(_?name)?$|^(employee|staff|agent|advisor|adviser|cashier)_?name$"
        ),
    ),
]

_EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_CN_MOBILE_RE = re.compile(r"^(\+?86)?1[3-9]\d{9}$")
_PHONE_RE = re.compile(r"^\+?[\d\s().\-]{7,}\d(\s*(x|ext\.?)\s*\d{1,5})?$", re.IGNORECASE)
_DATE_LIKE_RE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}")
_CN_ID_RE = re.compile(
    r"^[1-9]\d{5}(18|19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\d{3}[\dXx]$"
)


def _normalize_colname(col: object) -> str:
    return re.sub(r"[^0-9a-z\u4e00-\u9fff]+", "_", str(col).strip().lower()).strip("_")


# Chinese column names, searched anywhere in the name (账户户名 holds 户名). Alternatives that
# would over-match are patterns, not bare fragments: 是否绑定微信 is a yes/no flag, 微信支付金额
# an amount, 柜员机 an ATM. 户名 is an account's holder (a merchant's 商户名称 too: a name
# column costs the analysis nothing, as a text of many values is no model input).
_ZH_NAMES: list[tuple[str, re.Pattern[str]]] = [
    ("person name", re.compile(r"姓名|名字|联系人|持卡人|收件人|收货人|户名")),
    ("phone", re.compile(r"电话|手机|座机")),
    ("e-mail", re.compile(r"邮箱|邮件")),
    ("national id", re.compile(r"身份证|证件号|护照")),
    ("address", re.compile(r"地址|住址")),
    ("birth date", re.compile(r"出生日期|生日")),
    ("bank account", re.compile(r"银行卡|账号")),
    ("staff name", re.compile(r"客户经理|理财经理|销售经理|业务员|销售员|营业员|柜员(?!机)")),
    ("messenger id", re.compile(r"微信(号|id|账号)|(qq|QQ)号", re.IGNORECASE)),
]


def _pii_by_name(col: object) -> str | None:
    name = _normalize_colname(col)
    for label, pattern in _NAME_PATTERNS:
        if pattern.search(name):
            return label
    for label, pattern in _ZH_NAMES:
        if pattern.search(str(col)):
            return label
    return None


def _is_phone(text: pd.Series) -> pd.Series:
    compact = text.str.replace(r"[\s\-().]", "", regex=True)
    cn = compact.str.fullmatch(_CN_MOBILE_RE.pattern)
    digits = text.str.replace(r"(?i)(x|ext\.?)\s*\d+$", "", regex=True).str.count(r"\d")
    generic = (
        text.str.fullmatch(_PHONE_RE.pattern, case=False)
        & ~text.str.match(_DATE_LIKE_RE.pattern)
        & ~text.str.fullmatch(r"\d+(\.\d+)?")  # plain numbers are not phone numbers...
        & digits.between(10, 15)
    )
    return cn | generic  # ...unless they are Chinese mobile numbers


def _pii_by_content(values: pd.Series, min_share: float) -> str | None:
    if values.empty:
        return None
    text = values.map(_normalize_id).astype("str")
    checks = {
        "e-mail addresses": text.str.fullmatch(_EMAIL_RE.pattern),
        "Chinese national id numbers": text.str.fullmatch(_CN_ID_RE.pattern),
        "phone numbers": _is_phone(text),
    }
    for label, hit in checks.items():
        share = float(hit.mean())
        if share >= min_share:
            return f"content: {share:.0%} of sampled values look like {label}"
    return None


_EMAIL_IN_TEXT = re.compile(r"[\w.%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_CN_ID_IN_TEXT = re.compile(
    r"(?<![0-9])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
    r"(?![0-9])"
)
_MESSENGER_IN_TEXT = re.compile(
    r"(?i)(?:wechat|weixin|微信|vx|qq)(?:号|id|账号)?\s*[:：]?\s*[A-Za-z0-9][-_A-Za-z0-9]{4,19}"
)
_CARD_IN_TEXT = re.compile(r"(?<![0-9])(?:\d[ -]?){15,18}\d(?![0-9])")


def _luhn_ok(digits: str) -> bool:
    """The Luhn check digit test every payment card number passes (ISO/IEC 7812-1)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _redact_cards(text: str) -> tuple[str, int]:
    """Payment card numbers (16-19 digits, spaces or dashes allowed, passing the Luhn test) in
    a text replaced by ``[card]``."""
    n = 0

    def card(m: re.Match) -> str:
        nonlocal n
        if _luhn_ok(re.sub(r"\D", "", m[0])):
            n += 1
            return "[card]"
        return m[0]

    return _CARD_IN_TEXT.sub(card, text), n


_MANY_DIGITS = r"\d(?:[^\d\n]{0,2}\d){6,}"
"""Seven or more digits with at most two other characters between them: where a phone number
could be (the phone matcher, slow, looks only at these texts)."""


def _redact_phones(text: str) -> tuple[str, int]:
    """Phone numbers in a text replaced by ``[phone]``: every number ``phonenumbers`` finds as
    a valid number for China (mobiles, landlines with area code such as 010-62345678, +86) or,
    written with +, for any country."""
    import phonenumbers

    found = list(phonenumbers.PhoneNumberMatcher(text, "CN"))
    for m in reversed(found):
        text = text[: m.start] + "[phone]" + text[m.end :]
    return text, len(found)


def redact_contacts(s: pd.Series) -> tuple[pd.Series, dict[str, int]]:
    """Replace the contact details written inside free text (a survey comment "请联系
    13912345678") with ``[e-mail]``, ``[id]``, ``[messenger]``, ``[card]`` and ``[phone]``; returns the
    text and how many of each were replaced (kinds with none are left out). Found: e-mail
    addresses (any letters before the @), Chinese resident id numbers, WeChat/QQ handles after
    their label ("微信：zhangwei_88"), payment card numbers (``[card]``: 16-19 digits passing
    the Luhn test), and phone numbers as the ``phonenumbers`` library reads
    them for China (mobiles, landlines with area code, +86) or with a leading + for any country.
    Missing values stay missing; other text is unchanged. Names written in text ("the clerk
    Zhang San") are not found: no pattern tells a name."""
    out = s.copy()
    text = out.dropna().astype("str")
    counts: dict[str, int] = {}
    for kind, mark, pattern in (
        ("e-mail", "[e-mail]", _EMAIL_IN_TEXT),
        ("id number", "[id]", _CN_ID_IN_TEXT),
        ("messenger id", "[messenger]", _MESSENGER_IN_TEXT),
    ):
        n = int(text.str.count(pattern.pattern).sum())
        if n:
            text = text.str.replace(pattern.pattern, mark, regex=True)
            counts[kind] = n
    for kind, redact in (("card number", _redact_cards), ("phone", _redact_phones)):
        digits = text[text.str.contains(_MANY_DIGITS, regex=True)]
        redacted = digits.map(redact)
        n = int(sum(k for _, k in redacted))
        if n:
            text.loc[digits.index] = [t for t, _ in redacted]
            counts[kind] = n
    if counts:
        out.loc[text.index] = text
    return out, counts


_NONE_WORDS = frozenset({"", "-", "无", "没有", "暂无", "none", "n/a", "na", "null", "nan"})
"""Entries of a staff column that name no one: the customer has no such contact."""


def _holds_names(values: pd.Series) -> bool:
    """Whether a column named like a staff member (:data:`_NAME_PATTERNS`' "staff name")
    holds names or codes of people rather than yes/no flags ("relationship_manager: yes" means
    the customer has one). Judged on the filled entries (blanks and "无"/"none" name no one):
    people when at least half of them are neither yes/no words (:data:`crmlab.ingest.YES`,
    :data:`crmlab.ingest.NO`) nor booleans; numbers other than 0/1 are staff codes."""
    from crmlab.ingest import NO, YES

    if values.empty or pd.api.types.is_bool_dtype(values):
        return False
    text = values.astype("str").str.strip().str.lower()
    filled = text[~text.isin(_NONE_WORDS)]
    if filled.empty:
        return False
    return float((~filled.isin(YES | NO)).mean()) >= 0.5


def detect_pii_columns(
    df: pd.DataFrame, *, sample_size: int = 500, min_share: float = 0.5
) -> dict[str, str]:
    """Find columns that hold personal data, by column name and by content.

    By name (case-insensitive, English and Chinese): person names (``name``, ``first_name``,
    ``姓名``, ``联系人``, an account's holder ``户名``, ``持卡人``), e-mail (``email``, ``邮箱``),
    phone (``phone``, ``mobile``, ``电话``, ``手机``), national id (``ssn``, ``national_id``,
    ``身份证``, ``证件号``), address, birth date, bank account, IP address, messenger ids
    (``微信号``), and the staff serving the customer (``account_manager``, ``客户经理``, ``柜员``)
    when the column holds names or codes of people, not yes/no flags (:func:`_holds_names`; a
    flag column is judged by its content like any other). ``store_name``, ``product_name``,
    ``商户名称`` or ``是否绑定微信`` are *not* flagged.

    By content (first ``sample_size`` non-missing values): at least ``min_share`` of them are
    e-mail addresses, phone numbers (Chinese mobile ``1[3-9]`` + 9 digits, optionally ``+86``;
    or 10-15 digits with phone punctuation, not a date or a plain decimal number), or Chinese
    18-digit resident id numbers (region code, valid birth date, check character; the checksum is
    not verified). Person names are only detected by column name.

    Returns
    -------
    dict
        ``{column: reason}`` in column order; ``list(result)`` gives the column names.
    """
    found: dict[str, str] = {}
    for col in df.columns:
        reason = _pii_by_name(col)
        if reason == "staff name" and not _holds_names(df[col].dropna().head(sample_size)):
            reason = None  # "has a relationship manager: yes/no": its content decides
        if reason is not None:
            found[col] = f"name: {reason}"
            continue
        s = df[col]
        if not (
            pd.api.types.is_string_dtype(s)
            or pd.api.types.is_object_dtype(s)
            or pd.api.types.is_integer_dtype(s)
        ):
            continue
        content = _pii_by_content(s.dropna().head(sample_size), min_share)
        if content is not None:
            found[col] = content
    return found


# --------------------------------------------------------------------------------------------
# leak check
# --------------------------------------------------------------------------------------------
def _as_text(obj: object) -> str:
    if isinstance(obj, pd.DataFrame):
        return obj.to_csv(index=True)
    if isinstance(obj, pd.Series):
        return obj.to_csv(index=True)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", errors="replace")
    if isinstance(obj, Path):
        return obj.read_text(encoding="utf-8", errors="replace")
    return str(obj)


def _known_groups(known_values: object) -> list[tuple[str, list[str]]]:
    """(source label, normalized values) per source, from a DataFrame, mapping or iterable."""
    if isinstance(known_values, pd.DataFrame):
        return [
            (str(col), known_values[col].dropna().map(_normalize_id).tolist())
            for col in known_values.columns
        ]
    if isinstance(known_values, Mapping):
        return [
            (str(label), [_normalize_id(v) for v in values if not pd.isna(v)])
            for label, values in known_values.items()
        ]
    if isinstance(known_values, str):
        return [("value", [known_values])]
    if isinstance(known_values, Iterable):
        return [("value", [_normalize_id(v) for v in known_values if not pd.isna(v)])]
    raise ParameterError("known_values must be a DataFrame, a mapping or an iterable.")


def _as_token(value: str) -> re.Pattern:
    """A pattern finding ``value`` not glued to ASCII letters/digits at an alphanumeric edge."""
    left = r"(?<![0-9a-z])" if value[0].isascii() and value[0].isalnum() else ""
    right = r"(?![0-9a-z])" if value[-1].isascii() and value[-1].isalnum() else ""
    return re.compile(left + re.escape(value) + right)


_RUN = re.compile(r"[0-9a-z]+")
_GAP = re.compile(r"[^0-9a-z]+")


def _pieces_missing(pieces, present) -> np.ndarray:
    """Per value (a list array of its pieces): True where some non-empty piece is not in
    ``present`` (a pyarrow array)."""
    import pyarrow.compute as pc

    flat = pc.list_flatten(pieces)
    parent = np.asarray(pc.list_parent_indices(pieces))
    found = pc.or_(pc.is_in(flat, value_set=present), pc.equal(flat, ""))
    missing_parent = parent[~np.asarray(found, dtype=bool)]
    return np.bincount(missing_parent, minlength=len(pieces)) > 0


def _casefold(values):
    """Python's ``str.casefold`` of a pyarrow string array (ASCII values lower-cased by pyarrow,
    the others by Python: casefold differs from lower-casing for some non-ASCII letters)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    lower = pc.utf8_lower(values)
    other = np.flatnonzero(~np.asarray(pc.string_is_ascii(values), dtype=bool))
    if not len(other):
        return lower
    folded = [v.casefold() for v in values.take(other).to_pylist()]
    mask = np.zeros(len(values), dtype=bool)
    mask[other] = True
    return pc.replace_with_mask(lower, pa.array(mask), pa.array(folded, type=values.type))


class KnownValues:
    """Personal values prepared for :func:`assert_no_pii`: stripped and casefolded, values
    shorter than ``min_length`` characters left out, kept compactly (pyarrow strings, with each
    value's gaps as integer codes, see :meth:`candidates`) with their source labels.

    Build it once for many checks, or ahead of time: the runner reads and prepares a run's raw
    personal values while the stages run, so the action list's check does not wait for them.
    ``known_values`` as for :func:`assert_no_pii` (ids normalized as in :func:`pseudonym`); for
    many values use :meth:`from_arrow`.
    """

    def __init__(self, known_values: object = (), min_length: int = 2):
        import pyarrow as pa

        groups = {}
        for label, values in _known_groups(known_values):
            groups.setdefault(label, []).extend(values)
        self._prepare(
            {k: pa.array(v, type=pa.large_string()) for k, v in groups.items()}, min_length
        )

    @classmethod
    def from_arrow(cls, groups: Mapping[str, object], min_length: int = 2) -> KnownValues:
        """From ``{label: pyarrow string array}`` (values as text; missing values are skipped),
        vectorized: no Python string per value but for non-ASCII casefolding."""
        out = cls.__new__(cls)
        out._prepare(groups, min_length)
        return out

    def _prepare(self, groups: Mapping[str, object], min_length: int) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        self.labels: list[str] = []
        codes, parts = [], []
        for label, values in groups.items():
            v = pc.drop_null(pa.array(values).cast(pa.large_string()))
            v = _casefold(pc.utf8_trim_whitespace(v))
            v = v.filter(pc.greater_equal(pc.utf8_length(v), min_length))
            if len(v):
                codes.append(np.full(len(v), len(self.labels), dtype=np.int32))
                self.labels.append(str(label))
                parts.append(v)
        self.codes = np.concatenate(codes) if codes else np.zeros(0, dtype=np.int32)
        self.values = pa.concat_arrays(parts) if parts else pa.array([], type=pa.large_string())
        # the values' gaps are few distinct strings: kept as (value, gap code) pairs (int32)
        gaps = pc.split_pattern_regex(self.values, _RUN.pattern)
        coded = pc.dictionary_encode(pc.list_flatten(gaps))
        self._gap_words = coded.dictionary.to_pylist()
        self._gap_codes = np.asarray(coded.indices, dtype=np.int32)
        self._gap_parent = np.asarray(pc.list_parent_indices(gaps), dtype=np.int32)

    def __len__(self) -> int:
        return len(self.values)

    def label_values(self, label: str) -> list[str]:
        """The prepared values of one source label (casefolded), in their order."""
        if label not in self.labels:
            return []
        idx = np.flatnonzero(self.codes == self.labels.index(label))
        return self.values.take(idx).to_pylist()

    def candidates(self, text: str) -> np.ndarray:
        """Indices of the values that may occur in ``text`` (casefolded) as a whole token.

        An exact pre-filter, linear in the text and vectorized over the values: split text and
        values into *runs* - maximal stretches of ASCII letters and digits - and *gaps* - the
        stretches between them. A value found as a whole token has each of its runs occurring
        as a complete run of the text (a run inside the value is bounded by the value's other
        characters; a run at its edge by the token rule) and each of its gaps inside one gap of
        the text. Values failing either are ruled out; the rest are searched for.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        if not len(self.values):
            return np.zeros(0, dtype=np.int64)
        as_array = pa.array([text], type=pa.large_string())
        runs = pc.unique(pc.list_flatten(pc.split_pattern_regex(as_array, _GAP.pattern)))
        gaps = pc.unique(pc.list_flatten(pc.split_pattern_regex(as_array, _RUN.pattern)))
        text_gaps = "\x00".join(gaps.to_pylist())
        out = _pieces_missing(pc.split_pattern_regex(self.values, _GAP.pattern), runs)
        inside = np.array([g in text_gaps for g in self._gap_words], dtype=bool)
        outside = self._gap_parent[~inside[self._gap_codes]]
        out |= np.bincount(outside, minlength=len(self.values)) > 0
        return np.flatnonzero(~out)


def assert_no_pii(obj: object, known_values: object, *, min_length: int = 2) -> None:
    """Raise :class:`PiiLeakError` if any known personal value appears in ``obj``.

    Parameters
    ----------
    obj
        What is about to be shown or exported: a DataFrame or Series (checked as its CSV text,
        index and column names included), a str/bytes, or a :class:`pathlib.Path` to a text
        file. Anything else is checked as ``str(obj)``.
    known_values
        The raw personal values (e.g. ``raw_customers[["name", "email", "phone"]]``), as a
        DataFrame, a ``{label: values}`` mapping, a flat iterable or a prepared
        :class:`KnownValues` (then ``min_length`` is the one it was prepared with).
    min_length
        Values shorter than this many characters are skipped (one-character values would match
        almost any text). The default 2 keeps two-character Chinese names.

    Notes
    -----
    A value counts as found if it occurs case-insensitively as a whole token: a value that starts
    or ends with a letter or digit must not be glued to further letters or digits, so "He Li" is
    found in "customer He Li bought" but not in "the lifecycle", while a Chinese name (no spaces
    between words) counts as found anywhere. The error message names the source column and the
    number of hits but never repeats the personal value.
    """
    text = _as_text(obj).casefold()
    known = (
        known_values
        if isinstance(known_values, KnownValues)
        else KnownValues(known_values, min_length)
    )
    # many values: rule most of them out first (exact: see KnownValues.candidates)
    idx = known.candidates(text) if len(known) > 100 else range(len(known))
    hits: dict[str, int] = {}
    for i in idx:
        v = known.values[int(i)].as_py()
        if v in text and _as_token(v).search(text):
            label = known.labels[known.codes[i]]
            hits[label] = hits.get(label, 0) + 1
    if hits:
        detail = ", ".join(f"{n} value(s) of '{label}'" for label, n in hits.items())
        raise PiiLeakError(
            f"Personal data found in output: {detail}. Pseudonymize the table "
            "(crmlab.privacy.pseudonymize) and drop personal columns before showing or exporting."
        )
