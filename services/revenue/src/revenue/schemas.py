"""Request and response models of the revenue API."""
