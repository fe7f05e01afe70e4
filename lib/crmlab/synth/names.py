"""Fake but realistic personal data for synthetic customers (names, e-mails, phone numbers).

Every function is vectorized: it takes a :class:`numpy.random.Generator` and ``n`` (or arrays of
length ``n``) and returns numpy arrays, so a million people take about a second. No per-row Faker
calls: the English name pools are Faker's ``en_US`` frequency tables (read once, not sampled by
Faker), the Chinese pools are a small built-in table of common surnames (with Faker's ``zh_CN``
frequencies) and given names, each with its pinyin so that e-mail addresses can be derived.

Nothing here is real: e-mail domains are the reserved ``example.*`` domains (RFC 2606), US-style
phone numbers use the fictional 555 area code, and Chinese mobile numbers are random digits.
"""

from __future__ import annotations

from functools import cache

import numpy as np

# (hanzi, pinyin, relative frequency in %) - frequencies from Faker's zh_CN surname table.
_ZH_SURNAMES = (
    ("王", "wang", 7.17), ("李", "li", 7.0), ("张", "zhang", 6.74), ("刘", "liu", 5.1),
    ("陈", "chen", 4.61), ("杨", "yang", 3.22), ("黄", "huang", 2.45), ("吴", "wu", 2.0),
    ("赵", "zhao", 2.0), ("周", "zhou", 1.9), ("徐", "xu", 1.45), ("孙", "sun", 1.38),
    ("马", "ma", 1.29), ("朱", "zhu", 1.28), ("胡", "hu", 1.16), ("林", "lin", 1.13),
    ("郭", "guo", 1.13), ("何", "he", 1.06), ("高", "gao", 1.0), ("罗", "luo", 0.95),
    ("郑", "zheng", 0.93), ("梁", "liang", 0.85), ("谢", "xie", 0.76), ("宋", "song", 0.7),
    ("唐", "tang", 0.69), ("许", "xu", 0.66), ("邓", "deng", 0.62), ("冯", "feng", 0.62),
    ("韩", "han", 0.61), ("曹", "cao", 0.6), ("曾", "zeng", 0.58), ("彭", "peng", 0.58),
    ("萧", "xiao", 0.56), ("蔡", "cai", 0.53), ("潘", "pan", 0.52), ("田", "tian", 0.52),
    ("董", "dong", 0.51), ("袁", "yuan", 0.5), ("余", "yu", 0.48), ("叶", "ye", 0.48),
    ("蒋", "jiang", 0.48), ("杜", "du", 0.47), ("苏", "su", 0.46), ("魏", "wei", 0.45),
    ("程", "cheng", 0.45), ("吕", "lv", 0.45), ("丁", "ding", 0.43), ("沈", "shen", 0.41),
    ("任", "ren", 0.41), ("姚", "yao", 0.4), ("卢", "lu", 0.4), ("傅", "fu", 0.4),
    ("钟", "zhong", 0.4), ("姜", "jiang", 0.39), ("崔", "cui", 0.38), ("谭", "tan", 0.38),
    ("廖", "liao", 0.37), ("范", "fan", 0.36), ("汪", "wang", 0.36), ("陆", "lu", 0.36),
    ("金", "jin", 0.35), ("石", "shi", 0.34), ("戴", "dai", 0.34), ("贾", "jia", 0.33),
    ("韦", "wei", 0.32), ("夏", "xia", 0.32), ("邱", "qiu", 0.32), ("方", "fang", 0.31),
    ("侯", "hou", 0.3), ("邹", "zou", 0.3), ("熊", "xiong", 0.29), ("孟", "meng", 0.29),
    ("秦", "qin", 0.29), ("白", "bai", 0.28), ("江", "jiang", 0.28), ("薛", "xue", 0.26),
    ("尹", "yin", 0.26), ("段", "duan", 0.24),
)  # fmt: skip

_ZH_GIVEN_MALE = (
    ("伟", "wei"), ("强", "qiang"), ("磊", "lei"), ("洋", "yang"), ("勇", "yong"), ("军", "jun"),
    ("杰", "jie"), ("涛", "tao"), ("超", "chao"), ("明", "ming"), ("刚", "gang"), ("平", "ping"),
    ("辉", "hui"), ("鹏", "peng"), ("华", "hua"), ("飞", "fei"), ("鑫", "xin"), ("波", "bo"),
    ("斌", "bin"), ("宇", "yu"), ("浩", "hao"), ("凯", "kai"), ("健", "jian"), ("俊", "jun"),
    ("帆", "fan"), ("旭", "xu"), ("宁", "ning"), ("龙", "long"), ("阳", "yang"), ("亮", "liang"),
    ("成", "cheng"), ("峰", "feng"), ("晨", "chen"), ("瑞", "rui"), ("东", "dong"), ("博", "bo"),
    ("坤", "kun"), ("文", "wen"), ("建华", "jianhua"), ("建国", "jianguo"), ("建军", "jianjun"),
    ("志强", "zhiqiang"), ("子轩", "zixuan"), ("浩然", "haoran"), ("宇航", "yuhang"),
    ("俊杰", "junjie"), ("思远", "siyuan"), ("家豪", "jiahao"), ("志明", "zhiming"),
    ("文博", "wenbo"),
)  # fmt: skip

