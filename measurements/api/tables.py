"""Result columns for lineage tables: a cell row carries its cycling and stripping results, a
pellet or membrane row its conductivity and activation energies (one query per page each).

The columns and the rule for which result a row shows are `measurements.headlines`', the
same the item pages and the web lists use.
"""

from __future__ import annotations

from core.api.lineage_table import register_extra_columns
from measurements.headlines import TABLE_COLUMNS, lineage_table_fetch

# Which of the row's results have warnings, e.g. "cycling_summary: capacity_above_theoretical".
WARNINGS_COLUMN = "result_warnings"

for _kind, _columns in TABLE_COLUMNS.items():
    register_extra_columns(
        _kind,
        [*(c.name for c in _columns), WARNINGS_COLUMN],
        lineage_table_fetch(_columns, WARNINGS_COLUMN),
    )
