"""Balanced Scorecard scoring from pandas frames. No database.

As defined in API.md ("Scorecard"):
- a KPI's score is its achievement (direction-aware %, from the rollup) clamped to 0–score cap
  (the tree's `score_cap`, 120 by default); a KPI without achievement has no score;
- a perspective's score is the mean of its KPIs' scores weighted by the node's `weight`, over
  the KPIs that have a score; a perspective with no KPI, or with no KPI that has a score, is
  missing (None), never zero;
- the overall score is the mean of the perspective scores that are not missing, weighted by the
  engagement's perspective weights (equal by default);
- statuses use the rollup's thresholds: green from `green` (100), amber from `amber` (90), red
  below, none when there is no score.

`score_table` scores many groups at once (every engagement of the overview, every month of a
trend) with one groupby, so a page's work does not grow with a Python loop per engagement.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

PERSPECTIVES: tuple[str, ...] = ("financial", "customer", "process", "learning")
STATUS_ORDER = {"red": 0, "amber": 1, "none": 2, "green": 3}  # what needs attention first


@dataclass(frozen=True)
class Thresholds:
    green: float = 100.0
    amber: float = 90.0


DEFAULT_THRESHOLDS = Thresholds()


def status_for(score: float | None, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> str:
    if score is None or (isinstance(score, float) and math.isnan(score)):
        return "none"
    if score >= thresholds.green:
        return "green"
    if score >= thresholds.amber:
        return "amber"
    return "red"


def status_series(
    scores: pd.Series, green: pd.Series | float, amber: pd.Series | float
) -> pd.Series:
    """Vectorised status_for (green/amber may vary per row)."""
    values = scores.to_numpy(dtype=float)
    g = np.broadcast_to(np.asarray(green, dtype=float), values.shape)
    a = np.broadcast_to(np.asarray(amber, dtype=float), values.shape)
    out = np.where(values >= g, "green", np.where(values >= a, "amber", "red")).astype(object)
    out[np.isnan(values)] = "none"
    return pd.Series(out, index=scores.index, dtype=object)


def kpi_scores(achievement: pd.Series, cap: pd.Series | float) -> pd.Series:
    """Achievement clamped to 0–cap; a missing achievement stays missing."""
    ach = pd.to_numeric(achievement, errors="coerce").astype(float)
    upper = cap if np.isscalar(cap) else pd.to_numeric(cap).astype(float).to_numpy()
    return pd.Series(np.clip(ach.to_numpy(), 0.0, upper), index=ach.index)


def weighted_mean(values: Sequence[float | None], weights: Sequence[float]) -> float | None:
    """Mean of the values that are present, weighted; None when nothing (or zero weight) is left."""
    num = den = 0.0
    for v, w in zip(values, weights, strict=True):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        num += v * w
        den += w
    return num / den if den > 0 else None


def score_table(
    kpis: pd.DataFrame,
    keys: Sequence[str],
    weights: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Perspective and overall scores per group.

    kpis: one row per KPI (and group), columns *keys, perspective, weight, achievement, cap.
    weights: perspective weights indexed by the first key (e.g. engagement id), columns
    PERSPECTIVES; a group missing from it gets equal weights.
    Returns one row per group (indexed by keys) with columns `<perspective>` (score or NaN),
    `<perspective>_kpis` (number of KPIs), `<perspective>_scored` and `overall`.
    """
    keys = list(keys)
    score_cols = list(PERSPECTIVES)
    count_cols = [f"{p}_kpis" for p in PERSPECTIVES]
    scored_cols = [f"{p}_scored" for p in PERSPECTIVES]
    if kpis.empty:
        index = (
            pd.MultiIndex.from_tuples([], names=keys)
            if len(keys) > 1
            else pd.Index([], name=keys[0])
        )
        return pd.DataFrame(
            columns=[*score_cols, *count_cols, *scored_cols, "overall"], index=index, dtype=float
        )
    frame = kpis.loc[kpis["perspective"].isin(PERSPECTIVES)]
    # One group per distinct key (factorised once) × perspective, summed with numpy's bincount:
    # a pandas groupby + unstack cost most of an overview request (bench/bench_load.py).
    index = (
        pd.MultiIndex.from_frame(frame[keys])
        if len(keys) > 1
        else pd.Index(frame[keys[0]], name=keys[0])
    )
    groups, uniques = index.factorize()
    cells = groups * len(PERSPECTIVES) + pd.Index(PERSPECTIVES).get_indexer(frame["perspective"])
    shape = (len(uniques), len(PERSPECTIVES))
    score = kpi_scores(frame["achievement"], frame["cap"]).to_numpy()
    weight = frame["weight"].to_numpy(dtype=float)
    has = ~np.isnan(score)

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(cells, weights=values, minlength=shape[0] * shape[1]).reshape(shape)

    ws = total(np.where(has, score * weight, 0.0))
    w = total(np.where(has, weight, 0.0))
    n = total(np.ones(len(frame))).astype(int)
    scored = total(has.astype(float)).astype(int)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where((scored > 0) & (w > 0), ws / w, np.nan)
    uniques.names = keys
    out = pd.DataFrame(index=uniques)
    for i, p in enumerate(PERSPECTIVES):
        out[p] = scores[:, i]
        out[f"{p}_kpis"] = n[:, i]
        out[f"{p}_scored"] = scored[:, i]
    out = out.sort_index()
    out["overall"] = overall_scores(out[score_cols], weights, key=keys[0])
    return out


