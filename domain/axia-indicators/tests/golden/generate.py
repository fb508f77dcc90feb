#!/usr/bin/env python3
"""Writes the golden files of axia-indicators with TA-Lib itself.

Run once, commit the CSVs; CI reads them and needs no Python:

    python3 -m venv /tmp/talib && /tmp/talib/bin/pip install ta-lib==0.8.2 numpy
    /tmp/talib/bin/python domain/axia-indicators/tests/golden/generate.py

Inputs: FX-like M1 bars (EURUSD around 1.10, 5 decimals; USDJPY around 150, 3 decimals) with
weekend gaps in time, price jumps, and a flat stretch; and a series that starts flat (RSI 0,
sigma 0). Every indicator in its default periods and in a second set of periods. Values are
written with 17 significant digits (exact doubles); an empty field is TA-Lib's NaN (warm-up).
"""
import csv
import os

import numpy as np
import talib

HERE = os.path.dirname(os.path.abspath(__file__))
assert talib.__version__ == "0.8.2", talib.__version__

PARAMS = {
    "default": dict(sma=20, ema=20, rsi=14, macd=(12, 26, 9), bb=(20, 2.0), atr=14),
    "other": dict(sma=7, ema=9, rsi=5, macd=(5, 13, 4), bb=(10, 1.5), atr=7),
}


def fx_bars(rng, n, start, tick, vol, flat=None, jumps=()):
    closes = [start]
    for i in range(1, n):
        step = rng.normal(0.0, vol)
        if i in jumps:
            step += 40 * vol * (1 if i % 2 else -1)
        closes.append(closes[-1] + step)
    close = np.round(np.array(closes) / tick) * tick
    open_ = np.concatenate([[close[0]], close[:-1]])
    spread_hi = np.abs(rng.normal(0.0, vol, n))
    spread_lo = np.abs(rng.normal(0.0, vol, n))
    high = np.round((np.maximum(open_, close) + spread_hi) / tick) * tick
    low = np.round((np.minimum(open_, close) - spread_lo) / tick) * tick
    if flat is not None:
        a, b = flat
        p = close[a]
        open_[a:b] = high[a:b] = low[a:b] = close[a:b] = p
    # Minutes from Monday 2026-03-02 00:00 UTC, the weekend skipped (a gap in time).
    t0 = 1772409600
    times, t = [], t0
    for _ in range(n):
        times.append(t)
        t += 60
        if (t - t0) % (7 * 86400) == 5 * 86400:
            t += 2 * 86400
    return np.array(times), open_, high, low, close


def columns(o, h, l, c, p):
    m_fast, m_slow, m_sig = p["macd"]
    bb_n, bb_k = p["bb"]
    macd, sig, hist = talib.MACD(c, fastperiod=m_fast, slowperiod=m_slow, signalperiod=m_sig)
    up, mid, lo = talib.BBANDS(c, timeperiod=bb_n, nbdevup=bb_k, nbdevdn=bb_k, matype=0)
    return {
        "sma": talib.SMA(c, timeperiod=p["sma"]),
        "ema": talib.EMA(c, timeperiod=p["ema"]),
        "rsi": talib.RSI(c, timeperiod=p["rsi"]),
        "macd": macd,
        "macd_signal": sig,
        "macd_hist": hist,
        "bb_upper": up,
        "bb_middle": mid,
        "bb_lower": lo,
        "atr": talib.ATR(h, l, c, timeperiod=p["atr"]),
    }


def write(name, bars):
    t, o, h, l, c = bars
    for set_name, p in PARAMS.items():
        cols = columns(o, h, l, c, p)
        path = os.path.join(HERE, f"{name}.{set_name}.csv")
        with open(path, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["time", "open", "high", "low", "close", *cols.keys()])
            for i in range(len(c)):
                vals = ["" if np.isnan(v[i]) else "%.17g" % v[i] for v in cols.values()]
                w.writerow([int(t[i]), *("%.17g" % x[i] for x in (o, h, l, c)), *vals])
        print(path, len(c))


rng = np.random.default_rng(20261126)
write("eurusd", fx_bars(rng, 2500, 1.10, 1e-5, 0.00012, flat=(1200, 1300), jumps=(700, 2000)))
write("usdjpy", fx_bars(rng, 1500, 150.0, 1e-3, 0.015, flat=(1000, 1030), jumps=(800,)))
write("flat_start", fx_bars(rng, 200, 1.25, 1e-5, 0.0001, flat=(0, 60)))
print("params", PARAMS)
