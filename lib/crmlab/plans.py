"""Plans that turn analysis into work: actions per segment, the implementation and training plan
with milestones, the feedback loop, and the projected path to a goal.

The playbooks are plain, documented data (segment -> action, owner role, timing) so that a
consultant can edit them per client; the functions only combine them with the numbers.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence

import pandas as pd

from crmlab.errors import ParameterError
from crmlab.goals import month_label


def add_months(start: str, months: int) -> str:
    """``add_months("2026-10", 3) == "2027-01"`` (calendar months, "YYYY-MM")."""
    return str(pd.Period(month_label(start), freq="M") + int(months))


#: The month of the plan, counted from its start, in which a retention programme first contacts
#: customers: the plan's first month trains the people who make the calls (relationship
#: managers, the service team: :func:`crmlab.targeting.retention_plan`), wave 1 of the campaign
#: contacts its customers the month after, and so do the playbooks' customer contacts
#: (:data:`FINANCE_PLAYBOOK`, :data:`CHURN_FLAG_PLAYBOOK`) - training before contact.
FIRST_CONTACT_MONTH = 1

#: Retail customer classes -> (action, owner role, start in months from plan start).
RETAIL_PLAYBOOK: dict[str, tuple[str, str, int]] = {
    "loyal": ("Thank-you programme: member events, early access, points bonus", "CRM manager", 1),
    "active": ("Cross-sell on the next visit; invite to the loyalty programme", "Store manager", 1),
    "at_risk": ("Personal win-back call or voucher within 2 weeks", "Customer service lead", 0),
    "churned": ("Low-cost reactivation e-mail series; ask why they left", "Marketing", 2),
    "potential": ("Welcome offer for a first purchase", "Marketing", 1),
}

#: The retail playbook's actions as each value tier gets them (segment -> tier -> action; a
#: tier not listed gets the playbook's action). The tiers are served by different people (seed
#: 004; :data:`TIER_OWNER`): A by a dedicated account manager, B by the regular contact team,
#: C by automated marketing - so an at-risk tier-C customer gets a voucher by message, not a
#: call, and a lapsed tier-A customer a call from the account manager, not an e-mail series.
RETAIL_TIER_ACTIONS: dict[str, dict[str, str]] = {
    "at_risk": {
        "A": "Personal win-back call from the account manager within 2 weeks",
        "B": "Win-back call with a voucher within 2 weeks",
        "C": "Win-back voucher by e-mail or text message within 2 weeks",
    },
    "churned": {
        "A": "Personal call from the account manager: ask why they left; win-back offer",
    },
}

#: Bank lifecycle stages -> (action, owner role, start month). No customer is contacted before
#: :data:`FIRST_CONTACT_MONTH`: the plan's first month trains the callers (the retention plan's
#: milestones), so the at-risk retention offer starts with the campaign's wave 1, its customers
#: outside the campaign due by the end of that month, after the campaign's own due dates.
#: An owner that is a value tier's
#: contact (the spec's ``actions.contact``: relationship manager for tier A, service team B,
#: marketing automation C) stands for each customer's own contact: the action list gives a tier
#: B or C customer's action to the service team or marketing automation, so the action texts fit
#: every channel (a call, a letter, an app message).
FINANCE_PLAYBOOK: dict[str, tuple[str, str, int]] = {
    "at_risk": (
        "Retention offer from the customer's contact",
        "Relationship manager",
        FIRST_CONTACT_MONTH,
    ),
    "declining": ("Needs review: fees, rates, product fit", "Branch advisor", 1),
    "new": (
        "Onboarding journey: salary deposit and digital banking",
        "Onboarding team",
        FIRST_CONTACT_MONTH,
    ),
    "growing": ("Offer a second product matched to needs", "Sales", 1),
    "mature": ("Loyalty recognition; periodic review", "Relationship manager", 2),
    "churned": ("Exit survey; win-back after 6 months", "Customer service", 3),
}

#: The finance case's churn-flag extract (one row per customer, any business - the example is a
#: telecom): the same lifecycle stages without bank products or branches. "Account manager" is
#: tier A's contact there (the spec's ``actions.when``), so it stands for each customer's own
#: contact as the relationship manager does in :data:`FINANCE_PLAYBOOK`; its customers too are
#: first contacted in :data:`FIRST_CONTACT_MONTH`, after the callers' training.
CHURN_FLAG_PLAYBOOK: dict[str, tuple[str, str, int]] = {
    "at_risk": (
        "Retention offer from the customer's contact",
        "Account manager",
        FIRST_CONTACT_MONTH,
    ),
    "declining": ("Needs review: price, plan and product fit", "Customer service", 1),
    "new": (
        "Onboarding journey: welcome contact and first-use check",
        "Onboarding team",
        FIRST_CONTACT_MONTH,
    ),
    "growing": ("Offer a second product matched to needs", "Sales", 1),
    "mature": ("Loyalty recognition; periodic review", "Account manager", 2),
    "churned": ("Ask why they left; win-back offer after 6 months", "Customer service", 3),
}

#: Extra emphasis by value tier (ABC, seed 004): who owns the relationship.
TIER_OWNER = {
    "A": "dedicated account manager",
    "B": "regular contact team",
    "C": "automated marketing",
}


def first_day(month: str) -> pd.Timestamp:
    """The first day of ``month`` (``"YYYY-MM"``): where a plan that starts that month counts
    its due dates from."""
    try:
        return pd.Period(str(month), freq="M").start_time
    except ValueError:
        raise ParameterError(f"A plan month must look like 2027-01, got {month!r}.") from None


_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "ten": 10,
    "a": 1, "an": 1,
}  # fmt: skip
_WITHIN = re.compile(
    r"\bwithin\s+(\d+|" + "|".join(_NUMBER_WORDS) + r")\s+(day|week)s?\b", re.IGNORECASE
)


def days_in_wording(action: str) -> int | None:
    """The days an action's own words give it: "... within 2 weeks" -> 14, "within 3 days" ->
    3, "within a week" -> 7; None when the wording names no such period (then the action is due
    by the end of its month, :func:`due_date`)."""
    found = _WITHIN.search(str(action))
    if found is None:
        return None
    n = found.group(1).lower()
    count = int(n) if n.isdigit() else _NUMBER_WORDS[n]
    return count * (7 if found.group(2).lower() == "week" else 1)


def due_date(start, offset_months: int = 0, days: int | None = None) -> dt.date:
    """When an action is due, in the month the plan gives it: ``start`` (the plan's first month,
    "YYYY-MM", a Period or a date in it) + ``offset_months``. With ``days`` (the action's wording,
    :func:`days_in_wording`, or a campaign tier's days) it is due that many days after the first
    day of that month - "within 2 weeks" in a plan month 2026-10 is due 2026-10-15 - but never
    after the month's last day, so it stays in the month the plan names; without ``days`` on the
    month's last day. The one rule of both cases' due dates (:func:`crmlab.actions.action_table`,
    :func:`crmlab.targeting.action_list`)."""
    try:
        month = pd.Period(start, freq="M") + int(offset_months)
    except (ValueError, TypeError):
        raise ParameterError(f"A plan month must look like 2027-01, got {start!r}.") from None
    last = month.end_time.date()
    if days is None:
        return last
    if int(days) < 0:
        raise ParameterError(f"Days until due must be >= 0, got {days}.")
    return min(month.start_time.date() + dt.timedelta(days=int(days)), last)


NO_START_MONTH = (
    "The data has no date to start the plan from: set plan_start (or, for a churn-flag "
    "extract, extract_month) to a month YYYY-MM. The action list counts its due dates from the "
    "month of the run meanwhile."
)
"""Why a stage skips a dated plan (a churn-flag extract without a month)."""

#: The owner of a plan row whose playbook owner is a value tier's contact: each customer's own
#: contact, as the action list assigns it (``str.format`` fields: the tiers' contacts).
BY_TIER = {
    "en": "By value tier: {a} (A), {b} (B), {c} (C)",
    "zh": "按价值等级：{a}（A）、{b}（B）、{c}（C）",
}


def _named_table(name: str, suffix: str, what: str) -> dict:
    """The data table of this module called ``name`` (a case spec names it), which must end in
    ``suffix``; a :class:`ParameterError` naming ``what`` it should be otherwise."""
    found = globals().get(str(name))
    if not (str(name).endswith(suffix) and isinstance(found, dict)):
        raise ParameterError(f"'{name}' is not {what} in crmlab.plans.")
    return found


def playbook(name: str) -> dict[str, tuple[str, str, int]]:
    """The playbook of this module called ``name`` (a case spec's ``actions.playbook``)."""
    return _named_table(name, "PLAYBOOK", "a playbook")


def tier_actions(name: str | None) -> dict[str, dict[str, str]]:
    """The tier variants of a playbook called ``name`` in this module (a case spec's
    ``actions.tier_actions``, e.g. :data:`RETAIL_TIER_ACTIONS`); {} for ``None``."""
    return {} if name is None else _named_table(name, "TIER_ACTIONS", "a table of tier actions")


def run_playbook(case: str, results: Mapping) -> dict[str, tuple[str, str, int]]:
    """The playbook of a run of ``case``: its spec's ``actions.playbook`` as the run's figures
    select it (:func:`crmlab.casespec.for_run`: a finance churn-flag extract, ``churn.basis =
    flag``, gets :data:`CHURN_FLAG_PLAYBOOK`)."""
    from crmlab import casespec

    section = casespec.for_run(casespec.load_spec(case).get("actions") or {}, dict(results))
    return playbook(section["playbook"])


def spec_contacts(book: Mapping[str, tuple[str, str, int]]) -> dict[str, str]:
    """Value tier -> who contacts the customer (in words: "Relationship manager"), from the
    ``actions`` section of the case spec that names ``book`` as its playbook (directly or under
    ``when:``); {} if no spec does."""
    from crmlab import casespec
    from crmlab.cases import all_cases
    from crmlab.narrative import label

    for case in all_cases():
        section = casespec.load_spec(case.name).get("actions") or {}
        for variant in (section, *(section.get("when") or {}).values()):
            merged = {**section, **variant}
            if globals().get(str(merged.get("playbook"))) is book:
                return {str(t): label(who) for t, who in (merged.get("contact") or {}).items()}
    return {}


def by_tier(contacts: Mapping[str, str], lang: str = "en") -> str:
    """The owner "each customer's contact" in words: "By value tier: relationship manager (A),
    service team (B), marketing automation (C)" (:data:`BY_TIER`; other tier sets in English)."""
    names = {t: str(who)[:1].lower() + str(who)[1:] for t, who in contacts.items()}
    if list(names) == ["A", "B", "C"]:
        return _text(BY_TIER, lang, a=names["A"], b=names["B"], c=names["C"])
    return "By value tier: " + ", ".join(f"{who} ({t})" for t, who in names.items())


def segment_action_plan(
    counts: Mapping[str, int] | pd.Series,
    playbook: Mapping[str, tuple[str, str, int]],
    start: str,
    contacts: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One row per segment: who (segment and size), what action, owner role, and when (month).

    Segments absent from the playbook get "no specific action" so nothing silently drops out.
    ``start`` is the plan's first month ("YYYY-MM"). An owner that is one of the value tiers'
    contacts (``contacts``: tier -> who; default :func:`spec_contacts` of the playbook) reads
    "By value tier: relationship manager (A), service team (B), marketing automation (C)", as
    the action list assigns it: a tier's contact acts for no other tier's customers.
    """
    contacts = spec_contacts(playbook) if contacts is None else dict(contacts)
    personal = {str(who).lower() for who in contacts.values()}
    rows = []
    for segment, n in pd.Series(counts).items():
        action, owner, offset = playbook.get(str(segment), ("No specific action", "-", 0))
        if str(owner).lower() in personal:
            owner = by_tier(contacts)
        rows.append(
            {
                "segment": segment,
                "customers": int(n),
                "action": action,
                "owner": owner,
                "start": add_months(start, offset),
            }
        )
    return pd.DataFrame(rows).sort_values(["start", "customers"], ascending=[True, False])


def _text(text: Mapping[str, str], lang: str, **fields) -> str:
    """A plan text (``{"en": ..., "zh": ...}``) in ``lang`` with its ``str.format`` fields."""
    return text[lang].format(**fields)


#: The milestone that trains the pilot units' staff (before the pilot has run).
TRAIN_PILOT_UNITS = {
    "en": "Train staff in pilot units ({n_units})",
    "zh": "培训试点单位员工（{n_units} 个）",
}

#: The same milestone when no pilot units are known (no pilot table): they are chosen first.
CHOOSE_PILOT_UNITS: tuple[str, dict[str, str], str, dict[str, str]] = (
    "start+1",
    {"en": "Choose pilot units and train their staff", "zh": "选定试点单位并培训其员工"},
    "Training lead",
    {"en": "attendance 100%", "zh": "出勤率 100%"},
)

#: The implementation plan's milestones: (month, milestone, owner role, check). ``month`` is
#: "start", "start+1", "mid" (half-way), "mid+1" or "deadline"; texts are {en, zh}
#: ``str.format`` templates with the fields ``kpi``, ``focus`` and ``n_units``. Owner roles are
#: terms (:data:`crmlab.i18n.TERMS_ZH`).
IMPLEMENTATION_MILESTONES: tuple[tuple[str, dict[str, str], str, dict[str, str]], ...] = (
    (
        "start",
        {"en": "Kick-off; owners named; baseline frozen", "zh": "项目启动；明确负责人；冻结基线"},
        "Programme lead",
        {"en": "{kpi} baseline", "zh": "{kpi}基线"},
    ),
    (
        "start",
        {"en": "Training material on {focus}", "zh": "编写培训材料：{focus}"},
        "Training lead",
        {"en": "course, workshop, cases", "zh": "课程、研讨会与案例"},
    ),
    (
        "start+1",
        TRAIN_PILOT_UNITS,
        "Training lead",
        {"en": "attendance 100%", "zh": "出勤率 100%"},
    ),
    (
        "start+1",
        {"en": "Monthly survey wave sized for the goal", "zh": "按目标所需样本量开展月度调查"},
        "Insights analyst",
        {"en": "answers per wave", "zh": "每期答卷数"},
    ),
    (
        "mid",
        {"en": "Roll-out wave 1: half of the remaining units", "zh": "第一批推广：其余单位的一半"},
        "Operations",
        {"en": "{kpi} on path", "zh": "{kpi}符合目标路径"},
    ),
    (
        "mid+1",
        {
            "en": "Roll-out wave 2: all units; refresher training",
            "zh": "第二批推广：全部单位；复训",
        },
        "Operations",
        {"en": "{kpi} on path", "zh": "{kpi}符合目标路径"},
    ),
    (
        "deadline",
        {"en": "Evaluation against the goal; next cycle", "zh": "对照目标评估；进入下一轮"},
        "Programme lead",
        {"en": "{kpi} target", "zh": "{kpi}目标"},
    ),
)

#: The pilot units' milestone once the pilot has run (stage 4 read it out): their staff were
#: trained for the pilot, so they keep the practice and coach the roll-out instead of being
#: trained again (replaces "Train staff in pilot units" in :func:`implementation_plan`).
PILOT_DONE_MILESTONE: tuple[str, dict[str, str], str, dict[str, str]] = (
    "start+1",
    {
        "en": "Pilot units ({n_units}) keep the practice; their staff coach the roll-out",
        "zh": "试点单位（{n_units} 个）保持新做法；其员工辅导推广",
    },
    "Training lead",
    {"en": "{kpi} of the pilot units holds", "zh": "试点单位的{kpi}保持"},
)

#: What the training covers when no focus is named.
DEFAULT_FOCUS = {"en": "the key drivers", "zh": "关键驱动因素"}

#: The feedback loop: (what, who, how often, answers needed: "wave" = ``n_per_wave`` or none).
#: ``how often`` is "cadence" (the caller's) or a term; texts are {en, zh} templates, field
#: ``topics``.
FEEDBACK_ROWS: tuple[tuple[dict[str, str], dict[str, str], str, str | None], ...] = (
    (
        {
            "en": "Overall satisfaction (1-5) and recommend (0-10)",
            "zh": "总体满意度（1-5 分）与推荐意愿（0-10 分）",
        },
        {"en": "sample of recent customers", "zh": "近期客户抽样"},
        "cadence",
        "wave",
    ),
    (
        {"en": "Driver ratings: {topics}", "zh": "驱动因素评分：{topics}"},
        {"en": "same respondents", "zh": "同一批受访者"},
        "cadence",
        "wave",
    ),
    (
        {"en": "Complaint follow-up: was it resolved?", "zh": "投诉回访：问题是否已解决？"},
        {"en": "every complainant", "zh": "每位投诉客户"},
        "after closure",
        None,
    ),
    (
        {
            "en": "Staff panel: what blocks better service?",
            "zh": "员工座谈：什么妨碍了更好的服务？",
        },
        {"en": "store staff", "zh": "门店员工"},
        "quarterly",
        None,
    ),
    (
        {"en": "Customer panel / interviews", "zh": "客户座谈 / 访谈"},
        {"en": "10-15 customers per segment", "zh": "每个细分 10-15 名客户"},
        "quarterly",
        None,
    ),
)

#: Every {en, zh} text of the plans: :func:`crmlab.i18n.translate` reads an English plan text
#: (a cell of a notebook's plan table) back into its fields and writes the Chinese template.
TEXTS: tuple[dict[str, str], ...] = (
    *(
        t
        for row in (*IMPLEMENTATION_MILESTONES, PILOT_DONE_MILESTONE, CHOOSE_PILOT_UNITS)
        for t in (row[1], row[3])
    ),
    DEFAULT_FOCUS,
    *(t for row in FEEDBACK_ROWS for t in row[:2]),
    BY_TIER,
)


def _term(text: str, lang: str) -> str:
    if lang == "en":
        return text
    from crmlab import i18n

    return i18n.translate(text, lang)


def _listed(items: Sequence[str], lang: str) -> str:
    """Names such as ``staff_service`` as a reader list: "staff service, product quality" or
    "员工服务、产品质量"."""
    words = [str(x).replace("_", " ") for x in items]
    if lang == "en":
        return ", ".join(words)
    return "、".join(_term(w, lang) for w in words)


MIN_PLAN_MONTHS = 3
"""The shortest implementation plan (:func:`implementation_plan`): prepare, train, evaluate."""


def plan_window(
    start: str | None, goal_start: str | None, deadline_months: int, minimum: int = MIN_PLAN_MONTHS
) -> tuple[int, str | None]:
    """Months an implementation plan starting in ``start`` has until the goal's deadline
    (``goal_start`` + ``deadline_months``), and why there is no plan when they are fewer than
    :data:`MIN_PLAN_MONTHS` (else None). A plan that starts after the goal (``plan_start``)
    has that much less time: its milestones end at the deadline, not months after it. Without
    a ``start`` or a ``goal_start``: ``deadline_months``. ``minimum``: the months the plan
    needs (:data:`MIN_PLAN_MONTHS`; a retention programme's
    :data:`crmlab.targeting.RETENTION_PLAN_MIN_MONTHS`)."""
    if not start or not goal_start:
        return deadline_months, None
    deadline = add_months(goal_start, deadline_months)
    months = (pd.Period(deadline, "M") - pd.Period(start, "M")).n
    if months >= minimum:
        return months, None
    return months, (
        f"It would start in {start}, {max(months, 0)} month(s) before the goal's deadline "
        f"({deadline}); a plan needs at least {minimum}: start it earlier (plan_start) "
        "or set a goal with a later deadline (deadline_months)."
    )


def implementation_plan(
    start: str,
    deadline_months: int,
    focus: Sequence[str],
    pilot_units: Sequence[str],
    kpi: str,
    lang: str = "en",
    pilot_done: bool = False,
) -> pd.DataFrame:
    """The implementation and staff-training plan as milestones (seed 000 steps 4-6).

    Phases: prepare (training material on the ``focus`` drivers or risk factors), train the pilot
    units' staff, extend the pilot, roll out in waves, review against the ``kpi`` every month, and
    a final evaluation at the deadline. Months are counted from ``start`` ("YYYY-MM"). Texts are
    in ``lang`` (:data:`IMPLEMENTATION_MILESTONES`; "zh": Chinese, with ``focus``, ``kpi`` and
    the owner roles translated). ``pilot_done``: the pilot has run before ``start`` (its units'
    staff are trained): they keep the practice and coach the roll-out
    (:data:`PILOT_DONE_MILESTONE`) instead of being trained again. Without ``pilot_units``
    (no pilot table) the pilot units are chosen first (:data:`CHOOSE_PILOT_UNITS`).
    """
    if deadline_months < MIN_PLAN_MONTHS:
        raise ParameterError(
            f"An implementation plan needs at least {MIN_PLAN_MONTHS} months to the deadline."
        )
    if lang not in ("en", "zh"):
        raise ParameterError(f"Unknown language {lang!r}: use en or zh.")
    mid = max(2, deadline_months // 2)
    months = {"start": 0, "start+1": 1, "mid": mid, "mid+1": mid + 1, "deadline": deadline_months}
    fields = {
        "focus": _listed(focus, lang) or _text(DEFAULT_FOCUS, lang),
        "n_units": len(pilot_units),
        "kpi": _term(kpi, lang),
    }
    instead = PILOT_DONE_MILESTONE if pilot_done else None
    if not pilot_units:  # no pilot units known: none trained, none to count
        instead = CHOOSE_PILOT_UNITS
    milestones = [
        instead if instead and row[1] is TRAIN_PILOT_UNITS else row
        for row in IMPLEMENTATION_MILESTONES
    ]
    rows = [
        (months[m], _text(what, lang, **fields), _term(owner, lang), _text(check, lang, **fields))
        for m, what, owner, check in milestones
    ]
    plan = pd.DataFrame(rows, columns=["month", "milestone", "owner", "check"])
    plan["month"] = [add_months(start, m) for m in plan["month"]]
    return plan


def feedback_loop(
    n_per_wave: int, topics: Sequence[str], cadence: str = "monthly", lang: str = "en"
) -> pd.DataFrame:
    """What to ask, whom, how often: the evaluation and feedback loop (seed 000 step 6).

    Texts in ``lang`` (:data:`FEEDBACK_ROWS`; "zh": Chinese, topics and cadence translated)."""
    if lang not in ("en", "zh"):
        raise ParameterError(f"Unknown language {lang!r}: use en or zh.")
    fields = {"topics": _listed(topics, lang)}
    rows = [
        (
            _text(what, lang, **fields),
            _text(who, lang, **fields),
            _term(cadence if often == "cadence" else often, lang),
            n_per_wave if answers == "wave" else None,
        )
        for what, who, often, answers in FEEDBACK_ROWS
    ]
    return pd.DataFrame(rows, columns=["what", "who", "how_often", "answers_needed"])


def projected_path(
    baseline: float,
    effect: float,
    start: str,
    deadline_months: int,
    ramp_months: int | None = None,
) -> pd.DataFrame:
    """Projected monthly metric if an intervention worth ``effect`` is phased in linearly over
    ``ramp_months`` (default: the whole period), starting from ``baseline``."""
    ramp = ramp_months or deadline_months
    rows = [
        {
            "month": add_months(start, m),
            "months_from_start": m,
            "projected": baseline + effect * min(m, ramp) / ramp,
        }
        for m in range(deadline_months + 1)
    ]
    return pd.DataFrame(rows)
