"""Canonical column names and units for parsed instrument data.

Every parser returns a polars DataFrame using only these names (plus nothing else), so the
analysis functions never see an instrument's own column names or units. Units are in the names.
"""

from __future__ import annotations

# Time series of a galvanostatic / potentiostatic test (cycling, stripping/plating).
TIME_S = "time_s"  # seconds since the start of the test, float64, monotonic non-decreasing
VOLTAGE_V = "voltage_V"  # cell (or working-electrode) voltage, float64
# Signed current, float64: > 0 charges the cell (oxidises the working electrode, delithiates a
# cathode), < 0 discharges it. Instruments that export unsigned current with a state column
# (Maccor `State` C/D/R/O) are signed by the parser.
CURRENT_MA = "current_mA"
CYCLE = "cycle"  # instrument's cycle counter, Int64, null where the instrument has none
STEP = "step"  # instrument's step index (changes at every step of the programme), Int64
# Charge passed since the start of the current step, mAh, >= 0 (instrument counter where it
# has one, e.g. Maccor Amp-hr which resets each step). Optional: null when not exported.
STEP_CAPACITY_MAH = "step_capacity_mAh"
STEP_ENERGY_MWH = "step_energy_mWh"  # same for energy, optional

CYCLING_COLUMNS = (TIME_S, VOLTAGE_V, CURRENT_MA, CYCLE, STEP, STEP_CAPACITY_MAH, STEP_ENERGY_MWH)

# Impedance spectrum (EIS). Z = z_real - j*|...|: z_imag_ohm keeps the instrument's sign, i.e.
# negative for capacitive behaviour (ZPlot Z'', Gamry Zimag). BioLogic exports -Im(Z); the
# parser flips it.
FREQUENCY_HZ = "frequency_Hz"
Z_REAL_OHM = "z_real_ohm"
Z_IMAG_OHM = "z_imag_ohm"
EIS_COLUMNS = (FREQUENCY_HZ, Z_REAL_OHM, Z_IMAG_OHM)

# Thermogravimetry.
TEMPERATURE_C = "temperature_C"  # sample temperature
MASS_MG = "mass_mg"  # optional absolute mass
MASS_PCT = "mass_pct"  # mass relative to the first point, %
TGA_COLUMNS = (TIME_S, TEMPERATURE_C, MASS_MG, MASS_PCT)

# X-ray diffraction pattern.
TWO_THETA_DEG = "two_theta_deg"
INTENSITY = "intensity"
XRD_COLUMNS = (TWO_THETA_DEG, INTENSITY)
