"""The PDCA forms: one module per page family (reviews, actions)."""
