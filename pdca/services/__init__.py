"""Every write of the PDCA loop, one module per sub-domain: `reviews` (meetings, findings,
decisions and applying them), `actions` (tracked actions), `alerts` (raised and cleared after a
recompute, and their notices)."""
