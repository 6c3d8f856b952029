from django.urls import path

from kpitree import analysis_views, views

app_name = "kpitree"
urlpatterns: list = [
    path("", views.tree_list, name="tree_list"),
    # Before "<code>/": "templates" is reserved (forms.RESERVED_TREE_CODES).
    path("templates/", views.catalogue, name="catalogue"),
    path("<str:code>/", views.tree_editor, name="tree_editor"),
    path("<str:code>/fragment/", views.tree_fragment, name="tree_fragment"),
    path("<str:code>/copy/", views.tree_copy, name="tree_copy"),
    path("<str:code>/apply-template/", views.template_apply, name="template_apply"),
    path("<str:code>/formula-check/", views.formula_check, name="formula_check"),
    path("<str:code>/new-node/", views.node_create, name="node_create"),
    path("<str:code>/archived/", views.archived, name="archived"),
    path("<str:code>/lint/", views.lint_panel, name="lint_panel"),
    path("<str:code>/what-if/", analysis_views.whatif_view, name="whatif"),
    path("<str:code>/goal-seek/", analysis_views.goal_seek_view, name="goal_seek"),
    path("<str:code>/lint/acknowledge/", views.lint_acknowledge, name="lint_acknowledge"),
    path(
        "<str:code>/lint/acknowledgements/<int:ack_id>/withdraw/",
        views.lint_withdraw,
        name="lint_withdraw",
    ),
    path("<str:code>/nodes/<str:node_code>/", views.node_edit, name="node_edit"),
    path("<str:code>/nodes/<str:node_code>/move/", views.node_move, name="node_move"),
    path("<str:code>/nodes/<str:node_code>/delete/", views.node_delete, name="node_delete"),
    path("<str:code>/nodes/<str:node_code>/targets/", views.node_targets, name="node_targets"),
]
