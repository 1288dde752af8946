"""Billing: plans and periods (`plans`), quota (`quota`), Whop webhooks (`whop`)."""
