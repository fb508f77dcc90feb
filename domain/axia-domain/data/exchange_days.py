"""Writes the exchange-day tables `ExchangeDays` reads for the exchanges it has no rules for.

Run once, with the exchange_calendars package (4.13.2 wrote the committed files):

    python3 -m venv /tmp/xc && /tmp/xc/bin/pip install exchange_calendars==4.13.2
    /tmp/xc/bin/python exchange_days.py

For each calendar, 2000-2035: every weekday the exchange does not trade (`closed`) and every
day it closes early (`early HH:MM`, exchange time). The NYSE's and the TSE's days are rules in
the code, checked against the same package in the tests (tests/golden/).
"""
import datetime as dt
from pathlib import Path

import exchange_calendars as xc

HERE = Path(__file__).parent
FIRST, LAST = dt.date(2000, 1, 1), dt.date(2035, 12, 31)
# London, Xetra, Euronext Paris, Hong Kong, the ASX and CME Globex (equity and interest-rate
# futures: the holidays without a session and the early halts).
for name in ["XLON", "XETR", "XPAR", "XHKG", "XASX", "CMES"]:
    cal = xc.get_calendar(name, start=str(FIRST), end=str(LAST))
    sessions = {s.date() for s in cal.sessions}
    early = {d.date(): cal.closes[d].tz_convert(cal.tz).strftime("%H:%M") for d in cal.early_closes}
    lines = [f"# {name} ({cal.tz}) from exchange_calendars {xc.__version__}, {FIRST.year}-{LAST.year}", "date,day"]
    d = FIRST
    while d <= LAST:
        if d.weekday() < 5 and d not in sessions:
            lines.append(f"{d},closed")
        elif d in early:
            lines.append(f"{d},early {early[d]}")
        d += dt.timedelta(days=1)
    (HERE / f"{name.lower()}.csv").write_text("\n".join(lines) + "\n")
    print(name, len(lines) - 2)
