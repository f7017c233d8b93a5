"""Cost and usage: prices, the ledger, budgets, acceptance, the report."""