def overall_scores(
    perspective_scores: pd.DataFrame, weights: pd.DataFrame | None, *, key: str
) -> pd.Series:
    """Weighted mean of the non-missing perspective scores of each row."""
    scores = perspective_scores[list(PERSPECTIVES)].to_numpy(dtype=float)
    if weights is None or weights.empty:
        w = np.ones_like(scores)
    else:
        ids = perspective_scores.index.get_level_values(key)
        w = weights.reindex(ids)[list(PERSPECTIVES)].to_numpy(dtype=float)
        w = np.where(np.isnan(w), 1.0, w)
    present = ~np.isnan(scores)
    num = np.where(present, scores * w, 0.0).sum(axis=1)
    den = np.where(present, w, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        overall = np.where(den > 0, num / den, np.nan)
    return pd.Series(overall, index=perspective_scores.index)


# -- one scorecard, as the API, the pages and the reports show it ---------------------------------


@dataclass
class KpiScore:
    node_id: int
    code: str
    name: str
    perspective: str
    weight: float
    achievement: float | None
    score: float | None
    status: str
    extra: dict = field(default_factory=dict)  # actual, target, unit, tree, ... for the pages


@dataclass
class PerspectiveScore:
    key: str
    score: float | None
    status: str
    kpis: list[KpiScore]
    weight: float

    @property
    def missing(self) -> bool:
        return not self.kpis


@dataclass
class Scorecard:
    overall_score: float | None
    overall_status: str
    perspectives: dict[str, PerspectiveScore]
    weights: dict[str, float]
    thresholds: Thresholds

    def kpis(self) -> list[KpiScore]:
        return [k for p in self.perspectives.values() for k in p.kpis]

    def as_dict(self, digits: int = 4) -> dict:
        """The `overall` and `perspectives` members of the API's scorecard."""

        def r(x: float | None) -> float | None:
            return None if x is None else round(x, digits)

        return {
            "overall": {"score": r(self.overall_score), "status": self.overall_status},
            "perspectives": {
                key: {
                    "score": r(p.score),
                    "status": p.status,
                    "weight": p.weight,
                    "kpis": [
                        {
                            "node": k.code,
                            "tree": k.extra.get("tree_code"),
                            "name": k.name,
                            "achievement": r(k.achievement),
                            "score": r(k.score),
                            "status": k.status,
                            "weight": k.weight,
                        }
                        for k in p.kpis
                    ],
                }
                for key, p in self.perspectives.items()
            },
        }


def build_scorecard(
    kpis: Sequence[Mapping],
    *,
    weights: Mapping[str, float] | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Scorecard:
    """Score one scorecard from its KPI rows.

    Each row: node_id, code, name, perspective, weight, achievement (or None), status (the
    rollup's status of the KPI), cap; any other key is kept in `KpiScore.extra`. Rows whose
    perspective is not one of the four are ignored (they are not part of a balanced scorecard).
    """
    weights = {p: float((weights or {}).get(p, 1.0)) for p in PERSPECTIVES}
    base = {"node_id", "code", "name", "perspective", "weight", "achievement", "status", "cap"}
    by_perspective: dict[str, list[KpiScore]] = {p: [] for p in PERSPECTIVES}
    for row in kpis:
        if row["perspective"] not in by_perspective:
            continue
        ach = row.get("achievement")
        ach = None if ach is None or (isinstance(ach, float) and math.isnan(ach)) else float(ach)
        score = None if ach is None else min(max(ach, 0.0), float(row["cap"]))
        by_perspective[row["perspective"]].append(
            KpiScore(
                node_id=row["node_id"],
                code=row["code"],
                name=row["name"],
                perspective=row["perspective"],
                weight=float(row["weight"]),
                achievement=ach,
                score=score,
                status=row.get("status") or "none",
                extra={k: v for k, v in row.items() if k not in base},
            )
        )
    perspectives = {}
    for p, items in by_perspective.items():
        score = (
            weighted_mean([k.score for k in items], [k.weight for k in items]) if items else None
        )
        perspectives[p] = PerspectiveScore(
            p, score, status_for(score, thresholds), items, weights[p]
        )
    overall = weighted_mean(
        [perspectives[p].score for p in PERSPECTIVES], [weights[p] for p in PERSPECTIVES]
    )
    return Scorecard(overall, status_for(overall, thresholds), perspectives, weights, thresholds)


def sort_attention_first(kpis: list[KpiScore]) -> list[KpiScore]:
    """Off-track KPIs first (red, amber, no data, green), the most important first within each."""
    return sorted(
        kpis,
        key=lambda k: (
            STATUS_ORDER.get(k.status, 2),
            -int(k.extra.get("importance", 3)),
            k.extra.get("position", 0),
            k.code,
        ),
    )


def change_pct(current: float | None, previous: float | None) -> float | None:
    """Change in % from previous to current (前月比 / 前年同月比); None without a base."""
    if current is None or previous is None or previous == 0:
        return None
    if math.isnan(current) or math.isnan(previous):
        return None
    return (current - previous) / abs(previous) * 100.0
