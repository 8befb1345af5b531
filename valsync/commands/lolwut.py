"""LOLWUT, as Valkey 8.1's ``lolwut.c``, ``lolwut5.c`` and ``lolwut6.c`` draw it.

``LOLWUT`` prints the server's version the way 8.1.8 words it (``Redis ver. 8.1.8``);
``LOLWUT VERSION 5`` draws Georg Nees' *Schotter* in Braille dots, ``LOLWUT VERSION 6`` a
city skyline in terminal colours; any other version falls back to the version line. The
drawings take the same steps as Valkey's C code, including its single-precision ``float``
arithmetic, so what does not depend on ``rand()`` (Schotter's first two rows, a one-row
skyline) comes out byte for byte; the random parts draw from the server's generator.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable

from valsync import VALKEY_COMPAT_VERSION
from valsync.commands.context import CommandContext
from valsync.commands.errors import parse_int
from valsync.commands.registry import command
from valsync.resp.reply import Reply, Verbatim

RAND_MAX = 2**31 - 1
Rand = Callable[[], int]


def _f32(x: float) -> float:
    """``x`` rounded to a C ``float``."""
    return float(struct.unpack("f", struct.pack("f", x))[0])


def _c_round(x: float) -> float:
    """C's ``round``: halves away from zero."""
    a = abs(x)
    f = math.floor(a)
    r = f + 1.0 if a - f >= 0.5 else f
    return math.copysign(r, x)


class Canvas:
    """Pixels of colour 0..3; drawing outside the canvas is ignored."""

    def __init__(self, width: int, height: int, bgcolor: int) -> None:
        self.width = width
        self.height = height
        self.pixels = bytearray([bgcolor]) * (width * height)

    def draw_pixel(self, x: int, y: int, color: int) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            self.pixels[x + y * self.width] = color

    def get_pixel(self, x: int, y: int) -> int:
        if 0 <= x < self.width and 0 <= y < self.height:
            return self.pixels[x + y * self.width]
        return 0

    def draw_line(self, x1: int, y1: int, x2: int, y2: int, color: int) -> None:
        """Bresenham."""
        dx, dy = abs(x2 - x1), abs(y2 - y1)
        sx = 1 if x1 < x2 else -1
        sy = 1 if y1 < y2 else -1
        err = dx - dy
        while True:
            self.draw_pixel(x1, y1, color)
            if x1 == x2 and y1 == y2:
                return
            e2 = err * 2
            if e2 > -dy:
                err -= dy
                x1 += sx
            if e2 < dx:
                err += dx
                y1 += sy

    def draw_square(self, x: int, y: int, size: float, angle: float, color: int) -> None:
        """A square centred on (x, y), rotated by ``angle``, its corners on a circle."""
        size = _f32(_c_round(_f32(size / 1.4142135623)))
        k = _f32(math.pi / 4 + angle)
        px: list[int] = []
        py: list[int] = []
        for _ in range(4):
            px.append(int(_c_round(math.sin(k) * size + x)))
            py.append(int(_c_round(math.cos(k) * size + y)))
            k = _f32(k + math.pi / 2)
        for j in range(4):
            self.draw_line(px[j], py[j], px[(j + 1) % 4], py[(j + 1) % 4], color)


# --- LOLWUT 5: Schotter ----------------------------------------------------------------------


def _unit_random(rand: Rand, squares_per_col: int, y: int) -> float:
    return _f32(_f32(_f32(_f32(rand()) / _f32(RAND_MAX)) / squares_per_col) * y)


def draw_schotter(cols: int, squares_per_row: int, squares_per_col: int, rand: Rand) -> Canvas:
    """Squares that rotate and shift more and more, randomly, row after row."""
    width = cols * 2
    padding = 2 if width > 4 else 0
    side = _f32(_f32(width - padding * 2) / squares_per_row)
    height = int(_f32(_f32(side * squares_per_col) + padding * 2))
    canvas = Canvas(width, height, 0)
    half = _f32(side / 2)
    for y in range(squares_per_col):
        for x in range(squares_per_row):
            sx = int(_f32(_f32(_f32(x * side) + half) + padding))
            sy = int(_f32(_f32(_f32(y * side) + half) + padding))
            angle = 0.0
            if y > 1:
                r1 = _unit_random(rand, squares_per_col, y)
                r2 = _unit_random(rand, squares_per_col, y)
                r3 = _unit_random(rand, squares_per_col, y)
                if rand() % 2:
                    r1 = -r1
                if rand() % 2:
                    r2 = -r2
                if rand() % 2:
                    r3 = -r3
                angle = r1
                sx = int(_f32(sx + _f32(_f32(r2 * side) / 3)))
                sy = int(_f32(sy + _f32(_f32(r3 * side) / 3)))
            canvas.draw_square(sx, sy, side, angle, 1)
    return canvas


