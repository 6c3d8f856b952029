"""Forecasts of a KPI's remaining months and the probability of reaching its period target.

Method (chosen on series generated like the project's KPIs — counts with trend, seasonality and
noise, rates, falling costs — by backtests in tests/scorecard/test_forecast.py):
- fewer than 12 months of actuals: simple exponential smoothing (a level, no trend); with six to
  eleven points a trend is mostly noise and trend models forecast worse than the level alone;
- from 12 months: Holt's linear trend, damped, so that a trend is not extrapolated without end to
  the plan's last month;
- uncertainty: 2,000 simulated futures of the fitted model with Student-t errors scaled by its
  residual spread (degrees of freedom = points − parameters, which widens the band for short
  series); the band is the 10th–90th percentile of the paths;
- probability of reaching the period target: the share of simulated futures whose period value
  (the months already reported combined with the simulated ones by the KPI's time aggregation)
  reaches the target, respecting the direction. "At risk" below 50 %.

Pure: pandas/numpy/statsmodels only, no database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kpi_planner.months import fiscal_year_of, month_add, month_text

MIN_MONTHS = 6
TREND_FROM = 12
SIMULATIONS = 2000
AT_RISK_BELOW = 0.5
LOWER_PCT, UPPER_PCT = 10, 90
METHOD_LEVEL = "ses"
METHOD_TREND = "holt_damped"
METHOD_FLAT = "flat"  # a constant history: nothing to fit


@dataclass
class ForecastResult:
    method: str
    months: list[dt.date]
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    period: dt.date | None  # first month of the fiscal year the probability is about
    target: float | None
    expected: float | None
    probability: float | None

    @property
    def percent(self) -> int | None:
        """The probability of reaching the target, in whole percent."""
        return None if self.probability is None else round(self.probability * 100)

    @property
    def at_risk(self) -> bool:
        return self.probability is not None and self.probability < AT_RISK_BELOW

    def points(self) -> list[list]:
        return [
            [month_text(m), float(a), float(lo), float(hi)]
            for m, a, lo, hi in zip(self.months, self.mean, self.lower, self.upper, strict=True)
        ]


def history_of(actual: pd.Series) -> pd.Series:
    """The actuals from the first to the last reported month, gaps filled linearly."""
    present = actual.dropna()
    if present.empty:
        return present
    span = actual.loc[present.index[0] : present.index[-1]].astype(float)
    return span.interpolate(limit_area="inside")


def simulate(
    history: np.ndarray, horizon: int, *, seed: int = 0, n: int = SIMULATIONS
) -> tuple[str, np.ndarray, np.ndarray]:
    """(method, point forecast, simulated paths of shape horizon × n) for a history of at least
    MIN_MONTHS points."""
    from statsmodels.tsa.holtwinters import Holt, SimpleExpSmoothing

    y = np.asarray(history, dtype=float)
    rng = np.random.default_rng(seed)
    if np.ptp(y) == 0:
        return METHOD_FLAT, np.full(horizon, y[-1]), np.full((horizon, n), y[-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on short series
        if len(y) >= TREND_FROM:
            method, params = METHOD_TREND, 5  # alpha, beta, phi, initial level and trend
            fit = Holt(y, damped_trend=True, initialization_method="estimated").fit()
        else:
            method, params = METHOD_LEVEL, 2  # alpha, initial level
            fit = SimpleExpSmoothing(y, initialization_method="estimated").fit()
        resid = y - np.asarray(fit.fittedvalues, dtype=float)
        dof = max(len(y) - params, 1)
        sigma = math.sqrt(float(np.sum(resid**2)) / dof)
        if not math.isfinite(sigma) or sigma == 0:
            sigma = float(np.std(np.diff(y))) or abs(float(y[-1])) * 0.01 or 1.0
        errors = rng.standard_t(dof, size=(horizon, n)) * sigma
        paths = np.asarray(
            fit.simulate(horizon, repetitions=n, error="add", random_errors=errors), dtype=float
        )
        point = np.asarray(fit.forecast(horizon), dtype=float)
    return method, point, paths.reshape(horizon, n)


def combine(values: np.ndarray, how: str) -> np.ndarray:
    """Months (axis 0) combined by a time aggregation; NaN months are skipped."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if how == "sum":
            return np.nansum(values, axis=0)
        if how == "min":
            return np.nanmin(values, axis=0)
        if how == "max":
            return np.nanmax(values, axis=0)
        if how == "last":
            return values[-1]
        return np.nanmean(values, axis=0)  # avg, and recompute (a ratio's months, averaged)


def forecast_kpi(
    monthly: pd.DataFrame,
    *,
    time_aggregation: str = "sum",
    direction: str = "up",
    fiscal_year_start: int = 4,
    period_targets: Mapping[dt.date, float | None] | None = None,
    seed: int = 0,
) -> ForecastResult | None:
    """Forecast the months after the last actual up to the end of `monthly` (the plan).

    monthly: index of months (the plan's), columns actual and target. Returns None with fewer
    than MIN_MONTHS actuals or no month left to forecast. The probability is about the fiscal
    year that contains the first forecast month; its target is the year's rollup target (from
    `period_targets`, keyed by the year's first month) or else the monthly targets combined by
    the time aggregation.
    """
    actual = monthly["actual"].astype(float)
    if actual.notna().sum() < MIN_MONTHS:
        return None
    history = history_of(actual)
    last = history.index[-1]
    months = [m for m in monthly.index if m > last]
    if not months:
        return None
    method, mean, paths = simulate(history.to_numpy(), len(months), seed=seed)
    lower, upper = np.percentile(paths, [LOWER_PCT, UPPER_PCT], axis=1)

    year = fiscal_year_of(months[0], fiscal_year_start)
    year_months = [m for m in monthly.index if year <= m < month_add(year, 12)]
    target = (period_targets or {}).get(year)
    if target is None:
        targets = monthly.loc[year_months, "target"].astype(float).to_numpy()
        target = (
            None
            if np.isnan(targets).all()
            else float(combine(targets[:, None], time_aggregation)[0])
        )
    probability = expected = None
    if year_months:
        known = actual.loc[[m for m in year_months if m <= last]].to_numpy()
        future_idx = [months.index(m) for m in year_months if m > last]
        sims = paths[future_idx]
        stacked = np.vstack([np.repeat(known[:, None], sims.shape[1], axis=1), sims])
        values = combine(stacked, time_aggregation)
        expected = float(
            combine(np.concatenate([known, mean[future_idx]])[:, None], time_aggregation)[0]
        )
        if target is not None and not math.isnan(target):
            hits = values <= target if direction == "down" else values >= target
            probability = float(np.mean(hits))
    return ForecastResult(method, months, mean, lower, upper, year, target, expected, probability)


def fingerprint(monthly: pd.DataFrame, *extra: object) -> str:
    """Hash of a series and its settings: an unchanged KPI is not forecast again."""
    payload = [
        [
            month_text(m),
            None if pd.isna(a) else round(float(a), 9),
            None if pd.isna(t) else round(float(t), 9),
        ]
        for m, a, t in zip(monthly.index, monthly["actual"], monthly["target"], strict=True)
    ]
    text = json.dumps([payload, [str(e) for e in extra]], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
