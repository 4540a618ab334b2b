"""Every query of the invoicing service."""
