"""The PDCA pages: one module per page family (reviews, actions)."""