_ZH_GIVEN_FEMALE = (
    ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"), ("艳", "yan"),
    ("娟", "juan"), ("霞", "xia"), ("燕", "yan"), ("玲", "ling"), ("丹", "dan"), ("萍", "ping"),
    ("红", "hong"), ("英", "ying"), ("梅", "mei"), ("莉", "li"), ("婷", "ting"), ("晶", "jing"),
    ("颖", "ying"), ("雪", "xue"), ("慧", "hui"), ("倩", "qian"), ("琴", "qin"), ("云", "yun"),
    ("洁", "jie"), ("莹", "ying"), ("琳", "lin"), ("欣", "xin"), ("璐", "lu"), ("佳", "jia"),
    ("秀英", "xiuying"), ("秀兰", "xiulan"), ("桂英", "guiying"), ("玉兰", "yulan"),
    ("海燕", "haiyan"), ("春梅", "chunmei"), ("丽娟", "lijuan"), ("婷婷", "tingting"),
    ("雪梅", "xuemei"), ("丹丹", "dandan"), ("子涵", "zihan"), ("欣怡", "xinyi"),
    ("诗涵", "shihan"), ("雨桐", "yutong"), ("佳怡", "jiayi"), ("思琪", "siqi"),
    ("晓燕", "xiaoyan"), ("梦瑶", "mengyao"), ("雨欣", "yuxin"), ("静怡", "jingyi"),
)  # fmt: skip

EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com")
"""Reserved (RFC 2606) domains: generated addresses can never reach a real mailbox."""

FICTIONAL_MOBILE_PREFIX = "100"
"""The first digits of every generated Chinese phone number: numbers starting with 10 are the
carriers' service numbers (10086), so no mobile number - no real person's - starts with 100;
the Chinese counterpart of the (555) numbers of the other locale."""

_ZH_MOBILE_PREFIXES = (FICTIONAL_MOBILE_PREFIX,) * 28  # as many as the draw has always picked from

_STR = np.dtypes.StringDType()


def _sarr(values) -> np.ndarray:
    return np.asarray(list(values), dtype=_STR)


