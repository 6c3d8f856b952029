"""manage.py load_catalogue [--update]: load the built-in KPI template catalogue."""

from django.core.management.base import BaseCommand
from django.db import transaction

from kpitree import catalogue_data
from kpitree.catalogue import KpiTemplate, TemplateNode, TreeTemplate


class Command(BaseCommand):
    help = "Load the built-in KPI template catalogue (missing entries; --update resets built-ins)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--update",
            action="store_true",
            help="Also reset built-in entries a manager changed to the product's version.",
        )

    @transaction.atomic
    def handle(self, *args, update: bool = False, **options) -> None:
        counts = catalogue_data.sync(KpiTemplate, TreeTemplate, TemplateNode, update=update)
        self.stdout.write(
            f"catalogue: {counts['kpis']} KPIs and {counts['trees']} trees created, "
            f"{counts['updated']} reset"
        )
