"""Glob matching exactly as Valkey's ``stringmatchlen`` (KEYS, SCAN MATCH, ...).

Quirks kept on purpose: an unterminated ``[`` class runs to the end of the pattern, a
trailing ``\\`` matches itself, ranges may be reversed (``[z-a]``), and nesting of ``*``
is bounded like the C code. Valkey's recursion (one level per ``*``, up to 1000 deep) is
unrolled onto an explicit stack, so an abusive pattern ends as it ends there: a ``*`` whose
every try failed stops the outer ones from trying longer matches (``skip``).
"""

from __future__ import annotations

STAR, QMARK, LBRACKET, RBRACKET, BACKSLASH, CARET, DASH = b"*?[]\\^-"
MAX_NESTING = 1000


def _lower(c: int) -> int:
    return c + 32 if 65 <= c <= 90 else c


_NO, _YES = False, True


def _walk(pat: bytes, p: int, s: bytes, i: int, nocase: bool, depth: int) -> bool | tuple[int, int]:
    """Match from (p, i) up to the next ``*``: the result, or (the pattern index after the
    star, the first text index the star tries)."""
    if depth > MAX_NESTING:
        return _NO
    plen, slen = len(pat), len(s)

    def at(k: int) -> int:
        return pat[k] if k < plen else 0

    while p < plen and i < slen:
        c = pat[p]
        if c == STAR:
            while p + 1 < plen and pat[p + 1] == STAR:
                p += 1
            if p + 1 == plen:
                return _YES
            return (p + 1, i)
        if c == QMARK:
            i += 1
        elif c == LBRACKET:
            p += 1
            negate = at(p) == CARET
            if negate:
                p += 1
            matched = False
            sc = s[i]
            while True:
                if at(p) == BACKSLASH and plen - p >= 2:
                    p += 1
                    if pat[p] == sc or (nocase and _lower(pat[p]) == _lower(sc)):
                        matched = True
                elif at(p) == RBRACKET and p < plen:
                    break
                elif p >= plen:
                    p -= 1
                    break
                elif plen - p >= 3 and pat[p + 1] == DASH:
                    lo, hi, ch = pat[p], pat[p + 2], sc
                    if lo > hi:
                        lo, hi = hi, lo
                    if nocase:
                        lo, hi, ch = _lower(lo), _lower(hi), _lower(ch)
                    p += 2
                    if lo <= ch <= hi:
                        matched = True
                elif pat[p] == sc or (nocase and _lower(pat[p]) == _lower(sc)):
                    matched = True
                p += 1
            if negate:
                matched = not matched
            if not matched:
                return False
            i += 1
        else:
            if c == BACKSLASH and plen - p >= 2:
                p += 1
            pc = pat[p]
            if pc != s[i] and not (nocase and _lower(pc) == _lower(s[i])):
                return False
            i += 1
        p += 1
        if i == slen:
            while p < plen and pat[p] == STAR:
                p += 1
            break
    return p == plen and i == slen


def stringmatch(pattern: bytes, string: bytes, nocase: bool = False) -> bool:
    """Whether ``string`` matches the glob ``pattern`` (Valkey semantics)."""
    slen = len(string)
    stars: list[tuple[int, int]] = []  # (pattern index after the star, text index tried)
    skip = False
    result = _walk(pattern, 0, string, 0, nocase, 0)
    while True:
        if isinstance(result, tuple):
            stars.append(result)
            result = _walk(pattern, result[0], string, result[1], nocase, len(stars))
            continue
        if result:
            return True
        if not stars:
            return False
        after, tried = stars.pop()
        if skip:
            continue  # result stays no-match: unwind every enclosing star
        if tried + 1 < slen:
            stars.append((after, tried + 1))
            result = _walk(pattern, after, string, tried + 1, nocase, len(stars))
        else:
            skip = True
