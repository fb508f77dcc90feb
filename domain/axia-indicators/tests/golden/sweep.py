"""Writes `sweep.csv`: TA-Lib's values for many periods, sampled, on the golden files' inputs.

The per-file golden CSVs hold every value for two sets of periods; this one checks the
periods in between and at the edges (the shortest each indicator takes, periods longer than
the series, MACD with far-apart EMAs, bands with no width) with a few values each: TA-Lib's
lookback, the first values after it (its seeding) and one value in about every 100 bars. The
inputs are the golden files' (EURUSD, USDJPY, a series that starts flat) and an index-like
series around 38,000 (`index.inputs.csv`, written here).

Run once, after `generate.py`, and commit the CSV; CI reads it and needs no Python:

    /tmp/talib/bin/python domain/axia-indicators/tests/golden/sweep.py
"""
import csv
import os

import numpy as np
import talib
from talib import abstract

HERE = os.path.dirname(os.path.abspath(__file__))
assert talib.__version__ == "0.8.2", talib.__version__

SMA = [2, 3, 4, 5, 10, 13, 30, 50, 100, 200, 1000, 3000]
EMA = [2, 3, 5, 10, 26, 50, 100, 200, 1000, 3000]
RSI = [2, 3, 6, 14, 21, 50, 100, 1000]
MACD = [(2, 3, 2), (3, 10, 16), (8, 17, 9), (12, 26, 9), (19, 39, 9), (5, 35, 5), (2, 100, 30),
        (50, 200, 20)]
BB = [(2, 2.0), (3, 0.5), (5, 1.0), (20, 2.0), (20, 0.0), (50, 2.5), (100, 3.0), (1000, 1.0)]
ATR = [1, 2, 3, 7, 14, 28, 100, 1000]


def index_like():
    """Writes `index.inputs.csv`: an index-like series (around 38,000 on a 0.01 tick, larger
    moves, a flat stretch) that no per-file golden CSV covers, and returns its name."""
    rng = np.random.default_rng(20261127)
    n, tick = 1500, 0.01
    close = [38000.0]
    for i in range(1, n):
        close.append(close[-1] + rng.normal(0.0, 25.0) + (900.0 if i == 600 else 0.0))
    close = np.round(np.array(close) / tick) * tick
    open_ = np.concatenate([[close[0]], close[:-1]])
    high = np.round((np.maximum(open_, close) + np.abs(rng.normal(0.0, 15.0, n))) / tick) * tick
    low = np.round((np.minimum(open_, close) - np.abs(rng.normal(0.0, 15.0, n))) / tick) * tick
    a, b = 1000, 1040
    open_[a:b] = high[a:b] = low[a:b] = close[a:b] = close[a]
    with open(os.path.join(HERE, "index.inputs.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["time", "open", "high", "low", "close"])
        for i in range(n):
            w.writerow([1772409600 + 60 * i, *("%.17g" % x[i] for x in (open_, high, low, close))])
    return "index"


def read(name):
    path = os.path.join(HERE, f"{name}.default.csv")
    if not os.path.exists(path):
        path = os.path.join(HERE, f"{name}.inputs.csv")
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) for r in rows]) for k in ("open", "high", "low", "close")}


def lookback(name, **params):
    """TA-Lib's own lookback (its `TA_<NAME>_Lookback`)."""
    f = abstract.Function(name)
    f.parameters = params
    return f.lookback


def outputs(b):
    h, l, c = b["high"], b["low"], b["close"]
    for n in SMA:
        yield "sma", f"{n}", lookback("SMA", timeperiod=n), {"value": talib.SMA(c, timeperiod=n)}
    for n in EMA:
        yield "ema", f"{n}", lookback("EMA", timeperiod=n), {"value": talib.EMA(c, timeperiod=n)}
    for n in RSI:
        yield "rsi", f"{n}", lookback("RSI", timeperiod=n), {"value": talib.RSI(c, timeperiod=n)}
    for f_, s, g in MACD:
        m, sig, hist = talib.MACD(c, fastperiod=f_, slowperiod=s, signalperiod=g)
        lb = lookback("MACD", fastperiod=f_, slowperiod=s, signalperiod=g)
        yield "macd", f"{f_}/{s}/{g}", lb, {"macd": m, "signal": sig, "histogram": hist}
    for n, k in BB:
        up, mid, lo = talib.BBANDS(c, timeperiod=n, nbdevup=k, nbdevdn=k, matype=0)
        lb = lookback("BBANDS", timeperiod=n, nbdevup=k, nbdevdn=k, matype=0)
        yield "bbands", f"{n}/{k}", lb, {"upper": up, "middle": mid, "lower": lo}
    for n in ATR:
        lb = lookback("ATR", timeperiod=n)
        yield "atr", f"{n}", lb, {"value": talib.ATR(h, l, c, timeperiod=n)}


def samples(n, lookback):
    """The first four values after the lookback, one in about every 100 bars, the last."""
    picked = set(range(lookback, min(lookback + 4, n)))
    picked.update(range(lookback + 97, n, 97))
    if lookback < n:
        picked.add(n - 1)
    return sorted(picked)


with open(os.path.join(HERE, "sweep.csv"), "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["series", "indicator", "params", "output", "lookback", "index", "value"])
    rows = 0
    for name in ("eurusd", "usdjpy", "flat_start", index_like()):
        b = read(name)
        n = len(b["close"])
        for ind, params, lb, outs in outputs(b):
            for out, v in outs.items():
                # The first value is at the lookback, or there is none.
                assert np.isnan(v[:lb]).all() and not np.isnan(v[lb:]).any()
                # The lookback alone, for an output with no value (a period beyond the series).
                if lb >= n:
                    w.writerow([name, ind, params, out, lb, "", ""])
                    rows += 1
                for i in samples(n, lb):
                    w.writerow([name, ind, params, out, lb, i, "%.17g" % v[i]])
                    rows += 1
    print("rows", rows)
