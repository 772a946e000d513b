"""Studies: one-command experiments that write a folder of ``results/`` (CSV, table, figure)."""
