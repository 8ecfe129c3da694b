"""The unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters, the last
a check character computed from the first 17."""
from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def check_char(first17: str) -> str:
    total = sum(ALPHABET.index(c) * w for c, w in zip(first17, WEIGHTS))
    return ALPHABET[(31 - total % 31) % 31]


def validate(code: str) -> str | None:
    """None when the code is valid, else why not (in English; callers translate)."""
    if len(code) != 18:
        return f"a credit code has 18 characters, this one has {len(code)}"
    bad = sorted({c for c in code if c not in ALPHABET})
    if bad:
        return f"characters not allowed in a credit code: {''.join(bad)} (letters I, O, S, V, Z are never used)"
    if check_char(code[:17]) != code[17]:
        return f"the check character should be {check_char(code[:17])}, not {code[17]}"
    return None


def is_valid(code: str) -> bool:
    return validate(code) is None
