from django.apps import AppConfig


class KpiPlannerConfig(AppConfig):
    name = "kpi_planner"
    verbose_name = "KPI Planner"
