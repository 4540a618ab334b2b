"""The platform operator's back-office: the platform's whole business over some days (GMV,
platform fees, SaaS fees, reconciliation) and each agency's health, from revenue's ledger
and what it keeps of SaaS-fee plans, collections and balances."""
