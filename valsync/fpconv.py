"""Valkey's ``fpconv_dtoa`` (Grisu2), ported bit for bit so doubles print exactly as Valkey prints them.

Python's ``repr`` is the shortest round-trip text, but Grisu2 keeps trailing zeros of the
integer part it generated (``1e17`` prints as ``100000000000000000``) and is not always the
shortest; replies like ZSCORE must match byte for byte, so the algorithm itself is ported.
"""

from __future__ import annotations

import struct

_MASK64 = (1 << 64) - 1
_FRACMASK = 0x000FFFFFFFFFFFFF
_EXPMASK = 0x7FF0000000000000
_HIDDENBIT = 0x0010000000000000
_SIGNMASK = 0x8000000000000000
_EXPBIAS = 1023 + 52
_NPOWERS = 87
_STEPPOWERS = 8
_FIRSTPOWER = -348
_EXPMAX = -32
_EXPMIN = -60
_TENS = [10**i for i in range(19, -1, -1)]

_POWERS_TEN: list[tuple[int, int]] = [
    (18054884314459144840, -1220),
    (13451937075301367670, -1193),
    (10022474136428063862, -1166),
    (14934650266808366570, -1140),
    (11127181549972568877, -1113),
    (16580792590934885855, -1087),
    (12353653155963782858, -1060),
    (18408377700990114895, -1034),
    (13715310171984221708, -1007),
    (10218702384817765436, -980),
    (15227053142812498563, -954),
    (11345038669416679861, -927),
    (16905424996341287883, -901),
    (12595523146049147757, -874),
    (9384396036005875287, -847),
    (13983839803942852151, -821),
    (10418772551374772303, -794),
    (15525180923007089351, -768),
    (11567161174868858868, -741),
    (17236413322193710309, -715),
    (12842128665889583758, -688),
    (9568131466127621947, -661),
    (14257626930069360058, -635),
    (10622759856335341974, -608),
    (15829145694278690180, -582),
    (11793632577567316726, -555),
    (17573882009934360870, -529),
    (13093562431584567480, -502),
    (9755464219737475723, -475),
    (14536774485912137811, -449),
    (10830740992659433045, -422),
    (16139061738043178685, -396),
    (12024538023802026127, -369),
    (17917957937422433684, -343),
    (13349918974505688015, -316),
    (9946464728195732843, -289),
    (14821387422376473014, -263),
    (11042794154864902060, -236),
    (16455045573212060422, -210),
    (12259964326927110867, -183),
    (18268770466636286478, -157),
    (13611294676837538539, -130),
    (10141204801825835212, -103),
    (15111572745182864684, -77),
    (11258999068426240000, -50),
    (16777216000000000000, -24),
    (12500000000000000000, 3),
    (9313225746154785156, 30),
    (13877787807814456755, 56),
    (10339757656912845936, 83),
    (15407439555097886824, 109),
    (11479437019748901445, 136),
    (17105694144590052135, 162),
    (12744735289059618216, 189),
    (9495567745759798747, 216),
    (14149498560666738074, 242),
    (10542197943230523224, 269),
    (15709099088952724970, 295),
    (11704190886730495818, 322),
    (17440603504673385349, 348),
    (12994262207056124023, 375),
    (9681479787123295682, 402),
    (14426529090290212157, 428),
    (10748601772107342003, 455),
    (16016664761464807395, 481),
    (11933345169920330789, 508),
    (17782069995880619868, 534),
    (13248674568444952270, 561),
    (9871031767461413346, 588),
    (14708983551653345445, 614),
    (10959046745042015199, 641),
    (16330252207878254650, 667),
    (12166986024289022870, 694),
    (18130221999122236476, 720),
    (13508068024458167312, 747),
    (10064294952495520794, 774),
    (14996968138956309548, 800),
    (11173611982879273257, 827),
    (16649979327439178909, 853),
    (12405201291620119593, 880),
    (9242595204427927429, 907),
    (13772540099066387757, 933),
    (10261342003245940623, 960),
    (15290591125556738113, 986),
    (11392378155556871081, 1013),
    (16975966327722178521, 1039),
    (12648080533535911531, 1066),
]


def _dbits(d: float) -> int:
    return int(struct.unpack("<Q", struct.pack("<d", d))[0])