@cache
def _pools() -> dict[str, tuple[np.ndarray, ...]]:
    """Name pools as (display, latin, probability) arrays, built once."""
    from faker.providers.person.en_US import Provider as EnUS

    def en(table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        names = list(table.keys())
        p = np.asarray(list(table.values()), dtype=float)
        return _sarr(names), _sarr(n.lower() for n in names), p / p.sum()

    def zh(table, weights=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = np.ones(len(table)) if weights is None else np.asarray(weights, dtype=float)
        return _sarr(t[0] for t in table), _sarr(t[1] for t in table), p / p.sum()

    return {
        "en_F": en(EnUS.first_names_female),
        "en_M": en(EnUS.first_names_male),
        "en_last": en(EnUS.last_names),
        "zh_F": zh(_ZH_GIVEN_FEMALE),
        "zh_M": zh(_ZH_GIVEN_MALE),
        "zh_last": zh(_ZH_SURNAMES, [t[2] for t in _ZH_SURNAMES]),
    }


def _draw(rng: np.random.Generator, pool: tuple[np.ndarray, ...], n: int):
    display, latin, p = pool
    idx = rng.choice(len(p), size=n, p=p)
    return display[idx], latin[idx]


def digits(rng: np.random.Generator, n: int, width: int, *, first_nonzero: bool = False):
    """Return ``n`` random digit strings of exactly ``width`` characters (StringDType array)."""
    low = 10 ** (width - 1) if first_nonzero else 0
    values = rng.integers(low, 10**width, size=n)
    return np.strings.zfill(values.astype(_STR), width)


def person_names(
    rng: np.random.Generator, n: int, *, gender=None, zh_share: float = 0.5
) -> dict[str, np.ndarray]:
    """Draw ``n`` full names, a mix of English (en_US) and Chinese (zh_CN) names.

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        Number of people.
    gender : array-like of {"F", "M", "X"}, optional
        Given names follow it (``"X"`` draws from either pool); random F/M when omitted.
    zh_share : float
        Probability that a person has a Chinese name.

    Returns
    -------
    dict of numpy arrays, each of length ``n``
        ``name`` (display name: "Emily Johnson" or "张伟"), ``given_latin`` and ``family_latin``
        (lower-case latin spelling, pinyin for Chinese names) and ``locale`` ("en" or "zh").
    """
    pools = _pools()
    if gender is None:
        gender = rng.choice(np.array(["F", "M"]), size=n)
    gender = np.asarray(gender).astype(str)
    if gender.shape != (n,):
        raise ValueError(f"gender must have length n={n}, got shape {gender.shape}")
    is_zh = rng.random(n) < zh_share
    # "X" picks either given-name pool at random.
    female = np.where(gender == "X", rng.random(n) < 0.5, gender == "F")
    name = np.empty(n, dtype=_STR)
    given_latin = np.empty(n, dtype=_STR)
    family_latin = np.empty(n, dtype=_STR)
    for loc in ("en", "zh"):
        for sex in ("F", "M"):
            mask = (is_zh == (loc == "zh")) & (female == (sex == "F"))
            k = int(mask.sum())
            g_disp, g_lat = _draw(rng, pools[f"{loc}_{sex}"], k)
            f_disp, f_lat = _draw(rng, pools[f"{loc}_last"], k)
            if loc == "en":
                name[mask] = np.strings.add(np.strings.add(g_disp, " "), f_disp)
            else:
                name[mask] = np.strings.add(f_disp, g_disp)
            given_latin[mask] = g_lat
            family_latin[mask] = f_lat
    return {
        "name": name,
        "given_latin": given_latin,
        "family_latin": family_latin,
        "locale": np.where(is_zh, "zh", "en"),
    }


def emails(rng: np.random.Generator, given_latin, family_latin) -> np.ndarray:
    """Derive unique e-mail addresses from latin name parts.

    Local parts follow common patterns ("emily.johnson", "ejohnson42", "zhangwei88",
    "wei_zhang"); domains are the reserved ``example.*`` domains. Repeated addresses get the
    row number appended so that every address is unique.
    """
    given = np.asarray(given_latin, dtype=_STR)
    family = np.asarray(family_latin, dtype=_STR)
    n = len(given)
    add = np.strings.add
    two = digits(rng, n, 2)
    patterns = (
        lambda g, f, d: add(add(g, "."), f),  # emily.johnson
        lambda g, f, d: add(add(np.strings.slice(g, 0, 1), f), d),  # ejohnson42
        lambda g, f, d: add(add(f, g), d),  # zhangwei88
        lambda g, f, d: add(add(g, "_"), f),  # wei_zhang
        lambda g, f, d: add(add(f, "."), g),  # zhang.wei
    )
    choice = rng.choice(len(patterns), size=n, p=[0.35, 0.2, 0.2, 0.15, 0.1])
    local = np.empty(n, dtype=_STR)
    for i, pattern in enumerate(patterns):
        rows = choice == i
        local[rows] = pattern(given[rows], family[rows], two[rows])
    # Later repeats of an address get their row number appended (stable sort keeps row order).
    order = np.argsort(local, kind="stable")
    ordered = local[order]
    repeat = order[1:][ordered[1:] == ordered[:-1]]
    local[repeat] = add(local[repeat], repeat.astype(_STR))
    domain = np.asarray(EMAIL_DOMAINS, dtype=_STR)[rng.integers(0, len(EMAIL_DOMAINS), size=n)]
    return add(add(local, "@"), domain)


def phones(rng: np.random.Generator, locale) -> np.ndarray:
    """Fake phone numbers: "+86 100 1234 5678" for ``locale == "zh"``
    (:data:`FICTIONAL_MOBILE_PREFIX`), else "(555) 234-5678" - none a real person's."""
    locale = np.asarray(locale).astype(str)
    n = len(locale)
    add = np.strings.add
    prefix = np.asarray(_ZH_MOBILE_PREFIXES, dtype=_STR)[
        rng.integers(0, len(_ZH_MOBILE_PREFIXES), size=n)
    ]
    zh = add(add(add(add(add("+86 ", prefix), " "), digits(rng, n, 4)), " "), digits(rng, n, 4))
    exchange = rng.integers(200, 1000, size=n).astype(_STR)
    us = add(add(add("(555) ", exchange), "-"), digits(rng, n, 4))
    return np.where(locale == "zh", zh, us)


def fake_people(
    rng: np.random.Generator, n: int, *, gender=None, zh_share: float = 0.5
) -> dict[str, np.ndarray]:
    """Draw ``n`` fake people: ``name``, ``email``, ``phone`` and ``locale`` arrays.

    See :func:`person_names` for the parameters. Arrays use numpy's variable-width string dtype;
    pass them to pandas or pyarrow directly.
    """
    people = person_names(rng, n, gender=gender, zh_share=zh_share)
    return {
        "name": people["name"],
        "email": emails(rng, people["given_latin"], people["family_latin"]),
        "phone": phones(rng, people["locale"]),
        "locale": people["locale"],
    }
