"""Model inputs from a client's own tables: turn any customer table into numeric features, and rank
the fitted features by influence.

A client's customer table rarely matches a fixed schema: besides the key columns a case needs
(``customer_id``, dates, ...) it holds whatever the CRM exports - numbers, yes/no flags written as
text, categories. :func:`auto_features` makes every usable column a model feature and reports what
it did with each column, so the analyst can see (and veto, with ``exclude``) what enters a model.

Encoding rules (one per column, first match wins)
------------------------------------------------
1. ``exclude``: named by the caller (e.g. the label, dates that would leak the outcome) -> left out.
2. identifier: the column name is ``id`` or ends in ``_id``, ``_key``, ``_uuid``, ``_no``,
   ``_number`` or ``_code`` -> left out.
3. all values missing, or a single distinct value -> left out (``constant``).
4. boolean dtype -> 0/1.
5. numeric dtype -> kept as a number.
6. datetime dtype, or text of which >= 90% of values parse as dates -> left out (``date``): dates
   need a reference date to mean anything (tenure is computed separately).
7. text whose values are all yes/no tokens (yes/no, y/n, true/false, 1/0, 是/否; any case) -> 0/1
   (1 = yes).
8. text that is entirely numbers (e.g. ``"12.5"``) -> kept as a number.
9. text or categorical with 2 to ``max_categories`` distinct values -> one 0/1 dummy per level
   except the *reference* level (the most frequent one; ties: the first in sorted order), named
   ``<column>_<level>`` (level lower-cased, non-word characters -> ``_``; ``_2``, ``_3`` ... when
   two levels clean to the same name), in the order of those names. Missing and blank values form
   a level ``missing``.
10. anything else (text with more than ``max_categories`` levels: names, free text) -> left out.

Missing values of kept numeric and 0/1 columns are filled with the fitting data's median (numbers)
or most frequent value (flags); the report says how many. :meth:`AutoFeatures.transform` applies
the same encoding (levels, reference, fill values) to new rows, e.g. a test set: unseen levels
count as the reference level.

Feature influence
-----------------
``std_effect = coef x sd(x)``: the change in log-odds of churn for a one-standard-deviation change
of the feature (sd over the fitting rows). Ranking by ``|std_effect|`` puts features on one scale,
whatever their units (a count of products, a 0/1 flag, a balance in CNY).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crmlab import churn
from crmlab.errors import DataError
from crmlab.quality import text_isin

__all__ = [
    "AUC_ACCEPTABLE",
    "AUC_NONE",
    "BEHAVIOUR_FEATURES",
    "AutoFeatures",
    "ChurnDesign",
    "FLAG_EXCLUDE",
    "FlagModel",
    "auto_features",
    "churn_design",
    "discrimination",
    "drop_collinear",
    "feature_influence",
    "fit_flag_model",
    "stratified_split",
]

AUC_ACCEPTABLE = 0.7
"""The AUC from which a model's discrimination is called acceptable (Hosmer & Lemeshow,
*Applied Logistic Regression*, 2nd ed., 2000, sec. 5.2.4: 0.5 none, 0.7-0.8 acceptable,
0.8-0.9 excellent)."""
AUC_NONE = 0.6
"""Below this AUC (or with a top-decile lift of 1 or less) a model tells leavers from stayers
hardly better than chance: :func:`discrimination` calls it ``"none"``."""


def discrimination(auc: float, top_decile_lift: float) -> str:
    """How well a churn model tells leavers from stayers on held-out data, in one word:
    ``"acceptable"`` (AUC at least :data:`AUC_ACCEPTABLE` and the riskiest tenth churning more
    often than average), ``"weak"`` (AUC from :data:`AUC_NONE`, lift above 1), ``"none"``
    (AUC below :data:`AUC_NONE`, or the riskiest tenth churning no more often than average:
    lift <= 1, or either not a number). AUC: area under the ROC curve (0.5 = chance); lift:
    churn rate of the top 10% by score / the overall churn rate."""
    if not (math.isfinite(auc) and math.isfinite(top_decile_lift)):
        return "none"  # not measured (too few leavers in the test set): nothing foreseen
    if auc < AUC_NONE or top_decile_lift <= 1.0:
        return "none"
    return "acceptable" if auc >= AUC_ACCEPTABLE else "weak"


YES_TOKENS = frozenset({"yes", "y", "true", "1", "1.0", "是"})
NO_TOKENS = frozenset({"no", "n", "false", "0", "0.0", "否"})
_ID_NAME = re.compile(r"^(id|uuid|key)$|_(id|ids|key|uuid|no|number|code)$")
DATE_SHARE = 0.9


def _slug(level) -> str:
    text = re.sub(r"\W+", "_", str(level).strip().lower()).strip("_")
    return text or "blank"


def _text_tokens(s: pd.Series) -> pd.Series:
    """Lower-cased, stripped text of the non-missing values (``1`` and ``1.0`` kept apart)."""
    return s.dropna().astype("str").str.strip().str.lower()


def _looks_like_dates(s: pd.Series) -> bool:
    text = s.dropna().astype("str").str.strip()
    text = text[text != ""]
    if text.empty:
        return False
    if pd.to_numeric(text, errors="coerce").notna().all():
        return False  # plain numbers are not dates
    parsed = pd.to_datetime(text.head(500), errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= DATE_SHARE)


@dataclass(frozen=True)
class _Rule:
    column: str
    kind: str  # numeric | flag | categorical | excluded
    outputs: tuple[str, ...] = ()
    fill: float | None = None
    levels: tuple[str, ...] = ()  # categorical: the dummy levels (text), in output order
    reference: str | None = None
    note: str = ""


@dataclass
class AutoFeatures:
    """Numeric features made from a table by :func:`auto_features`.

    Attributes
    ----------
    X : DataFrame
        The numeric design matrix of the fitting rows (same index as the input), float64.
    report : DataFrame
        One row per input column: ``column``, ``kind`` (numeric, yes/no flag, categorical,
        excluded), ``features`` (output columns, comma-separated), ``note`` (what was done, e.g.
        "reference level: mass", "excluded: identifier", "3 missing filled with the median 41").
    rules : list
        The fitted encoding per column (used by :meth:`transform`).
    """

    X: pd.DataFrame
    report: pd.DataFrame
    rules: list = field(repr=False)

    @property
    def features(self) -> list[str]:
        """Names of the output columns, in order."""
        return list(self.X.columns)

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Encode new rows exactly as the fitting rows were (same columns, levels and fills).

        Raises :class:`DataError` if a column that produced features is missing from ``df``.
        """
        used = [r for r in self.rules if r.kind != "excluded"]
        missing = [r.column for r in used if r.column not in df.columns]
        if missing:
            raise DataError(
                f"auto_features.transform: column(s) {missing} were used as features but are "
                f"missing from the new table (columns: {list(df.columns)})."
            )
        return pd.DataFrame(_encode_all(df, used), index=df.index, columns=self.features)


