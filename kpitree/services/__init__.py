"""Every write to trees, nodes, targets and actuals goes through these functions.

One write path per kind of data: the browser, file uploads, the API and the admin all call
`actuals_record` / `targets_record` / `node_*` / `tree_*`, so no channel can skip validation,
locking or the audit. Writes bump the tree's data_version and, on commit, enqueue one recompute
of the tree. One module per sub-domain (as zulip's `zerver/actions/`):

- `common`: what every write shares (the result, the error, parsing what was sent);
- `values`: actuals and targets;
- `nodes`: save, move, archive/delete, restore a node;
- `trees`: create, change, delete or archive, copy, apply a template, restore a tree;
- `jobs`: actuals bulk writes run in the background (ImportJob);
- `lint`: acknowledging a design-lint finding, and withdrawing it.
"""

from kpi_planner.months import parse_month as parse_period
from kpitree.recompute import mark_stale
from kpitree.services.common import (
    RecordError,
    RecordResult,
    has_nul,
    nul_message,
    parse_number,
)
from kpitree.services.jobs import import_job_run, import_job_submit, import_jobs_resend
from kpitree.services.lint import lint_acknowledge, lint_withdraw
from kpitree.services.nodes import (
    NODE_FIELDS,
    TEXT_ONLY_FIELDS,
    delete_refusal,
    node_delete,
    node_move,
    node_remove,
    node_restore,
    node_save,
    node_update,
    nodes_mark_reviewed,
    subtree_ids,
)
from kpitree.services.trees import (
    TREE_FIELDS,
    rename_in_formula,
    template_apply,
    tree_copy,
    tree_create,
    tree_delete,
    tree_restore,
    tree_update,
)
from kpitree.services.values import actuals_record, targets_record

__all__ = [
    "NODE_FIELDS",
    "TEXT_ONLY_FIELDS",
    "TREE_FIELDS",
    "RecordError",
    "RecordResult",
    "actuals_record",
    "delete_refusal",
    "has_nul",
    "import_job_run",
    "import_job_submit",
    "import_jobs_resend",
    "lint_acknowledge",
    "lint_withdraw",
    "mark_stale",
    "node_delete",
    "node_move",
    "node_remove",
    "node_restore",
    "node_save",
    "node_update",
    "nodes_mark_reviewed",
    "nul_message",
    "parse_number",
    "parse_period",
    "rename_in_formula",
    "subtree_ids",
    "targets_record",
    "template_apply",
    "tree_copy",
    "tree_create",
    "tree_delete",
    "tree_restore",
    "tree_update",
]
