"""Writes the golden exchange days the domain's calendar tests compare against.

Run once, with the exchange_calendars package (4.13.2 wrote the committed files):

    python3 -m venv /tmp/xc && /tmp/xc/bin/pip install exchange_calendars==4.13.2
    /tmp/xc/bin/python exchange_days.py

For the NYSE (XNYS) and the Tokyo Stock Exchange (XTKS), 2000-2035: every weekday the exchange
does not trade (`closed`) and every day it closes early (`early HH:MM`, exchange time).
"""
import datetime as dt
from pathlib import Path

import exchange_calendars as xc

HERE = Path(__file__).parent
for name in ["XNYS", "XTKS"]:
    cal = xc.get_calendar(name, start="2000-01-01", end="2035-12-31")
    sessions = {s.date() for s in cal.sessions}
    early = {d.date(): cal.closes[d].tz_convert(cal.tz).strftime("%H:%M") for d in cal.early_closes}
    lines = ["date,day"]
    d = dt.date(2000, 1, 1)
    while d <= dt.date(2035, 12, 31):
        if d.weekday() < 5 and d not in sessions:
            lines.append(f"{d},closed")
        elif d in early:
            lines.append(f"{d},early {early[d]}")
        d += dt.timedelta(days=1)
    (HERE / f"{name.lower()}.csv").write_text("\n".join(lines) + "\n")
    print(name, len(lines) - 1)