def _numeric_values(s: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("Float64").astype("float64")
    return pd.to_numeric(s, errors="coerce").astype("float64")


def _flag_values(s: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("Float64").astype("float64")
    tok = s.astype("str").str.strip().str.lower().where(s.notna())
    out = pd.Series(np.nan, index=s.index, dtype="float64")
    out[tok.isin(YES_TOKENS).fillna(False).to_numpy()] = 1.0
    out[tok.isin(NO_TOKENS).fillna(False).to_numpy()] = 0.0
    return out


def _category_values(s: pd.Series) -> pd.Series:
    text = s.astype("str").str.strip()
    present = (s.notna() & (text != "")).fillna(False).astype(bool)
    return text.where(present, "missing").astype("str")


def _encode(df: pd.DataFrame, rule: _Rule) -> dict[str, np.ndarray]:
    s = df[rule.column]
    if rule.kind in ("numeric", "flag"):
        v = _numeric_values(s) if rule.kind == "numeric" else _flag_values(s)
        return {rule.outputs[0]: v.fillna(rule.fill).to_numpy(dtype=np.float64)}
    cats = _category_values(s)
    return {
        name: (cats == level).to_numpy(dtype=np.float64)
        for name, level in zip(rule.outputs, rule.levels, strict=True)
    }


def _encode_all(df: pd.DataFrame, rules: Iterable[_Rule]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for r in rules:
        out.update(_encode(df, r))
    return out


def _fit_rule(name: str, s: pd.Series, exclude: set, max_categories: int) -> _Rule:
    if name in exclude:
        return _Rule(name, "excluded", note="excluded: not a model input in this case")
    if _ID_NAME.search(name.strip().lower()):
        return _Rule(name, "excluded", note="excluded: identifier (by its name)")
    present = s.dropna()
    if pd.api.types.is_string_dtype(s.dtype) or pd.api.types.is_object_dtype(s.dtype):
        present = present[present.astype("str").str.strip() != ""]
    if present.nunique() < 2:
        return _Rule(name, "excluded", note="excluded: constant (fewer than two distinct values)")
    n_missing = int(len(s) - len(present))
    if pd.api.types.is_bool_dtype(s.dtype):
        return _fit_flag(name, s, n_missing, "yes = 1, no = 0")
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return _Rule(name, "excluded", note="excluded: date")
    if pd.api.types.is_numeric_dtype(s.dtype):
        return _fit_numeric(name, s, n_missing)
    if isinstance(s.dtype, pd.CategoricalDtype):
        return _fit_categorical(name, s, max_categories)
    tokens = _text_tokens(present)
    if tokens.isin(YES_TOKENS | NO_TOKENS).all():
        return _fit_flag(name, s, n_missing, "yes/no text: yes = 1, no = 0")
    if _looks_like_dates(present):
        return _Rule(name, "excluded", note="excluded: date (text that parses as dates)")
    if pd.to_numeric(present.astype("str").str.strip(), errors="coerce").notna().all():
        return _fit_numeric(name, s, n_missing, "numbers written as text")
    return _fit_categorical(name, s, max_categories)


def _fit_numeric(name, s, n_missing, note="number") -> _Rule:
    v = _numeric_values(s)
    fill = float(v.median())
    if n_missing:
        note += f"; {n_missing} missing filled with the median {fill:g}"
    return _Rule(name, "numeric", (name,), fill=fill, note=note)


def _fit_flag(name, s, n_missing, note) -> _Rule:
    v = _flag_values(s)
    fill = float(v.mode().iloc[0]) if v.notna().any() else 0.0
    if n_missing:
        note += f"; {n_missing} missing filled with the most frequent value {fill:g}"
    return _Rule(name, "flag", (name,), fill=fill, note=note)


def _fit_categorical(name, s, max_categories) -> _Rule:
    cats = _category_values(s)
    counts = cats.value_counts()
    if len(counts) > max_categories:
        return _Rule(
            name,
            "excluded",
            note=f"excluded: {len(counts)} distinct text values (more than {max_categories})",
        )
    order = sorted(counts.index, key=lambda lvl: (-counts[lvl], str(lvl)))
    reference, levels = order[0], sorted(order[1:], key=lambda lvl: (_slug(lvl), str(lvl)))
    outputs, seen = [], set()
    for lvl in levels:
        out = f"{name}_{_slug(lvl)}"
        k = 2
        while out in seen:
            out, k = f"{name}_{_slug(lvl)}_{k}", k + 1
        seen.add(out)
        outputs.append(out)
    return _Rule(
        name,
        "categorical",
        tuple(outputs),
        levels=tuple(levels),
        reference=reference,
        note=f"{len(counts)} levels; reference level: {reference}",
    )


_KIND_LABEL = {
    "numeric": "numeric",
    "flag": "yes/no flag",
    "categorical": "categorical",
    "excluded": "excluded",
}


def auto_features(
    df: pd.DataFrame, exclude: Sequence[str] = (), *, max_categories: int = 10
) -> AutoFeatures:
    """Make a numeric design matrix from any table (see the module docstring for the rules).

    Parameters
    ----------
    df : DataFrame
        The fitting rows (e.g. the training customers), one column per attribute.
    exclude : sequence of str
        Columns never to use (the label, outcome dates, anything known to leak).
    max_categories : int
        Most levels a text column may have to become dummies (>= 2).

    Returns
    -------
    AutoFeatures
        ``X`` (float64, same index as ``df``), ``report`` and :meth:`AutoFeatures.transform`.
        Raises :class:`DataError` if ``df`` has no rows or two output columns would get the same
        name (rename a column).
    """
    if int(max_categories) < 2:
        raise DataError(f"max_categories must be at least 2, got {max_categories}.")
    if len(df) == 0:
        raise DataError("auto_features: the table has no rows to learn the encoding from.")
    exclude = set(exclude)
    rules = [_fit_rule(str(c), df[c], exclude, int(max_categories)) for c in df.columns]
    names = [o for r in rules for o in r.outputs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise DataError(
            f"auto_features: output column name(s) {dup} would be produced twice (a column and a "
            "dummy of another column share a name); rename one of the input columns."
        )
    used = [r for r in rules if r.kind != "excluded"]
    X = pd.DataFrame(_encode_all(df, used), index=df.index, columns=names)
    report = pd.DataFrame(
        {
            "column": [r.column for r in rules],
            "kind": [_KIND_LABEL[r.kind] for r in rules],
            # what a reader recognizes: a category's levels (each a 0/1 column), else the column
            "features": [
                ", ".join(map(str, r.levels)) if r.levels else ", ".join(r.outputs) for r in rules
            ],
            "note": [r.note for r in rules],
        }
    )
    return AutoFeatures(X=X.astype(np.float64), report=report, rules=rules)


# ----------------------------------------------------------------------------------------------
# churn model design: behaviour features + every usable customer column
# ----------------------------------------------------------------------------------------------
#: Features of :func:`crmlab.churn.build_churn_dataset` that come from behaviour (snapshots and
#: tenure), not from the customer table's static attributes.
BEHAVIOUR_FEATURES = [f for f in churn.FEATURES if f not in churn.STATIC_FEATURES]

#: Customer-table columns never used as churn features: the key, the opening date (tenure is a
#: behaviour feature) and the closure date (the outcome itself).
CUSTOMER_EXCLUDE = ("customer_id", "open_date", "closure_date")


@dataclass
class ChurnDesign:
    """Features of a churn model: behaviour features of the data set plus encoded customer columns.

    Attributes
    ----------
    behaviour : list of str
        Columns taken as they are from the churn data set (e.g. tenure, balance change).
    customer : AutoFeatures
        The encoding of the customer table's columns (fitted on the training customers).
    customers : DataFrame
        The customer table (indexed by ``customer_id``) the columns are taken from.
    """

    behaviour: list
    customer: AutoFeatures
    customers: pd.DataFrame = field(repr=False)

    @property
    def features(self) -> list[str]:
        """All model features: behaviour features, then the encoded customer columns."""
        return [*self.behaviour, *self.customer.features]

    @property
    def report(self) -> pd.DataFrame:
        """What was done with each customer column (:attr:`AutoFeatures.report`)."""
        return self.customer.report

    def frame(self, dataset: pd.DataFrame) -> pd.DataFrame:
        """``dataset`` with the encoded customer columns joined on ``customer_id`` (columns of the
        same name in ``dataset`` are replaced). Raises :class:`DataError` for unknown customers."""
        ids = dataset["customer_id"]
        unknown = ~text_isin(ids, self.customers.index.to_series())
        if unknown.any():
            raise DataError(
                f"churn_design: {int(unknown.sum())} customer(s) of the data set are not in the "
                "customer table."
            )
        encoded = self.customer.transform(self.customers.loc[ids.to_numpy()])
        encoded.index = dataset.index
        keep = [c for c in dataset.columns if c not in set(encoded.columns)]
        return pd.concat([dataset[keep], encoded], axis=1)


def churn_design(
    train: pd.DataFrame,
    customers: pd.DataFrame,
    behaviour: Sequence[str],
    *,
    exclude: Sequence[str] = (),
    max_categories: int = 10,
) -> ChurnDesign:
    """Fit the feature encoding of a churn model on the training customers.

    Every column of ``customers`` except :data:`CUSTOMER_EXCLUDE`, ``exclude`` and columns
    that ``behaviour`` already provides is encoded by :func:`auto_features` (fitted on the
    customers of ``train``), so extra columns of a client's table - numbers, yes/no text flags,
    categories - become features without code changes. Use ``design.frame(df)`` to get the model
    frame of the training, test or scoring set and ``design.features`` as the feature list.
    """
    for name, df in (("train", train), ("customers", customers)):
        if "customer_id" not in df.columns:
            raise DataError(f"churn_design: '{name}' needs a customer_id column.")
    missing = [c for c in behaviour if c not in train.columns]
    if missing:
        raise DataError(f"churn_design: behaviour feature(s) {missing} not in the training set.")
    if customers["customer_id"].duplicated().any():
        raise DataError("churn_design: customer_id is not unique in the customer table.")
    table = customers.set_index("customer_id", drop=True)
    skip = [c for c in table.columns if c in CUSTOMER_EXCLUDE or c in set(behaviour)]
    fit_rows = table.loc[table.index.intersection(pd.Index(train["customer_id"]))]
    encoding = auto_features(fit_rows, exclude=[*skip, *exclude], max_categories=max_categories)
    return ChurnDesign(behaviour=list(behaviour), customer=encoding, customers=table)


def feature_influence(model, frame: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Rank the features of a fitted :class:`crmlab.churn.ChurnLogit` by standardized effect.

    Features whose effect is clearly supported (``p_value < alpha``) come first, ordered by
    ``|std_effect|``; then the others, in the same order. Ranking by effect size alone would
    promote a collinear feature whose large coefficient is mostly noise (e.g. a digital-banking
    flag next to the number of logins).

    Parameters
    ----------
    model : ChurnLogit
        Its ``table`` gives per feature ``coef``, ``std_err``, ``odds_ratio``, ``ci_low``,
        ``ci_high``, ``p_value``.
    frame : DataFrame
        The rows the model was fitted on (for the standard deviations).
    alpha : float
        Significance level that separates the two groups.

    Returns
    -------
    DataFrame
        The model table plus ``z`` (= coef / std_err), ``sd`` (standard deviation of the feature),
        ``std_effect`` (= coef x sd: change in log-odds per one sd), ``odds_ratio_per_sd``
        (= exp(std_effect): the odds multiplier of a one-sd increase), ``significant``
        (p_value < alpha) and ``direction`` ("raises churn" / "lowers churn"), most influential
        first.
    """
    t = model.table.copy()
    sd = frame[list(t["feature"])].apply(pd.to_numeric, errors="coerce").std(ddof=1)
    t["z"] = t["coef"] / t["std_err"]
    t["sd"] = sd.to_numpy(dtype=np.float64)
    t["std_effect"] = t["coef"] * t["sd"]
    t["odds_ratio_per_sd"] = np.exp(t["std_effect"])
    t["significant"] = t["p_value"] < alpha
    t["direction"] = np.where(t["coef"] > 0, "raises churn", "lowers churn")
    t["_size"] = -t["std_effect"].abs()
    t = t.sort_values(["significant", "_size"], ascending=[False, True], kind="mergesort")
    return t.drop(columns="_size").reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# churn model of a flag extract (one row per customer, `churned`, no dates)
# ----------------------------------------------------------------------------------------------
#: Columns of a flag extract that are never logit features: the key, the label, and the tenure
#: (the duration of the survival model: a leaver's tenure ends when they leave).
FLAG_EXCLUDE = ("customer_id", "churned", "tenure_months")


def stratified_split(
    df: pd.DataFrame, label_col: str = "churned", test_share: float = 0.3, seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows into a training and a test part with the same share of each label value.

    Within each value of ``label_col`` the rows are shuffled with ``numpy.random.default_rng(seed)``
    and ``round(n_value x test_share)`` of them go to the test part. Both parts keep the input
    order. Raises :class:`DataError` unless 0 < ``test_share`` < 1 and each part gets both values.
    """
    if not 0 < float(test_share) < 1:
        raise DataError(f"test_share must be between 0 and 1, got {test_share}.")
    rng = np.random.default_rng(int(seed))
    test_pos: list[int] = []
    labels = df[label_col].to_numpy()
    for value in sorted(pd.unique(labels), key=str):
        pos = np.flatnonzero(labels == value)
        k = int(round(len(pos) * float(test_share)))
        test_pos += rng.permutation(pos)[:k].tolist()
    is_test = np.zeros(len(df), dtype=bool)
    is_test[test_pos] = True
    train, test = df.iloc[~is_test], df.iloc[is_test]
    for name, part in (("training", train), ("test", test)):
        if part[label_col].nunique() < 2:
            raise DataError(
                f"stratified_split: the {name} part has only one value of {label_col}; "
                "the table is too small or has (almost) only one class."
            )
    return train, test


def drop_collinear(X: pd.DataFrame, tol: float = 1e-8) -> tuple[list[str], list[str]]:
    """Columns of ``X`` to keep so that the design (with an intercept) has full rank.

    Greedy, left to right: a column is dropped when its least-squares residual on the intercept
    and the columns kept so far has a norm below ``tol`` x its centred norm (it is a linear
    combination of them - e.g. "no internet service" dummies repeated over several columns).
    Returns ``(kept, dropped)``.
    """
    kept: list[str] = []
    dropped: list[str] = []
    base = np.ones((len(X), 1))
    for c in X.columns:
        x = X[c].to_numpy(dtype=np.float64)
        centred = np.linalg.norm(x - x.mean())
        if centred == 0:
            dropped.append(c)
            continue
        A = np.column_stack([base, X[kept].to_numpy(dtype=np.float64)]) if kept else base
        coef, *_ = np.linalg.lstsq(A, x, rcond=None)
        if np.linalg.norm(x - A @ coef) < tol * centred:
            dropped.append(c)
        else:
            kept.append(c)
    return kept, dropped


@dataclass
class FlagModel:
    """A logistic churn model of a flag extract, fitted on a stratified training part.

    Attributes
    ----------
    encoding : AutoFeatures
        The feature encoding (fitted on the training rows).
    features : list of str
        The model's features (encoded columns, collinear ones dropped).
    dropped : list of str
        Encoded columns left out as linear combinations of others.
    model : ChurnLogit
        The fitted :class:`crmlab.churn.ChurnLogit`.
    train, test : DataFrame
        Model frames: ``customer_id``, ``churned`` and the features; ``test`` also ``churn_prob``.
    quality : dict
        :func:`crmlab.churn.evaluate_scores` on the test part (``auc``, ``brier``, ``n`` ...).
    """

    encoding: AutoFeatures
    features: list
    dropped: list
    model: object
    train: pd.DataFrame = field(repr=False)
    test: pd.DataFrame = field(repr=False)
    quality: dict

    def frame(self, df: pd.DataFrame) -> pd.DataFrame:
        """The model frame of any rows of the customer table (encoded as the training rows)."""
        encoded = self.encoding.transform(df)[self.features]
        keep = [c for c in ("customer_id", "churned") if c in df.columns]
        return pd.concat([df[keep], encoded], axis=1)

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        """Churn probabilities of rows of the customer table."""
        return self.model.predict(self.frame(df))


def fit_flag_model(
    customers: pd.DataFrame,
    *,
    test_share: float = 0.3,
    seed: int = 42,
    alpha: float = 0.05,
    exclude: Sequence[str] = (),
    max_categories: int = 10,
) -> FlagModel:
    """Logistic regression of ``churned`` on every usable column of a flag extract.

    Steps: :func:`crmlab.churn.flag_customers` (flag as 0/1); :func:`stratified_split`
    (``test_share``, ``seed``); :func:`auto_features` fitted on the training rows, leaving out
    :data:`FLAG_EXCLUDE`, date columns and ``exclude``; :func:`drop_collinear`;
    :func:`crmlab.churn.fit_churn_logit` (Wald intervals at ``1 - alpha``); test-part scores and
    :func:`crmlab.churn.evaluate_scores` (ROC AUC etc.). Raises :class:`DataError` when no column
    is usable or the fit fails (e.g. a feature that predicts the flag perfectly).
    """
    df = churn.flag_customers(customers)
    train_rows, test_rows = stratified_split(df, "churned", test_share, seed)
    encoding = auto_features(
        train_rows, exclude=[*FLAG_EXCLUDE, *exclude], max_categories=max_categories
    )
    features, dropped = drop_collinear(encoding.X)
    if not features:
        raise DataError(
            "fit_flag_model: no usable feature column besides the id, the flag and the tenure "
            "(features: auto keeps the client's other columns)."
        )
    result = FlagModel(encoding, features, dropped, None, train_rows, test_rows, {})
    train = result.frame(train_rows)
    try:
        model = churn.fit_churn_logit(train, features, alpha=alpha)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - statsmodels: perfect separation, no convergence
        raise DataError(
            f"fit_flag_model: the logistic regression failed ({type(exc).__name__}: {exc}); "
            "a feature may predict the flag perfectly - leave it out with exclude."
        ) from None
    test = result.frame(test_rows)
    test["churn_prob"] = model.predict(test)
    result.model, result.train, result.test = model, train, test
    result.quality = churn.evaluate_scores(test["churned"], test["churn_prob"])
    return result