def _multiply(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    lomask = 0xFFFFFFFF
    ah_bl = (a[0] >> 32) * (b[0] & lomask)
    al_bh = (a[0] & lomask) * (b[0] >> 32)
    al_bl = (a[0] & lomask) * (b[0] & lomask)
    ah_bh = (a[0] >> 32) * (b[0] >> 32)
    tmp = (ah_bl & lomask) + (al_bh & lomask) + (al_bl >> 32)
    tmp += 1 << 31
    return ((ah_bh + (ah_bl >> 32) + (al_bh >> 32) + (tmp >> 32)) & _MASK64, a[1] + b[1] + 64)


def _cached_pow10(exp: int) -> tuple[tuple[int, int], int]:
    approx = int(-(exp + _NPOWERS) * 0.30102999566398114)
    idx = int((approx - _FIRSTPOWER) / _STEPPOWERS)
    while True:
        current = exp + _POWERS_TEN[idx][1] + 64
        if current < _EXPMIN:
            idx += 1
        elif current > _EXPMAX:
            idx -= 1
        else:
            return _POWERS_TEN[idx], _FIRSTPOWER + idx * _STEPPOWERS


def _round_digit(digits: list[int], delta: int, rem: int, kappa: int, frac: int) -> None:
    while (
        rem < frac
        and ((delta - rem) & _MASK64) >= kappa
        and (
            ((rem + kappa) & _MASK64) < frac
            or ((frac - rem) & _MASK64) > ((rem + kappa - frac) & _MASK64)
        )
    ):
        digits[-1] -= 1
        rem = (rem + kappa) & _MASK64


def _generate_digits(
    w: tuple[int, int], upper: tuple[int, int], lower: tuple[int, int]
) -> tuple[list[int], int]:
    wfrac = (upper[0] - w[0]) & _MASK64
    delta = (upper[0] - lower[0]) & _MASK64
    shift = -upper[1]
    one_frac = 1 << shift
    part1 = upper[0] >> shift
    part2 = upper[0] & (one_frac - 1)
    digits: list[int] = []
    kappa = 10
    for div in _TENS[10:20]:
        digit = part1 // div
        if digit or digits:
            digits.append(digit)
        part1 -= digit * div
        kappa -= 1
        tmp = ((part1 << shift) & _MASK64) + part2
        if tmp <= delta:
            _round_digit(digits, delta, tmp, (div << shift) & _MASK64, wfrac)
            return digits, kappa
    unit_idx = 18
    while True:
        part2 = (part2 * 10) & _MASK64
        delta = (delta * 10) & _MASK64
        kappa -= 1
        digit = part2 >> shift
        if digit or digits:
            digits.append(digit)
        part2 &= one_frac - 1
        if part2 < delta:
            _round_digit(digits, delta, part2, one_frac, (wfrac * _TENS[unit_idx]) & _MASK64)
            return digits, kappa
        unit_idx -= 1


def _grisu2(d: float) -> tuple[list[int], int]:
    bits = _dbits(d)
    frac = bits & _FRACMASK
    exp = (bits & _EXPMASK) >> 52
    if exp:
        frac += _HIDDENBIT
        exp -= _EXPBIAS
    else:
        exp = -_EXPBIAS + 1

    ufrac, uexp = (frac << 1) + 1, exp - 1
    while (ufrac & (_HIDDENBIT << 1)) == 0:
        ufrac <<= 1
        uexp -= 1
    ufrac = (ufrac << (64 - 52 - 2)) & _MASK64
    uexp -= 64 - 52 - 2
    l_shift = 2 if frac == _HIDDENBIT else 1
    lfrac, lexp = (frac << l_shift) - 1, exp - l_shift
    lfrac = (lfrac << (lexp - uexp)) & _MASK64

    wfrac, wexp = frac, exp
    while (wfrac & _HIDDENBIT) == 0:
        wfrac <<= 1
        wexp -= 1
    wfrac = (wfrac << 11) & _MASK64
    wexp -= 11

    cp, k = _cached_pow10(uexp)
    w = _multiply((wfrac, wexp), cp)
    upper = _multiply((ufrac, uexp), cp)
    lower = _multiply((lfrac, uexp), cp)
    lower = ((lower[0] + 1) & _MASK64, lower[1])
    upper = ((upper[0] - 1) & _MASK64, upper[1])
    digits, kappa = _generate_digits(w, upper, lower)
    return digits, -k + kappa


def _emit_digits(digits: list[int], K: int, neg: bool) -> str:
    ndigits = len(digits)
    text = "".join(chr(48 + d) for d in digits)
    exp = abs(K + ndigits - 1)
    if K >= 0 and exp < ndigits + 7:
        return text + "0" * K
    if K < 0 and (K > -7 or exp < 4):
        offset = ndigits - abs(K)
        if offset <= 0:
            return "0." + "0" * -offset + text
        return text[:offset] + "." + text[offset:]
    ndigits = min(ndigits, 18 - neg)
    out = text[0]
    if ndigits > 1:
        out += "." + text[1:ndigits]
    sign = "-" if K + ndigits - 1 < 0 else "+"
    cent = exp // 100
    exp_text = str(exp % 100) if not cent else f"{cent}{exp % 100:02d}"
    return f"{out}e{sign}{exp_text}"


def fpconv_dtoa(d: float) -> str:
    """The text ``fpconv_dtoa`` writes for ``d`` (``-0`` keeps its sign, as in Valkey)."""
    bits = _dbits(d)
    sign = "-" if bits & _SIGNMASK else ""
    if d == 0.0:
        return sign + "0"
    if (bits & _EXPMASK) == _EXPMASK:
        return sign + ("nan" if bits & _FRACMASK else "inf")
    digits, K = _grisu2(d)
    return sign + _emit_digits(digits, K, bool(sign))
