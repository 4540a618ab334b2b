"""The invoicing rules."""
