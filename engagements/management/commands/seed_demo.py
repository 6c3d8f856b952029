from django.core.management.base import BaseCommand

from engagements import demo


class Command(BaseCommand):
    help = (
        "Load the Japanese demo scenario (vendors, engagements, one account per role). Idempotent."
    )

    def handle(self, *args, **options) -> None:
        from kpitree.demo import seed_trees

        counts = demo.seed_accounts_and_engagements()
        counts.update(seed_trees())
        demo.seed_submissions()
        self.stdout.write(
            self.style.SUCCESS(
                "Demo data ready: {vendors} vendors, {engagements} engagements, {users} accounts, "
                "{trees} KPI trees with {nodes} nodes.".format(**counts)
            )
        )
