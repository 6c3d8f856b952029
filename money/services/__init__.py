"""Every write of money: cost and settings (costs), rule sets and reliefs (rules), statements
(statements). Functions take keyword arguments and run in a transaction; a refusal raises
kpi_planner.errors.ServiceError with every problem found, and nothing is written."""

from money.services.costs import (
    charge_add,
    charge_void,
    money_feed,
    money_settings_update,
    monthly_costs,
)
from money.services.rules import relief_add, relief_withdraw, rule_set_adopt, rule_set_save
from money.services.statements import (
    backtest,
    exposure,
    preview,
    statement_accept,
    statement_dispute,
    statement_reopen,
    statement_resolve,
    statements_compute,
)

__all__ = [
    "backtest",
    "charge_add",
    "charge_void",
    "exposure",
    "money_feed",
    "money_settings_update",
    "monthly_costs",
    "preview",
    "relief_add",
    "relief_withdraw",
    "rule_set_adopt",
    "rule_set_save",
    "statement_accept",
    "statement_dispute",
    "statement_reopen",
    "statement_resolve",
    "statements_compute",
]
