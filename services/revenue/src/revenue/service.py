"""The revenue rules."""
