"""Checks of an AI edit before it lands: syntax (``syntax.py``), safety rules
in ast-grep's YAML format (``rules.py``), check commands (``commands.py``),
and the stage the pipeline calls (``stage.py``). Editor-free: no pygls. Each
module imports its heavy parts (ast-grep, YAML) on first use."""
