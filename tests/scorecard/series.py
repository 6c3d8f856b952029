"""Monthly KPI series generated like the project's KPIs, to choose and test the forecast method.

- count: a volume (架電数, PV) with a trend of up to ±1 %/month, yearly seasonality of up to
  10 % and 3–8 % noise;
- rate: a percentage (接続率, CVR) drifting by up to ±0.3 points a month with 0.5–3 points noise;
- cost: a falling cost (CPA) with 4 % noise.
"""

from __future__ import annotations

import numpy as np


def generate(seed: int, n: int, kind: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    if kind == "count":
        level = rng.uniform(1000, 10000)
        slope = rng.normal(0, 0.01) * level
        season = rng.uniform(0, 0.1) * level * np.sin(2 * np.pi * (t + rng.integers(12)) / 12)
        return level + slope * t + season + rng.normal(0, rng.uniform(0.03, 0.08) * level, n)
    if kind == "rate":
        level = rng.uniform(5, 60)
        return level + rng.normal(0, 0.3) * t + rng.normal(0, rng.uniform(0.5, 3), n)
    level = 10000.0
    return level - rng.uniform(0, 0.015) * level * t + rng.normal(0, 0.04 * level, n)


KINDS = ("count", "rate", "cost")
