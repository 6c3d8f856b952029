from django.core.management.base import BaseCommand

from engagements import demo


class Command(BaseCommand):
    help = (
        "Load the Japanese demo scenario (vendors, engagements, one account per role). Idempotent."
    )

    def handle(self, *args, **options) -> None:
        counts = demo.seed_accounts_and_engagements()
        self.stdout.write(
            self.style.SUCCESS(
                "Demo data ready: {vendors} vendors, {engagements} engagements, {users} accounts.".format(
                    **counts
                )
            )
        )
