from django.core.management.base import BaseCommand

from kpi_planner import demo


class Command(BaseCommand):
    help = (
        "Load the Japanese demo scenario (vendors, engagements, one account per role). Idempotent."
    )

    def handle(self, *args, **options) -> None:
        counts = demo.seed()
        self.stdout.write(
            self.style.SUCCESS(
                "Demo data ready: {vendors} vendors, {engagements} engagements, {users} accounts, "
                "{trees} KPI trees with {nodes} nodes.".format(**counts)
            )
        )
