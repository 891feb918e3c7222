"""Packaging for basenji-tf.

Every module in ``basenji_tf/cli`` (except private ``_*.py`` ones) is a command. It is
installed as a console entry point under the original script name (``basenji_data.py``)
so existing shell pipelines keep working, and ``bin/`` holds the same commands as
files for running from a checkout.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def cli_entry_points() -> list[str]:
    """One ``name.py = basenji_tf.cli.name:main`` entry per command module."""
    modules = sorted(p.stem for p in (HERE / "basenji_tf" / "cli").glob("*.py"))
    return [f"{m}.py = basenji_tf.cli.{m}:main" for m in modules if not m.startswith("_")]


setup(
    name="basenji-tf",
    version="0.1.0",
    description="Basenji and Basenji2 sequence-to-coverage models on Keras 3 / TensorFlow",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["basenji_tf", "basenji_tf.*"]),
    package_data={"basenji_tf": ["py.typed", "models/*.json"]},  # models/: a link to ../models
    install_requires=[
        "keras>=3.10",
        "numpy",
        "pandas",
        "pysam",
        "pyBigWig",
        "natsort",
        "intervaltree",
        "h5py",
        "tqdm",
        "matplotlib",
        "scipy",
        "scikit-learn",
        "google-crc32c",
    ],
    # TensorFlow comes in two distributions; pick one: ``pip install .[cpu]`` on machines
    # without a GPU (a much smaller wheel), ``pip install .[gpu]`` with CUDA.
    extras_require={
        "cpu": ["tensorflow-cpu>=2.21,<2.22"],
        "gpu": ["tensorflow[and-cuda]>=2.21,<2.22"],
        # Long jobs on a Dask cluster (--scheduler); the tests start a local one.
        "distributed": ["dask[distributed]>=2024.1"],
        # basenji_motifs.py: Tomtom (memelite), JASPAR offline (pyjaspar), logos (logomaker);
        # basenji_modisco.py: TF-MoDISco (modisco-lite).
        "motifs": ["memelite>=0.5", "pyjaspar>=4.0", "logomaker>=0.8", "modisco-lite>=3.0"],
        "test": [
            "pytest",
            "pytest-timeout",
            "hypothesis",
            "ruff==0.17.6",
            "dask[distributed]>=2024.1",
            "memelite>=0.5",
            "pyjaspar>=4.0",
            "logomaker>=0.8",
            "modisco-lite>=3.0",
        ],
        "lint": ["ruff==0.17.6", "pre-commit"],
    },
    entry_points={"console_scripts": cli_entry_points()},
)
