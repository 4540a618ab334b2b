"""Every query of the revenue service."""
