"""The optional mypyc build of the modules listed in mypyc-modules.txt.

``pip install`` alone builds pure Python: the Makefile compiles in place afterwards with
``VALSYNC_MYPYC=1 python setup.py build_ext --inplace`` (where the dependencies are installed,
so mypyc type-checks as ``mypy --strict`` does) and falls back to pure Python when that fails.
"""

import os
import time
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

MODULE_LIST = Path(__file__).with_name("mypyc-modules.txt")


def compiled_modules() -> list[str]:
    lines = (line.strip() for line in MODULE_LIST.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def ext_modules() -> list[object]:
    if os.environ.get("VALSYNC_MYPYC") != "1" or os.environ.get("VALSYNC_PURE") == "1":
        return []
    from mypyc.build import mypycify

    return list(mypycify(compiled_modules(), group_name="valsync._compiled", opt_level="3"))


class BuildExtStamped(build_ext):
    """An in-place build dates every .so from the build's start, also those whose C code did not
    change (setuptools leaves them as they were): valsync refuses a .so older than its .py."""

    def run(self) -> None:
        started = time.time()
        super().run()
        if self.inplace:
            for ext in self.extensions:
                built = Path(self.get_ext_fullpath(ext.name))
                if built.exists():
                    os.utime(built, (started, started))


setup(ext_modules=ext_modules(), cmdclass={"build_ext": BuildExtStamped})
