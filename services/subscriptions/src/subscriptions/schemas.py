"""Request and response models of the subscriptions API."""