def render_braille(canvas: Canvas) -> bytes:
    """Each 2x4 block of pixels as one Braille character (dots 1-8), rows ended by newlines."""
    out = bytearray()
    dots = ((0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (0, 3), (1, 3))
    for y in range(0, canvas.height, 4):
        for x in range(0, canvas.width, 2):
            byte = 0
            for bit, (dx, dy) in enumerate(dots):
                if canvas.get_pixel(x + dx, y + dy):
                    byte |= 1 << bit
            out += chr(0x2800 + byte).encode()
        if y != canvas.height - 1:
            out += b"\n"
    return bytes(out)


def lolwut5(args: list[bytes], rand: Rand, version: str) -> bytes:
    cols, per_row, per_col = 66, 8, 12
    if len(args) > 0:
        cols = parse_int(args[0])
    if len(args) > 1:
        per_row = parse_int(args[1])
    if len(args) > 2:
        per_col = parse_int(args[2])
    cols = min(max(cols, 1), 1000)
    per_row = min(max(per_row, 1), 200)
    per_col = min(max(per_col, 1), 200)
    art = render_braille(draw_schotter(cols, per_row, per_col, rand))
    return (
        art + (f"\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. {version}\n").encode()
    )


# --- LOLWUT 6: skyline -----------------------------------------------------------------------

_COLOR_ESCAPES = {0: b"0;30;40m", 1: b"0;90;100m", 2: b"0;37;47m", 3: b"0;97;107m"}


def _skyscraper(
    canvas: Canvas, xoff: int, width: int, height: int, windows: bool, color: int, rand: Rand
) -> None:
    starty = canvas.height - 1
    endy = starty - height + 1
    for y in range(starty, endy - 1, -1):
        for x in range(xoff, xoff + width):
            if y == endy and (x <= xoff + 1 or x >= xoff + width - 2):
                continue  # the roof is narrower
            c = color
            if windows and xoff + 1 < x < xoff + width - 2 and endy + 1 < y < starty - 1:
                relx = x - (xoff + 1)
                rely = y - (endy + 1)
                # C's / and % truncate towards zero; relx and rely are positive here.
                if (relx // 2) % 2 and rely % 2:
                    while True:
                        c = 1 + rand() % 2
                        if c != color:
                            break
                    if relx % 2:
                        c = canvas.get_pixel(x - 1, y)
            canvas.draw_pixel(x, y, c)


def draw_skyline(canvas: Canvas, rand: Rand) -> None:
    """Two layers of plain grey buildings, then black ones with lit windows in front."""
    h = canvas.height
    for color in (2, 1):
        offset = -10
        while offset < canvas.width:
            offset += rand() % 8
            xoff = offset
            width = 10 + rand() % 9
            if color == 2:
                height = h // 2 + (rand() % h) // 2
            else:
                height = h // 2 + (rand() % h) // 3
            _skyscraper(canvas, xoff, width, height, False, color, rand)
            offset += width // 2 if color == 2 else width + 1
    offset = -10
    while offset < canvas.width:
        offset += rand() % 8
        xoff = offset
        width = 5 + rand() % 14
        if width % 4:
            width += width % 3
        height = h // 3 + (rand() % h) // 2
        _skyscraper(canvas, xoff, width, height, True, 0, rand)
        offset += width + 5


def render_colors(canvas: Canvas) -> bytes:
    out = bytearray()
    for y in range(canvas.height):
        for x in range(canvas.width):
            escape = _COLOR_ESCAPES.get(canvas.get_pixel(x, y), _COLOR_ESCAPES[0])
            out += b"\033[" + escape + b" \033[0m"
        if y != canvas.height - 1:
            out += b"\n"
    return bytes(out)


def lolwut6(args: list[bytes], rand: Rand, version: str) -> bytes:
    cols, rows = 80, 20
    if len(args) > 0:
        cols = parse_int(args[0])
    if len(args) > 1:
        rows = parse_int(args[1])
    cols = min(max(cols, 1), 1000)
    rows = min(max(rows, 1), 1000)
    canvas = Canvas(cols, rows, 3)
    draw_skyline(canvas, rand)
    return (
        render_colors(canvas)
        + (
            "\nDedicated to the 8 bit game developers of past and present.\n"
            f"Original 8 bit image from Plaguemon by hikikomori. Redis ver. {version}\n"
        ).encode()
    )


def lolwut_text(argv: list[bytes], rand: Rand, version: str = VALKEY_COMPAT_VERSION) -> bytes:
    """What ``LOLWUT [VERSION n] [args]`` prints; ``VERSION n`` picks the drawing only, the
    version printed stays the server's."""
    chosen = version
    args = argv[1:]
    if len(argv) >= 3 and argv[1].lower() == b"version":
        chosen = f"{parse_int(argv[2]) & 0xFFFFFFFF}.0.0"
        args = argv[3:]
    if (chosen[:2] == "5." and chosen[2:3] != "9") or chosen[:3] == "4.9":
        return lolwut5(args, rand, version)
    if (chosen[:2] == "6." and chosen[2:3] != "9") or chosen[:3] == "5.9":
        return lolwut6(args, rand, version)
    return f"Redis ver. {version}\n".encode()


@command("lolwut", -1, "readonly fast")
def lolwut(ctx: CommandContext, argv: list[bytes]) -> Reply:
    return Verbatim(lolwut_text(argv, lambda: ctx.rng.randrange(RAND_MAX + 1)))
