"""Request and response models of the invoicing API."""
