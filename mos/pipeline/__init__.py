"""The glue between a config file and the jobs of the workflow: loading and validating an
experiment config (`config`, raising `errors.ConfigError`), the grid of runs and the path of every
file (`grid`), the config's mixtures as strategy objects (`mixtures`), the pre-declared claims
(`claims`), the JSON spec of every job and the config command line (`specs`), collecting run folders
into summary CSVs (`aggregate`), the descriptive statistics of Tables 1 and 6 (`descriptives`) and
publishing a snapshot (`snapshot`). May import every other wing; nothing in `mos` imports it (the
Snakefile and the command line do)."""
