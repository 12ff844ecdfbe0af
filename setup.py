"""Builds the optional C extension ``traincraft.features._ngrams`` (the text encoder's n-gram
hashing); everything else is declared in pyproject.toml.

The extension is optional: without a C compiler or Python's headers the install still succeeds,
says so, and the text encoder uses its numpy path (the same output, slower).
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """``build_ext`` that reports a failed optional extension in words and carries on."""

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as error:  # the compiler's many failure types (missing gcc, Python.h, ...)
            if not ext.optional:
                raise
            print(
                f"traincraft: WARNING: the optional C extension {ext.name} could not be built ({error}); "
                "text encoding uses the slower numpy path (identical output). Install a C compiler and "
                "Python's headers, then reinstall, to get the compiled path.",
                flush=True,
            )


setup(
    ext_modules=[
        Extension(
            "traincraft.features._ngrams",
            sources=["src/traincraft/features/_ngrams.c"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ],
    cmdclass={"build_ext": OptionalBuildExt},
)
