"""Pure computations on parsed instrument data (numpy / scipy / polars; no Django, no database).

Each module carries an ``ALGORITHM_VERSION`` that results record, so a stored result can be
traced to the code that produced it and recomputed when the algorithm changes:

- ``eis``: equivalent-circuit fits of impedance spectra and ionic conductivity.
- ``temperature``: Arrhenius and Vogel-Fulcher-Tammann fits of conductivity vs temperature.
- ``cycling``: per-cycle capacities, efficiencies, energies and summaries of galvanostatic tests.
- ``stripping``: overpotential, failure and short circuits of Li stripping/plating tests.
- ``tga``: mass-loss temperatures, extrapolated onset and residue of thermogravimetry.

Generators of realistic synthetic data (for the demo, tests and benchmarks) are in
``demo.synthetic``, outside the science packages.
"""

from __future__ import annotations


class AnalysisError(ValueError):
    """The input cannot be analysed; the message names the column, count or value at fault."""


__all__ = ["AnalysisError"]
