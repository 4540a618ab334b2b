"""Object builders, field for field as Stripe's; they read nothing and store nothing."""
