"""What Stripe does behind the endpoints: moving money, invoicing, subscription status, the
clock. Rules see a `Ctx` (store and acting account), never HTTP."""
