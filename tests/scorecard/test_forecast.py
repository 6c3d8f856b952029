"""The forecast method, chosen and checked on generated series (tests/scorecard/series.py)."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from scorecard import forecast
from tests.scorecard.series import KINDS, generate

HORIZON = 6


def errors(months: int, seeds: int = 90) -> dict[str, float]:
    """Mean absolute error over the next six months, scaled by the history's mean monthly
    change, of: repeating the last month, the level model and the damped trend model."""
    import warnings

    from statsmodels.tsa.holtwinters import Holt, SimpleExpSmoothing

    out: dict[str, list[float]] = {"naive": [], "level": [], "trend": []}
    for seed in range(seeds):
        y = generate(seed, months + HORIZON, KINDS[seed % 3])
        history, future = y[:months], y[months:]
        scale = np.mean(np.abs(np.diff(history)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            level = (
                SimpleExpSmoothing(history, initialization_method="estimated")
                .fit()
                .forecast(HORIZON)
            )
            trend = (
                Holt(history, damped_trend=True, initialization_method="estimated")
                .fit()
                .forecast(HORIZON)
            )
        for name, f in (
            ("naive", np.repeat(history[-1], HORIZON)),
            ("level", level),
            ("trend", trend),
        ):
            out[name].append(float(np.mean(np.abs(f - future)) / scale))
    return {name: float(np.mean(v)) for name, v in out.items()}


@pytest.mark.slow
@pytest.mark.parametrize("months", [6, 9])
def test_below_twelve_months_the_level_model_is_chosen_because_a_trend_is_noise(months) -> None:
    e = errors(months)
    assert e["level"] < e["trend"]
    assert e["level"] <= 1.05 * e["naive"]  # about as good as the last month, which it follows


@pytest.mark.slow
@pytest.mark.parametrize("months", [12, 24])
def test_from_twelve_months_the_damped_trend_is_chosen_because_it_forecasts_best(months) -> None:
    e = errors(months)
    assert e["trend"] < e["level"]
    assert e["trend"] < e["naive"]


def test_it_uses_a_trend_model_from_twelve_months() -> None:
    assert forecast.simulate(generate(1, 11, "count"), 3, n=10)[0] == "ses"
    assert forecast.simulate(generate(1, 12, "count"), 3, n=10)[0] == "holt_damped"


@pytest.mark.slow
def test_its_80_percent_band_holds_most_outcomes() -> None:
    inside = []
    for seed in range(60):
        y = generate(500 + seed, 12 + HORIZON, KINDS[seed % 3])
        _method, _point, paths = forecast.simulate(y[:12], HORIZON, n=500)
        low, high = np.percentile(paths, [10, 90], axis=1)
        inside.append(np.mean((y[12:] >= low) & (y[12:] <= high)))
    assert 0.65 <= np.mean(inside) <= 0.92


def plan(actuals: list[float | None], target: float) -> pd.DataFrame:
    months = [
        dt.date(2026 + (3 + i) // 12, (3 + i) % 12 + 1, 1) for i in range(12)
    ]  # Apr 2026 – Mar 2027
    values = actuals + [None] * (12 - len(actuals))
    return pd.DataFrame({"actual": values, "target": [target] * 12}, index=months, dtype=float)


def test_a_kpi_on_track_is_likely_to_reach_its_target() -> None:
    result = forecast.forecast_kpi(plan([3100, 3150, 3050, 3120, 3080, 3110, 3140], 3000))
    assert result.method == "ses"
    assert len(result.months) == 5
    assert result.probability > 0.9
    assert not result.at_risk


def test_a_kpi_far_behind_is_at_risk() -> None:
    # The demo's 架電数: 20,450 calls in seven months, 36,000 for the year.
    result = forecast.forecast_kpi(plan([2800, 2950, 3000, 3100, 2900, 3050, 2650], 3000))
    assert result.target == 36000
    assert result.probability < 0.1
    assert result.at_risk


def test_it_respects_lower_is_better() -> None:
    cpa = plan([12000, 11500, 11000, 10500, 10800, 10000, 9800], 10000)
    result = forecast.forecast_kpi(cpa, time_aggregation="avg", direction="down")
    assert result.probability < 0.5  # the year's average so far is far above 10,000
    result = forecast.forecast_kpi(cpa, time_aggregation="last", direction="down")
    assert result.probability > 0.5  # March's value alone will likely be below 10,000


def test_it_needs_six_months_and_a_month_left() -> None:
    assert forecast.forecast_kpi(plan([1, 2, 3, 4, 5], 3)) is None
    assert forecast.forecast_kpi(plan([float(i) for i in range(12)], 3)) is None


def test_a_flat_history_gives_a_flat_forecast() -> None:
    result = forecast.forecast_kpi(plan([95.0] * 6, 95), time_aggregation="avg")
    assert (result.method, list(result.mean)) == ("flat", [95.0] * 6)
    assert result.probability == 1.0


def test_it_is_deterministic() -> None:
    a = forecast.forecast_kpi(plan([10, 12, 11, 13, 12, 14, 13], 12))
    b = forecast.forecast_kpi(plan([10, 12, 11, 13, 12, 14, 13], 12))
    assert a.points() == b.points() and a.probability == b.probability
