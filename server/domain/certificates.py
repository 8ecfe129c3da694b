"""The certificate rule (执法证), in one place: who counts as a certified officer on a day,
and whose certificate runs out within a warning window.

A person counts toward the two officers an enforcement act needs (行政处罚法 art. 42 and 55)
on a day only if they are not auxiliary staff (协管员), hold a certificate number (blanks do
not count) and the certificate has not expired before that day (it is valid through its expiry
date). User.certified_on (models/people.py) and the planner's Officer.certified_on
(domain/planning/teams.py) both answer with this function, so sync, lifecycle, draws and
planning cannot disagree.
"""
from __future__ import annotations

import datetime as dt


def normalised_number(certificate_no: str | None) -> str:
    """The number as compared: blanks and case do not make two numbers distinct."""
    return "".join((certificate_no or "").split()).upper()


def certified_on(auxiliary: bool, certificate_no: str | None, expires: dt.date | None, day: dt.date) -> bool:
    """Counts as a certified officer on `day`."""
    return (not auxiliary and bool(normalised_number(certificate_no)) and expires is not None
            and expires >= day)


def expiring_within(auxiliary: bool, certificate_no: str | None, expires: dt.date | None, day: dt.date,
                    window_days: int) -> bool:
    """Certified today, but the certificate ends within `window_days` days (inclusive): time to renew.
    An expired certificate is not "expiring": it is expired (see `status`)."""
    return certified_on(auxiliary, certificate_no, expires, day) and expires <= day + dt.timedelta(days=window_days)


def status(auxiliary: bool, certificate_no: str | None, expires: dt.date | None, day: dt.date,
           window_days: int) -> str:
    """One word for a person's certificate on a day: auxiliary, none, expired, expiring or valid."""
    if auxiliary:
        return "auxiliary"
    if not normalised_number(certificate_no) or expires is None:
        return "none"
    if expires < day:
        return "expired"
    return "expiring" if expires <= day + dt.timedelta(days=window_days) else "valid"
