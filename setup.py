"""Builds the optional C extension digitpad._fastpre (preprocess.py's fast path); all other
metadata is in pyproject.toml. optional=True: without a C compiler the install still succeeds
and preprocessing runs the numpy reference, with identical results."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "digitpad._fastpre",
            ["digitpad/_fastpre.c"],
            # Bit-identical to numpy: no FMA contraction, no fast-math, no -march=native.
            extra_compile_args=["-O3", "-ffp-contract=off", "-fno-fast-math", "-std=c11"],
            optional=True,
        ),
        Extension("digitpad._fastpng", ["digitpad/_fastpng.c"], extra_compile_args=["-O3", "-std=c11"], optional=True),
    ],
)
